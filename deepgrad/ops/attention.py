"""Scaled dot-product attention (course 5, week 4) as one fused op with a hand-written backward.

For queries Q (..., L, E), keys K (..., S, E) and values V (..., S, Ev):

    forward:   S = scale * Q @ K^T + M            (M: the mask, 0 / -inf or any float)
               P = softmax(S, along the keys)      (a row with every key masked gives P = 0)
               A = P * D                          (D: the dropout mask scaled by 1/(1-p), else 1)
               O = A @ V                          -> (..., L, Ev)
    backward:  dV = A^T @ dO
               dP = (dO @ V^T) * D
               dS = P * (dP - sum(dP * P, along the keys))
               dQ = scale * dS @ K,   dK = scale * dS^T @ Q,   dM = dS (a float mask that
               requires grad gets it, summed over broadcast axes by the engine)

``scale`` defaults to 1/sqrt(E). The mask follows PyTorch's ``F.scaled_dot_product_attention``:
a boolean ``attn_mask`` is True where a query *may* attend (False entries become -inf), a
float one is added to the scores; ``is_causal`` masks keys after the query's position
(top-left aligned ``tril`` of an (L, S) matrix of ones). Batch dims broadcast as in
``matmul``. A query row with no key left to attend to yields zeros, as PyTorch's does.

Memory: the op keeps Q, K, V, P (and D) for the backward, one (..., L, S) array more than
the output; nothing of the composed graph's intermediates (scores, exponentials, sums).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..random import default_generator
from ..tensor import Tensor


def _softmax_rows(s: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, in place in ``s``; rows that are all -inf become 0."""
    m = s.max(axis=-1, keepdims=True)
    dead = ~np.isfinite(m)
    if dead.any():
        m = np.where(dead, 0.0, m).astype(s.dtype, copy=False)
    s -= m
    np.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    if dead.any():
        total[dead] = 1.0  # the row is all zeros already (exp(-inf))
    s /= total
    return s


class ScaledDotProductAttention(Function):
    """``softmax(scale * q @ k^T + mask) @ v`` with dropout on the weights; see the module docstring."""

    @staticmethod
    def forward(ctx, q, k, v, mask, dropout_p, scale, generator):
        s = np.matmul(q, np.swapaxes(k, -1, -2))
        s *= s.dtype.type(scale)
        if mask is not None:
            s = s + mask  # may broadcast up (a mask with more batch dims than q @ k^T)
        p = _softmax_rows(s)
        if dropout_p > 0.0:
            rng = generator if generator is not None else default_generator()
            d = (rng.random(p.shape, dtype=np.float32 if p.dtype == np.float32 else np.float64) >= dropout_p)
            d = d.astype(p.dtype)
            d *= p.dtype.type(1.0 / (1.0 - dropout_p))
            a = p * d
        else:
            d, a = None, p
        ctx.q, ctx.k, ctx.v, ctx.p, ctx.d, ctx.scale = q, k, v, p, d, scale
        return np.matmul(a, v)

    @staticmethod
    def backward(ctx, grad):
        nq, nk, nv, nm = ctx.needs_input_grad[:4]
        q, k, v, p, d, scale = ctx.q, ctx.k, ctx.v, ctx.p, ctx.d, ctx.scale
        gv = None
        if nv:
            a = p if d is None else p * d
            gv = np.matmul(np.swapaxes(a, -1, -2), grad)
        if not (nq or nk or nm):
            return None, None, gv, None, None, None, None
        dp = np.matmul(grad, np.swapaxes(v, -1, -2))
        if d is not None:
            dp *= d
        ds = dp
        ds -= np.sum(dp * p, axis=-1, keepdims=True)
        ds *= p  # dS = P * (dP - rowsum(dP * P))
        gm = ds if nm else None
        gq = gk = None
        if nq:
            gq = np.matmul(ds, k)
            gq *= gq.dtype.type(scale)
        if nk:
            gk = np.matmul(np.swapaxes(ds, -1, -2), q)
            gk *= gk.dtype.type(scale)
        return gq, gk, gv, gm, None, None, None


def _data(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def attention_mask(attn_mask, is_causal: bool, L: int, S: int, dtype) -> np.ndarray | Tensor | None:
    """PyTorch's mask conventions as an additive float mask (or None): boolean True = attend
    (False -> -inf), float masks unchanged (a Tensor stays a Tensor, so it may carry a
    gradient), ``is_causal`` a top-left aligned lower-triangular (L, S) mask."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal=True, not both")
        keep = np.tril(np.ones((L, S), dtype=bool))
        return np.where(keep, 0.0, -np.inf).astype(dtype)
    if attn_mask is None:
        return None
    raw = _data(attn_mask)
    if raw.dtype == np.bool_:
        return np.where(raw, 0.0, -np.inf).astype(dtype)
    if raw.dtype.kind != "f":
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be boolean or floating, got dtype {raw.dtype}")
    if isinstance(attn_mask, Tensor):
        return attn_mask if raw.dtype == dtype else attn_mask.to(dtype)
    return raw.astype(dtype, copy=False)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
                                 scale: float | None = None, generator: np.random.Generator | None = None) -> Tensor:
    """PyTorch's ``F.scaled_dot_product_attention``: query (..., L, E), key (..., S, E),
    value (..., S, Ev) -> (..., L, Ev), one fused op (see the module docstring).

    ``attn_mask`` broadcastable to (..., L, S): boolean (True = may attend) or float (added
    to the scores); ``is_causal`` masks the future; ``dropout_p`` drops attention weights
    (always applied when > 0, as in PyTorch: pass 0.0 in evaluation); ``scale`` defaults
    to 1/sqrt(E). Dropout masks come from the global generator (or ``generator=``)."""
    q, k, v = (x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x)) for x in (query, key, value))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need at least 2 dims (..., L, E), "
                         f"got {q.shape}, {k.shape}, {v.shape}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query {q.shape} and key {k.shape} must share the last dim")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key {k.shape} and value {v.shape} must have the same "
                         f"number of positions (dim -2)")
    if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
        raise TypeError(f"scaled_dot_product_attention: query, key and value must share one floating dtype, "
                        f"got {q.dtype}, {k.dtype}, {v.dtype}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1), got {dropout_p}")
    L, S = q.shape[-2], k.shape[-2]
    mask = attention_mask(attn_mask, is_causal, L, S, q.dtype)
    if mask is not None:
        try:
            np.broadcast_shapes(np.shape(_data(mask)), (L, S))
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: attn_mask of shape {np.shape(_data(mask))} does not "
                             f"broadcast to the scores' (..., {L}, {S})") from None
    sc = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    return ScaledDotProductAttention.apply(q, k, v, mask, float(dropout_p), sc, generator)
