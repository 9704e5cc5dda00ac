"""Pooling (course 4, week 1): ``max_pool2d``, ``avg_pool2d``, ``adaptive_avg_pool2d``,
``global_avg_pool2d``.

Input and output are NCHW, as in PyTorch. Internally pooling works on the
batch-innermost ``(C, H, W, N)`` order that :mod:`deepgrad.ops.conv` produces (a
free transpose for a conv's output), and loops over the kh*kw window offsets: each
step is one vectorized operation over every output position at once.

Max pooling keeps, for each output, which window offset held the maximum; the
gradient flows only there. Ties go to the FIRST maximum in row-major window order,
as in PyTorch (a later value must be strictly larger to take over).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ._util import to_tuple
from .im2col import chwn_padded, nchw, unpad, window


def _pool_geometry(x_shape, kernel, stride, padding, dilation, ceil_mode, op):
    if len(x_shape) != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} must be positive")
    for p, k, _d in zip(padding, kernel, dilation):
        if p < 0 or p > k // 2:
            raise ValueError(f"{op}: padding {padding} must be at most half the kernel size {kernel}")
    outs, extra = [], []
    for size, k, s, p, d in zip(x_shape[2:], kernel, stride, padding, dilation):
        span = size + 2 * p - d * (k - 1) - 1
        if span < 0:
            raise ValueError(f"{op}: input of shape {tuple(x_shape)} is smaller than the pooling window {kernel}")
        o = (-(-span // s) if ceil_mode else span // s) + 1
        if ceil_mode and (o - 1) * s >= size + p:  # the last window must start inside the input or left padding
            o -= 1
        outs.append(o)
        extra.append(max(0, (o - 1) * s + d * (k - 1) + 1 - (size + 2 * p)))  # ceil_mode overhang
    return tuple(outs), tuple(extra)


def first_max_hits(candidates, m):
    """For the candidates of each window in order (arrays shaped like the max ``m``), yield the
    mask of the positions where that candidate is the *first* one equal to the maximum: the
    pooled value's gradient goes there and nowhere else (PyTorch's tie rule)."""
    free = None  # outputs whose gradient is not routed yet
    last = len(candidates) - 1
    for n, c in enumerate(candidates):
        hit = c == m
        if free is not None:
            hit &= free
        if n < last:
            free = ~hit if free is None else np.logical_xor(free, hit, out=free)
        yield hit


def _reduce_windows(xp, ufunc, kernel, dilation, stride, Ho, Wo):
    """``ufunc`` (np.maximum, np.add) over every window of ``xp`` (C, Hp, Wp, N): one pass per
    kernel offset, accumulated in place into a fresh (C, Ho, Wo, N) array."""
    acc = None
    for ki in range(kernel[0]):
        for kj in range(kernel[1]):
            s = window(xp, ki, kj, dilation, stride, Ho, Wo)
            acc = np.array(s, order="C") if acc is None else ufunc(acc, s, out=acc)
    return acc


def _overlapping(kernel, stride, dilation):
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


# ----- max pooling -----------------------------------------------------------------------------------
class MaxPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): the maximum of each (dilated) window.

    The forward pass is kh*kw-1 ``np.maximum`` calls over strided views; it keeps
    the input and output, and the backward pass finds, offset by offset in window
    order, the first position that equals the maximum (so ties go to the first).
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        (Ho, Wo), (eh, ew) = _pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode, "max_pool2d")
        ph, pw = padding
        pads = ((ph, ph + eh), (pw, pw + ew))
        if any(sum(p) for p in pads):
            xp = chwn_padded(x, pads, fill=-np.inf)
        else:
            xp = x.transpose(1, 2, 3, 0)  # a view; contiguous when x came from a conv here
        m = _reduce_windows(xp, np.maximum, kernel, dilation, stride, Ho, Wo)
        ctx.xp, ctx.m, ctx.pads, ctx.x_shape = xp, m, pads, x.shape
        ctx.kernel, ctx.stride, ctx.dilation = kernel, stride, dilation
        return nchw(m)

    @staticmethod
    def backward(ctx, grad):
        g = grad.transpose(1, 2, 3, 0)
        m, xp = ctx.m, ctx.xp
        _, Ho, Wo, _ = m.shape
        dxp = np.zeros(xp.shape, dtype=grad.dtype)
        overlap = _overlapping(ctx.kernel, ctx.stride, ctx.dilation)
        offsets = [(ki, kj) for ki in range(ctx.kernel[0]) for kj in range(ctx.kernel[1])]
        candidates = [window(xp, ki, kj, ctx.dilation, ctx.stride, Ho, Wo) for ki, kj in offsets]
        for (ki, kj), hit in zip(offsets, first_max_hits(candidates, m)):
            w = window(dxp, ki, kj, ctx.dilation, ctx.stride, Ho, Wo)
            if overlap:
                w += g * hit
            else:  # every input position belongs to at most one window: write, don't add
                np.multiply(g, hit, out=w)
        return unpad(dxp, ctx.pads, ctx.x_shape), None, None, None, None, None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling (PyTorch's ``F.max_pool2d``); ``stride`` defaults to ``kernel_size``."""
    op = "max_pool2d"
    k = to_tuple(kernel_size, 2, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else to_tuple(stride, 2, "stride", op)
    return MaxPool2d.apply(input, k, s, to_tuple(padding, 2, "padding", op), to_tuple(dilation, 2, "dilation", op), bool(ceil_mode))


# ----- average pooling -------------------------------------------------------------------------------
class AvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo): the mean of each window.

    ``count_include_pad`` (PyTorch's default True) divides by the full window size
    even where it hangs over the zero padding; False divides by the real elements.
    """

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        (Ho, Wo), (eh, ew) = _pool_geometry(x.shape, kernel, stride, padding, (1, 1), ceil_mode, "avg_pool2d")
        ph, pw = padding
        pads = ((ph, ph + eh), (pw, pw + ew))
        padded = any(sum(p) for p in pads)
        xp = chwn_padded(x, pads) if padded else x.transpose(1, 2, 3, 0)
        acc = _reduce_windows(xp, np.add, kernel, (1, 1), stride, Ho, Wo)
        _, _, H, W = x.shape
        if divisor_override:
            scale = np.asarray(1.0 / divisor_override, dtype=x.dtype)
        elif (count_include_pad and not (eh or ew)) or not padded:
            scale = np.asarray(1.0 / (kernel[0] * kernel[1]), dtype=x.dtype)
        else:
            # per-output window sizes: count the input (or input+padding) cells each window covers
            ones = np.zeros((1, H + 2 * ph + eh, W + 2 * pw + ew, 1), dtype=x.dtype)
            if count_include_pad:
                ones[:, : H + 2 * ph, : W + 2 * pw] = 1
            else:
                ones[:, ph : ph + H, pw : pw + W] = 1
            cnt = _reduce_windows(ones, np.add, kernel, (1, 1), stride, Ho, Wo)
            scale = (1.0 / cnt).astype(x.dtype)
        acc *= scale
        ctx.scale, ctx.xp_shape, ctx.pads, ctx.x_shape, ctx.kernel, ctx.stride = scale, xp.shape, pads, x.shape, kernel, stride
        return nchw(acc)

    @staticmethod
    def backward(ctx, grad):
        g = grad.transpose(1, 2, 3, 0) * ctx.scale
        _, Ho, Wo, _ = g.shape
        dxp = np.zeros(ctx.xp_shape, dtype=grad.dtype)
        overlap = _overlapping(ctx.kernel, ctx.stride, (1, 1))
        for ki in range(ctx.kernel[0]):
            for kj in range(ctx.kernel[1]):
                w = window(dxp, ki, kj, (1, 1), ctx.stride, Ho, Wo)
                if overlap:
                    w += g
                else:
                    w[...] = g
        return unpad(dxp, ctx.pads, ctx.x_shape), None, None, None, None, None, None


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Average pooling (PyTorch's ``F.avg_pool2d``); ``stride`` defaults to ``kernel_size``."""
    op = "avg_pool2d"
    k = to_tuple(kernel_size, 2, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) else to_tuple(stride, 2, "stride", op)
    return AvgPool2d.apply(
        input, k, s, to_tuple(padding, 2, "padding", op), bool(ceil_mode), bool(count_include_pad), divisor_override
    )


# ----- adaptive and global average pooling ------------------------------------------------------------
def _adaptive_matrix(size: int, out: int, dtype) -> np.ndarray:
    """(out, size) averaging matrix with PyTorch's bins [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=dtype)
    for i in range(out):  # a loop over output bins (a handful), not over pixels
        a = (i * size) // out
        b = -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m


class AdaptiveAvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, Ho, Wo) as two small GEMMs: ``A_h @ x @ A_w.T``."""

    @staticmethod
    def forward(ctx, x, output_size):
        if x.ndim != 4:
            raise ValueError(f"adaptive_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
        N, C, H, W = x.shape
        Ho = H if output_size[0] is None else output_size[0]
        Wo = W if output_size[1] is None else output_size[1]
        if Ho < 1 or Wo < 1:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size}")
        ah, aw = _adaptive_matrix(H, Ho, x.dtype), _adaptive_matrix(W, Wo, x.dtype)
        xc = x.transpose(1, 2, 3, 0)  # (C, H, W, N)
        t = np.einsum("ph,chwn->cpwn", ah, xc, optimize=True)
        out = np.einsum("qw,cpwn->cpqn", aw, t, optimize=True)
        ctx.ah, ctx.aw = ah, aw
        return nchw(np.ascontiguousarray(out))

    @staticmethod
    def backward(ctx, grad):
        g = grad.transpose(1, 2, 3, 0)
        t = np.einsum("qw,cpqn->cpwn", ctx.aw, g, optimize=True)
        dx = np.einsum("ph,cpwn->chwn", ctx.ah, t, optimize=True)
        return nchw(np.ascontiguousarray(dx)), None


class GlobalAvgPool2d(Function):
    """x (N, C, H, W) -> (N, C, 1, 1): the mean of each channel map (a ResNet/MobileNet head)."""

    @staticmethod
    def forward(ctx, x):
        if x.ndim != 4:
            raise ValueError(f"global_avg_pool2d: expected a 4-D input (N, C, H, W), got shape {x.shape}")
        ctx.shape = x.shape
        return x.mean(axis=(2, 3), keepdims=True)

    @staticmethod
    def backward(ctx, grad):
        N, C, H, W = ctx.shape
        g = grad.transpose(1, 2, 3, 0) * np.asarray(1.0 / (H * W), dtype=grad.dtype)  # (C, 1, 1, N)
        return nchw(np.broadcast_to(g, (C, H, W, N)).copy())


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed output size (PyTorch's ``F.adaptive_avg_pool2d``)."""
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got {output_size!r}")
        size = tuple(None if v is None else int(v) for v in output_size)
    else:
        size = (int(output_size), int(output_size))
    if size == (1, 1):
        return GlobalAvgPool2d.apply(input)
    return AdaptiveAvgPool2d.apply(input, size)


def global_avg_pool2d(input):
    """(N, C, H, W) -> (N, C, 1, 1) channel means (``adaptive_avg_pool2d(x, 1)``)."""
    return GlobalAvgPool2d.apply(input)
