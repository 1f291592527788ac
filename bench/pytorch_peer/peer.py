#!/usr/bin/env python3
"""The PyTorch peer of froster-bench: the same model, loss and training step written well in PyTorch (bf16 autocast,
SDPA, fused AdamW on CUDA, the teacher's text features cached per template), eager or under torch.compile.

  peer.py golden GOLDEN_DIR
      the loss parts and gradients of ../shared/golden's froster_student_forward (both projector variants), in
      float32 on the CPU, against the reference's numbers; exits 1 on a mismatch. Shows the peer computes what
      froster-train computes.
  peer.py bench --prompts IDS.safetensors [--arch vit_b16|tiny] [--batch 32] [--frames 8] [--steps 10]
                [--device cuda] [--compile] [--eval] [--trace]
      times training steps (or eval steps) at the bench's shapes and prints one JSON line (clips/s, ms/step, peak
      memory from the caching allocator; with --trace, as many more steps under torch.profiler summed up as
      froster-bench --trace sums up its own: the device's busy and idle time per step and its longest kernels). IDS holds the prompts froster-bench uses (`froster-bench prompts`): the
      token ids [29, C, 77] of the 28 templates and the bare names of the real class list, so text lengths are
      the real ones; each step draws its template as froster-bench does.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Clip, Froster, classifier  # noqa: E402
from safetensors_io import clip_state, load  # noqa: E402

ARCHS = {  # OpenAI-layout shapes of random CLIPs, as froster-model's presets
    "vit_b16": dict(res=224, patch=16, width=768, layers=12, dim=512, text_width=512, text_layers=12),
    "tiny": dict(res=32, patch=8, width=64, layers=2, dim=32, text_width=64, text_layers=2),
}


def golden(root):
    case = json.load(open(os.path.join(root, "froster_student_forward", "case.json")))
    state = clip_state(os.path.normpath(os.path.join(root, "froster_student_forward", case["weights_file"])))
    inputs = load(os.path.join(root, "froster_student_forward", "inputs.safetensors"))
    hp = case["hyperparameters"]
    worst = 0.0
    for variant in ("zero_proj", "random_proj"):
        want = load(os.path.join(root, "froster_student_forward", variant, "outputs.safetensors"))
        m = Froster(state, hp["T"], hp["alpha"], hp["distillation_ratio"])
        proj = load(os.path.join(root, "froster_student_forward", variant, "projector.safetensors"))
        m.load_state_dict({k: v for k, v in proj.items()}, strict=False)
        c = want["token_ids"].shape[0] // 2
        ids = want["token_ids"].view(2, c, -1)
        video = inputs["video"].transpose(1, 2)  # the reference's [B, 3, T, R, R] -> frames first
        t_txt = torch.stack([m.teacher_text(key, p) for key, p in zip(("template", "bare"), ids)])
        total, parts = m.loss(video, inputs["labels"], ids, t_txt)
        total.backward()
        named = dict(m.named_parameters())
        checks = [(k, parts[k].detach(), want[k], 1e-5) for k in ("loss_ce", "distill_loss_image", "loss_total")]
        checks.append(("distill_loss_text", parts["distill_loss_text"].detach(), want["distill_loss_text"], 1e-6))
        for key in [k for k in want if k.startswith("grad.") and not k.startswith("grad.token_embedding")]:
            name = key[len("grad."):]
            p = named[name] if name.startswith("projector") else named["student." + name]
            absolute = variant == "zero_proj" and name == "projector_t.2.weight"  # rounding noise only
            checks.append((key, p.grad, want[key], 1e-7 if absolute else None))
        g = named["student.token_embedding.weight"].grad
        checks.append(("grad.token_embedding", g[want["grad.token_embedding.used_ids"]],
                       want["grad.token_embedding.used_rows"], None))
        for name, got, ref, atol in checks:
            err = (got - ref).abs().max().item() if got.numel() else 0.0
            bound = atol if atol is not None else 1e-4 * max(ref.abs().max().item(), 1e-6)
            worst = max(worst, err / bound)
            if err > bound:
                print(f"{variant} {name}: max |diff| {err:.3e} > {bound:.3e}", file=sys.stderr)
                return 1
        print(f"golden {variant}: loss_total {parts['loss_total'].item():.8f} (reference "
              f"{want['loss_total'].item():.8f}), {len(checks)} tensors within tolerance")
    print(f"golden: ok (worst error / tolerance {worst:.3f})")
    return 0


def random_state(arch, seed=0):
    cfg = dict(ARCHS[arch], vocab=49408, context=77)
    torch.manual_seed(seed)
    m = Clip(cfg)
    return {k: v.detach() for k, v in m.state_dict().items()}


def bench(a):
    dev = torch.device(a.device)
    state = random_state(a.arch)
    ids_all = load(a.prompts)["ids"].long().to(dev)  # [29, C, 77]
    m = Froster(state, a.frames).to(dev)
    res = ARCHS[a.arch]["res"]
    fused = dev.type == "cuda"
    opt = torch.optim.AdamW(m.trainable(), lr=1e-6, weight_decay=0.02, fused=fused)
    bf16 = dev.type == "cuda"
    video = torch.randn(a.batch, a.frames, 3, res, res, device=dev)
    labels = torch.randint(0, ids_all.shape[1], (a.batch,), device=dev)
    g = torch.Generator().manual_seed(0)
    # Compiled: text padded to the longest prompt of all templates (static shapes, no graph break); eager: each
    # prompt set runs to its own longest EOT.
    text_len = int(ids_all.argmax(-1).max()) + 1 if a.compile else None

    def train_step(ids, t_txt):
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            total, _ = m.loss(video, labels, ids, t_txt, text_len)
        opt.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(m.trainable(), 1.0, foreach=True)
        opt.step()
        return total

    with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
        c = ids_all.shape[1]  # the eval classifier of all 29 prompt sets, once
        cls = classifier(m.student.encode_text(ids_all.flatten(0, 1)).view(29, c, -1))

    def eval_step(ids, t_txt):
        with torch.no_grad(), torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            img = F.normalize(m.student.visual(video.flatten(0, 1)), dim=-1)
            return (m.student.logit_scale.exp() * img @ cls.t()).view(a.batch, a.frames, -1).mean(1)

    step = torch.compile(eval_step if a.eval else train_step) if a.compile else (eval_step if a.eval else train_step)

    def inputs():
        """One step's prompts (a drawn template and the bare names) and the teacher's cached features of them."""
        t = int(torch.randint(0, 28, (1,), generator=g))
        if a.eval:  # evaluation uses the classifier of all 29 prompt sets, made once above
            return None, None
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=bf16):
            t_txt = torch.stack([m.teacher_text(t, ids_all[t]), m.teacher_text(28, ids_all[28])])
        return torch.stack([ids_all[t], ids_all[28]]), t_txt

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(a.warmup):
        step(*inputs())
    sync()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step(*inputs())
    sync()
    secs = (time.perf_counter() - t0) / a.steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
    trace = None
    if a.trace:
        try:
            trace = traced(a.steps, dev, lambda: (step(*inputs()), sync()))
        except Exception as e:  # the timed steps above still count
            trace = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps({"bench": "peer-" + ("eval-step" if a.eval else "train-step"), "arch": a.arch,
                      "mode": "compiled" if a.compile else "eager", "device": str(dev), "batch": a.batch,
                      "precision": "bf16" if bf16 else "f32", "clips_per_s": a.batch / secs,
                      "ms_per_step": secs * 1e3, "peak_alloc_gb": peak,
                      "classes": ids_all.shape[1], "trace": trace}))
    return 0


def traced(steps, dev, run):
    """`steps` calls of `run` (each waiting for the device) under torch.profiler, summed up as froster-bench's
    --trace: per step the wall ms, the ms the device was busy (overlaps once), its idle share, and the 15 names
    that took longest as [name, ms, calls]. Off CUDA the CPU ops stand in (they nest)."""
    from torch.profiler import ProfilerActivity, profile
    cpu = torch.autograd.DeviceType.CPU
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter_ns()
        for _ in range(steps):
            run()
        wall = time.perf_counter_ns() - t0
    raw = [(e.device_type() != cpu, e.name(), e.start_ns(), e.end_ns()) for e in prof.profiler.kineto_results.events()]
    on_device = any(d for d, *_ in raw)
    events = [(n, s, max(s, e)) for d, n, s, e in raw if d == on_device]
    by_name = {}
    for n, s, e in events:
        t, c = by_name.get(n, (0, 0))
        by_name[n] = (t + e - s, c + 1)
    busy = reach = 0
    for s, e in sorted((s, e) for _, s, e in events):
        s = max(s, reach)
        if e > s:
            busy, reach = busy + e - s, e
    top = sorted(by_name.items(), key=lambda kv: (-kv[1][0], kv[0]))[:15]
    ms = lambda ns: ns / steps / 1e6  # noqa: E731
    return {"steps": steps, "of": "device" if on_device else "cpu ops", "wall_ms_per_step": ms(wall),
            "busy_ms_per_step": ms(busy), "idle": max(0.0, 1 - busy / wall),
            "total_ms_per_step": ms(sum(t for t, _ in by_name.values())),
            "top": [[n, ms(t), c / steps] for n, (t, c) in top]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("golden")
    g.add_argument("root")
    b = sub.add_parser("bench")
    b.add_argument("--prompts", required=True)
    b.add_argument("--arch", default="vit_b16", choices=sorted(ARCHS))
    b.add_argument("--batch", type=int, default=32)
    b.add_argument("--frames", type=int, default=8)
    b.add_argument("--steps", type=int, default=10)
    b.add_argument("--warmup", type=int, default=3)
    b.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    b.add_argument("--compile", action="store_true")
    b.add_argument("--eval", action="store_true")
    b.add_argument("--trace", action="store_true", help="also profile as many more steps (torch.profiler)")
    a = p.parse_args()
    torch.set_float32_matmul_precision("high")
    return golden(a.root) if a.cmd == "golden" else bench(a)


if __name__ == "__main__":
    sys.exit(main())
