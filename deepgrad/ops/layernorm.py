"""Layer normalization (course 5, week 4: the transformer's "Add & Norm") as one fused op
with a hand-written backward.

Statistics are taken per sample over the last ``len(normalized_shape)`` axes (n values):

    forward:   mu = mean(x),  var = mean((x - mu)^2)  (biased),  invstd = 1 / sqrt(var + eps)
               x_hat = (x - mu) * invstd
               y = x_hat * weight + bias              (weight, bias of shape normalized_shape)
    backward:  dbias   = sum over the leading axes of dy
               dweight = sum over the leading axes of dy * x_hat
               g = dy * weight
               dx = invstd * (g - mean(g) - x_hat * mean(g * x_hat))

The op works on a 2-D (m, n) view: rows are samples, the reductions run along rows.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, n_axes, eps):
        shape = x.shape
        n = int(np.prod(shape[len(shape) - n_axes:], dtype=np.int64))
        x2 = x.reshape(-1, n)
        mu = x2.mean(axis=1, keepdims=True)
        xhat = x2 - mu
        var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / x.dtype.type(n)
        invstd = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        xhat *= invstd
        ctx.xhat, ctx.invstd, ctx.shape, ctx.wshape = xhat, invstd, shape, shape[len(shape) - n_axes:]
        ctx.w = None if weight is None else weight.reshape(-1)
        y = xhat * ctx.w if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(-1)
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        xhat, invstd, w, shape = ctx.xhat, ctx.invstd, ctx.w, ctx.shape
        g2 = grad.reshape(xhat.shape)
        gw = np.einsum("ij,ij->j", g2, xhat).reshape(ctx.wshape) if nw else None
        gb = g2.sum(axis=0).reshape(ctx.wshape) if nb else None
        gx = None
        if nx:
            g = g2 * w if w is not None else g2
            n = xhat.shape[1]
            dx = xhat * (-np.einsum("ij,ij->i", g, xhat)[:, None] / n)
            dx += g
            dx -= g.mean(axis=1, keepdims=True)
            dx *= invstd
            gx = dx.reshape(shape)
        return gx, gw, gb, None, None


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """PyTorch's ``F.layer_norm``: normalise over the trailing ``normalized_shape`` axes of
    ``input``; ``weight``/``bias`` (of shape ``normalized_shape``) or None."""
    ns = (int(normalized_shape),) if np.ndim(normalized_shape) == 0 else tuple(int(d) for d in normalized_shape)
    x = input if isinstance(input, Tensor) else Tensor._wrap(np.asarray(input))
    if len(ns) == 0 or tuple(x.shape[x.ndim - len(ns):]) != ns or x.ndim < len(ns):
        raise ValueError(f"layer_norm: input of shape {tuple(x.shape)} does not end with normalized_shape {ns}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != ns:
            raise ValueError(f"layer_norm: {name} must have shape {ns}, got {tuple(p.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"layer_norm: expected a floating input, got dtype {x.dtype}")
    return LayerNorm.apply(x, weight, bias, len(ns), float(eps))
