"""Benchmark: what ``detect_anomaly`` costs when it is off (and when it is on), on the MLP
benchmark's training step (784-256-256-10 ReLU, batch 128, Adam, float32).

The engine's two hook points are ``if _anomaly is not None:`` checks in ``Function.apply``
and ``backward``. "Without hook" is the same engine with those two statements removed (the
source rewritten with ``ast`` at start-up); the variants run in the same process, in
alternating blocks of ``--steps`` steps, so background load hits them alike. Prints JSON.

    python benchmarks/anomaly_overhead.py [--steps 100] [--rounds 15] [--threads 1] [--op]

``--op`` times a tiny graph instead (``(a * b + a).sum().backward()`` on 16x16 tensors, 4 ops,
a few microseconds per step), where a per-op cost is easiest to see.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


class _StripHook(ast.NodeTransformer):
    def visit_If(self, node):
        t = node.test
        if (isinstance(t, ast.Compare) and isinstance(t.left, ast.Name) and t.left.id == "_anomaly"
                and isinstance(t.ops[0], ast.IsNot)):
            return None
        return self.generic_visit(node)


def engine_without_hook(autograd):
    """(apply, backward) compiled from autograd.py with the anomaly checks removed, sharing the live module's globals."""
    import types

    tree = _StripHook().visit(ast.parse(inspect.getsource(autograd)))
    ast.fix_missing_locations(tree)
    ns = dict(autograd.__dict__)
    exec(compile(tree, "autograd_without_hook", "exec"), ns)
    apply = types.FunctionType(ns["Function"].__dict__["apply"].__func__.__code__, autograd.__dict__, "apply")
    backward = types.FunctionType(ns["backward"].__code__, autograd.__dict__, "backward")
    return apply, backward


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--op", action="store_true", help="a 4-op graph on 16x16 tensors instead of the MLP step")
    args = ap.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(args.threads))
    import numpy as np
    from bench_common import mlp, train_step

    import deepgrad as dg
    from deepgrad import autograd, nn, optim

    apply_hook, backward_hook = autograd.Function.__dict__["apply"].__func__, autograd.backward
    apply_plain, backward_plain = engine_without_hook(autograd)
    assert "_anomaly" not in apply_plain.__code__.co_names + backward_plain.__code__.co_names
    assert "_anomaly" in apply_hook.__code__.co_names and "_anomaly" in backward_hook.__code__.co_names

    def use(variant):
        plain = variant == "without hook"
        autograd.Function.apply = classmethod(apply_plain if plain else apply_hook)
        autograd.backward = backward_plain if plain else backward_hook
        if variant == "anomaly on":
            dg.set_detect_anomaly(True)

    rng = np.random.default_rng(0)
    x = dg.from_numpy(rng.standard_normal((128, 784)).astype(np.float32))
    y = dg.from_numpy(rng.integers(0, 10, 128))
    dg.manual_seed(0)
    model = mlp(nn, [784, 256, 256, 10])
    opt = optim.Adam(model.parameters(), lr=1e-3)
    step = train_step(model, opt, x, y, nn.functional.cross_entropy)
    what = "MLP 784-256-256-10 train step, batch 128, Adam"
    if args.op:
        a = dg.tensor(rng.standard_normal((16, 16)).astype(np.float32), requires_grad=True)
        b = dg.tensor(rng.standard_normal((16, 16)).astype(np.float32), requires_grad=True)

        def step():
            a.grad = b.grad = None
            (a * b + a).sum().backward()

        what = "(a * b + a).sum().backward() on 16x16 float32 tensors (4 ops)"
    variants = ("without hook", "hook, off", "anomaly on")
    times = {v: [] for v in variants}
    try:
        for r in range(args.rounds + 1):
            order = variants if r % 2 == 0 else variants[::-1]
            for v in order:
                use(v)
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    step()
                dt = (time.perf_counter() - t0) / args.steps * 1e3
                if v == "anomaly on":
                    dg.set_detect_anomaly(False)
                if r:  # round 0 is the warm-up
                    times[v].append(dt)
    finally:
        use("hook, off")
    base = times["without hook"]
    off = [a / b for a, b in zip(times["hook, off"], base)]
    on = [a / b for a, b in zip(times["anomaly on"], base)]
    print(json.dumps({
        "benchmark": f"detect_anomaly overhead: {what}",
        "threads": args.threads, "steps_per_block": args.steps, "rounds": args.rounds,
        "ms_per_step_median": {v: round(statistics.median(t), 5) for v, t in times.items()},
        "off_over_without_hook": {"median": round(statistics.median(off), 4), "min": round(min(off), 4), "max": round(max(off), 4)},
        "on_over_without_hook": {"median": round(statistics.median(on), 4), "min": round(min(on), 4), "max": round(max(on), 4)},
    }, indent=2))


if __name__ == "__main__":
    main()
