#!/usr/bin/env python3
"""Checks, from Python, that an mfcuda model file is what the README documents.

    python3 scripts/check_model.py model.safetensors [...]

Loads each file with `safetensors.numpy.load_file` and checks the tensor names, dtypes and
shapes against the metadata (kind, factors, hidden), and that the id maps line up with the
embeddings; an ensemble file, each member's under its `members.K.` prefix. Exits 1 on the first mismatch. Needs the `safetensors` and `numpy` wheels.
"""
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def expected(meta, n_users, n_items):
    f, h = int(meta["factors"]), int(meta["hidden"])
    shapes = {"u": (n_users, f), "m": (n_items, f)}
    if meta["kind"] in ("dotbias", "svd"):
        shapes.update({"ub": (n_users, 1), "mb": (n_items, 1)})
    if meta["kind"] == "svd":
        shapes["mu"] = (1,)
    elif meta["kind"] == "net":
        shapes.update({"lin1.weight": (h, 2 * f), "lin1.bias": (h,), "lin2.weight": (1, h), "lin2.bias": (1,)})
    return shapes


def check_one(t, meta, prefix=""):
    """Checks the model behind `prefix` (`members.K.` in an ensemble); its summary line."""
    meta = {k[len(prefix):]: v for k, v in meta.items() if k.startswith(prefix)}
    t = {k[len(prefix):]: v for k, v in t.items() if k.startswith(prefix)}
    users, movies = t["user_ids"], t["movie_ids"]
    assert users.dtype == np.int64 and movies.dtype == np.int64
    assert len(np.unique(users)) == len(users) and len(np.unique(movies)) == len(movies)
    want = expected(meta, len(users), len(movies))
    got = {k: v.shape for k, v in t.items() if k not in ("user_ids", "movie_ids")}
    assert got == want, f"{prefix}tensors {got} != documented {want}"
    for name in want:
        assert t[name].dtype == np.float32 and np.isfinite(t[name]).all(), prefix + name
    return (f"{meta['kind']} ({meta['recipe']}), " + ", ".join(f"{k} {v}" for k, v in sorted(got.items()))
            + f", {len(users)} user ids, {len(movies)} movie ids, val_mse {float(meta['val_mse']):.4f}")


def check(path):
    with safe_open(path, framework="np") as f:
        meta = f.metadata()
    t = load_file(path)
    if meta["format"] == "mfcuda-ensemble":
        # Each member is a model file's tensors and metadata behind `members.K.`.
        n = int(meta["members"])
        assert set(k.split(".")[1] for k in t) == {str(k) for k in range(n)}, sorted(t)
        for k in range(n):
            print(f"{path}: member {k}: {check_one(t, meta, f'members.{k}.')}: ok")
        print(f"{path}: ensemble {meta['name']} of {n}, val_mse {float(meta['val_mse']):.4f}: ok")
        return
    assert meta["format"] == "mfcuda-model", meta.get("format")
    print(f"{path}: {check_one(t, meta)}: ok")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        try:
            check(p)
        except Exception as e:  # a bad header, a missing key, a failed check: name the file
            sys.exit(f"{p}: FAILED: {e!r}")
