"""Recurrent benchmark: training steps of a character language model, deepgrad vs PyTorch CPU.

Model (course 5's character LM): Embedding(64, 64) -> LSTM or GRU (hidden 128) ->
Linear(128, 64) over every time step -> cross-entropy; Adam; float32; sequence length 64,
batch 32, time-major input (T, N) as in PyTorch's default layout. Both libraries run on
the same number of threads. Each library is timed alone in fresh subprocesses, alternating
(deepgrad, PyTorch, PyTorch, deepgrad, ...) for ``--repeats`` rounds, as benchmarks/conv.py
does (``--same-process``: both in this process, in alternating blocks, as earlier versions
did). Prints one JSON object: median, minimum and
inter-quartile range of the step times, the deepgrad/PyTorch ratios, and peak memory
(tracemalloc for deepgrad, which sees NumPy's allocations; PyTorch's allocator is invisible
to tracemalloc, so for it the max-RSS growth is reported, as in benchmarks/conv.py).

    python benchmarks/rnn.py [--steps 40] [--warmup 5] [--cells lstm,gru] [--threads=2] [--repeats 3] [--clock wall|cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

_threads = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--threads=")), "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", _threads)  # must be set before NumPy is imported
os.environ.setdefault("OMP_NUM_THREADS", _threads)

import numpy as np  # noqa: E402

import deepgrad as dg  # noqa: E402
from deepgrad.optim import Adam  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import hwm_growth_mib, isolated_memory_mib, isolated_times, time_steps, train_step  # noqa: E402
from conv import dg_peak_mib  # noqa: E402

VOCAB, EMBED, HIDDEN, SEQ, BATCH = 64, 64, 128, 64, 32


def char_lm(nn, cell):
    """The same model class in either library (their nn APIs agree)."""
    rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]

    class CharLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.rnn = rnn_cls(EMBED, HIDDEN)
            self.head = nn.Linear(HIDDEN, VOCAB)

        def forward(self, x):  # x: (T, N) character ids
            out, _ = self.rnn(self.embed(x))
            return self.head(out).reshape(-1, VOCAB)

    return CharLM()


def build(lib: str, cell: str, x, y):
    """One training step of the character LM in ``lib`` ('deepgrad' or 'torch')."""
    if lib == "deepgrad":
        dg.manual_seed(0)
        model = char_lm(dg.nn, cell)
        return train_step(model, Adam(model.parameters(), lr=1e-3), dg.tensor(x), dg.tensor(y),
                          dg.nn.functional.cross_entropy)
    import torch

    torch.manual_seed(0)
    tmodel = char_lm(torch.nn, cell)
    return train_step(tmodel, torch.optim.Adam(tmodel.parameters(), lr=1e-3), torch.from_numpy(x),
                      torch.from_numpy(y), torch.nn.functional.cross_entropy)


def interleaved(steps_by_name, n, warmup, clock, block=5, pause=0.05):
    """benchmarks/conv.py's alternating blocks, with a choice of clock: ``wall``
    (perf_counter) or ``cpu`` (process_time: the CPU time of this process, which other
    processes' load does not inflate; meaningful with --threads=1, since with more threads
    it also counts the BLAS threads' spinning)."""
    now = time.perf_counter if clock == "wall" else time.process_time
    for _ in range(warmup):
        for f in steps_by_name.values():
            f()
    times = {k: [] for k in steps_by_name}
    while min(len(v) for v in times.values()) < n:
        for k, f in steps_by_name.items():
            time.sleep(pause)
            f()
            for _ in range(min(block, n - len(times[k]))):
                t0 = now()
                f()
                times[k].append(now() - t0)
    return times


def _stats(ts):
    ms = np.asarray(ts) * 1e3
    q1, q3 = np.percentile(ms, [25, 75])
    return {"median": round(float(np.median(ms)), 2), "min": round(float(ms.min()), 2),
            "iqr": [round(float(q1), 2), round(float(q3), 2)]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per library and repeat")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="independent interleaved runs (their ratios are listed)")
    ap.add_argument("--cells", default="lstm,gru")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: elapsed time; cpu: this process's CPU time (robust to other load with --threads=1)")
    ap.add_argument("--threads", type=int, default=2, help="BLAS threads for NumPy and PyTorch (set before NumPy loads)")
    ap.add_argument("--same-process", action="store_true",
                    help="time both libraries in this process, in alternating blocks (instead of alone in subprocesses)")
    ap.add_argument("--time-child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    text = rng.integers(0, VOCAB, (SEQ + 1, BATCH))
    x, y = text[:-1].astype(np.int64), text[1:].reshape(-1).astype(np.int64)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    if args.time_child:  # in a fresh subprocess: one library's step times, back to back
        lib, cell = args.time_child.split(":")
        clock = time.perf_counter if args.clock == "wall" else time.process_time
        print(json.dumps(time_steps(build(lib, cell, x, y), args.steps, args.warmup, clock)))
        return None
    if args.memory_child:  # in a fresh subprocess: the growth of the peak resident set over 3 steps
        lib, cell = args.memory_child.split(":")
        print(hwm_growth_mib(build(lib, cell, x, y)))
        return None
    report = {"model": f"Embedding({VOCAB},{EMBED}) -> RNN(hidden {HIDDEN}) -> Linear({HIDDEN},{VOCAB}) -> CE",
              "seq_len": SEQ, "batch": BATCH, "dtype": "float32", "optimizer": "Adam", "threads": args.threads,
              "timing": "one process, alternating blocks" if args.same_process else
                        f"each library alone in fresh subprocesses, {args.repeats} alternating rounds of {args.steps} steps",
              "clock": args.clock, "steps": args.steps, "repeats": args.repeats, "load_average_before": os.getloadavg()[0], "cells": {}}
    for cell in args.cells.split(","):
        fns = {"deepgrad": build("deepgrad", cell, x, y)}
        row = {}
        if torch is not None:
            fns["torch"] = build("torch", cell, x, y)
        row["deepgrad_peak_mib_tracemalloc"] = round(dg_peak_mib(fns["deepgrad"]), 2)
        for k in fns:  # each library alone in a fresh subprocess, the same measure for both
            row[f"{k}_rss_growth_mib"] = isolated_memory_mib(os.path.abspath(__file__), f"{k}:{cell}",
                                                             [f"--threads={args.threads}"])
        all_times = {k: [] for k in fns}
        ratios = []
        if args.same_process:
            per_repeat = [interleaved(fns, args.steps, args.warmup, args.clock) for _ in range(args.repeats)]
        else:
            flags = [f"--threads={args.threads}", "--steps", args.steps, "--warmup", args.warmup, "--clock", args.clock]
            got = isolated_times(os.path.abspath(__file__), [f"{k}:{cell}" for k in fns], flags, args.repeats)
            per_repeat = [{k: got[f"{k}:{cell}"][r * args.steps:(r + 1) * args.steps] for k in fns}
                          for r in range(args.repeats)]
        for times in per_repeat:
            for k, ts in times.items():
                all_times[k] += ts
            if torch is not None:
                ratios.append(round(float(np.median(times["deepgrad"]) / np.median(times["torch"])), 3))
        for k, ts in all_times.items():
            row[f"{k}_step_ms"] = _stats(ts)
        if torch is not None:
            row["ratio_median"] = round(float(np.median(all_times["deepgrad"]) / np.median(all_times["torch"])), 3)
            row["ratio_min"] = round(float(np.min(all_times["deepgrad"]) / np.min(all_times["torch"])), 3)
            row["ratio_per_repeat"] = ratios
        report["cells"][cell] = row
    report["load_average_after"] = os.getloadavg()[0]
    report["target"] = "lstm ratio_median <= 1.4"
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
