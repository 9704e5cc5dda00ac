"""Benchmark: one training step of the course's attention seq2seq (the dates-attention model:
character embedding 32 -> bidirectional LSTM 32 -> for each of 10 output steps additive
attention (Dense(10, tanh) -> Dense(1) -> softmax over the input) with the decoder's state,
an LSTMCell(64) step on the context, Linear(64, 11); cross-entropy, gradient clipping at 5,
Adam; batch 100, input length 40) in deepgrad (``deepgrad.text.seq2seq.DateTranslator``, the
recipe's model) and the same model written in PyTorch, each library alone in a fresh
subprocess per block of ``--steps`` steps, alternating for ``--repeats`` blocks
(``--same-process``: both in this process, round-robin, with CPU times too, as earlier
versions did). Prints JSON: ms per step (median of the blocks, and the fastest), the ratio, and each library's
peak memory for a step (a fresh subprocess each; see ``benchmarks/transformer.py``).

    python benchmarks/seq2seq.py [--steps 5] [--repeats 7] [--threads 1]
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

IN_VOCAB, OUT_VOCAB, OUT_LEN, EMBED, ENC, DEC, ATTN, BATCH, T = 60, 11, 10, 32, 32, 64, 10, 100, 40


def _set_threads(n: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(n))


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    lengths = rng.integers(8, T + 1, BATCH).astype(np.int64)
    lengths[0] = T
    x = rng.integers(1, IN_VOCAB, (BATCH, T)).astype(np.int64)
    x[np.arange(T)[None, :] >= lengths[:, None]] = 0
    y = rng.integers(0, OUT_VOCAB, (BATCH, OUT_LEN)).astype(np.int64)
    return x, y, lengths


def _torch_model():
    import torch
    from torch import nn

    class TorchDateTranslator(nn.Module):  # the same computation as deepgrad's DateTranslator
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(IN_VOCAB, EMBED, padding_idx=0)
            self.encoder = nn.LSTM(EMBED, ENC, batch_first=True, bidirectional=True)
            self.query_proj = nn.Linear(DEC, ATTN, bias=False)
            self.key_proj = nn.Linear(2 * ENC, ATTN)
            self.energy = nn.Linear(ATTN, 1, bias=False)
            self.decoder = nn.LSTMCell(2 * ENC, DEC)
            self.out = nn.Linear(DEC, OUT_VOCAB)

        def forward(self, x, lengths):
            N = x.shape[0]
            packed = nn.utils.rnn.pack_padded_sequence(self.embed(x), lengths, batch_first=True, enforce_sorted=False)
            a, _ = self.encoder(packed)
            a, _ = nn.utils.rnn.pad_packed_sequence(a, batch_first=True, total_length=x.shape[1])
            mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
            pk = self.key_proj(a)
            s = torch.zeros(N, DEC)
            c = torch.zeros(N, DEC)
            logits = []
            for _ in range(OUT_LEN):
                e = self.energy(torch.tanh(pk + self.query_proj(s)[:, None, :]))[..., 0]
                e = e.masked_fill(~mask, -1e9)
                w = e.softmax(dim=1)
                context = (w[:, None, :] @ a)[:, 0]
                s, c = self.decoder(context, (s, c))
                logits.append(self.out(s))
            return torch.stack(logits, 1)

    return TorchDateTranslator()


def build(lib: str):
    """(step function) for ``lib`` in {"deepgrad", "torch"}."""
    x, y, lengths = _data()
    if lib == "deepgrad":
        import deepgrad as dg
        from deepgrad import optim
        from deepgrad.nn import functional as F
        from deepgrad.nn.utils import clip_grad_norm_
        from deepgrad.text.seq2seq import DateTranslator

        dg.manual_seed(0)
        model = DateTranslator(IN_VOCAB, OUT_VOCAB, OUT_LEN, EMBED, ENC, DEC, ATTN, padding_idx=0)
        xs, ys, ls = x, y.reshape(-1), lengths
    else:
        import torch
        from torch import optim
        from torch.nn import functional as F
        from torch.nn.utils import clip_grad_norm_

        torch.manual_seed(0)
        model = _torch_model()
        xs, ys, ls = torch.from_numpy(x), torch.from_numpy(y.reshape(-1)), torch.from_numpy(lengths)
    opt = optim.Adam(model.parameters(), lr=5e-3)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(xs, ls).reshape(-1, OUT_VOCAB), ys)
        loss.backward()
        clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss

    return step


def memory_child(lib: str) -> None:
    step = build(lib)
    built = rss_kb()
    for _ in range(2):
        step()
    print(json.dumps({"peak_step_mb": round(max(hwm_kb() - built, 0) / 1024, 1)}))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory-child", choices=["deepgrad", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--time-child", choices=["deepgrad", "torch"], help=argparse.SUPPRESS)
    ap.add_argument("--same-process", action="store_true",
                    help="time both libraries in this process, in round-robin blocks (instead of alone in subprocesses)")
    args = ap.parse_args(argv)
    _set_threads(args.threads)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if args.memory_child:
        return memory_child(args.memory_child)
    if args.time_child:  # in a fresh subprocess: --steps step times of one library after 3 warm-up steps
        if args.time_child == "torch":
            import torch

            torch.set_num_threads(args.threads)
        print(json.dumps(time_steps(build(args.time_child), args.steps, 3)))
        return None
    import numpy as np

    results = {"benchmark": "attention_seq2seq_train_step",
               "model": f"Embedding({IN_VOCAB},{EMBED}) + BiLSTM({ENC}) + {OUT_LEN} x [additive attention({ATTN}) + "
                        f"LSTMCell({DEC}) + Linear({DEC},{OUT_VOCAB})], cross_entropy, clip 5, Adam",
               "input_len": T, "batch": BATCH, "dtype": "float32", "threads": args.threads, "steps": args.steps,
               "repeats": args.repeats, "python": platform.python_version(), "numpy": np.__version__,
               "load_average_start": os.getloadavg()[0]}
    contenders = {"deepgrad": build("deepgrad")}
    try:
        import torch

        torch.set_num_threads(args.threads)
        results["torch"] = torch.__version__
        contenders["torch"] = build("torch")
    except ImportError:
        results["torch"] = None
    blocks: dict[str, list[float]] = {k: [] for k in contenders}
    cpu: dict[str, list[float]] = {k: [] for k in contenders}
    if args.same_process:
        for f in contenders.values():  # warm-up
            for _ in range(3):
                f()
        for _ in range(args.repeats):  # round-robin blocks: background load hits both alike
            for k, f in contenders.items():
                t0, c0 = time.perf_counter(), time.process_time()
                for _ in range(args.steps):
                    f()
                blocks[k].append((time.perf_counter() - t0) / args.steps * 1e3)
                cpu[k].append((time.process_time() - c0) / args.steps * 1e3)
    else:  # each library alone in a fresh subprocess per block, alternating (see bench_common.isolated_times)
        got = isolated_times(os.path.abspath(__file__), list(contenders),
                             ["--threads", args.threads, "--steps", args.steps], args.repeats)
        for k, ts in got.items():
            blocks[k] = block_means_ms(ts, args.steps)
    results["timing"] = ("one process, round-robin blocks" if args.same_process else
                         "each library alone in a fresh subprocess per block, alternating")
    results["ms_per_step"] = {k: round(statistics.median(b), 2) for k, b in blocks.items()}
    results["ms_per_step_min"] = {k: round(min(b), 2) for k, b in blocks.items()}
    if args.same_process:
        results["cpu_ms_per_step"] = {k: round(statistics.median(b), 2) for k, b in cpu.items()}
    if "torch" in contenders:
        ms = results["ms_per_step"]
        results["ratio_vs_torch"] = round(ms["deepgrad"] / ms["torch"], 3)
        results["ratio_min_vs_torch"] = round(results["ms_per_step_min"]["deepgrad"] /
                                              results["ms_per_step_min"]["torch"], 3)
        if args.same_process:
            results["cpu_ratio_vs_torch"] = round(results["cpu_ms_per_step"]["deepgrad"] /
                                                  results["cpu_ms_per_step"]["torch"], 3)
    mem = {}
    for lib in contenders:
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", lib, "--threads",
                              str(args.threads)], capture_output=True, text=True)
        mem[lib] = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    results["peak_step_memory_mb"] = {k: (v or {}).get("peak_step_mb") for k, v in mem.items()}
    results["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
