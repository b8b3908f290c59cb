#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/gpu-check.sh filled gpu-bin/.
# Prints everything in one go: the card, the kernel checks, the GPU tests, the recipes on the
# GPU (all four), and compute-sanitizer memcheck. JSON results go to $OUT (or gpu-bin/out).
set -u
out=${OUT:-gpu-bin/out}
mkdir -p "$out"
bin=gpu-bin
failed=()
step() { printf '\n=== %s\n' "$*"; }
run() { # name, command...: runs it, remembers a failure
    local name=$1; shift
    "$@" || failed+=("$name (exit $?)")
}

step "card"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || nvidia-smi

step "mfcuda check"
run check "$bin/mfcuda" check

step "GPU tests"
run gpu-tests "$bin/gpu-tests" --test-threads=1

for r in learner dot dotbias net; do
    step "train --recipe $r --device cuda"
    run "train $r" bash -c "set -o pipefail; '$bin/mfcuda' train --recipe $r --device cuda --json | tee '$out/$r-cuda.jsonl' | tail -n 1 >/dev/null"
    tail -n 1 "$out/$r-cuda.jsonl" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
for e in r["history"]:
    print("epoch %d  trn %.6f  val %.6f  train %.4f s" % (e["epoch"], e["trn_loss"], e["val_loss"], e["train_seconds"]))
print("%s on %s: val_mse %.4f (notebook %.4f), %.2f s total" % (r["recipe"], r["device"], r["val_mse"], r["notebook_mse"], r["seconds"]))
' 2>/dev/null || echo "(no result for $r)"
done

sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
step "compute-sanitizer memcheck: mfcuda check"
run "memcheck check" "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/mfcuda" check
step "compute-sanitizer memcheck: one epoch of learner"
run "memcheck train" "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/mfcuda" train --recipe learner --epochs 1 --device cuda
step "compute-sanitizer memcheck: net, one epoch per stage (dropout on)"
run "memcheck net" "$sanitizer" --tool memcheck --error-exitcode 9 "$bin/mfcuda" train --recipe net --epochs 1 --device cuda

step "summary"
if [ ${#failed[@]} -eq 0 ]; then
    echo "all GPU checks passed"
else
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
