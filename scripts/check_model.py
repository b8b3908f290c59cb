#!/usr/bin/env python3
"""Checks, from Python, that an mfcuda model file is what the README documents.

    python3 scripts/check_model.py model.safetensors [...]

Loads each file with `safetensors.numpy.load_file` and checks the tensor names, dtypes and
shapes against the metadata (kind, factors, hidden), and that the id maps line up with the
embeddings. Exits 1 on the first mismatch. Needs the `safetensors` and `numpy` wheels.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def expected(meta, n_users, n_items):
    f, h = int(meta["factors"]), int(meta["hidden"])
    shapes = {"u": (n_users, f), "m": (n_items, f)}
    if meta["kind"] == "dotbias":
        shapes.update({"ub": (n_users, 1), "mb": (n_items, 1)})
    elif meta["kind"] == "net":
        shapes.update({"lin1.weight": (h, 2 * f), "lin1.bias": (h,), "lin2.weight": (1, h), "lin2.bias": (1,)})
    return shapes


def check(path):
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    assert meta["format"] == "mfcuda-model", meta.get("format")
    t = load_file(path)
    users, movies = t["user_ids"], t["movie_ids"]
    assert users.dtype == np.int64 and movies.dtype == np.int64
    assert len(np.unique(users)) == len(users) and len(np.unique(movies)) == len(movies)
    want = expected(meta, len(users), len(movies))
    got = {k: v.shape for k, v in t.items() if k not in ("user_ids", "movie_ids")}
    assert got == want, f"tensors {got} != documented {want}"
    for name in want:
        assert t[name].dtype == np.float32 and np.isfinite(t[name]).all(), name
    print(f"{path}: {meta['kind']} ({meta['recipe']}), " + ", ".join(f"{k} {v}" for k, v in sorted(got.items()))
          + f", {len(users)} user ids, {len(movies)} movie ids, val_mse {float(meta['val_mse']):.4f}: ok")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        try:
            check(p)
        except (AssertionError, KeyError) as e:
            sys.exit(f"{p}: FAILED: {e!r}")
