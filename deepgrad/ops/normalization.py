"""Batch normalization (course 2, week 3) as one fused op with a hand-written backward.

For input x of shape (N, C), (N, C, L) or (N, C, H, W), statistics are taken per
channel C over every other axis (m = N*L or N*H*W values):

    forward:   mu = mean(x),  var = mean((x - mu)^2)          (biased, used to normalise)
               x_hat = (x - mu) / sqrt(var + eps)
               y = gamma * x_hat + beta
    backward:  dbeta  = sum(dy)
               dgamma = sum(dy * x_hat)
               dx     = gamma / sqrt(var + eps) * (dy - mean(dy) - x_hat * mean(dy * x_hat))

In training the running statistics are updated in place (PyTorch's semantics: the
running variance uses the *unbiased* batch variance, var * m / (m - 1)):

    running = (1 - momentum) * running + momentum * batch_statistic

In evaluation (``training=False``) the running statistics normalise, and the op is an
affine map per channel.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


def _layout(x):
    """Reduction axes and the (1, C, 1, ...) broadcast shape for a channel-second input."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    axes = (0,) + tuple(range(2, x.ndim))
    bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    return axes, bshape


class BatchNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        axes, bshape = _layout(x)
        c = x.shape[1]
        for name, arr in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
            if arr is not None and arr.shape != (c,):
                raise ValueError(f"batch_norm: {name} must have shape ({c},) for input of shape {x.shape}, got {arr.shape}")
        dt = x.dtype.type
        use_batch = training or running_mean is None
        if use_batch:
            m = x.size // c
            if m <= 1 and training:
                raise ValueError(
                    f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}"
                )
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(bshape)
            var = np.square(xc).mean(axis=axes)
            if training and running_mean is not None:
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * m / max(m - 1, 1)) * var
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
            xc = x - mean.reshape(bshape)
        invstd = (1.0 / np.sqrt(var + dt(eps))).astype(x.dtype, copy=False)
        xhat = xc
        xhat *= invstd.reshape(bshape)  # xc is a fresh array: normalise in place
        if weight is not None:
            out = xhat * weight.reshape(bshape)
            if bias is not None:
                out += bias.reshape(bshape)
        elif bias is not None:
            out = xhat + bias.reshape(bshape)
        else:
            out = xhat.copy()
        ctx.xhat, ctx.invstd, ctx.weight, ctx.use_batch, ctx.axes, ctx.bshape = xhat, invstd, weight, use_batch, axes, bshape
        return out

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        xhat, axes, bshape = ctx.xhat, ctx.axes, ctx.bshape
        dbeta = grad.sum(axis=axes) if (nb or (nx and ctx.use_batch)) else None
        dgamma = (grad * xhat).sum(axis=axes) if (nw or (nx and ctx.use_batch)) else None
        dx = None
        if nx:
            scale = ctx.invstd if ctx.weight is None else ctx.invstd * ctx.weight
            if ctx.use_batch:
                m = grad.size // grad.shape[1]
                dx = xhat * (-dgamma / m).reshape(bshape)
                dx += grad
                dx -= (dbeta / m).reshape(bshape)
                dx *= scale.reshape(bshape)
            else:
                dx = grad * scale.reshape(bshape)
        return dx, (dgamma if nw else None), (dbeta if nb else None), None, None, None, None, None


def batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """PyTorch's ``F.batch_norm``: input (N, C), (N, C, L) or (N, C, H, W); running
    statistics (C,) ndarrays (or Tensors/None) updated in place when ``training``;
    ``weight``/``bias`` (C,) Tensors or None."""
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    if (rm is None) != (rv is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and rm is None:
        training_stats = True  # no running statistics: always normalise with the batch's
    else:
        training_stats = training
    return BatchNorm.apply(input, weight, bias, rm, rv, bool(training_stats), float(momentum), float(eps))
