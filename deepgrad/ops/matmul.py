"""Matrix products: ``matmul`` (1-D, 2-D and batched, with broadcasting) and the fused
``linear`` layer op ``x @ W.T + b``.

For C = A @ B the gradients are dA = dC @ B^T and dB = A^T @ dC; the 1-D cases are
promoted to matrices first (a vector on the left is a row, on the right a column)
and the added dimension is removed again from the gradient.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, unbroadcast
from ..tensor import Tensor
from .promotion import as_operand, cast_operand, result_type
from .threads import matmul2d


def _matmul_error(a, b):
    return ValueError(
        f"matmul: shapes {np.shape(a)} and {np.shape(b)} are not aligned "
        f"(the last dim of the first must equal the {'only' if np.ndim(b) == 1 else 'second-to-last'} dim of the second)"
    )


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        if np.ndim(a) == 0 or np.ndim(b) == 0:
            raise ValueError(
                f"matmul: both operands need at least 1 dimension, got shapes {np.shape(a)} and {np.shape(b)}"
            )
        if a.dtype != b.dtype:  # PyTorch's promotion: int64 @ float32 is float32
            dt = result_type(a, b)
            a, b = cast_operand(a, dt), cast_operand(b, dt)
        try:
            out = matmul2d(a, b) if a.ndim == b.ndim == 2 and a.shape[1] == b.shape[0] else np.matmul(a, b)
        except ValueError:
            raise _matmul_error(a, b) from None
        ctx.a, ctx.b = a, b
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        na, nb = ctx.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:
            return (grad * b if na else None), (grad * a if nb else None)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = grad
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if na:
            ga = matmul2d(g2, b2.T) if g2.ndim == b2.ndim == 2 else np.matmul(g2, np.swapaxes(b2, -1, -2))
            ga = unbroadcast(ga, a2.shape, "matmul").reshape(a.shape)
        if nb:
            if a2.ndim == 2 and b2.ndim == 2 and g2.ndim > 2:
                # a shared (m, k) matrix on the left: sum the batch of gradients first, one GEMM
                gb = a2.T @ g2.reshape(-1, *g2.shape[-2:]).sum(axis=0)
            elif a2.ndim == g2.ndim == 2:
                gb = matmul2d(a2.T, g2)
            else:
                gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
            gb = unbroadcast(gb, b2.shape, "matmul").reshape(b.shape)
        return ga, gb


class Linear(Function):
    """Fused ``x @ weight.T + bias`` for x of shape (..., in), weight (out, in), bias (out,).

    One GEMM forward, two backward, and the bias gradient as a column sum: the hot
    path of every MLP."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        if x.shape[-1:] != weight.shape[1:]:
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape {weight.shape} "
                f"(expected last input dim {weight.shape[1]})"
            )
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        out = matmul2d(x2, weight.T)
        if bias is not None:
            out += bias
        ctx.x2, ctx.weight, ctx.xshape = x2, weight, x.shape
        return out.reshape(*x.shape[:-1], weight.shape[0]) if x.ndim != 2 else out

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad
        g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
        gx = matmul2d(g2, ctx.weight).reshape(ctx.xshape) if nx else None
        gw = matmul2d(g2.T, ctx.x2) if nw else None
        gb = g2.sum(axis=0) if nb else None
        return gx, gw, gb


def matmul(a, b) -> Tensor:
    """The matrix product ``a @ b`` (NumPy's rules for 1-D and batched operands)."""
    if not isinstance(a, Tensor):
        a = np.asarray(as_operand(a))
    if not isinstance(b, Tensor):
        b = np.asarray(as_operand(b))
    return MatMul.apply(a, b)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` (PyTorch's ``F.linear``)."""
    return Linear.apply(input, weight, bias)
