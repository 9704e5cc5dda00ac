"""word2vec: skip-gram with negative sampling (Mikolov et al. 2013), trained by deepgrad.

For a (center ``c``, context ``o``) pair and ``K`` noise words ``n_1..n_K`` drawn from the
unigram distribution raised to 3/4, the loss is

    -log sigmoid(u_c . v_o) - sum_k log sigmoid(-u_c . v_{n_k})

with ``u`` the input ("center") embedding and ``v`` the output ("context") embedding.

Two implementations of the loss, both ordinary deepgrad ops:

* :func:`sgns_loss_composed` builds it from generic ops (``*``, ``sum``, ``softplus``), the
  course's way of writing a model;
* :func:`sgns_loss` is one fused :class:`SGNSLoss` op whose backward is written by hand:
  ``d/ds = sigmoid(s) - 1`` for the positive score and ``sigmoid(s)`` for each negative one,
  then three products. Tests check it against finite differences and against the composed
  loss.

Training (:func:`train_word2vec`) runs each mini-batch through the engine: the batch's
distinct rows of both tables become leaf tensors (:class:`~deepgrad.text.sparse_rows.RowBatch`),
the loss is built on gathers from them, ``loss.backward()`` fills their gradients, and
plain SGD with word2vec's linearly decaying learning rate updates only those rows. The
loss is summed over the batch, so each pair moves the weights as much as in word2vec's
one-pair-at-a-time updates.
"""
from __future__ import annotations

import time

import numpy as np

from ..autograd import Function
from ..ops.activation import softplus
from .corpus import Corpus, skipgram_pairs
from .sparse_rows import RowBatch
from .vectors import WordVectors


def _sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1 / (1 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1 + e)
    return out


def _softplus(x):
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


class SGNSLoss(Function):
    """Fused skip-gram negative-sampling loss, summed over the batch.

    ``u (B, D)`` center vectors, ``v_pos (B, D)`` context vectors, ``v_neg (B, K, D)`` noise
    vectors -> scalar."""

    @staticmethod
    def forward(ctx, u, v_pos, v_neg):
        s_pos = np.einsum("bd,bd->b", u, v_pos)
        s_neg = np.einsum("bkd,bd->bk", v_neg, u)
        ctx.u, ctx.v_pos, ctx.v_neg, ctx.s_pos, ctx.s_neg = u, v_pos, v_neg, s_pos, s_neg
        return np.asarray(_softplus(-s_pos).sum() + _softplus(s_neg).sum(), dtype=u.dtype)

    @staticmethod
    def backward(ctx, grad):
        g_pos = (_sigmoid(ctx.s_pos) - 1) * grad          # (B,)
        g_neg = _sigmoid(ctx.s_neg) * grad                # (B, K)
        du = g_pos[:, None] * ctx.v_pos + np.einsum("bk,bkd->bd", g_neg, ctx.v_neg)
        dv_pos = g_pos[:, None] * ctx.u
        dv_neg = g_neg[:, :, None] * ctx.u[:, None, :]
        t = ctx.u.dtype
        return du.astype(t, copy=False), dv_pos.astype(t, copy=False), dv_neg.astype(t, copy=False)


def sgns_loss(u, v_pos, v_neg):
    """The fused op: ``u (B, D)``, ``v_pos (B, D)``, ``v_neg (B, K, D)`` -> summed loss."""
    if u.ndim != 2 or v_pos.shape != u.shape or v_neg.ndim != 3 or v_neg.shape[0] != u.shape[0] \
            or v_neg.shape[2] != u.shape[1]:
        raise ValueError(f"sgns_loss: expected u (B, D), v_pos (B, D), v_neg (B, K, D), got "
                         f"{tuple(u.shape)}, {tuple(v_pos.shape)}, {tuple(v_neg.shape)}")
    return SGNSLoss.apply(u, v_pos, v_neg)


def sgns_loss_composed(u, v_pos, v_neg):
    """The same loss from generic ops: ``softplus(-u.v_pos) + sum_k softplus(u.v_neg_k)``."""
    s_pos = (u * v_pos).sum(axis=1)
    s_neg = (v_neg * u.unsqueeze(1)).sum(axis=2)
    return softplus(-s_pos).sum() + softplus(s_neg).sum()


