#!/usr/bin/env bash
# Idempotent setup: Debian GStreamer + ffmpeg, and the torch venv that tch needs.
# Safe to rerun; returns in about a second when everything is present.
set -euo pipefail
TORCH_VERSION=2.11.0
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FROSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/froster-rs}
venv="$cache/torch-$TORCH_VERSION"

say() { echo "[setup] $*"; }

# 1. Debian packages (GStreamer decode/encode, ffmpeg for the tests' reference decode, libav headers for the
#    H.264 pack codec, which opens libavcodec at run time).
pkgs=(pkg-config libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-base
      gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
      gstreamer1.0-tools ffmpeg libavcodec-dev libavutil-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. torch venv in a per-user cache keyed by version, shared by every clone.
if ! [ -f "$venv/.complete" ]; then
  say "creating $venv with torch==$TORCH_VERSION (about 4.6 GB, a few minutes)"
  rm -rf "$venv"; mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "torch==$TORCH_VERSION"
  touch "$venv/.complete"
fi
# maturin builds the Python wheel of the loader (python/).
[ -x "$venv/bin/maturin" ] || "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.5,<2"
# The reference's data path (../shared/bench/reference_loader_bench.py: PyAV + numpy) for the sampling tests.
[ -f "$venv/.reference-path" ] || {
  "$venv/bin/pip" install -q --disable-pip-version-check --only-binary=:all: "av==18.1.0" "numpy==2.4.6" &&
    touch "$venv/.reference-path"
}
# froster-shim compiles ProcessGroupNCCL's header, which needs the CUDA 13.0 toolkit headers that the torch wheel
# leaves out (crt/, nv/target): nvcc's packages, pinned to the CUDA 13.0 of torch's runtime.
[ -f "$venv/.cuda-headers-13.0" ] || {
  "$venv/bin/pip" install -q --disable-pip-version-check "nvidia-cuda-nvcc==13.0.88" "nvidia-cuda-crt==13.0.88" \
    "nvidia-nvvm==13.0.88" "nvidia-cuda-cccl==13.0.85" && touch "$venv/.cuda-headers-13.0"
}
torch_dir=$("$venv/bin/python" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)

# 3. A stable link to it, and the cargo config that points the build at it: LIBTORCH, and rpaths so that
#    binaries and test binaries find libtorch without LD_LIBRARY_PATH ($ORIGIN-relative for target/<profile>/
#    and target/<profile>/deps/, then this machine's torch). Written here, not committed: it names this machine.
mkdir -p "$root/.froster" "$root/.cargo"
ln -sfn "$torch_dir" "$root/.froster/libtorch"
ln -sfn "$venv" "$root/.froster/venv"
config="$root/.cargo/config.toml"
want="# Written by scripts/setup.sh for this machine; rerun it rather than editing.
[env]
LIBTORCH = { value = \".froster/libtorch\", relative = true }

[target.x86_64-unknown-linux-gnu]
rustflags = [
  \"-C\", \"link-arg=-Wl,-rpath,\$ORIGIN/../../.froster/libtorch/lib\",
  \"-C\", \"link-arg=-Wl,-rpath,\$ORIGIN/../../../.froster/libtorch/lib\",
  \"-C\", \"link-arg=-Wl,-rpath,$torch_dir/lib\",
]"
# Rewritten only when it changes: new rustflags rebuild everything.
[ "$(cat "$config" 2>/dev/null)" = "$want" ] || printf '%s\n' "$want" > "$config"
say "ok: libtorch at $torch_dir"
