"""Reductions: sum, mean, max, min, var, std, logsumexp.

The backward of a reduction broadcasts the output gradient back over the reduced
axes; ``_expand`` puts the reduced axes back (as size 1) so NumPy broadcasting can.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..autograd import Function
from ._util import normalize_axes
from .elementwise import sqrt


def _expand(grad, axes, keepdims, ndim):
    """Reinsert the reduced axes as size-1 dims (no-op when keepdims or a full reduction of a scalar)."""
    if keepdims or axes is None and grad.ndim == ndim:
        return grad
    if axes is None:
        return grad.reshape((1,) * ndim)
    return np.expand_dims(grad, axes)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape))
        return np.broadcast_to(g, ctx.shape), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.shape, ctx.axis, ctx.keepdims = a.shape, axis, keepdims
        out = np.asarray(a.mean(axis=axis, keepdims=keepdims))
        ctx.count = a.size // builtins.max(out.size, 1) if a.size else 0
        return out

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.axis, ctx.keepdims, len(ctx.shape))
        return np.broadcast_to(g / ctx.count, ctx.shape), None, None


class Amax(Function):
    """max/min over axes; ties share the gradient evenly (like ``torch.amax``)."""

    @staticmethod
    def forward(ctx, a, axis, keepdims, is_max):
        if a.size == 0:
            raise ValueError(f"{'max' if is_max else 'min'}: reduction of an empty tensor of shape {a.shape}")
        f = np.max if is_max else np.min
        out = np.asarray(f(a, axis=axis, keepdims=keepdims))
        ctx.a, ctx.out, ctx.axis, ctx.keepdims = a, out, axis, keepdims
        return out

    @staticmethod
    def backward(ctx, grad):
        nd = ctx.a.ndim
        out = _expand(ctx.out, ctx.axis, ctx.keepdims, nd)
        g = _expand(grad, ctx.axis, ctx.keepdims, nd)
        mask = ctx.a == out
        count = mask.sum(axis=ctx.axis, keepdims=True)
        return mask * (g / count), None, None, None


class Var(Function):
    """Variance with ``ddof`` (NumPy's default 0; ``ddof=1`` is the unbiased estimate)."""

    @staticmethod
    def forward(ctx, a, axis, keepdims, ddof):
        mean = a.mean(axis=axis, keepdims=True)
        centered = a - mean
        n = a.size // builtins.max(mean.size, 1) if a.size else 0
        out = np.asarray((centered * centered).sum(axis=axis, keepdims=keepdims) / (n - ddof))
        ctx.centered, ctx.axis, ctx.keepdims, ctx.denom = centered, axis, keepdims, n - ddof
        return out

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.axis, ctx.keepdims, ctx.centered.ndim)
        return g * (2.0 / ctx.denom) * ctx.centered, None, None, None


class LogSumExp(Function):
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m the max: no overflow."""

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        s = np.exp(a - m).sum(axis=axis, keepdims=True)
        out_k = np.log(s) + m
        ctx.a, ctx.out_k, ctx.axis, ctx.keepdims = a, out_k, axis, keepdims
        if keepdims:
            return out_k
        return np.asarray(out_k.squeeze(axis=axis) if axis is not None else out_k.reshape(()))

    @staticmethod
    def backward(ctx, grad):
        g = _expand(grad, ctx.axis, ctx.keepdims, ctx.a.ndim)
        return g * np.exp(ctx.a - ctx.out_k), None, None


def sum(a, axis=None, keepdims=False):  # noqa: A001 - NumPy's name
    return Sum.apply(a, normalize_axes(axis, a.ndim, "sum"), keepdims)


def mean(a, axis=None, keepdims=False):
    return Mean.apply(a, normalize_axes(axis, a.ndim, "mean"), keepdims)


def max(a, axis=None, keepdims=False):  # noqa: A001
    return Amax.apply(a, normalize_axes(axis, a.ndim, "max"), keepdims, True)


def min(a, axis=None, keepdims=False):  # noqa: A001
    return Amax.apply(a, normalize_axes(axis, a.ndim, "min"), keepdims, False)


amax, amin = max, min


def var(a, axis=None, keepdims=False, ddof=0):
    return Var.apply(a, normalize_axes(axis, a.ndim, "var"), keepdims, ddof)


def std(a, axis=None, keepdims=False, ddof=0):
    axes = normalize_axes(axis, a.ndim, "std")
    return sqrt(Var.apply(a, axes, keepdims, ddof))


def logsumexp(a, axis=None, keepdims=False):
    return LogSumExp.apply(a, normalize_axes(axis, a.ndim, "logsumexp"), keepdims)


def argmax(a, axis=None):
    from ..tensor import Tensor

    return Tensor._wrap(np.asarray(np.argmax(a.data, axis=axis)))


def argmin(a, axis=None):
    from ..tensor import Tensor

    return Tensor._wrap(np.asarray(np.argmin(a.data, axis=axis)))
