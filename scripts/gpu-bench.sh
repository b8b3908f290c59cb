#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after scripts/gpu-check.sh filled gpu-bin/:
# `mfcuda bench` and the PyTorch reference back to back on the same card, then the speed-up
# ratios (PyTorch time / mfcuda time), which are the headline: absolute times drift by card.
# Then `mfcuda bench --scale`: sparse SGD at ml-25m and Netflix sizes (synthetic).
set -uo pipefail
out=${OUT:-gpu-bin/out}
mkdir -p "$out"

echo "=== mfcuda bench"
gpu-bin/mfcuda bench --device cuda --json > "$out/mfcuda-bench.jsonl" || { echo "mfcuda bench failed"; exit 1; }
echo
echo "=== PyTorch reference"
python3 benches/pytorch_reference.py --json --full > "$out/torch-bench.jsonl" || { echo "PyTorch reference failed"; exit 1; }
echo
echo "=== speed-up of mfcuda over PyTorch (PyTorch time / mfcuda time, same card)"
python3 - "$out/mfcuda-bench.jsonl" "$out/torch-bench.jsonl" <<'PY'
import json, sys
ours = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
torch = json.loads(open(sys.argv[2]).read().strip().splitlines()[-1])
t = {r["what"]: r["ms"] for r in torch["rows"]}
m = {r["what"]: r["ms"] for r in ours["rows"] if r["device"] == "cuda"}
print(f"card: {ours['gpu']}; copy bandwidth {ours['copy_gb_per_s']:.0f} GB/s; torch {torch['torch']}")
print(f"{'recipe':<9} {'torch eager':>12} {'torch graph':>12} {'mfcuda op':>11} {'mfcuda fused':>13} {'eager/op':>9} {'eager/fused':>12} {'graph/fused':>12}")
for name in ["learner", "dot", "dotbias", "net"]:
    te, tg = t.get(f"epoch {name} (eager)"), t.get(f"epoch {name} (graph)")
    mo, mf = m.get(f"epoch {name} (op by op)"), m.get(f"epoch {name} (fused, graph)")
    f = lambda v: "-" if v is None else f"{v:.2f} ms"
    r = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"
    print(f"{name:<9} {f(te):>12} {f(tg):>12} {f(mo):>11} {f(mf):>13} {r(te, mo):>9} {r(te, mf):>12} {r(tg, mf):>12}")
    tv, mv = t.get(f"validation {name}"), m.get(f"validation {name}")
    if tv and mv:
        print(f"{'':<9} validation: torch {tv:.3f} ms, mfcuda {mv:.3f} ms, {tv / mv:.1f}x")
for name, mse in torch.get("final_val_mse", {}).items():
    print(f"torch {name}: final val_mse {mse:.4f}")
PY
echo
echo "=== mfcuda bench --scale (ml-25m and Netflix shapes, k = 128, synthetic)"
gpu-bin/mfcuda bench --scale --device cuda --json > "$out/mfcuda-scale.jsonl" || { echo "mfcuda bench --scale failed"; exit 1; }
