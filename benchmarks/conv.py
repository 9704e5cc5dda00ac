"""Convolution benchmark: training steps of LeNet-5 and ResNet-small, deepgrad vs PyTorch CPU.

Adam, float32, batch 64, inputs 1x28x28, both libraries on 2 threads in the same
process. Prints one JSON object: median step times, the deepgrad/PyTorch ratios,
and peak memory (tracemalloc for deepgrad, which sees NumPy's allocations; PyTorch's
allocator is invisible to tracemalloc, so for it the RSS growth is reported).

    python benchmarks/conv.py [--steps 30] [--warmup 5] [--models lenet,resnet]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402

import deepgrad as dg  # noqa: E402
import deepgrad.nn as nn  # noqa: E402

BATCH = 64


# ----- deepgrad models ---------------------------------------------------------------------------------
def dg_lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )


class DgBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        out = dg.relu(self.bn1(self.conv1(x)))
        return dg.relu(self.bn2(self.conv2(out)) + x)


class DgResNetSmall(nn.Module):
    def __init__(self, c=32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(DgBlock(c), DgBlock(c))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, 10)

    def forward(self, x):
        return self.fc(dg.flatten(self.pool(self.blocks(self.stem(x))), 1))


def _dg_adam(params, lr=1e-3):
    try:
        from deepgrad.optim import Adam

        return Adam(params, lr=lr)
    except Exception:  # the optimizer package not there yet: a minimal Adam, same math
        return _MiniAdam(params, lr)


class _MiniAdam:
    def __init__(self, params, lr):
        self.params, self.lr, self.t = list(params), lr, 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p.data -= (self.lr / c1) * m / (np.sqrt(v / c2) + eps)


# ----- torch models ------------------------------------------------------------------------------------
def torch_models(torch):
    tnn = torch.nn

    def lenet():
        return tnn.Sequential(
            tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
            tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10),
        )

    class Block(tnn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1, self.bn1 = tnn.Conv2d(c, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c)
            self.conv2, self.bn2 = tnn.Conv2d(c, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c)

        def forward(self, x):
            out = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(out)) + x)

    def resnet(c=32):
        return tnn.Sequential(
            tnn.Conv2d(1, c, 3, padding=1, bias=False), tnn.BatchNorm2d(c), tnn.ReLU(),
            Block(c), Block(c), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(c, 10),
        )

    return {"lenet": lenet, "resnet": resnet}


# ----- timing ------------------------------------------------------------------------------------------
def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_deepgrad(model, x, y, steps, warmup):
    opt = _dg_adam(model.parameters())
    X, Y = dg.tensor(x), dg.tensor(y)

    def step():
        opt.zero_grad()
        loss = dg.nn.functional.cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return float(np.median(times)), peak / 2**20


def time_torch(torch, model, x, y, steps, warmup):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    lossf = torch.nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = lossf(model(X), Y)
        loss.backward()
        opt.step()

    rss0 = _rss_mib()
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), _rss_mib() - rss0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default="lenet,resnet")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    try:
        import torch

        torch.set_num_threads(2)
        tm = torch_models(torch)
    except ImportError:
        torch = None
    builders = {"lenet": dg_lenet, "resnet": DgResNetSmall}
    report = {"batch": BATCH, "input": [1, 28, 28], "dtype": "float32", "optimizer": "Adam", "threads": 2,
              "steps": args.steps, "models": {}}
    for name in args.models.split(","):
        dg.manual_seed(0)
        dt, peak = time_deepgrad(builders[name](), x, y, args.steps, args.warmup)
        row = {"deepgrad_step_ms": round(dt * 1e3, 3), "deepgrad_peak_mib_tracemalloc": round(peak, 2)}
        if torch is not None:
            torch.manual_seed(0)
            tt, rss = time_torch(torch, tm[name](), x, y, args.steps, args.warmup)
            row.update({"torch_step_ms": round(tt * 1e3, 3), "torch_maxrss_growth_mib": round(rss, 2),
                        "ratio_deepgrad_over_torch": round(dt / tt, 3)})
        report["models"][name] = row
    report["targets"] = {"lenet": "<= 0.7", "resnet": "<= 1.3"}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
