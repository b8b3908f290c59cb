#!/usr/bin/env python3
"""PyTorch reference for `mfcuda bench`.

Runs the notebook's four recipes (learner, dot, dotbias, net) on the same data and the same
split as mfcuda (numpy's legacy `np.random.seed(42); np.random.permutation(n)[:int(0.2*n)]`),
with the same models, initial ranges, optimizers and batch size. For each recipe it times one
epoch (after a warm-up epoch) eagerly and with the whole training step captured in a CUDA graph,
and the validation pass, with CUDA events. It prints the same columns as `mfcuda bench`.

    python3 benches/pytorch_reference.py [--data data/ml-latest-small/ratings.csv] [--json] [--full]

`--full` also trains every recipe to the end (eagerly) and reports its final validation MSE,
to show that the reference computes what the notebook computed.

Needs numpy and PyTorch with a CUDA GPU; the development machine does not.
"""
import argparse
import csv
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def load(path):
    """Ratings with ids mapped to 0..n in order of first appearance, as mfcuda maps them."""
    users, items, ratings = [], [], []
    umap, imap = {}, {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            users.append(umap.setdefault(int(row["userId"]), len(umap)))
            items.append(imap.setdefault(int(row["movieId"]), len(imap)))
            ratings.append(float(row["rating"]))
    return np.array(users), np.array(items), np.array(ratings, dtype=np.float32), len(umap), len(imap)


def split(n, val_pct=0.2, seed=42):
    """fastai 0.7's get_cv_idxs, then rows in file order on each side."""
    np.random.seed(seed)
    val = np.random.permutation(n)[: int(val_pct * n)]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.nonzero(~mask)[0], np.nonzero(mask)[0]


class EmbeddingDot(nn.Module):
    def __init__(self, nu, ni, nf, init):
        super().__init__()
        self.u, self.m = nn.Embedding(nu, nf), nn.Embedding(ni, nf)
        for e in (self.u, self.m):
            e.weight.data.uniform_(*init)

    def forward(self, u, i):
        return (self.u(u) * self.m(i)).sum(1)


class EmbeddingDotBias(nn.Module):
    def __init__(self, nu, ni, nf, init, y_range):
        super().__init__()
        self.u, self.m = nn.Embedding(nu, nf), nn.Embedding(ni, nf)
        self.ub, self.mb = nn.Embedding(nu, 1), nn.Embedding(ni, 1)
        for e in (self.u, self.m, self.ub, self.mb):
            e.weight.data.uniform_(*init)
        self.lo, self.hi = y_range

    def forward(self, u, i):
        x = (self.u(u) * self.m(i)).sum(1) + self.ub(u).squeeze(1) + self.mb(i).squeeze(1)
        return torch.sigmoid(x) * (self.hi - self.lo) + self.lo


class EmbeddingNet(nn.Module):
    def __init__(self, nu, ni, nf, init, y_range, nh=10, p1=0.05, p2=0.5):
        super().__init__()
        self.u, self.m = nn.Embedding(nu, nf), nn.Embedding(ni, nf)
        for e in (self.u, self.m):
            e.weight.data.uniform_(*init)
        self.lin1, self.lin2 = nn.Linear(2 * nf, nh), nn.Linear(nh, 1)
        self.drop1, self.drop2 = nn.Dropout(p1), nn.Dropout(p2)
        self.lo, self.hi = y_range

    def forward(self, u, i):
        x = self.drop1(torch.cat([self.u(u), self.m(i)], dim=1))
        x = self.drop2(F.relu(self.lin1(x)))
        return (torch.sigmoid(self.lin2(x)) * (self.hi - self.lo + 1) + self.lo - 0.5).squeeze(1)


def sgdr_lrs(lr, steps_per_epoch, cycles=2, cycle_len=1, cycle_mult=2):
    """fastai 0.7's CosAnneal, one rate per batch (as mfcuda's schedule.rs)."""
    nb, cycle_iter, out = steps_per_epoch * cycle_len, 0, []
    total = sum(cycle_len * cycle_mult**c for c in range(cycles)) * steps_per_epoch
    for it in range(total):
        if it < nb / 20:
            cycle_iter += 1
            out.append(lr / 100)
            continue
        cos_out = math.cos(math.pi * cycle_iter / nb) + 1
        cycle_iter += 1
        if cycle_iter == nb:
            cycle_iter, nb = 0, nb * cycle_mult
        out.append(lr / 2 * cos_out)
    return out


# name: (model, init range, optimizer, lr, wd, stages as lists of per-epoch lr schedules)
RECIPES = {
    "learner": ("dotbias", (-0.05, 0.05), "adam", 1e-2, 2e-4, "sgdr"),
    "dot": ("dot", (0.0, 0.05), "sgd", 0.1, 1e-5, "two"),
    "dotbias": ("dotbias", (-0.01, 0.01), "sgd", 0.1, 2e-4, "two"),
    "net": ("net", (-0.01, 0.01), "adam", 1e-3, 1e-5, "same"),
}


def recipe_lrs(name, steps):
    """Learning rate of every step of the whole recipe."""
    _, _, _, lr, _, kind = RECIPES[name]
    if kind == "sgdr":
        return sgdr_lrs(lr, steps)
    if kind == "two":
        return [lr] * (3 * steps) + [lr / 10] * (3 * steps)
    return [lr] * (6 * steps)


def build(name, nu, ni, y_range, dev, capturable):
    kind, init, opt, lr, wd, _ = RECIPES[name]
    if kind == "dot":
        model = EmbeddingDot(nu, ni, 50, init)
    elif kind == "dotbias":
        model = EmbeddingDotBias(nu, ni, 50, init, y_range)
    else:
        model = EmbeddingNet(nu, ni, 50, init, y_range)
    model = model.to(dev)
    if opt == "sgd":
        optim = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
    else:
        # A tensor lr can change between graph replays without recapture.
        lr_arg = torch.tensor(lr, device=dev) if capturable else lr
        optim = torch.optim.Adam(model.parameters(), lr=lr_arg, weight_decay=wd, capturable=capturable)
    return model, optim


def set_lr(optim, lr):
    for g in optim.param_groups:
        if torch.is_tensor(g["lr"]):
            g["lr"].fill_(lr)
        else:
            g["lr"] = lr


class Runner:
    """Trains one recipe eagerly or through a captured CUDA graph of the full-batch step."""

    def __init__(self, name, data, dev, graph, seed=42):
        users, items, ratings, nu, ni, trn, val = data
        torch.manual_seed(seed)
        self.dev, self.graph_mode = dev, graph
        y_range = (float(ratings.min()), float(ratings.max()))
        self.model, self.optim = build(name, nu, ni, y_range, dev, capturable=graph)
        t = lambda a, dt: torch.tensor(a, dtype=dt, device=dev)
        self.tu, self.ti, self.ty = t(users[trn], torch.long), t(items[trn], torch.long), t(ratings[trn], torch.float32)
        self.vu, self.vi, self.vy = t(users[val], torch.long), t(items[val], torch.long), t(ratings[val], torch.float32)
        self.bs, self.n = 64, len(trn)
        self.steps = (self.n + self.bs - 1) // self.bs
        self.graph = None

    def eager_step(self, u, i, y):
        self.optim.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.model(u, i), y)
        loss.backward()
        self.optim.step()
        return loss

    def capture(self):
        """The documented whole-network capture: warm up on a side stream, then record."""
        self.su = self.tu[: self.bs].clone()
        self.si = self.ti[: self.bs].clone()
        self.sy = self.ty[: self.bs].clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.eager_step(self.su, self.si, self.sy)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.optim.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.sloss = F.mse_loss(self.model(self.su, self.si), self.sy)
            self.sloss.backward()
            self.optim.step()

    def epoch(self, lrs):
        """One epoch in a fresh random order; returns the per-step losses (on the device)."""
        self.model.train()
        perm = torch.randperm(self.n, device=self.dev)
        eu, ei, ey = self.tu[perm], self.ti[perm], self.ty[perm]
        losses = torch.empty(self.steps, device=self.dev)
        for s in range(self.steps):
            rows = slice(s * self.bs, (s + 1) * self.bs)
            u, i, y = eu[rows], ei[rows], ey[rows]
            # SGD's float lr is baked into a captured graph; every timed stage keeps it constant.
            set_lr(self.optim, lrs[s])
            if self.graph_mode and len(u) == self.bs:
                if self.graph is None:
                    self.capture()
                self.su.copy_(u)
                self.si.copy_(i)
                self.sy.copy_(y)
                self.graph.replay()
                losses[s].copy_(self.sloss)
            else:  # eager, and the partial last batch of graph mode
                losses[s] = self.eager_step(u, i, y).detach()
        return losses

    @torch.no_grad()
    def validate(self):
        self.model.eval()
        return F.mse_loss(self.model(self.vu, self.vi), self.vy, reduction="sum").item() / len(self.vy)


