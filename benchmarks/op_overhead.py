"""Per-op overhead: forward + backward time of one op on small tensors.

deepgrad against raw NumPy (the same math written by hand, no graph) and, in the
same run, PyTorch CPU when it is installed. Prints JSON.

    python benchmarks/op_overhead.py [--repeat 2000] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time


def bench(fn, repeat, warmup=200):
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6  # microseconds


def case(f, *ts, grad):
    """One forward + backward of ``f`` on ``ts`` (deepgrad or torch tensors alike), grads reset."""

    def run():
        out = f(*ts)
        out.backward(grad)
        for t in ts:
            t.grad = None

    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np

    import deepgrad as dg

    rng = np.random.default_rng(0)
    small = rng.standard_normal((16, 16)).astype(np.float32)
    small2 = rng.standard_normal((16, 16)).astype(np.float32)
    m64 = rng.standard_normal((64, 64)).astype(np.float32)
    m64b = rng.standard_normal((64, 64)).astype(np.float32)
    ones_small = np.ones_like(small)
    ones64 = np.ones_like(m64)

    a, b = dg.tensor(small, requires_grad=True), dg.tensor(small2, requires_grad=True)
    A, B = dg.tensor(m64, requires_grad=True), dg.tensor(m64b, requires_grad=True)

    cases = {
        "add 16x16": (case(lambda x, y: x + y, a, b, grad=ones_small), lambda: (small + small2, ones_small.copy(), ones_small.copy())),
        "mul 16x16": (case(lambda x, y: x * y, a, b, grad=ones_small), lambda: (small * small2, ones_small * small2, ones_small * small)),
        "matmul 64x64": (case(lambda x, y: x @ y, A, B, grad=ones64), lambda: (m64 @ m64b, ones64 @ m64b.T, m64.T @ ones64)),
        "sum 16x16": (case(lambda x: x.sum(), a, grad=None), lambda: (small.sum(), np.broadcast_to(np.float32(1), small.shape).copy())),
        "relu 16x16": (case(lambda x: dg.relu(x), a, grad=ones_small), lambda: (np.maximum(small, 0), ones_small * (small > 0))),
    }
    results = {}
    for name, (dg_fn, np_fn) in cases.items():
        results[name] = {"deepgrad_us": bench(dg_fn, args.repeat), "numpy_us": bench(np_fn, args.repeat)}

    try:
        import torch

        torch.set_num_threads(args.threads)
        ta, tb = torch.tensor(small, requires_grad=True), torch.tensor(small2, requires_grad=True)
        tA, tB = torch.tensor(m64, requires_grad=True), torch.tensor(m64b, requires_grad=True)
        t1s, t164 = torch.ones(16, 16), torch.ones(64, 64)

        tcases = {
            "add 16x16": case(lambda x, y: x + y, ta, tb, grad=t1s),
            "mul 16x16": case(lambda x, y: x * y, ta, tb, grad=t1s),
            "matmul 64x64": case(lambda x, y: x @ y, tA, tB, grad=t164),
            "sum 16x16": case(lambda x: x.sum(), ta, grad=None),
            "relu 16x16": case(lambda x: torch.relu(x), ta, grad=t1s),
        }
        for name, fn in tcases.items():
            results[name]["torch_us"] = bench(fn, args.repeat)
            results[name]["deepgrad_over_torch"] = results[name]["deepgrad_us"] / results[name]["torch_us"]
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    for r in results.values():
        r["deepgrad_overhead_us"] = r["deepgrad_us"] - r["numpy_us"]
        for k in list(r):
            r[k] = round(r[k], 2)
    print(json.dumps({
        "benchmark": "op_overhead", "unit": "microseconds per forward+backward (best of 5)",
        "threads": args.threads, "numpy": np.__version__, "torch": torch_version,
        "python": platform.python_version(), "results": results,
    }, indent=2))


if __name__ == "__main__":
    main()
