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

**Fused with what follows it.** In a ResNet, batch norm is always followed by a ReLU,
sometimes after adding the shortcut: ``relu(bn(x) + residual)``. ``batch_norm_relu`` does
that in one op: the ReLU and the add happen in place in the output buffer, and the
backward masks the incoming gradient once (``dy * (y > 0)``), which is then both the
residual's gradient and the ``dy`` of the formulas above.

**Layout.** Every formula is per channel, so the op works on a 2-D ``(C, m)`` view of the
data, whatever order the other axes are stored in: the convolutions here return NCHW
views of batch-innermost (C, H, W, N) buffers, and for those the view is free. The output
keeps the input's memory layout. Reductions then run along contiguous rows, the
variance is a BLAS dot product per row, and the backward recomputes ``x_hat`` from the
saved input instead of keeping a second full-size array.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .threads import parallel, threads_for


def _channel_major(x: np.ndarray):
    """``(x2, perm)``: a ``(C, m)`` array holding x's values channel by channel, and the axis
    order ``perm`` (channel first) in which it is stored; ``x2`` is a view when x's memory
    already has the channel outermost (e.g. a conv output here), else a copy."""
    others = sorted(range(x.ndim), key=lambda a: -abs(x.strides[a]) if a != 1 else 0)
    perm = (1,) + tuple(a for a in others if a != 1)
    xp = x.transpose(perm)
    if not xp.flags.c_contiguous:
        perm = (1, 0) + tuple(range(2, x.ndim))
        xp = np.ascontiguousarray(x.transpose(perm))
    return xp.reshape(x.shape[1], -1), perm


def _as_layout(a: np.ndarray, perm) -> np.ndarray:
    """``a`` (same shape as the op's input) as a contiguous (C, m) array in the axis order ``perm``."""
    return np.ascontiguousarray(a.transpose(perm)).reshape(a.shape[1], -1)


def _from_layout(a2: np.ndarray, shape, perm) -> np.ndarray:
    """The inverse of :func:`_as_layout`: a (C, m) array back to an array of ``shape`` (a view)."""
    return a2.reshape(tuple(shape[p] for p in perm)).transpose(np.argsort(perm))


