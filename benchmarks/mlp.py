"""Benchmark: one training step of a 784-256-256-10 ReLU MLP (batch 128, Adam, float32,
cross-entropy) in deepgrad, PyTorch CPU (default Adam and ``foreach=True``) and a
hand-written NumPy step. Prints JSON (ms per step, ratios).

    python benchmarks/mlp.py [--steps 25] [--repeats 21] [--rounds 3] [--threads 2] [--profile] [--same-process]

Each step is zero_grad + forward + loss + backward + optimizer step. Timing: each
contender runs alone in a fresh subprocess that times ``--repeats`` blocks of ``--steps``
steps after a warm-up; the subprocesses alternate (order reversed every other round) for
``--rounds`` rounds, as in benchmarks/conv.py; reported: the median block (and the
fastest, ``ms_per_step_min``). ``--same-process``: all contenders in this process, in
round-robin blocks, as earlier versions did.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import block_means_ms, isolated_times, mlp, time_steps, train_step  # noqa: E402


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def _time(step, steps: int) -> float:
    """Mean ms per call over ``steps`` back-to-back calls (one timed block)."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - t0) / steps * 1e3


def make_data(batch: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, size=batch).astype(np.int64)
    return x, y


def deepgrad_step(x, y, sizes):
    import deepgrad as dg
    from deepgrad import nn, optim

    dg.manual_seed(0)
    model = mlp(nn, sizes)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    xt = dg.from_numpy(x)
    yt = dg.from_numpy(y)
    ce = nn.functional.cross_entropy
    clock = time.perf_counter
    parts = {"zero_grad": 0.0, "forward": 0.0, "backward": 0.0, "optimizer_step": 0.0}
    step = train_step(model, opt, xt, yt, ce)

    def timed_step():
        t0 = clock()
        opt.zero_grad()
        t1 = clock()
        loss = ce(model(xt), yt)
        t2 = clock()
        loss.backward()
        t3 = clock()
        opt.step()
        t4 = clock()
        parts["zero_grad"] += t1 - t0
        parts["forward"] += t2 - t1
        parts["backward"] += t3 - t2
        parts["optimizer_step"] += t4 - t3

    step.timed = timed_step
    step.parts = parts
    return step


def torch_step(x, y, sizes, foreach):
    import torch

    torch.manual_seed(0)
    model = mlp(torch.nn, sizes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=foreach)
    return train_step(model, opt, torch.from_numpy(x), torch.from_numpy(y), torch.nn.functional.cross_entropy)