def timed(fn):
    """Milliseconds of one call, between CUDA events (or wall time on the CPU)."""
    if torch.cuda.is_available():
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end), out
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1e3, out


def row(what, size, ms, rate):
    return {"device": "torch", "what": what, "size": size, "ms": ms, "gb_per_s": None,
            "pct_of_copy": None, "ratings_per_s": rate}


def line(r):
    ms = r["ms"]
    t = f"{ms / 1e3:.3f} s" if ms >= 100 else f"{ms:.3f} ms" if ms >= 0.1 else f"{ms * 1e3:.2f} µs"
    rate = r["ratings_per_s"]
    rate = "-" if rate is None else f"{rate / 1e6:.1f}M" if rate >= 1e6 else f"{rate / 1e3:.0f}k"
    return f"{r['device']:<5} {r['what']:<30} {r['size']:<24} {t:>11} {'-':>9} {'-':>7} {rate:>12}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/ml-latest-small/ratings.csv")
    ap.add_argument("--json", action="store_true", help="one JSON object as the last line of stdout")
    ap.add_argument("--full", action="store_true", help="also train every recipe to the end, eagerly")
    args = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    say = (lambda s: print(s, file=sys.stderr)) if args.json else print
    users, items, ratings, nu, ni = load(args.data)
    trn, val = split(len(ratings))
    data = (users, items, ratings, nu, ni, trn, val)
    gpu = torch.cuda.get_device_name(0) if dev == "cuda" else None
    say(f"torch {torch.__version__} on {gpu or 'cpu'}")
    rows, finals = [], {}
    for name in RECIPES:
        for graph in ([False, True] if dev == "cuda" else [False]):
            label = "graph" if graph else "eager"
            try:
                r = Runner(name, data, dev, graph)
                lrs = recipe_lrs(name, r.steps)
                r.epoch(lrs[: r.steps])  # warm-up (and capture)
                ms, _ = timed(lambda: r.epoch(lrs[r.steps : 2 * r.steps]).sum().item())
                rows.append(row(f"epoch {name} ({label})", f"{r.n} rows, B=64", ms, r.n / (ms / 1e3)))
                say(line(rows[-1]))
                if not graph:
                    r.validate()
                    ms, _ = timed(r.validate)
                    rows.append(row(f"validation {name}", f"{len(val)} rows", ms, len(val) / (ms / 1e3)))
                    say(line(rows[-1]))
            except Exception as e:  # report and go on: one failing mode must not hide the rest
                say(f"torch {name} ({label}): failed: {type(e).__name__}: {e}")
        if args.full:
            r = Runner(name, data, dev, False)
            lrs = recipe_lrs(name, r.steps)
            for e in range(len(lrs) // r.steps):
                r.epoch(lrs[e * r.steps : (e + 1) * r.steps])
            finals[name] = r.validate()
            say(f"torch {name}: final val_mse {finals[name]:.4f}")
    if args.json:
        print(json.dumps({"torch": torch.__version__, "gpu": gpu, "rows": rows, "final_val_mse": finals}))


if __name__ == "__main__":
    main()
