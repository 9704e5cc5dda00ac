"""GloVe (Pennington, Socher & Manning 2014): weighted least squares on co-occurrence counts.

    J = sum_{ij: X_ij > 0} f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 / 2,
    f(x) = min(1, (x / x_max)^alpha)

over the non-zero entries of the (distance-weighted, symmetric) co-occurrence matrix
``X`` of :func:`deepgrad.text.corpus.cooccurrence`. The word vectors are ``w + w~``.

:class:`GloVeLoss` is the fused op (its backward is one residual times three factors);
:func:`glove_loss_composed` writes the same loss with generic ops, and the tests check
both against finite differences and against each other. :func:`train_glove` feeds
shuffled mini-batches of entries through the engine and applies AdaGrad, as the reference
implementation does, to the rows the batch touched (:class:`~deepgrad.text.sparse_rows.RowBatch`).
"""
from __future__ import annotations

import time

import numpy as np

from ..autograd import Function
from .corpus import Corpus, cooccurrence
from .sparse_rows import RowBatch
from .vectors import WordVectors


def weighting(x: np.ndarray, x_max: float = 100.0, alpha: float = 0.75) -> np.ndarray:
    """GloVe's ``f(x) = min(1, (x / x_max)^alpha)``."""
    return np.minimum(1.0, (x / x_max) ** alpha)


class GloVeLoss(Function):
    """``w (B, D)``, ``wc (B, D)``, ``b (B,)``, ``bc (B,)``; constants ``log_x (B,)`` and
    ``f (B,)`` -> ``sum f (w.wc + b + bc - log_x)^2 / 2``."""

    @staticmethod
    def forward(ctx, w, wc, b, bc, log_x, f):
        r = np.einsum("bd,bd->b", w, wc) + b + bc - log_x
        ctx.w, ctx.wc, ctx.fr = w, wc, f * r
        return np.asarray(0.5 * (f * r * r).sum(), dtype=w.dtype)

    @staticmethod
    def backward(ctx, grad):
        g = ctx.fr * grad
        t = ctx.w.dtype
        return ((g[:, None] * ctx.wc).astype(t, copy=False), (g[:, None] * ctx.w).astype(t, copy=False),
                g.astype(t, copy=False), g.astype(t, copy=False), None, None)


def glove_loss(w, wc, b, bc, log_x, f):
    if w.ndim != 2 or wc.shape != w.shape or b.shape != (w.shape[0],) or bc.shape != b.shape:
        raise ValueError(f"glove_loss: expected w, wc (B, D) and b, bc (B,), got {tuple(w.shape)}, "
                         f"{tuple(wc.shape)}, {tuple(b.shape)}, {tuple(bc.shape)}")
    return GloVeLoss.apply(w, wc, b, bc, np.asarray(log_x, dtype=w.dtype), np.asarray(f, dtype=w.dtype))


def glove_loss_composed(w, wc, b, bc, log_x, f):
    """The same loss from generic ops (``log_x`` and ``f`` are constants)."""
    r = (w * wc).sum(axis=1) + b + bc - log_x
    return (r * r * f).sum() * 0.5


def train_glove(corpus: Corpus, dim: int = 100, window: int = 10, epochs: int = 25, lr: float = 0.05,
                x_max: float = 100.0, alpha: float = 0.75, batch_size: int = 4096, seed: int = 0, counts=None,
                max_entries: int | None = None, log=print):
    """Train GloVe on ``corpus``; returns ``(WordVectors of w + w~, history)`` (per-epoch
    ``loss`` = J / entries, ``entries``, ``seconds``)."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = counts if counts is not None else cooccurrence(corpus, window, "harmonic")
    if max_entries is not None and len(rows) > max_entries:
        pick = rng.choice(len(rows), max_entries, replace=False)
        rows, cols, vals = rows[pick], cols[pick], vals[pick]
    log_x, fx = np.log(vals).astype(np.float32), weighting(vals, x_max, alpha).astype(np.float32)
    V = corpus.vocab_size
    W = ((rng.random((V, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    Wc = ((rng.random((V, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    b, bc = np.zeros(V, np.float32), np.zeros(V, np.float32)
    # AdaGrad accumulators start at 1, as in the reference implementation
    GW, GWc, Gb, Gbc = np.ones_like(W), np.ones_like(Wc), np.ones_like(b), np.ones_like(bc)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        order = rng.permutation(len(rows))
        total = 0.0
        for s in range(0, len(order), batch_size):
            k = order[s:s + batch_size]
            i, j = rows[k], cols[k]
            rw, rwc = RowBatch(W, i), RowBatch(Wc, j)
            rb, rbc = RowBatch(b[:, None], i), RowBatch(bc[:, None], j)
            loss = glove_loss(rw.lookup(), rwc.lookup(), rb.lookup()[:, 0], rbc.lookup()[:, 0], log_x[k], fx[k])
            loss.backward()
            rw.adagrad(lr, GW)
            rwc.adagrad(lr, GWc)
            rb.adagrad(lr, Gb[:, None])
            rbc.adagrad(lr, Gbc[:, None])
            total += float(loss.item())
        secs = time.perf_counter() - t0
        row = {"epoch": epoch, "loss": total / len(rows), "entries": int(len(rows)), "seconds": round(secs, 2)}
        history.append(row)
        if log:
            log(f"glove epoch {epoch}/{epochs}: loss {row['loss']:.4f} per entry, {len(rows):,} entries, {secs:.1f} s")
        if not np.isfinite(total):
            raise FloatingPointError(f"glove: the loss became {total} in epoch {epoch} (lower --lr)")
    return WordVectors(corpus.words, W + Wc), history