def _row_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``sum(a * b, axis=1)`` for (C, m) arrays without a temporary: one BLAS dot per row."""
    return np.matmul(a[:, None, :], b[:, :, None]).reshape(a.shape[0])


def _check_params(x, weight, bias, running_mean, running_var):
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, ...), got shape {x.shape}")
    c = x.shape[1]
    for name, arr in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if arr is not None and arr.shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for input of shape {x.shape}, got {arr.shape}")


class BatchNorm(Function):
    """``relu?(batch_norm(x) + residual?)``: x (N, C, ...) -> same shape; weight, bias (C,) or
    None; running statistics (C,) ndarrays or None. Plain batch norm when ``relu`` is False
    and there is no residual."""

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps, residual=None,
                relu=False):
        _check_params(x, weight, bias, running_mean, running_var)
        if residual is not None and residual.shape != x.shape:
            raise ValueError(f"batch_norm: residual of shape {residual.shape} does not match the input's {x.shape}")
        dt = x.dtype.type
        x2, perm = _channel_major(x)
        m = x2.shape[1]
        use_batch = training or running_mean is None
        if use_batch and m <= 1 and training:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of shape {x.shape}")
        C = x2.shape[0]
        y2 = np.empty_like(x2)
        if use_batch:
            mean, var = np.empty(C, dtype=x.dtype), np.empty(C, dtype=x.dtype)
        else:
            mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
        r2 = None if residual is None else _as_layout(residual, perm)
        invstd = np.empty(C, dtype=x.dtype)
        scale = invstd if weight is None else np.empty(C, dtype=x.dtype)

        def channels(a, b, _worker):  # every step is per channel: blocks of channels go to threads
            c = slice(a, b)
            y = y2[c]
            if use_batch:
                mean[c] = x2[c].mean(axis=1)
            np.subtract(x2[c], mean[c, None], out=y)
            if use_batch:
                var[c] = _row_dot(y, y) / dt(m)
            invstd[c] = 1.0 / np.sqrt(var[c] + dt(eps))
            if weight is not None:
                np.multiply(invstd[c], weight[c], out=scale[c])
            # from here on in place in y
            y *= scale[c, None]
            if bias is not None:
                y += bias[c, None]
            if r2 is not None:
                y += r2[c]
            if relu:
                np.maximum(y, 0, out=y)

        parallel(channels, C, threads_for(x2.nbytes))
        if training and running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += (momentum * m / max(m - 1, 1)) * var
        ctx.x2, ctx.mean, ctx.invstd, ctx.scale, ctx.perm, ctx.shape = x2, mean, invstd, scale, perm, x.shape
        ctx.use_batch, ctx.y2 = use_batch, (y2 if relu else None)
        ctx.has_residual = residual is not None
        return _from_layout(y2, x.shape, perm)

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        nr = ctx.has_residual and ctx.needs_input_grad[8]
        perm, shape, use_batch, y2 = ctx.perm, ctx.shape, ctx.use_batch, ctx.y2
        x2, mean, invstd, scale = ctx.x2, ctx.mean, ctx.invstd, ctx.scale
        gin = _as_layout(grad, perm)
        m = gin.shape[1]
        need_sums = nx and use_batch
        C = gin.shape[0]
        g2 = gin if y2 is None else np.empty_like(gin)  # through the ReLU: zero where the output was clamped
        dbeta = np.empty(C, dtype=gin.dtype) if (nb or need_sums) else None
        need_xhat = nw or need_sums
        dgamma = np.empty(C, dtype=gin.dtype) if need_xhat else None
        # x_hat is recomputed from the saved input (one full-size array less to keep), then
        # dx is computed in place over it
        dx2 = np.empty_like(x2) if (nx or need_xhat) else None

        def channels(a, b, _worker):
            c = slice(a, b)
            g = g2[c]
            if y2 is not None:
                np.multiply(gin[c], y2[c] > 0, out=g)
            if dbeta is not None:
                dbeta[c] = g.sum(axis=1)
            if need_xhat:
                xhat = dx2[c]
                np.subtract(x2[c], mean[c, None], out=xhat)
                xhat *= invstd[c, None]
                dgamma[c] = _row_dot(g, xhat)
            if nx:
                d = dx2[c]
                if use_batch:  # dx = scale * (g - mean(g) - x_hat * mean(g * x_hat)), in place over x_hat
                    d *= (-dgamma[c] / m)[:, None]
                    d += g
                    d -= (dbeta[c] / m)[:, None]
                    d *= scale[c, None]
                else:
                    np.multiply(g, scale[c, None], out=d)

        parallel(channels, C, threads_for(x2.nbytes))
        if not nx:
            dx2 = None
        dx = None if dx2 is None else _from_layout(dx2, shape, perm)
        dres = _from_layout(g2, shape, perm) if nr else None
        return (dx, (dgamma if nw else None), (dbeta if nb else None), None, None, None, None, None, dres, None)


def _stats_args(running_mean, running_var, training):
    rm = running_mean.data if isinstance(running_mean, Tensor) else running_mean
    rv = running_var.data if isinstance(running_var, Tensor) else running_var
    if (rm is None) != (rv is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    # without running statistics, always normalise with the batch's
    return rm, rv, (True if (not training and rm is None) else bool(training))


def batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """PyTorch's ``F.batch_norm``: input (N, C), (N, C, L) or (N, C, H, W); running
    statistics (C,) ndarrays (or Tensors/None) updated in place when ``training``;
    ``weight``/``bias`` (C,) Tensors or None."""
    rm, rv, use_batch = _stats_args(running_mean, running_var, training)
    return BatchNorm.apply(input, weight, bias, rm, rv, use_batch, float(momentum), float(eps))


def batch_norm_relu(input, running_mean=None, running_var=None, weight=None, bias=None, training=False, momentum=0.1,
                    eps=1e-5, residual=None):
    """``relu(batch_norm(input, ...) + residual)`` as one op (``residual`` optional, same
    shape as ``input``): the end of a ResNet block. Same arguments as :func:`batch_norm`."""
    rm, rv, use_batch = _stats_args(running_mean, running_var, training)
    return BatchNorm.apply(input, weight, bias, rm, rv, use_batch, float(momentum), float(eps), residual, relu=True)
