"""Convolution benchmark: training steps of LeNet-5 and ResNet-small, deepgrad vs PyTorch CPU.

Adam, float32, batch 64, inputs 1x28x28, both libraries on 2 threads in the same
process. Prints one JSON object: median step times, the deepgrad/PyTorch ratios,
and peak memory (tracemalloc for deepgrad, which sees NumPy's allocations; PyTorch's
allocator is invisible to tracemalloc, so for it the RSS growth is reported).

    python benchmarks/conv.py [--steps 30] [--warmup 5] [--models lenet,resnet] [--threads=2]

Steps of the two libraries are timed in alternating blocks, so load from other processes
hits both alike; medians and minima are reported (the minimum is the least disturbed).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
import tracemalloc

import sys  # noqa: E402

_threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)  # must be set before NumPy is imported
os.environ.setdefault("OMP_NUM_THREADS", _threads)

import numpy as np  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.optim import Adam  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import train_step  # noqa: E402

BATCH = 64


# ----- deepgrad models (from the model zoo) --------------------------------------------------------------
def dg_lenet():
    """LeNet-5 as the zoo builds it: each conv -> ReLU -> 2x2 max-pool stage is one fused op."""
    from deepgrad.vision import LeNet5

    return LeNet5(fused=True)


def dg_lenet_unfused():
    """The same LeNet-5 from separate Conv2d, ReLU and MaxPool2d layers."""
    from deepgrad.vision import LeNet5

    return LeNet5(fused=False)


def DgResNetSmall():
    """stem conv3x3 32ch + BN + ReLU, two residual blocks (conv3x3-BN-ReLU-conv3x3-BN + identity) at 32
    channels, global average pool, fc 10."""
    from deepgrad.vision import ResNetSmall

    return ResNetSmall(width=32, blocks=2)


def user_resnet(nn, relu):
    """The same ResNet-small written the way users write it, in either library: Conv2d,
    BatchNorm2d and ReLU modules called one after another in ``forward``, a residual ``+``,
    ``h.mean(axis=(2, 3))`` (``dim`` for torch). ``nn`` is ``deepgrad.nn`` or ``torch.nn``."""

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.conv2, self.bn2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
            self.relu = nn.ReLU()

        def forward(self, x):
            h = self.relu(self.bn1(self.conv1(x)))
            h = self.bn2(self.conv2(h))
            return self.relu(h + x)

    class Net(nn.Module):
        def __init__(self, c=32):
            super().__init__()
            self.conv, self.bn, self.relu = nn.Conv2d(1, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()
            self.block1, self.block2 = Block(c), Block(c)
            self.fc = nn.Linear(c, 10)

        def forward(self, x):
            h = self.relu(self.bn(self.conv(x)))
            h = self.block2(self.block1(h))
            h = h.mean(axis=(2, 3)) if relu is None else h.mean(dim=(2, 3))
            return self.fc(h)

    return Net()


def dg_user_resnet():
    return user_resnet(dg.nn, None)


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

    return {"lenet": lenet, "lenet_unfused": lenet, "resnet": resnet,
            "user_resnet": lambda: user_resnet(tnn, torch.relu)}


# ----- timing ------------------------------------------------------------------------------------------
def _rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(step):
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def interleaved(steps_by_name, n, warmup, block=5, pause=0.05):
    """Time the step functions in alternating blocks (A x block, B x block, A x block, ...)
    so that load from other processes hits both alike; returns {name: [seconds, ...]}.

    Each block starts after a short pause and with one untimed step: both libraries keep
    their worker threads spinning for a while after parallel work (OpenMP, OpenBLAS), and
    strictly alternating single steps would make each fight the other's spinning threads.
    """
    for _ in range(warmup):
        for f in steps_by_name.values():
            f()
    times = {k: [] for k in steps_by_name}
    while min(len(v) for v in times.values()) < n:
        for k, f in steps_by_name.items():
            time.sleep(pause)
            f()
            for _ in range(min(block, n - len(times[k]))):
                times[k].append(_timed(f))
    return times


def dg_peak_mib(step):
    """Peak NumPy memory of one training step (tracemalloc sees NumPy's allocations)."""
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def torch_rss_growth_mib(step, n=3):
    """PyTorch's allocator is invisible to tracemalloc: report the max-RSS growth instead."""
    rss0 = _rss_mib()
    for _ in range(n):
        step()
    return _rss_mib() - rss0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default="user_resnet,resnet,lenet,lenet_unfused")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads for NumPy and PyTorch (set before NumPy loads)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    try:
        import torch

        torch.set_num_threads(args.threads)
        tm = torch_models(torch)
    except ImportError:
        torch = None
    builders = {"lenet": dg_lenet, "lenet_unfused": dg_lenet_unfused, "resnet": DgResNetSmall,
                "user_resnet": dg_user_resnet}
    report = {"batch": BATCH, "input": [1, 28, 28], "dtype": "float32", "optimizer": "Adam",
              "threads": args.threads, "steps": args.steps, "load_average_before": os.getloadavg()[0], "models": {}}
    for name in args.models.split(","):
        dg.manual_seed(0)
        model = builders[name]()
        fns = {"deepgrad": train_step(model, Adam(model.parameters(), lr=1e-3), dg.tensor(x), dg.tensor(y),
                                      dg.nn.functional.cross_entropy)}
        row = {}
        if torch is not None:
            torch.manual_seed(0)
            tmodel = tm[name]()
            fns["torch"] = train_step(tmodel, torch.optim.Adam(tmodel.parameters(), lr=1e-3), torch.from_numpy(x),
                                      torch.from_numpy(y), torch.nn.functional.cross_entropy)
            row["torch_maxrss_growth_mib"] = round(torch_rss_growth_mib(fns["torch"]), 2)
        row["deepgrad_peak_mib_tracemalloc"] = round(dg_peak_mib(fns["deepgrad"]), 2)
        times = interleaved(fns, args.steps, args.warmup)
        for k, ts in times.items():
            row[f"{k}_step_ms_median"] = round(float(np.median(ts)) * 1e3, 3)
            row[f"{k}_step_ms_min"] = round(float(np.min(ts)) * 1e3, 3)
        if torch is not None:
            row["ratio_median"] = round(float(np.median(times["deepgrad"]) / np.median(times["torch"])), 3)
            row["ratio_min"] = round(float(np.min(times["deepgrad"]) / np.min(times["torch"])), 3)
        report["models"][name] = row
    report["load_average_after"] = os.getloadavg()[0]
    report["targets"] = {"lenet": "ratio <= 0.7", "resnet": "ratio <= 1.3"}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
