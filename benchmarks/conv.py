"""Convolution benchmark: training steps of ResNet-small (written the way users write it, and
the zoo's) and LeNet-5, and a depthwise convolution's forward pass, deepgrad vs PyTorch CPU.

Adam, float32, batch 64, inputs 1x28x28, both libraries on 2 threads in the same
process. Prints one JSON object: median step times, the deepgrad/PyTorch ratios, and
peak memory: each library runs alone in a fresh subprocess and the growth of its
maximum resident set size over a few steps is reported (the same measure for both;
tracemalloc, which sees only NumPy's allocations, is reported for deepgrad too).

    python benchmarks/conv.py [--steps 30] [--warmup 5] [--models user_resnet,resnet,lenet,depthwise] [--threads=2]

Timing (default, ``--isolate``): each library runs alone in a fresh subprocess that times
``--steps`` steps in a row after ``--warmup``; the subprocesses alternate (deepgrad, PyTorch,
PyTorch, deepgrad, ...) for ``--rounds`` rounds, so that slow phases of a shared machine hit
both alike, and the medians and minima over all steps are reported. Alone, because in one
process each library's idle threads get in the other's way: OpenBLAS's and OpenMP's
workers spin for a while after parallel work, which on a 2-core machine takes a core
from whoever runs next (measured: LeNet-5's ratio read 0.60 timed back to back in one
process and 1.02 with 50 ms pauses between blocks). ``--same-process`` times both in
alternating blocks in this process instead, as earlier versions did.

deepgrad's optional compiled kernels (numba, for the depthwise convolution) are loaded before
anything is measured and named in the report (``"kernels"``); ``DEEPGRAD_KERNELS=numpy``
measures the NumPy code instead.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc

_threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)  # must be set before NumPy is imported
os.environ.setdefault("OMP_NUM_THREADS", _threads)

import numpy as np  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.optim import Adam  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common  # noqa: E402
from bench_common import hwm_growth_mib, isolated_memory_mib, time_steps, train_step  # noqa: E402

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


DEPTHWISE = dict(batch=64, channels=96, size=14)  # a MobileNet-sized layer: 3x3 depthwise, stride 1, padding 1


def depthwise_forward(lib, nn, rng, chained=False):
    """A closure running the forward pass of a 3x3 depthwise convolution (weights need grad,
    as in training). ``chained``: for deepgrad, the input in the memory layout a previous
    conv/BN/ReLU here leaves it in (batch innermost), as inside a MobileNet block; torch's
    input is its own NCHW either way."""
    n, c, s = DEPTHWISE["batch"], DEPTHWISE["channels"], DEPTHWISE["size"]
    x = rng.standard_normal((n, c, s, s)).astype(np.float32)
    if chained and lib is dg:
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    conv = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
    xt = lib.from_numpy(x)

    def step():
        return conv(xt)

    return step


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
_clock = time.perf_counter  # --cpu-time: time.process_time


def _timed(step):
    t0 = _clock()
    step()
    return _clock() - t0


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


def _memory_child(lib: str, name: str, threads: int, steps: int = 3) -> float:
    """In this (fresh) process: the max-RSS growth (MiB) of ``steps`` training steps of ``name`` in ``lib``."""
    return hwm_growth_mib(_make_step(lib, name, threads), steps)


def load_compiled_kernels():
    """Load deepgrad's optional compiled kernels (numba's import, the kernels from its disk cache)
    before anything is measured, as importing torch loads PyTorch's: a no-op without numba."""
    from deepgrad.ops import compiled

    if compiled.depthwise_kernels() is not None:
        for dtype in (np.float32,):
            x = dg.tensor(np.ones((2, 2, 4, 4), dtype), requires_grad=True)
            w = dg.tensor(np.ones((2, 1, 3, 3), dtype), requires_grad=True)
            dg.nn.functional.conv2d(x, w, padding=1, groups=2).sum().backward()
    return compiled.describe()


def _make_step(lib: str, name: str, threads: int):
    """The step function of ``name`` in ``lib`` ('deepgrad' or 'torch'), built as main() builds it."""
    if lib == "deepgrad":
        load_compiled_kernels()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH).astype(np.int64)
    if lib == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        if name.startswith("depthwise"):
            return depthwise_forward(torch, torch.nn, np.random.default_rng(0), name == "depthwise_chained")
        model = torch_models(torch)[name]()
        return train_step(model, torch.optim.Adam(model.parameters(), lr=1e-3), torch.from_numpy(x),
                          torch.from_numpy(y), torch.nn.functional.cross_entropy)
    dg.manual_seed(0)
    if name.startswith("depthwise"):
        return depthwise_forward(dg, dg.nn, np.random.default_rng(0), name == "depthwise_chained")
    model = {"lenet": dg_lenet, "lenet_unfused": dg_lenet_unfused, "resnet": DgResNetSmall,
             "user_resnet": dg_user_resnet}[name]()
    return train_step(model, Adam(model.parameters(), lr=1e-3), dg.tensor(x), dg.tensor(y),
                      dg.nn.functional.cross_entropy)


def _time_child(lib: str, name: str, threads: int, steps: int, warmup: int) -> list:
    """In this (fresh) process: ``steps`` step times (seconds) of ``name`` in ``lib``, back to back."""
    return time_steps(_make_step(lib, name, threads), steps, warmup, _clock)


