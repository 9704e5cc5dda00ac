"""Benchmark: one training step of a transformer encoder (d_model 128, 4 heads, 2 layers,
feed-forward 512, dropout 0.1, sequence 64, batch 32, float32, batch_first; mean-pooled
into a Linear(128, 10), cross-entropy, Adam) in deepgrad and PyTorch CPU with the same model,
each library alone in a fresh subprocess per block of ``--steps`` steps, alternating for
``--repeats`` blocks (``--same-process``: both in this process, round-robin, as earlier
versions did). Prints JSON: ms per step (median of the blocks, and the fastest), the ratio, and each library's peak memory for a step (measured in a fresh
subprocess each: the growth of the resident set's high-water mark over the process's
size after building the model and data).

    python benchmarks/transformer.py [--steps 5] [--repeats 7] [--threads 2] [--profile]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from bench_common import (  # the script's folder is on sys.path
    block_means_ms,
    hwm_kb,
    isolated_times,
    rss_kb,
    time_steps,
)

D_MODEL, NHEAD, LAYERS, FF, SEQ, BATCH, CLASSES = 128, 4, 2, 512, 64, 32, 10


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def build(lib: str, dropout: float):
    """(step function) for ``lib`` in {"deepgrad", "torch"}: the same code for both."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SEQ, D_MODEL)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=BATCH).astype(np.int64)
    if lib == "deepgrad":
        import deepgrad as dg
        from deepgrad import nn, optim

        dg.manual_seed(0)
        xt, yt, mean = dg.from_numpy(x), dg.from_numpy(y), (lambda t: t.mean(axis=1))
    else:
        import torch
        from torch import nn, optim

        torch.manual_seed(0)
        xt, yt, mean = torch.from_numpy(x), torch.from_numpy(y), (lambda t: t.mean(dim=1))
    layer = nn.TransformerEncoderLayer(D_MODEL, NHEAD, FF, dropout=dropout, batch_first=True)
    kw = {"enable_nested_tensor": False} if lib == "torch" else {}
    encoder = nn.TransformerEncoder(layer, LAYERS, **kw)
    head = nn.Linear(D_MODEL, CLASSES)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-3)
    ce = nn.functional.cross_entropy

    def step():
        opt.zero_grad()
        loss = ce(head(mean(encoder(xt))), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def memory_child(lib: str, dropout: float) -> None:
    step = build(lib, dropout)
    built = rss_kb()
    for _ in range(2):  # cold: the first steps, first-use allocations (BLAS buffers, caches) included
        step()
    cold = hwm_kb() - built
    base = rss_kb()
    try:  # reset the high-water mark to the current size (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    for _ in range(3):
        step()
    peak = hwm_kb()
    out = {"peak_step_mb": round(max(cold, 0) / 1024, 1), "warm_step_extra_mb": round(max(peak - base, 0) / 1024, 1),
           "retained_after_warmup_mb": round(max(base - built, 0) / 1024, 1)}
    if lib == "deepgrad":  # NumPy's own allocations in one step (BLAS buffers and allocator slack excluded)
        import tracemalloc

        tracemalloc.start()
        step()
        out["numpy_traced_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    print(json.dumps(out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--profile", action="store_true", help="print a cProfile of the deepgrad step to stderr")
    ap.add_argument("--memory-child", choices=["deepgrad", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--time-child", choices=["deepgrad", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--same-process", action="store_true",
                    help="time both libraries in this process, in round-robin blocks (instead of alone in subprocesses)")
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if args.memory_child:
        return memory_child(args.memory_child, args.dropout)
    if args.time_child:  # in a fresh subprocess: --steps step times of one library after 3 warm-up steps
        if args.time_child == "torch":
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(time_steps(build(args.time_child, args.dropout), args.steps, 3)))
        return None
    import numpy as np

    results = {"benchmark": "transformer_encoder_train_step",
               "model": f"TransformerEncoder(d_model={D_MODEL}, nhead={NHEAD}, layers={LAYERS}, ff={FF}, "
                        f"dropout={args.dropout}) + mean-pool + Linear({D_MODEL},{CLASSES}), cross_entropy, Adam",
               "seq": SEQ, "batch": BATCH, "dtype": "float32", "threads": args.threads, "steps": args.steps,
               "repeats": args.repeats, "python": platform.python_version(), "numpy": np.__version__}
    contenders = {"deepgrad": build("deepgrad", args.dropout)}
    try:
        import torch

        torch.set_num_threads(args.threads)
        results["torch"] = torch.__version__
        contenders["torch"] = build("torch", args.dropout)
    except ImportError:
        results["torch"] = None
    blocks: dict[str, list[float]] = {k: [] for k in contenders}
    if args.same_process:
        for f in contenders.values():  # warm-up
            for _ in range(3):
                f()
        for _ in range(args.repeats):  # round-robin blocks: background load hits both alike
            for k, f in contenders.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    f()
                blocks[k].append((time.perf_counter() - t0) / args.steps * 1e3)
    else:  # each library alone in a fresh subprocess per block, alternating (see bench_common.isolated_times)
        got = isolated_times(os.path.abspath(__file__), list(contenders),
                             ["--threads", args.threads, "--steps", args.steps, "--dropout", args.dropout], args.repeats)
        for k, ts in got.items():
            blocks[k] = block_means_ms(ts, args.steps)
    results["timing"] = ("one process, round-robin blocks" if args.same_process else
                         "each library alone in a fresh subprocess per block, alternating")
    results["ms_per_step"] = {k: round(statistics.median(b), 2) for k, b in blocks.items()}
    results["ms_per_step_min"] = {k: round(min(b), 2) for k, b in blocks.items()}
    results["ms_per_step_max"] = {k: round(max(b), 2) for k, b in blocks.items()}
    if "torch" in contenders:
        ms = results["ms_per_step"]
        results["ratio_vs_torch"] = round(ms["deepgrad"] / ms["torch"], 3)
        results["ratio_min_vs_torch"] = round(results["ms_per_step_min"]["deepgrad"] /
                                              results["ms_per_step_min"]["torch"], 3)
    mem = {}
    for lib in contenders:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", lib, "--threads",
                              str(args.threads), "--dropout", str(args.dropout)], capture_output=True, text=True)
        mem[lib] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    results["peak_step_memory_mb"] = {k: (v or {}).get("peak_step_mb") for k, v in mem.items()}
    results["memory_detail_mb"] = mem
    if mem.get("deepgrad"):
        results["deepgrad_numpy_traced_peak_mb"] = mem["deepgrad"].get("numpy_traced_peak_mb")
    print(json.dumps(results, indent=2))
    if args.profile:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for _ in range(args.steps):
            contenders["deepgrad"]()
        pr.disable()
        pstats.Stats(pr, stream=sys.stderr).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
