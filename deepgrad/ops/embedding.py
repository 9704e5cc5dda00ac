"""Embedding lookup (course 5, week 2: "embedding matrix"): a row gather forward, a
scatter-add backward.

``out[..., :] = weight[indices[...], :]``. Multiplying a one-hot vector by the
embedding matrix E (the course's ``E @ o_j``) selects row j; the gather does the same
without building the one-hot vectors. The gradient of a row is the sum of the output
gradients of every position that looked it up; repeated indices accumulate. The sum is
taken by sorting the indices once and adding each run of equal indices with
``np.add.reduceat`` (several times faster than ``np.add.at`` for the small vocabularies
of character models, never slower). The row ``padding_idx`` gets no gradient, as in
PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


def _check_indices(idx: np.ndarray, num: int) -> np.ndarray:
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    if idx.size:
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"embedding: index {bad} is out of range for an embedding table of {num} rows")
    return idx


def scatter_add_rows(indices: np.ndarray, grad: np.ndarray, num_rows: int) -> np.ndarray:
    """A ``(num_rows, D)`` array whose row r is the sum of ``grad[k]`` over all k with
    ``indices[k] == r`` (``indices`` flat of length K, ``grad`` of shape (K, D))."""
    out = np.zeros((num_rows, grad.shape[-1]), dtype=grad.dtype)
    if indices.size == 0:
        return out
    order = np.argsort(indices, kind="stable")
    s = indices[order]
    starts = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
    out[s[starts]] = np.add.reduceat(grad[order], starts, axis=0)
    return out


class Embedding(Function):
    """``weight[indices]``: indices of any shape (...) -> (..., D) for a (V, D) weight."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        if weight.ndim != 2:
            raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
        idx = _check_indices(np.asarray(indices), weight.shape[0])
        ctx.idx, ctx.num, ctx.padding_idx = idx, weight.shape[0], padding_idx
        return weight[idx]

    @staticmethod
    def backward(ctx, grad):
        D = grad.shape[-1]
        g = scatter_add_rows(ctx.idx.reshape(-1), grad.reshape(-1, D), ctx.num)
        if ctx.padding_idx is not None:
            g[ctx.padding_idx] = 0
        return g, None


def _normalize_padding_idx(padding_idx, num_embeddings: int):
    if padding_idx is None:
        return None
    p = int(padding_idx)
    if not -num_embeddings <= p < num_embeddings:
        raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({num_embeddings})")
    return p % num_embeddings


def renorm_rows_(weight: np.ndarray, indices: np.ndarray, max_norm: float, norm_type: float = 2.0) -> None:
    """Rescale, in place, the rows of ``weight`` that ``indices`` looks up and whose
    ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (PyTorch's rule,
    ``scale = max_norm / (norm + 1e-7)``). Not differentiated: it changes the weights."""
    rows = np.unique(np.asarray(indices).reshape(-1))
    if rows.size == 0:
        return
    sub = weight[rows]
    norms = np.linalg.norm(sub, ord=norm_type, axis=1)
    over = norms > max_norm
    if over.any():
        scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
        weight[rows[over]] = sub[over] * scale[:, None]


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0):
    """PyTorch's ``F.embedding(input, weight, padding_idx, max_norm, norm_type)``.

    ``input``: integer indices of any shape (a Tensor or array); ``weight``: (V, D).
    Returns (..., D). With ``max_norm`` the looked-up rows of ``weight`` are first
    renormalized in place, as in PyTorch.
    """
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    padding_idx = _normalize_padding_idx(padding_idx, w.shape[0])
    if max_norm is not None:
        _check_indices(idx, w.shape[0])
        renorm_rows_(w, idx, float(max_norm), float(norm_type))
    return Embedding.apply(weight, idx, padding_idx)