def numpy_step(x, y, sizes):
    """A careful hand-written NumPy step (the floor without any framework)."""
    import numpy as np

    rng = np.random.default_rng(0)
    Ws = [(rng.uniform(-1, 1, (b, a)) / np.sqrt(a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = Ws + bs
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    t = [0]
    n = len(y)
    onehot = np.zeros((n, sizes[-1]), np.float32)
    rows = np.arange(n)

    def step():
        acts = [x]
        h = x
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = h @ W.T
            z += b
            if i < len(Ws) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
            h = z
        z = acts[-1]
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        e /= e.sum(axis=1, keepdims=True)
        onehot.fill(0)
        onehot[rows, y] = 1
        d = (e - onehot) / np.float32(n)
        gW, gb = [None] * len(Ws), [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            gW[i] = d.T @ acts[i]
            gb[i] = d.sum(axis=0)
            if i:
                d = d @ Ws[i]
                d *= acts[i] > 0
        t[0] += 1
        b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
        c1, c2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        for p, g, m, v in zip(params, gW + gb, ms, vs):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= (lr / c1) * m / (np.sqrt(v / c2) + eps)

    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=21)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the deepgrad step to stderr")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds of fresh subprocesses per contender")
    ap.add_argument("--same-process", action="store_true",
                    help="time all contenders in this process, in round-robin blocks (instead of alone in subprocesses)")
    ap.add_argument("--time-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    import numpy as np

    sizes = (784, 256, 256, 10)
    x, y = make_data(args.batch)
    builders = {"deepgrad": lambda: deepgrad_step(x, y, sizes), "numpy_by_hand": lambda: numpy_step(x, y, sizes),
                "torch_adam_default": lambda: torch_step(x, y, sizes, foreach=None),
                "torch_adam_foreach": lambda: torch_step(x, y, sizes, foreach=True)}
    if args.time_child:  # in a fresh subprocess: --repeats blocks of --steps step times, after a warm-up
        if args.time_child.startswith("torch"):
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(time_steps(builders[args.time_child](), args.steps * args.repeats, 30)))
        return None
    results = {
        "benchmark": "mlp_train_step",
        "model": "784-256-256-10 ReLU, cross_entropy, Adam(lr=1e-3)",
        "batch": args.batch,
        "dtype": "float32",
        "threads": args.threads,
        "steps": args.steps,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ms_per_step": {},
    }
    torch_ok = False
    if not args.no_torch:
        try:
            import torch

            torch.set_num_threads(args.threads)
            results["torch"] = torch.__version__
            torch_ok = True
        except ImportError:
            results["torch"] = None
    try:  # the environment variables above work only before NumPy loads BLAS; this works after too
        from threadpoolctl import threadpool_limits

        threadpool_limits(args.threads)
    except ImportError:  # pragma: no cover - optional
        pass

    names = ["deepgrad", "numpy_by_hand"] + (["torch_adam_default", "torch_adam_foreach"] if torch_ok else [])
    contenders = {k: builders[k]() for k in names}
    blocks: dict[str, list[float]] = {k: [] for k in contenders}
    if args.same_process:  # round-robin blocks, so that load from other processes hits every contender alike
        for f in contenders.values():  # warm-up
            for _ in range(30):
                f()
        for _ in range(args.repeats):
            for k, f in contenders.items():
                blocks[k].append(_time(f, args.steps))
    else:  # each contender alone in fresh subprocesses, alternating (see bench_common.isolated_times)
        got = isolated_times(os.path.abspath(__file__), names,
                             ["--threads", args.threads, "--steps", args.steps, "--repeats", args.repeats,
                              "--batch", args.batch], args.rounds)
        for k, ts in got.items():
            blocks[k] = block_means_ms(ts, args.steps)
    results["timing"] = ("one process, round-robin blocks" if args.same_process else
                         f"each contender alone in fresh subprocesses, {args.rounds} alternating rounds")
    ms = results["ms_per_step"]
    for k, b in blocks.items():
        ms[k] = statistics.median(b)
    results["ms_per_step_min"] = {k: round(min(b), 3) for k, b in blocks.items()}
    if torch_ok:
        results["ratio_vs_torch_default"] = round(ms["deepgrad"] / ms["torch_adam_default"], 3)
        results["ratio_vs_torch_foreach"] = round(ms["deepgrad"] / ms["torch_adam_foreach"], 3)
    results["ratio_vs_numpy_by_hand"] = round(ms["deepgrad"] / ms["numpy_by_hand"], 3)
    dg_step = contenders["deepgrad"]
    n_parts = args.steps * args.repeats
    for _ in range(n_parts):
        dg_step.timed()
    results["deepgrad_breakdown_ms"] = {k: round(v / n_parts * 1e3, 3) for k, v in dg_step.parts.items()}
    for k in ms:
        ms[k] = round(ms[k], 3)
    mins = results["ms_per_step_min"]
    if torch_ok:
        results["ratio_min_vs_torch_default"] = round(mins["deepgrad"] / mins["torch_adam_default"], 3)
        results["ratio_min_vs_torch_foreach"] = round(mins["deepgrad"] / mins["torch_adam_foreach"], 3)
    print(json.dumps(results, indent=2))

    if args.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for _ in range(args.steps):
            dg_step()
        pr.disable()
        pstats.Stats(pr, stream=sys.stderr).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
