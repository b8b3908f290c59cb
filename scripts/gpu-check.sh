#!/usr/bin/env bash
# Prepares gpu-bin/ (git-ignored): the release binary, the GPU test binary and run.sh, for a
# GPU machine that has no Rust toolchain. Run here, copy the repository (with gpu-bin/) there,
# and run `bash gpu-bin/run.sh` from the repository root. Both machines must be x86-64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-nvcc.sh
export MFCUDA_REQUIRE_NVCC=1
cargo build --release
rm -rf gpu-bin
mkdir -p gpu-bin
cp target/release/mfcuda gpu-bin/
# The GPU test executable; the others bake in this machine's paths and stay here.
cargo test --release --no-run --message-format=json | python3 -c '
import json, shutil, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if m.get("reason") == "compiler-artifact" and t.get("name") == "gpu" and "test" in t.get("kind", []):
        shutil.copy(m["executable"], "gpu-bin/gpu-tests")
        print("test binary:", m["executable"])
'
test -x gpu-bin/gpu-tests
# The device tool carries at most 64 MiB: drop the line tables (about half of each binary).
if command -v strip > /dev/null; then
    strip --strip-debug gpu-bin/mfcuda gpu-bin/gpu-tests
fi
cp scripts/gpu-run.sh gpu-bin/run.sh
du -sh gpu-bin
