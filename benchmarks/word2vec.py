"""word2vec SGNS training step: deepgrad's sparse-row path against a dense embedding gradient
and against PyTorch (``nn.Embedding(sparse=True)`` + SGD), same batch, same vocabulary.

One step: 1,024 (center, context) pairs with 5 noise words each, 100 dimensions, a
vocabulary of 27,000 words (the WordNet corpus's), Zipf-distributed ids. Prints JSON with
the median step time over interleaved repeats and pairs per second.

    python3 benchmarks/word2vec.py [--repeats 30]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.text.sparse_rows import RowBatch
from deepgrad.text.word2vec import sgns_loss, sgns_loss_composed

V, D, B, K = 27_000, 100, 1024, 5


def batches(n, seed=0):
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, V + 1)
    p /= p.sum()
    return [(rng.choice(V, B, p=p), rng.choice(V, (B, 1 + K), p=p ** 0.75 / (p ** 0.75).sum())) for _ in range(n)]


def deepgrad_sparse(loss_fn):
    rng = np.random.default_rng(0)
    W_in = ((rng.random((V, D), dtype=np.float32) - 0.5) / D)
    W_out = np.zeros((V, D), np.float32)

    def step(c, o):
        rin, rout = RowBatch(W_in, c), RowBatch(W_out, o)
        v = rout.lookup()
        loss = loss_fn(rin.lookup(), v[:, 0], v[:, 1:])
        loss.backward()
        rin.sgd(0.025)
        rout.sgd(0.025)
    return step


def deepgrad_dense():
    """nn.Embedding with its dense (V, D) gradient and plain SGD over the whole table."""
    dg.manual_seed(0)
    emb_in, emb_out = nn.Embedding(V, D), nn.Embedding(V, D)
    opt = optim.SGD(list(emb_in.parameters()) + list(emb_out.parameters()), lr=0.025)

    def step(c, o):
        opt.zero_grad()
        v = emb_out(o)
        loss = sgns_loss(emb_in(c), v[:, 0], v[:, 1:])
        loss.backward()
        opt.step()
    return step


def torch_sparse():
    import torch

    torch.manual_seed(0)
    emb_in, emb_out = torch.nn.Embedding(V, D, sparse=True), torch.nn.Embedding(V, D, sparse=True)
    opt = torch.optim.SGD(list(emb_in.parameters()) + list(emb_out.parameters()), lr=0.025)
    F = torch.nn.functional

    def step(c, o):
        opt.zero_grad()
        u = emb_in(torch.from_numpy(c))
        v = emb_out(torch.from_numpy(o))
        s = torch.einsum("bd,bkd->bk", u, v)
        loss = F.softplus(-s[:, 0]).sum() + F.softplus(s[:, 1:]).sum()
        loss.backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    data = batches(args.repeats + 3)
    runners = {"deepgrad sparse rows, fused loss": deepgrad_sparse(sgns_loss),
               "deepgrad sparse rows, composed loss": deepgrad_sparse(sgns_loss_composed),
               "deepgrad nn.Embedding dense gradient, fused loss": deepgrad_dense()}
    try:
        import torch

        torch.set_num_threads(1)
        runners["torch nn.Embedding(sparse=True), SGD"] = torch_sparse()
    except ImportError:
        pass
    times = {k: [] for k in runners}
    for i, (c, o) in enumerate(data):
        for k, step in runners.items():  # interleaved: the machine's drift hits all alike
            t = time.perf_counter()
            step(c, o)
            if i >= 3:
                times[k].append(time.perf_counter() - t)
    out = {"vocab": V, "dim": D, "batch_pairs": B, "negatives": K, "repeats": args.repeats, "results": {}}
    for k, ts in times.items():
        med = float(np.median(ts))
        out["results"][k] = {"median_ms": round(1e3 * med, 2), "p10_ms": round(1e3 * float(np.percentile(ts, 10)), 2),
                             "p90_ms": round(1e3 * float(np.percentile(ts, 90)), 2), "pairs_per_s": round(B / med)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
