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
    # What this script writes there (7 files: the device tool brings back 8 at most), from this run alone.
    rm -f "$out"/{gpu.txt,mem.csv,golden.txt,peer_golden.txt,kernels.jsonl,steps.jsonl,tables.md}
    export LD_LIBRARY_PATH="$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # The GPU machine's own torch 2.11.0: TORCH_LIB, else the python that imports torch, else a search; a dry run
    # here uses the setup's.
    torch_lib=${TORCH_LIB:-$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")' 2>/dev/null || true)}
    [ -d "$torch_lib" ] || torch_lib=$(dirname "$(find / -name libtorch_cuda.so -path '*torch/lib/*' -print -quit 2>/dev/null)")
    [ -d .froster/libtorch/lib ] && torch_lib=${TORCH_LIB:-$PWD/.froster/libtorch/lib}
    export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$torch_lib"
    dev=cuda; arch=vit_b16; batches="8 32"; steps=10  # (batch 16 left out: the call stays near 6 minutes)
    if [ "${2:-}" = "--cpu" ]; then dev=cpu; arch=tiny; batches="2"; steps=2; fi
    small=${batches%% *}; large=${batches##* }
    python=${PEER_PYTHON:-$(command -v /opt/torch/.venv/bin/python || echo "$PWD/.froster/venv/bin/python")}
    ours=(.gpu/froster-bench); peer=("$python" .gpu/peer/peer.py)
    train=(train-step --arch $arch --frames 8 --class-file .gpu/classes.json --steps $steps --device $dev)
    eval=(eval-step --arch $arch --frames 8 --class-file .gpu/classes.json --steps $steps --device $dev)
    pbench=(bench --prompts .gpu/prompts.safetensors --arch $arch --steps $steps --device $dev)
    if command -v nvidia-smi >/dev/null; then
      nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
      nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$out/mem.csv" & smi=$!
      trap 'kill "$smi" 2>/dev/null || true' EXIT  # nothing left in the background, whatever fails
    fi
    # Each measurement runs under its own timeout, cut to what is left of the call's budget (BUDGET seconds,
    # default 350: the call stays under 6 minutes, well inside the device tool's 600 s a command), so the tables at
    # the end are always printed. One that fails, times out or finds the budget spent leaves a JSON line saying so,
    # and the rest still run. Most important first: the checks, the goals' rows (ours and the peer), the pack-fed
    # data-wait, then the levers.
    budget=${BUDGET:-350}
    measure() {  # measure LABEL SECONDS CMD...: CMD's JSON lines into steps.jsonl (its bench renamed LABEL; - keeps it)
      local label=$1 limit=$2 rc=0 left what; shift 2
      what=${*//\\/}; what=${what//\"/\'}  # the command for the JSON line: no backslashes, quotes made single
      left=$((budget - 20 - SECONDS))  # 20 s kept for the tables
      if [ "$left" -lt 15 ]; then
        echo "{\"skipped\":\"$what\",\"why\":\"the budget of $budget s is spent\"}" | tee -a "$out/steps.jsonl"; return 0
      fi
      [ "$limit" -le "$left" ] || limit=$left
      local rename="s/\"bench\":\"\(train\|eval\)-step\"/\"bench\":\"$label\"/"; [ "$label" = - ] && rename=""
      timeout "$limit" "$@" | sed "$rename" | tee -a "$out/steps.jsonl" || rc=$?
      [ "$rc" -eq 0 ] || echo "{\"failed\":\"$what\",\"rc\":$rc,\"limit_s\":$limit}" | tee -a "$out/steps.jsonl"
    }
    check() {  # check FILE SECONDS CMD...: the last lines of CMD's output into FILE, and whether it passed
      local file=$1 limit=$2 rc=0; shift 2
      timeout "$limit" "$@" > "$out/$file.log" 2>&1 || rc=$?
      { tail -n 3 "$out/$file.log"; [ "$rc" -eq 0 ] && echo "passed" || echo "FAILED (rc $rc)"; } | tee "$out/$file"
      rm -f "$out/$file.log"
    }
    # The bf16 golden check of our step with the fused ops, and the peer's golden check (the same loss and
    # gradients as the reference), then every kernel and op against ATen / the eager ops on this device.
    FROSTER_GOLDEN_DIR=$PWD/.gpu/golden check golden.txt 120 .gpu/golden_train --test-threads=1
    check peer_golden.txt 120 "${peer[@]}" golden .gpu/golden
    kargs=""; [ "$dev" = cpu ] && kargs="--rows 394 --width 256 --reps 2"
    timeout 120 "${ours[@]}" kernels --device $dev $kargs | tee "$out/kernels.jsonl" || echo "kernels: FAILED"
    # The goals' rows: our train step at both batches (--cuda-graph on is CUDA's default; on the CPU it dry-runs
    # the recorded step's plumbing) and eval; the peer eager and compiled at the same shapes, prompts and
    # templates. At the largest batch the compiled peer also traces as many more steps (--trace: the device's busy
    # and idle time and its longest kernels; ours are traced below, in runs of their own), and ours times each
    # phase of as many more (--profile: phases_ms, waiting for the device per phase).
    measure - 180 "${ours[@]}" "${train[@]}" --batch "$small" --cuda-graph on
    measure - 180 "${ours[@]}" "${train[@]}" --batch "$large" --cuda-graph on --profile
    measure - 180 "${ours[@]}" "${eval[@]}" --batch "$large"
    for mode in "" --compile; do
      trace=""; [ "$mode" = --compile ] && trace=--trace
      for b in $large $small; do
        measure - 300 "${peer[@]}" "${pbench[@]}" --batch "$b" $mode $([ "$b" = "$large" ] && echo $trace)
      done
      measure - 300 "${peer[@]}" "${pbench[@]}" --batch "$large" --eval $mode $trace
    done
    # Real clips through the loader (all cores): the data-wait fraction, with the next batches moved to the device
    # while the step runs (--prefetch on, CUDA's default: pinned memory on a side stream) and between steps (off).
    for pf in on off; do
      measure - 180 "${ours[@]}" "${train[@]}" --batch "$large" --classes 200 --packs .gpu/pack --prefetch $pf
      measure - 180 "${ours[@]}" "${eval[@]}" --batch "$large" --classes 200 --packs .gpu/pack --prefetch $pf
    done
    # Our steps traced beside the compiled peer's (runs of their own: a profiler that fails takes no goal's row).
    measure train-step-traced 180 "${ours[@]}" "${train[@]}" --batch "$large" --trace
    measure eval-step-traced 180 "${ours[@]}" "${eval[@]}" --batch "$large" --trace
    # The levers, each turned off in turn (compare clips/s, peak_alloc_gb and the first loss with the line of the
    # same batch): fused AdamW; the CUDA graph at the smallest batch (where launches weigh most) and the largest;
    # the fused QuickGELU and LayerNorm kernels; the temporal attention op (the tripled keys and values kept for
    # backward instead); the pooled last block; the packed student prompts (padded, as the peer).
    measure train-step-unfused 180 "${ours[@]}" "${train[@]}" --batch "$large" --fused-optimizer off
    for b in $(printf '%s\n' $small $large | sort -un); do
      measure train-step-no-graph 180 "${ours[@]}" "${train[@]}" --batch "$b" --cuda-graph off
    done
    measure train-step-eager-act 180 "${ours[@]}" "${train[@]}" --batch "$large" --fused-kernels off
    measure train-step-eager-attn 180 "${ours[@]}" "${train[@]}" --batch "$large" --attention-op off
    measure train-step-full-last 180 "${ours[@]}" "${train[@]}" --batch "$large" --pooled-last-block off
    measure train-step-padded-text 180 "${ours[@]}" "${train[@]}" --batch "$small" --packed-text off
    # The process group's cost: the same train step as a world of 1 (NCCL on CUDA, Gloo on the CPU), with the
    # all-reduce of every gradient timed on its own (allreduce_ms, grad_mb): compare ms_per_step with its batch's.
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo 29531)
    RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      measure - 180 "${ours[@]}" train-step --arch $arch --batch "$large" --frames 8 --classes 200 --steps $steps --device $dev
    if [ -n "${smi:-}" ]; then kill "$smi"; peak="$(sort -n "$out/mem.csv" | tail -n 1) MiB (nvidia-smi, whole run)"; fi
    card=$(sed -n 2p "$out/gpu.txt" 2>/dev/null || true)
    "$python" - "$out/steps.jsonl" "$out/kernels.jsonl" "${peak:-}" "$SECONDS" "${card:-no GPU ($dev dry run)}" <<'PY' | tee "$out/tables.md"
import json, sys
def parsed(line):
    try:
        return [json.loads(line)] if line.startswith("{") else []
    except ValueError:
        return []  # a line cut short by a timeout
def lines(path):
    try:
        return [r for l in open(path) for r in parsed(l)]
    except OSError:
        return []
rows, checks = lines(sys.argv[1]), lines(sys.argv[2])
print(f"\ndevice: {sys.argv[5]}")
print("\nkernel and op checks on this device (against ATen / the eager ops):")
for c in checks:
    ms = f"fused {c['fused_ms']:.2f} ms, eager {c['eager_ms']:.2f} ms" if "fused_ms" in c else ""
    print(f"  {c.get('op', '?'):32s} {c.get('dtype', ''):9s} {'ok' if c.get('ok') else 'FAILED'}  {ms}")
if checks:
    print(f"  status: {checks[-1].get('status')}")
def pick(bench, batch, mode=None, inp="synthetic"):
    for r in rows:
        if r.get("bench") == bench and int(r["batch"]) == batch and r.get("mode") == mode and r.get("input", inp) == inp \
                and not r.get("ranks"):
            return r
    return {}
f = lambda x: f"{x:.1f}" if x else "-"
ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "-"
print("\n| step | batch | froster-bench clips/s | peer eager | peer compiled | ours/eager | ours/compiled | peak GiB ours / compiled |")
print("|---|---|---|---|---|---|---|---|")
for bench, peer in (("train-step", "peer-train-step"), ("eval-step", "peer-eval-step")):
    for batch in sorted({int(r["batch"]) for r in rows if r.get("bench") in (bench, peer)}):
        o, e, c = pick(bench, batch), pick(peer, batch, "eager"), pick(peer, batch, "compiled")
        ours, eager, comp = o.get("clips_per_s"), e.get("clips_per_s"), c.get("clips_per_s")
        mem = f"{f(o.get('peak_alloc_gb'))} / {f(c.get('peak_alloc_gb'))}"
        print(f"| {bench} | {batch} | {f(ours)} | {f(eager)} | {f(comp)} | {ratio(ours, eager)} | {ratio(ours, comp)} | {mem} |")
print("\n| fed from a pack (real decode) | batch | prefetch | clips/s | data wait (goal < 2%) |")
print("|---|---|---|---|---|")
for r in (r for r in rows if r.get("input") == "packs"):
    pf = {True: "on", False: "off"}.get(r.get("prefetch"), "-")
    print(f"| {r['bench']} | {int(r['batch'])} | {pf} | {f(r.get('clips_per_s'))} | {100 * r.get('data_wait', 0):.1f}% |")
for r in (r for r in rows if r.get("bench") == "train-step" and r.get("phases_ms")):
    print(f"\nphases of a batch-{int(r['batch'])} step (ms, device waited for at each):")
    for name, ms in r["phases_ms"]:
        print(f"  {name:45s} {ms:9.1f}")
for r in (r for r in rows if r.get("trace")):
    t, who = r["trace"], "ours" if not r["bench"].startswith("peer") else f"peer {r.get('mode')}"
    if "error" in t:
        print(f"\n{who} {r['bench']} batch {int(r['batch'])}: the trace failed: {t['error']}")
        continue
    print(f"\nwhere the time went, {who} {r['bench']} batch {int(r['batch'])} ({t['steps']} traced steps, {t['of']}): "
          f"busy {t['busy_ms_per_step']:.1f} of {t['wall_ms_per_step']:.1f} ms per step (idle {100 * t['idle']:.1f}%)")
    for name, ms, calls in t["top"][:10]:
        print(f"  {ms:8.2f} ms {calls:6.1f}x  {name[:100]}")
print("\nhow our train steps ran:")
for r in (r for r in rows if r.get("bench") == "train-step" and r.get("step_graph") and r.get("input") == "synthetic"
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
    for r in (r for r in rows if r.get("bench") == lever):
        o = pick("train-step", int(r["batch"]))
        print(f"| {what} | {int(r['batch'])} | {f(r.get('clips_per_s'))} / {f(o.get('clips_per_s'))} | "
              f"{f(r.get('peak_alloc_gb'))} / {f(o.get('peak_alloc_gb'))} | {first(r)} / {first(o)} |")
for r in (r for r in rows if r.get("ranks")):
    print(f"\nas a world of {r['ranks']}: {f(r.get('clips_per_s'))} clips/s, all-reduce {r.get('allreduce_ms', 0):.1f} ms of "
          f"{r.get('grad_mb', 0):.0f} MB per step")
gone = [r for r in rows if "failed" in r or "skipped" in r]
print("\nmeasurements that failed or were skipped: " + ("none" if not gone else ""))
for r in gone:
    why = f"rc {r['rc']} (124: past its {r['limit_s']} s)" if "failed" in r else r["why"]
    print(f"  {r.get('failed') or r.get('skipped')}: {why}")
if sys.argv[3]:
    print(f"peak GPU memory: {sys.argv[3]}")
print(f"measurements took {sys.argv[4]} s")
PY
    ;;
  *) sed -n 2,7p "$0"; exit 2 ;;
esac
