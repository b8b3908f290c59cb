#!/usr/bin/env bash
# Installs NVIDIA's nvcc 13.0 from PyPI wheels into .cuda/ (git-ignored, about 290 MB),
# for machines without the CUDA toolkit. build.rs finds it there when no other nvcc is set.
# It compiles kernels to PTX only; running them still needs an NVIDIA driver >= 580.
#
#   scripts/install-nvcc.sh          # then: cargo build  (or MFCUDA_REQUIRE_NVCC=1 cargo build)
set -euo pipefail
cd "$(dirname "$0")/.."

dest=.cuda
nvcc="$dest/nvidia/cu13/bin/nvcc"
# build.rs watches this stamp: rewriting it makes the next cargo build compile the kernels.
stamp() { mkdir -p "$dest" && "$nvcc" --version | tail -n 1 > "$dest/installed"; }
if [ -x "$nvcc" ] && "$nvcc" --version 2>/dev/null | grep -q "release 13.0"; then
    stamp
    echo "nvcc already installed: $nvcc"
    exit 0
fi
# All four pinned: unpinned, pip pulls an nvvm whose cicc does not match nvcc 13.0.
python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$dest" --upgrade \
    nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 \
    nvidia-nvvm==13.0.88 nvidia-cuda-runtime==13.0.96
"$nvcc" --version | tail -n 1
stamp
echo "installed: $nvcc (the next cargo build compiles the kernels)"