def isolated_times(name: str, threads: int, steps: int, warmup: int, rounds: int, libs) -> dict:
    """{lib: [seconds, ...]}: ``rounds`` rounds of one fresh subprocess per library, alternating
    (:func:`bench_common.isolated_times`)."""
    flags = [f"--threads={threads}", "--steps", steps, "--warmup", warmup] + (["--cpu-time"] if _clock is time.process_time else [])
    got = bench_common.isolated_times(os.path.abspath(__file__), [f"{lib}:{name}" for lib in libs], flags, rounds)
    return {lib: got[f"{lib}:{name}"] for lib in libs}


def rss_growth_mib(lib: str, name: str, threads: int) -> float | None:
    """:func:`_memory_child` run in a fresh subprocess (so that nothing else's memory counts)."""
    return isolated_memory_mib(os.path.abspath(__file__), f"{lib}:{name}", [f"--threads={threads}"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--models", default="user_resnet,resnet,lenet,lenet_unfused,depthwise,depthwise_chained")
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--time-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of fresh subprocesses per library")
    ap.add_argument("--same-process", action="store_true",
                    help="time both libraries in this process, in alternating blocks (instead of alone in subprocesses)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    ap.add_argument("--cpu-time", action="store_true",
                    help="time with the process's CPU time instead of the wall clock: on a loaded machine with "
                         "--threads=1 it leaves out the time spent waiting for a CPU")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads for NumPy and PyTorch (set before NumPy loads)")
    args = ap.parse_args(argv)
    global _clock
    _clock = time.process_time if args.cpu_time else time.perf_counter
    if args.memory_child:
        lib, name = args.memory_child.split(":")
        print(_memory_child(lib, name, args.threads))
        return None
    if args.time_child:
        lib, name = args.time_child.split(":")
        print(json.dumps(_time_child(lib, name, args.threads, args.steps, args.warmup)))
        return None
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
    kernels = load_compiled_kernels()
    report = {"kernels": kernels, "batch": BATCH, "input": [1, 28, 28], "dtype": "float32", "optimizer": "Adam",
              "clock": "process CPU time" if args.cpu_time else "wall clock",
              "threads": args.threads, "steps": args.steps,
              "timing": ("alternating blocks in one process" if args.same_process else
                         f"each library alone in fresh subprocesses, {args.rounds} alternating rounds of {args.steps} steps"),
              "load_average_before": os.getloadavg()[0], "models": {}}
    for name in args.models.split(","):
        dg.manual_seed(0)
        row = {}
        if name.startswith("depthwise"):
            chained = name == "depthwise_chained"
            fns = {"deepgrad": depthwise_forward(dg, dg.nn, np.random.default_rng(0), chained)}
            if torch is not None:
                torch.manual_seed(0)
                fns["torch"] = depthwise_forward(torch, torch.nn, np.random.default_rng(0), chained)
            row["what"] = "forward of a 3x3 depthwise conv, input {batch}x{channels}x{size}x{size}".format(**DEPTHWISE)
            if chained:
                row["what"] += ", deepgrad's input in the layout a previous conv leaves it in"
        else:
            model = builders[name]()
            fns = {"deepgrad": train_step(model, Adam(model.parameters(), lr=1e-3), dg.tensor(x), dg.tensor(y),
                                          dg.nn.functional.cross_entropy)}
            if torch is not None:
                torch.manual_seed(0)
                tmodel = tm[name]()
                fns["torch"] = train_step(tmodel, torch.optim.Adam(tmodel.parameters(), lr=1e-3), torch.from_numpy(x),
                                          torch.from_numpy(y), torch.nn.functional.cross_entropy)
            row["deepgrad_peak_mib_tracemalloc"] = round(dg_peak_mib(fns["deepgrad"]), 2)
        if not args.no_memory:
            row["deepgrad_rss_growth_mib"] = rss_growth_mib("deepgrad", name, args.threads)
            if torch is not None:
                row["torch_rss_growth_mib"] = rss_growth_mib("torch", name, args.threads)
        if args.same_process:
            times = interleaved(fns, args.steps, args.warmup)
        else:
            times = isolated_times(name, args.threads, args.steps, args.warmup, args.rounds, list(fns))
        for k, ts in times.items():
            row[f"{k}_step_ms_median"] = round(float(np.median(ts)) * 1e3, 3)
            row[f"{k}_step_ms_min"] = round(float(np.min(ts)) * 1e3, 3)
            row[f"{k}_step_ms_max"] = round(float(np.max(ts)) * 1e3, 3)
        if torch is not None:
            row["ratio_median"] = round(float(np.median(times["deepgrad"]) / np.median(times["torch"])), 3)
            row["ratio_min"] = round(float(np.min(times["deepgrad"]) / np.min(times["torch"])), 3)
        report["models"][name] = row
    report["load_average_after"] = os.getloadavg()[0]
    report["targets"] = {"lenet": "ratio <= 0.7", "user_resnet": "ratio <= 1.3", "depthwise": "ratio <= 1.2",
                         "memory": "deepgrad_rss_growth_mib <= 1.5 x torch_rss_growth_mib"}
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
