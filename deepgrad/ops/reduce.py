"""Reductions: sum, mean, max, min, var, std, logsumexp.

The backward of a reduction broadcasts the output gradient back over the reduced
axes; ``_expand`` puts the reduced axes back (as size 1) so NumPy broadcasting can.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import Axis, axis_arg, keepdims_arg, normalize_axes, one_of
from .elementwise import _floating, sqrt


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


# ----- public functions ------------------------------------------------------------------
# Each takes NumPy's ``axis``/``keepdims`` or PyTorch's ``dim``/``keepdim`` (see ``_util.one_of``).
# ``max``/``min`` with ``dim`` return the values only, like ``torch.amax`` (not torch.max's
# (values, indices) pair); ``var``/``std`` default to ``ddof=0`` (NumPy) and take PyTorch's
# ``correction`` as another name for ``ddof``.


def sum(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:  # noqa: A001 - NumPy's name
    axes = normalize_axes(axis_arg("sum", axis, dim), a.ndim, "sum")
    return Sum.apply(a, axes, keepdims_arg("sum", keepdims, keepdim))


def mean(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    """The mean; integer and boolean tensors are averaged in float32."""
    axes = normalize_axes(axis_arg("mean", axis, dim), a.ndim, "mean")
    return Mean.apply(_floating(a), axes, keepdims_arg("mean", keepdims, keepdim))


def max(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:  # noqa: A001 - NumPy's name
    axes = normalize_axes(axis_arg("max", axis, dim), a.ndim, "max")
    return Amax.apply(a, axes, keepdims_arg("max", keepdims, keepdim), True)


def min(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:  # noqa: A001 - NumPy's name
    axes = normalize_axes(axis_arg("min", axis, dim), a.ndim, "min")
    return Amax.apply(a, axes, keepdims_arg("min", keepdims, keepdim), False)


def amax(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    axes = normalize_axes(axis_arg("amax", axis, dim), a.ndim, "amax")
    return Amax.apply(a, axes, keepdims_arg("amax", keepdims, keepdim), True)


def amin(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    axes = normalize_axes(axis_arg("amin", axis, dim), a.ndim, "amin")
    return Amax.apply(a, axes, keepdims_arg("amin", keepdims, keepdim), False)


def var(
    a: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    ddof: float | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: float | None = None,
) -> Tensor:
    """Variance with ``ddof`` (``correction``): 0 by default as in NumPy; 1 is the unbiased estimate."""
    axes = normalize_axes(axis_arg("var", axis, dim), a.ndim, "var")
    d = one_of("var", "ddof", ddof, "correction", correction, 0)
    return Var.apply(_floating(a), axes, keepdims_arg("var", keepdims, keepdim), d)


def std(
    a: Tensor,
    axis: Axis = None,
    keepdims: bool | None = None,
    ddof: float | None = None,
    *,
    dim: Axis = None,
    keepdim: bool | None = None,
    correction: float | None = None,
) -> Tensor:
    """Standard deviation, the square root of :func:`var` (same arguments)."""
    axes = normalize_axes(axis_arg("std", axis, dim), a.ndim, "std")
    d = one_of("std", "ddof", ddof, "correction", correction, 0)
    return sqrt(Var.apply(_floating(a), axes, keepdims_arg("std", keepdims, keepdim), d))


def logsumexp(
    a: Tensor, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
) -> Tensor:
    axes = normalize_axes(axis_arg("logsumexp", axis, dim), a.ndim, "logsumexp")
    return LogSumExp.apply(_floating(a), axes, keepdims_arg("logsumexp", keepdims, keepdim))


def _arg(op: str, f, a: Tensor, axis, dim, keepdims, keepdim) -> Tensor:
    ax = axis_arg(op, axis, dim)
    if ax is not None:
        ax = normalize_axes(ax, a.ndim, op)
        if ax is not None and len(ax) != 1:
            raise TypeError(f"{op}: axis must be one int, got {axis if dim is None else dim!r}")
        ax = None if ax is None else ax[0]
    return Tensor._wrap(np.asarray(f(a.data, axis=ax, keepdims=keepdims_arg(op, keepdims, keepdim))))


def argmax(
    a: Tensor,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the largest value (of the flattened tensor when no axis is given)."""
    return _arg("argmax", np.argmax, a, axis, dim, keepdims, keepdim)


def argmin(
    a: Tensor,
    axis: int | None = None,
    keepdims: bool | None = None,
    *,
    dim: int | None = None,
    keepdim: bool | None = None,
) -> Tensor:
    """Index of the smallest value (of the flattened tensor when no axis is given)."""
    return _arg("argmin", np.argmin, a, axis, dim, keepdims, keepdim)
