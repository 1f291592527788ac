#!/usr/bin/env bash
# GPU throughput measurement (train/eval step vs compiled PyTorch), in two halves:
#   on a build machine (Rust + GStreamer):  bash scripts/gpu-bench.sh build
#   on the GPU machine (torch 2.11.0 with CUDA installed, no Rust, no GStreamer), with .gpu copied there:
#                                           bash scripts/gpu-bench.sh run   (TORCH_LIB=<torch>/lib if not found)
# `run` prints one JSON line per measurement (clips/s, ms/step, MFU) and writes them, with the GPU memory trace,
# to $OUT (or .gpu/out). `run --cpu` is a dry run of the same script on this machine with a tiny model.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  build)
    bash scripts/setup.sh
    cargo build --release --bin froster-bench --bin froster-pack
    cargo test --release --no-run -p froster-train --test golden_train
    rm -rf .gpu && mkdir -p .gpu/lib
    cp target/release/froster-bench .gpu/
    # The bf16 golden check: the test binary of trainer/tests/golden_train.rs and the golden folder it reads.
    cp "$(ls -t target/release/deps/golden_train-* | grep -v '\.d$' | head -n 1)" .gpu/golden_train
    # Only the golden cases the bf16 check and the peer read (froster_student_forward, its weights, lr_schedule).
    golden=${FROSTER_GOLDEN_DIR:-../shared/golden}; mkdir -p .gpu/golden/weights
    cp -r "$golden/froster_student_forward" "$golden/lr_schedule" .gpu/golden/
    cp "$golden/weights/clip_init.safetensors" .gpu/golden/weights/
    # The real K400 base names (200, prompts up to 64 tokens) for both sides, and the PyTorch peer with their token
    # ids (it has no tokenizer: the same prompts, the same lengths).
    cp "${FROSTER_PROTOCOLS:-../shared/data/protocols}/zs_label_db/B2N_k400/train_rephrased.json" .gpu/classes.json
    mkdir -p .gpu/peer && cp bench/pytorch_peer/*.py .gpu/peer/
    target/release/froster-bench prompts --classes .gpu/classes.json --out .gpu/prompts.safetensors
    # A small pack of real videos (short side 224) for the data-wait measurement with real decode.
    videos=${FROSTER_DATA_VIDEOS:-../shared/data/videos}
    ls "$videos" | grep -E '\.(mp4|avi)$' | head -n 2 | awk '{print $0",0"}' > .gpu/bench.csv
    # JPEG frames: a third of the bytes to carry, and no libavcodec needed there (the default h264 codec opens it,
    # and it would bring about 100 MB of codec libraries).
    target/release/froster-pack --quiet build "$videos" --list .gpu/bench.csv --out .gpu/pack --short-side 224 --codec jpeg
    # Carry every shared library the binaries need that is neither torch/CUDA (the GPU machine has those) nor glibc.
    # Symbols are not needed there: stripped, the two binaries are about 3.5 MB smaller (the carry stays under 40 MB).
    strip --strip-unneeded .gpu/froster-bench .gpu/golden_train
    for b in .gpu/froster-bench .gpu/golden_train; do
      ldd "$b" | awk '/=> \//{print $3}' |
        grep -vE '/torch/lib/|/nvidia/|libc\.so|libm\.so|ld-linux|libpthread|libdl\.so|librt\.so|libgcc_s|libstdc\+\+' |
        xargs -r -I{} cp -n {} .gpu/lib/
    done
    du -sb .gpu | awk '{printf "carry: %.1f MB\n", $1 / 1e6}'
    echo "now: device run with carry [\".gpu\"] and command: bash scripts/gpu-bench.sh run" ;;
  run)
    out=${OUT:-.gpu/out}; mkdir -p "$out"
    export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # The GPU machine's own torch 2.11.0: TORCH_LIB, else the python that imports torch, else a search; a dry run
    # here uses the setup's.
    torch_lib=${TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")' 2>/dev/null || true)}
    [ -d "$torch_lib" ] || torch_lib=$(dirname "$(find / -name libtorch_cuda.so -path '*torch/lib/*' -print -quit 2>/dev/null)")
    [ -d .froster/libtorch/lib ] && torch_lib=${TORCH_LIB:-$PWD/.froster/libtorch/lib}
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$torch_lib"
    dev=cuda; arch=vit_b16; batches="8 32"; steps=10  # (batch 16 left out: the call stays near 6 minutes)
    if [ "${2:-}" = "--cpu" ]; then dev=cpu; arch=tiny; batches="2"; steps=2; fi
    python=${PEER_PYTHON:-$(command -v /opt/torch/.venv/bin/python || echo "$PWD/.froster/venv/bin/python")}
    names=(--class-file .gpu/classes.json)
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$out/mem.csv" & smi=$!
      trap 'kill "$smi" 2>/dev/null || true' EXIT  # nothing left in the background, whatever fails
    fi
    FROSTER_GOLDEN_DIR=$PWD/.gpu/golden timeout 120 .gpu/golden_train --test-threads=1 2>&1 | tail -n 3 | tee "$out/golden.txt"
    for b in $batches; do
      # The largest batch also times each phase of as many more steps (phases_ms; the device is waited for per phase).
      prof=""; [ "$b" = "${batches##* }" ] && prof=--profile
      # (--cuda-graph on is CUDA's default; on the CPU it dry-runs the recorded step's plumbing.)
      timeout 180 .gpu/froster-bench train-step --arch $arch --batch "$b" --frames 8 "${names[@]}" --steps $steps --device $dev --cuda-graph on $prof | tee -a "$out/steps.jsonl"
    done
    timeout 180 .gpu/froster-bench eval-step --arch $arch --batch "${batches##* }" --frames 8 "${names[@]}" --steps $steps --device $dev | tee -a "$out/steps.jsonl"
    # The PyTorch peer: its golden check (same loss and gradients as the reference), then eager and compiled at
    # the same shapes, prompts and template draws.
    timeout 120 "$python" .gpu/peer/peer.py golden .gpu/golden | tee "$out/peer_golden.txt"
    for mode in "" --compile; do
      for b in ${batches##* } ${batches%% *}; do
        timeout 300 "$python" .gpu/peer/peer.py bench --prompts .gpu/prompts.safetensors --arch $arch --batch "$b" --steps $steps --device $dev $mode | tee -a "$out/steps.jsonl" || true
      done
      timeout 300 "$python" .gpu/peer/peer.py bench --prompts .gpu/prompts.safetensors --arch $arch --batch "${batches##* }" --steps $steps --device $dev --eval $mode | tee -a "$out/steps.jsonl" || true
    done
    # The fused-AdamW lever: the same step with the per-tensor loop (compare with the line of the same batch).
    timeout 180 .gpu/froster-bench train-step --arch $arch --batch "${batches##* }" --frames 8 "${names[@]}" --steps $steps --device $dev --fused-optimizer off | sed 's/"bench":"train-step"/"bench":"train-step-unfused"/' | tee -a "$out/steps.jsonl"
    # The CUDA-graph lever: the same steps launched op by op, at the smallest batch (where launches weigh most)
    # and the largest.
    for b in $(printf '%s\n' ${batches%% *} ${batches##* } | sort -un); do
      timeout 180 .gpu/froster-bench train-step --arch $arch --batch "$b" --frames 8 "${names[@]}" --steps $steps --device $dev --cuda-graph off | sed 's/"bench":"train-step"/"bench":"train-step-no-graph"/' | tee -a "$out/steps.jsonl"
    done
    # The fused-ops lever: the QuickGELU kernels against the eager ops (value and gradient errors against f64, ms)
    # and the f32 LayerNorm (equal to the bit), then the same step with the eager ops (compare clips/s and
    # peak_alloc_gb with the line of the batch).
    kargs=""; [ "$dev" = cpu ] && kargs="--rows 394 --width 256 --reps 2"
    timeout 120 .gpu/froster-bench kernels --device $dev $kargs | tee "$out/kernels.jsonl"
    timeout 180 .gpu/froster-bench train-step --arch $arch --batch "${batches##* }" --frames 8 "${names[@]}" --steps $steps --device $dev --fused-kernels off | sed 's/"bench":"train-step"/"bench":"train-step-eager-act"/' | tee -a "$out/steps.jsonl"
    # The attention-op lever: the tripled keys and values kept for backward (eager), against the op that builds
    # them again there (compare peak_alloc_gb and clips/s).
    timeout 180 .gpu/froster-bench train-step --arch $arch --batch "${batches##* }" --frames 8 "${names[@]}" --steps $steps --device $dev --attention-op off | sed 's/"bench":"train-step"/"bench":"train-step-eager-attn"/' | tee -a "$out/steps.jsonl"
    # The pooled-last-block lever: each tower's last block on every token, as the reference and the peer run it.
    timeout 180 .gpu/froster-bench train-step --arch $arch --batch "${batches##* }" --frames 8 "${names[@]}" --steps $steps --device $dev --pooled-last-block off | sed 's/"bench":"train-step"/"bench":"train-step-full-last"/' | tee -a "$out/steps.jsonl"
    # The packed-text lever: the student's prompts padded to the longest of all templates, as the peer runs them.
    timeout 180 .gpu/froster-bench train-step --arch $arch --batch "${batches%% *}" --frames 8 "${names[@]}" --steps $steps --device $dev --packed-text off | sed 's/"bench":"train-step"/"bench":"train-step-padded-text"/' | tee -a "$out/steps.jsonl"
    # The process group's cost: the same train step as a world of 1 (NCCL on CUDA, Gloo on the CPU), with the
    # all-reduce of every gradient timed on its own (allreduce_ms, grad_mb). Compare ms_per_step with the line above
    # of the same batch.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 29531)
    RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 180 \
      .gpu/froster-bench train-step --arch $arch --batch "${batches##* }" --frames 8 --classes 200 --steps $steps --device $dev | tee -a "$out/steps.jsonl"
    # Real clips through the loader (all cores): the data-wait fraction.
    for bench in train-step eval-step; do
      .gpu/froster-bench $bench --arch $arch --batch "${batches##* }" --frames 8 --classes 200 --steps $steps --device $dev --packs .gpu/pack | tee -a "$out/steps.jsonl"
    done
    if [ -n "${smi:-}" ]; then kill "$smi"; echo "peak GPU memory MiB: $(sort -n "$out/mem.csv" | tail -n 1)" | tee "$out/peak_mem.txt"; fi
    echo "measurements took ${SECONDS} s" | tee "$out/wall.txt"
    "$python" - "$out/steps.jsonl" "$out/kernels.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
checks = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")]
print("\nkernel and op checks on this device (against ATen / the eager ops):")
for c in checks:
    ms = f"fused {c['fused_ms']:.2f} ms, eager {c['eager_ms']:.2f} ms" if "fused_ms" in c else ""
    print(f"  {c['op']:32s} {c.get('dtype', ''):9s} {'ok' if c.get('ok') else 'FAILED'}  {ms}")
if checks:
    print(f"  status: {checks[-1].get('status')}")
def pick(bench, batch, mode=None, inp="synthetic"):
    for r in rows:
        if r["bench"] == bench and int(r["batch"]) == batch and r.get("mode") == mode and r.get("input", inp) == inp \
                and not r.get("ranks"):
            return r
    return {}
f = lambda x: f"{x:.1f}" if x else "-"
ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
print("\n| step | batch | froster-bench clips/s | peer eager | peer compiled | ours/eager | ours/compiled | peak GiB ours / compiled |")
print("|---|---|---|---|---|---|---|---|")
for bench, peer in (("train-step", "peer-train-step"), ("eval-step", "peer-eval-step")):
    for batch in sorted({int(r["batch"]) for r in rows if r["bench"] == peer}):
        o, e, c = pick(bench, batch), pick(peer, batch, "eager"), pick(peer, batch, "compiled")
        ours, eager, comp = o.get("clips_per_s"), e.get("clips_per_s"), c.get("clips_per_s")
        mem = f"{f(o.get('peak_alloc_gb'))} / {f(c.get('peak_alloc_gb'))}"
        print(f"| {bench} | {batch} | {f(ours)} | {f(eager)} | {f(comp)} | {ratio(ours, eager)} | {ratio(ours, comp)} | {mem} |")
for r in (r for r in rows if r["bench"] == "train-step" and r.get("phases_ms")):
    print(f"\nphases of a batch-{int(r['batch'])} step (ms, device waited for at each):")
    for name, ms in r["phases_ms"]:
        print(f"  {name:45s} {ms:9.1f}")
print("\nhow our train steps ran:")
for r in (r for r in rows if r["bench"] == "train-step" and r.get("step_graph") and r.get("input") == "synthetic"
          and not r.get("ranks")):
    print(f"  batch {int(r['batch'])}: {r['step_graph']}")
# Each lever computes the same step: the first timed step's loss (same seeds, inputs and templates) agrees too.
print("\n| lever turned off | batch | clips/s without / with | peak GiB without / with | first loss without / with |")
print("|---|---|---|---|---|")
first = lambda r: f"{r['losses'][0]:.4f}" if r.get("losses") else "-"
levers = (("train-step-unfused", "fused AdamW + foreach norm"), ("train-step-eager-act", "fused QuickGELU + LayerNorm"),
          ("train-step-no-graph", "CUDA graph of the step"),
          ("train-step-eager-attn", "temporal attention op (keeps q, k, v)"),
          ("train-step-full-last", "last block on the pooled token only"),
          ("train-step-padded-text", "student prompts packed end to end"))
for lever, what in levers:
    for r in (r for r in rows if r["bench"] == lever):
        o = pick("train-step", int(r["batch"]))
        print(f"| {what} | {int(r['batch'])} | {f(r.get('clips_per_s'))} / {f(o.get('clips_per_s'))} | "
              f"{f(r.get('peak_alloc_gb'))} / {f(o.get('peak_alloc_gb'))} | {first(r)} / {first(o)} |")
PY
    ;;
  *) sed -n 2,7p "$0"; exit 2 ;;
esac
