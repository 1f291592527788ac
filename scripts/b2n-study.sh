#!/usr/bin/env bash
# The CPU-scale check of FROSTER's claim (issue #18), in progress: captioned fixtures -> contrastive pretraining of a
# tiny CLIP -> three rows on base-to-novel over three seeds (zero-shot, plain fine-tuning = distillation ratio 0,
# FROSTER) -> out/study/b2n_table.{md,json,png}. Needs the release binaries (make build). About 3 minutes on 2 cores.
# Options: --out DIR (default out/study), --pretrain-epochs N (30), --epochs N (fine-tuning, 10).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/target/release"
out="$root/out/study"; pre_epochs=30; epochs=10
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --pretrain-epochs) pre_epochs=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    -h|--help) sed -n 2,5p "$0"; exit 0 ;;
    *) echo "b2n-study: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
data="$out/fixtures"; p="$data/protocol"
echo "== captioned fixtures"
"$bin/froster-fixtures" --captioned --out "$data" --train-per-class 12 --eval-per-class 10 --pretrain-per-combo 16
rm -rf "$out/pack"
"$bin/froster-pack" --quiet build "$data/videos" --list "$p/pretrain.csv" --list "$p/train.csv" --list "$p/val.csv" \
  --list "$p/test.csv" --out "$out/pack" --short-side 48
common=(--packs "$out/pack" --preset tiny --overwrite --set DATA.SAMPLING_RATE=3 --log-every 100000)
echo "== contrastive pretraining ($pre_epochs epochs)"
"$bin/froster-train" "${common[@]}" --out "$out/pretrain" --set 'MODEL.OBJECTIVE="contrastive"' \
  --set 'TRAIN.LIST="pretrain"' --set "DATA.CLASSES=\"$p/captions.json\"" --set TRAIN.BATCH_SIZE=32 \
  --set "SOLVER.MAX_EPOCH=$pre_epochs" --set SOLVER.BASE_LR=2e-3 --set SOLVER.WARMUP_EPOCHS=2.0 | tail -n 1
clip=$(ls "$out"/pretrain/checkpoints/checkpoint_epoch_*.safetensors | sort | tail -n 1)
b2n() { "$bin/froster-eval" protocol b2n --packs "$out/pack" --checkpoint "$1" --protocol "$p" --out "$2" --device cpu --quiet | tail -n 1; }
echo "== zero-shot"
b2n "$out/pretrain" "$out/eval/zero-shot"
rows=(--row "zero-shot=$out/eval/zero-shot")
for method in fine-tune froster; do
  ratio=0; [ "$method" = froster ] && ratio=2.0
  dirs=()
  for seed in 0 1 2; do
    run="$out/$method-$seed"
    "$bin/froster-train" "${common[@]}" --out "$run" --set "MODEL.CLIP=\"$clip\"" --set "RNG_SEED=$seed" \
      --set "DATA.CLASSES=\"$p/train_rephrased.json\"" --set "SOLVER.MAX_EPOCH=$epochs" \
      --set "MODEL.DISTILLATION_RATIO=$ratio" --set TRAIN.BATCH_SIZE=8 | tail -n 1
    echo "$method seed $seed: $(b2n "$run" "$out/eval/$method-$seed")"
    dirs+=("$out/eval/$method-$seed")
  done
  rows+=(--row "$method=$(IFS=,; echo "${dirs[*]}")")
done
echo
"$bin/froster-tools" b2n-table "${rows[@]}" --out "$out"