def noise_table(counts: np.ndarray, power: float = 0.75, size: int = 10_000_000) -> np.ndarray:
    """word2vec's unigram table: word ``i`` fills a share ``counts_i^power / sum`` of ``size``
    slots, so a uniform slot is a draw from the noise distribution."""
    p = counts.astype(np.float64) ** power
    p /= p.sum()
    ends = np.round(np.cumsum(p) * size).astype(np.int64)
    return np.repeat(np.arange(len(counts), dtype=np.int32), np.diff(ends, prepend=0))


def train_word2vec(corpus: Corpus, dim: int = 100, window: int = 5, negative: int = 5, epochs: int = 5,
                   lr: float = 0.025, min_lr: float = 1e-4, batch_size: int = 1024, subsample: float | None = 1e-4,
                   seed: int = 0, fused: bool = True, max_pairs: int | None = None, optimizer: str = "sgd",
                   output: str = "in", log=print):
    """Train SGNS on ``corpus``; returns ``(WordVectors, history)``.

    ``optimizer``: ``"sgd"`` (word2vec's: ``lr`` decaying linearly to ``min_lr``) or
    ``"adagrad"`` (per-element AdaGrad on the rows present, constant ``lr``). ``output``:
    ``"in"`` returns the input (center) vectors, ``"in+out"`` their sum with the output
    (context) vectors, which Levy, Goldberg & Dagan (2015) found often better.

    ``history`` is a list of per-epoch dicts (``epoch``, ``loss`` per pair, ``pairs``,
    ``seconds``, ``pairs_per_s``). ``max_pairs`` caps the pairs of an epoch (quick runs)."""
    rng = np.random.default_rng(seed)
    V = corpus.vocab_size
    W_in = ((rng.random((V, dim), dtype=np.float32) - 0.5) / dim).astype(np.float32)
    W_out = np.zeros((V, dim), dtype=np.float32)
    table = noise_table(corpus.counts)
    loss_fn = sgns_loss if fused else sgns_loss_composed
    if optimizer not in ("sgd", "adagrad") or output not in ("in", "in+out"):
        raise ValueError(f"train_word2vec: optimizer 'sgd'|'adagrad', output 'in'|'in+out'; got {optimizer!r}, {output!r}")
    if optimizer == "adagrad":
        G_in, G_out = np.full_like(W_in, 1e-6), np.full_like(W_out, 1e-6)
    epoch_pairs: list[int | None] = [None] * epochs
    # the learning rate falls linearly over all pairs of the run, as in word2vec
    est_total = None
    done = 0
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        pairs = skipgram_pairs(corpus, window, rng, subsample)
        if max_pairs is not None:
            pairs = pairs[:max_pairs]
        epoch_pairs[epoch - 1] = len(pairs)
        if est_total is None:
            est_total = len(pairs) * epochs
        total_loss = 0.0
        for s in range(0, len(pairs), batch_size):
            batch = pairs[s:s + batch_size]
            B = len(batch)
            neg = table[rng.integers(0, len(table), size=(B, negative))]
            alpha = max(min_lr, lr * (1 - done / est_total))
            rin = RowBatch(W_in, batch[:, 0])
            rout = RowBatch(W_out, np.concatenate([batch[:, 1:2], neg], axis=1))   # (B, 1 + K)
            v = rout.lookup()
            loss = loss_fn(rin.lookup(), v[:, 0], v[:, 1:])
            loss.backward()
            if optimizer == "sgd":
                rin.sgd(alpha)
                rout.sgd(alpha)
            else:
                alpha = lr
                rin.adagrad(lr, G_in)
                rout.adagrad(lr, G_out)
            total_loss += float(loss.item())
            done += B
        secs = time.perf_counter() - t0
        row = {"epoch": epoch, "loss": total_loss / max(len(pairs), 1), "pairs": int(len(pairs)),
               "seconds": round(secs, 2), "pairs_per_s": round(len(pairs) / secs), "lr": alpha}
        history.append(row)
        if log:
            log(f"word2vec epoch {epoch}/{epochs}: loss {row['loss']:.4f} per pair, {len(pairs):,} pairs, "
                f"{secs:.1f} s ({row['pairs_per_s']:,} pairs/s)")
        if not np.isfinite(total_loss):
            raise FloatingPointError(f"word2vec: the loss became {total_loss} in epoch {epoch} (lower --lr)")
    return WordVectors(corpus.words, W_in if output == "in" else W_in + W_out), history
