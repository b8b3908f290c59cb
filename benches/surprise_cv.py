#!/usr/bin/env python3
"""mfcuda against Surprise on the same folds, in Surprise's protocol.

Usage (needs Python with scikit-surprise and numpy, and a release build):

    cargo build --release
    python3 benches/surprise_cv.py [--data data/ml-latest-small/ratings.csv] [--folds 5] [--seed 42]

The folds are mfcuda's (`mfcuda cv`): numpy's legacy permutation under the
seed, fold f being positions f*n//k .. (f+1)*n//k of it. Both libraries
train on the other folds and are tested on fold f, with predictions clipped
to the rating range. It prints RMSE, MAE and seconds per fold for Surprise's
SVD, SVD++ and BaselineOnly (their defaults) and for `mfcuda cv` with the
given recipes, then the means, on one machine in one run.
"""
import argparse
import csv
import json
import os
import subprocess
import tempfile
import time

import numpy as np
from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp, accuracy

ap = argparse.ArgumentParser()
ap.add_argument("--data", default="data/ml-latest-small/ratings.csv")
ap.add_argument("--folds", type=int, default=5)
ap.add_argument("--seed", type=int, default=42)
ap.add_argument("--mfcuda", default="target/release/mfcuda")
ap.add_argument("--recipes", default="sparse,learner,best")
ap.add_argument("--device", default="cpu")
ap.add_argument("--skip-svdpp", action="store_true", help="SVD++ is slow: minutes a fold")
a = ap.parse_args()

rows = []
with open(a.data, newline="") as f:
    for r in csv.DictReader(f):
        rows.append((r["userId"], r["movieId"], float(r["rating"])))
n, k = len(rows), a.folds
np.random.seed(a.seed)
perm = np.random.permutation(n)
lo, hi = min(r[2] for r in rows), max(r[2] for r in rows)
reader = Reader(line_format="user item rating", sep=",", rating_scale=(lo, hi))
tmp = tempfile.mkdtemp()

results = {}  # name -> list of (rmse, mae, seconds)
algos = [("Surprise SVD", SVD), ("Surprise BaselineOnly", BaselineOnly)]
if not a.skip_svdpp:
    algos.append(("Surprise SVD++", SVDpp))
for fold in range(k):
    test_idx = set(perm[fold * n // k:(fold + 1) * n // k].tolist())
    train = [rows[i] for i in range(n) if i not in test_idx]
    test = [rows[i] for i in sorted(test_idx)]
    path = os.path.join(tmp, "train.csv")
    with open(path, "w") as f:
        f.writelines(f"{u},{i},{r}\n" for u, i, r in train)
    trainset = Dataset.load_from_file(path, reader=reader).build_full_trainset()
    for name, algo in algos:
        model = algo(random_state=a.seed) if algo is not BaselineOnly else algo(verbose=False)
        t0 = time.perf_counter()
        model.fit(trainset)
        preds = model.test(test)
        secs = time.perf_counter() - t0
        r = (accuracy.rmse(preds, verbose=False), accuracy.mae(preds, verbose=False), secs)
        results.setdefault(name, []).append(r)
        print(f"fold {fold + 1} {name:<24} rmse {r[0]:.4f} mae {r[1]:.4f} {secs:7.2f} s", flush=True)

for recipe in a.recipes.split(","):
    if recipe == "best":
        continue  # an ensemble: `mfcuda cv` takes single recipes
    cmd = [a.mfcuda, "cv", "--recipe", recipe, "--device", a.device, "--folds", str(k),
           "--fold-seed", str(a.seed), "--data", a.data, "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rep = json.loads(out.strip().splitlines()[-1])
    name = f"mfcuda {recipe} ({a.device})"
    for f in rep["folds"]:
        r = (f["rmse"], f["mae"], f["fit_seconds"] + f["test_seconds"])
        results.setdefault(name, []).append(r)
        print(f"fold {f['fold'] + 1} {name:<24} rmse {r[0]:.4f} mae {r[1]:.4f} {r[2]:7.2f} s", flush=True)

print(f"\n| {k}-fold CV, {a.data} | RMSE | MAE | seconds a fold |")
print("|---|---|---|---|")
for name, rs in results.items():
    rm, ma, se = (np.array([r[j] for r in rs]) for j in range(3))
    print(f"| {name} | {rm.mean():.4f} ± {rm.std():.4f} | {ma.mean():.4f} ± {ma.std():.4f} | {se.mean():.2f} |")
