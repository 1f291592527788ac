#!/usr/bin/env bash
# The Python package's tests (python/): build the wheel with maturin, install it into the setup's venv, pack the
# shared videos, and run python/tests against the Rust loader (froster-bench --dump). `make test` calls it after the
# Rust tests; it expects their debug binaries in target/debug.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(readlink -f .froster/venv)
py="$venv/bin/python"
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "python tests skipped: the venv at $venv has no torch (run scripts/setup.sh)"; exit 0
fi
rm -f target/wheels/froster_loader-*.whl
"$venv/bin/maturin" build --release --quiet -m python/Cargo.toml -o target/wheels
"$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps target/wheels/froster_loader-*.whl
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
videos=${FROSTER_DATA_VIDEOS:-../shared/data/videos}
ls "$videos" | grep -E '\.(mp4|avi)$' | awk '{print $0","NR%3}' > "$tmp/train.csv"
target/debug/froster-pack --quiet build "$videos" --list "$tmp/train.csv" --out "$tmp/pack" --short-side 128 >/dev/null
FROSTER_TEST_PACK="$tmp/pack" FROSTER_BENCH="$PWD/target/debug/froster-bench" PATH="$venv/bin:$PATH" \
  "$py" -m unittest discover -s python/tests -v
# The PyTorch peer of froster-bench computes the reference's loss and gradients (golden case, float32, CPU), and
# its --trace summary names what ran.
"$py" bench/pytorch_peer/peer.py golden "${FROSTER_GOLDEN_DIR:-../shared/golden}"
"$py" -m unittest discover -s bench/pytorch_peer -p 'test_*.py' -v
