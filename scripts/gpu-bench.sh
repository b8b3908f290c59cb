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
print(f"{'recipe':<9} {'torch eager':>12} {'torch graph':>12} {'mfcuda op':>11} {'mfcuda graph':>13} {'one kernel':>11} {'eager/op':>9} {'graph/best':>11}")
f = lambda v: "-" if v is None else f"{v:.2f} ms"
r = lambda a, b: "-" if a is None or b is None else f"{a / b:.1f}x"
best = {}
for name in ["learner", "dot", "dotbias", "net"]:
    te, tg = t.get(f"epoch {name} (eager)"), t.get(f"epoch {name} (graph)")
    mo, mg, mk = (m.get(f"epoch {name} ({p})") for p in ("op by op", "fused, graph", "one kernel"))
    best[name] = min(x for x in (mo, mg, mk) if x is not None)
    print(f"{name:<9} {f(te):>12} {f(tg):>12} {f(mo):>11} {f(mg):>13} {f(mk):>11} {r(te, mo):>9} {r(tg, best[name]):>11}")
    tv, mv, mk = t.get(f"validation {name}"), m.get(f"validation {name}"), m.get(f"validation {name} (one kernel)")
    if tv and mv:
        one = f", one kernel {mk * 1e3:.1f} µs ({tv / mk:.1f}x)" if mk else ""
        print(f"{'':<9} validation: torch {tv:.3f} ms, mfcuda op by op {mv:.3f} ms ({tv / mv:.1f}x){one}")
print()
print("targets (the fastest mfcuda path of each recipe):")
for name, target in [("dot", 2.5), ("dotbias", 2.5), ("learner", 4.0), ("net", 10.0)]:
    print(f"  {name:<9} {best[name]:8.2f} ms  target <= {target} ms  {'met' if best[name] <= target else 'MISSED'}")
for name, mse in torch.get("final_val_mse", {}).items():
    print(f"torch {name}: final val_mse {mse:.4f}")
PY
echo
echo "=== mfcuda bench --scale (ml-25m and Netflix shapes, k = 128, synthetic)"
gpu-bin/mfcuda bench --scale --device cuda --json > "$out/mfcuda-scale.jsonl" || { echo "mfcuda bench --scale failed"; exit 1; }
echo
echo "=== the scale targets (the fastest variant of each shape and storage; the CuPy Hogwild anchor,"
echo "    1.94 G/s at ml-25m and 1.68 G/s at Netflix on an H200, is cited from docs/gpu-results/2026-11-28-h200-07491a1.md, not measured here)"
python3 - "$out/mfcuda-scale.jsonl" <<'PY'
import json, sys
rep = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
for shape in ["ml-25m", "netflix"]:
    for storage, target in [("f32", 4e9), ("bf16", 6e9)]:
        rows = [r for r in rep["rows"] if r["shape"] == shape and r["variant"].startswith(storage + ",")]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["updates_per_s"])
        ok = best["updates_per_s"] >= target
        print(f"  {shape:<8} {storage:<5} {best['updates_per_s'] / 1e9:5.2f} G updates/s ({best['variant']}, rmse {best['rmse']:.4f}); "
              f"target >= {target / 1e9:.0f} G/s: {'met' if ok else 'MISSED'}")
PY
echo
echo "=== the ranking target: full-ranking NDCG@10 at ml-25m's size (25M synthetic ratings, planted factors) in < 10 s"
timeout 300 gpu-bin/mfcuda bench --ranking --device cuda --json > "$out/mfcuda-ranking.jsonl" || { echo "mfcuda bench --ranking failed"; exit 1; }
python3 - "$out/mfcuda-ranking.jsonl" <<'PY'
import json, sys
rep = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
full, cpu = rep["full"], rep.get("cpu_sample")
print(f"  all {full['users']} users on {full['device']}: {full['seconds']:.2f} s, ndcg@10 {full['ndcg']:.4f}; "
      f"target < 10 s: {'met' if full['seconds'] < 10 else 'MISSED'}")
if cpu:
    print(f"  CPU sample: {cpu['users']} users in {cpu['seconds']:.2f} s ({cpu['users'] / cpu['seconds']:.0f} users/s)")
for v in rep.get("versions", []):
    if v.get("skipped"):
        print(f"  {v['kernel']}: not run ({v['skipped']})")
    else:
        print(f"  {v['kernel']:<17} {v['users']} users in {v['seconds'] * 1e3:.1f} ms, H200 model {v['model_seconds'] * 1e3:.1f} ms "
              f"({v['seconds'] / v['model_seconds']:.2f}x); lists {'equal' if v['same_bits'] else 'DIFFER'} to the bit")
PY
