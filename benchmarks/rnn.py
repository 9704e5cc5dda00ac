"""Recurrent benchmark: training steps of a character language model, deepgrad vs PyTorch CPU.

Model (course 5's character LM): Embedding(64, 64) -> LSTM or GRU (hidden 128) ->
Linear(128, 64) over every time step -> cross-entropy; Adam; float32; sequence length 64,
batch 32, time-major input (T, N) as in PyTorch's default layout. Both libraries run on
the same number of threads in the same process, timed in alternating blocks so that load
from other processes hits both alike. Prints one JSON object: median, minimum and
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
from bench_common import train_step  # noqa: E402
from conv import dg_peak_mib, torch_rss_growth_mib  # noqa: E402

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
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    text = rng.integers(0, VOCAB, (SEQ + 1, BATCH))
    x, y = text[:-1].astype(np.int64), text[1:].reshape(-1).astype(np.int64)
    try:
        import torch

        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    report = {"model": f"Embedding({VOCAB},{EMBED}) -> RNN(hidden {HIDDEN}) -> Linear({HIDDEN},{VOCAB}) -> CE",
              "seq_len": SEQ, "batch": BATCH, "dtype": "float32", "optimizer": "Adam", "threads": args.threads,
              "clock": args.clock, "steps": args.steps, "repeats": args.repeats, "load_average_before": os.getloadavg()[0], "cells": {}}
    for cell in args.cells.split(","):
        dg.manual_seed(0)
        model = char_lm(dg.nn, cell)
        fns = {"deepgrad": train_step(model, Adam(model.parameters(), lr=1e-3), dg.tensor(x), dg.tensor(y),
                                      dg.nn.functional.cross_entropy)}
        row = {}
        if torch is not None:
            torch.manual_seed(0)
            tmodel = char_lm(torch.nn, cell)
            fns["torch"] = train_step(tmodel, torch.optim.Adam(tmodel.parameters(), lr=1e-3), torch.from_numpy(x),
                                      torch.from_numpy(y), torch.nn.functional.cross_entropy)
            row["torch_maxrss_growth_mib"] = round(torch_rss_growth_mib(fns["torch"]), 2)
        row["deepgrad_peak_mib_tracemalloc"] = round(dg_peak_mib(fns["deepgrad"]), 2)
        all_times = {k: [] for k in fns}
        ratios = []
        for _ in range(args.repeats):
            times = interleaved(fns, args.steps, args.warmup, args.clock)
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
