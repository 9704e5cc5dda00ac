"""A depthwise convolution (one 2-D filter per channel) as compiled loops: forward and backward.

Loaded by :mod:`deepgrad.ops.compiled` only when numba is installed (``pip install
deepgrad[fast]``); otherwise the NumPy code in :mod:`deepgrad.ops.conv` runs, and both are
checked against each other and against finite differences (tests/ops/test_compiled.py).

Why compiled: a depthwise 3x3 conv has no sum over channels, so a GEMM would mostly multiply
zeros, and NumPy's best form (one ``einsum`` over an overlapping view) runs ~4 G multiply-adds
a second, about half PyTorch's speed. These loops are the definition written out, in the
layout the convolutions here keep (channels, rows, columns, batch innermost), so the
innermost loop runs over the batch: contiguous, and vectorized by the compiler.

    out[c, h, v, n] = sum_{i, j} w[c, i, j] * x[c, h*sh + i*dh - pt, v*sw + j*dw - pl, n]

(taps that fall into the zero padding are skipped). At stride 1 along rows, a tap reads one
contiguous stretch of an input row for a whole output row, so the forward loops over whole
rows (``Wo*N`` numbers; measured 4x faster than pixel by pixel on MobileNet's 96-channel 14x14
layer). Each call does the channels ``[c0, c1)``,
so threads (:func:`deepgrad.ops.threads.parallel`) split channels; ``nogil`` lets them run
at once.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _taps_inside(o, stride, dil, pad, size, k):  # pragma: no cover (compiled)
    """``(t0, t1)``: the taps ``t`` for which output index ``o`` reads inside the image,
    ``0 <= o*stride + t*dil - pad < size`` (the others fall in the zero padding)."""
    t0 = max(0, -((o * stride - pad) // dil))
    t1 = min(k, (size - 1 + pad - o * stride) // dil + 1)
    return t0, max(t0, t1)


@njit(nogil=True, fastmath=True, cache=True)
def _row_taps(o, xr, wk, W, Wo, pl, dw, N):  # pragma: no cover (compiled)
    """Output row ``o`` (Wo*N flat) += the taps ``wk`` (kw,) of one filter row along input row
    ``xr`` (W*N flat), stride 1: tap j adds ``wk[j] * xr[(v + j*dw - pl)*N + n]`` for the columns
    v whose input column is inside the image. Where all taps of a group of three are inside,
    they share one pass over the row; the edge columns go tap by tap."""
    kw = wk.shape[0]
    for j0 in range(0, kw, 3):
        j1 = min(kw, j0 + 3)
        # the columns where every tap of the group reads inside the image
        a, b = max(0, pl - j0 * dw), min(Wo, W + pl - (j1 - 1) * dw)
        if j1 - j0 == 3 and b > a:
            k0, k1, k2 = wk[j0], wk[j0 + 1], wk[j0 + 2]
            dst = o[a * N : b * N]
            s0 = xr[(a + j0 * dw - pl) * N :]
            s1 = xr[(a + (j0 + 1) * dw - pl) * N :]
            s2 = xr[(a + (j0 + 2) * dw - pl) * N :]
            for t in range(dst.shape[0]):
                dst[t] += k0 * s0[t] + k1 * s1[t] + k2 * s2[t]
        else:
            a = b = 0  # (no shared pass: each tap does its whole range below)
        for j in range(j0, j1):
            v0, v1 = max(0, pl - j * dw), min(Wo, W + pl - j * dw)  # this tap's columns inside the image
            k = wk[j]
            for lo, hi in ((v0, min(v1, a)), (max(v0, b), v1)) if b > a else ((v0, v1), (0, 0)):
                if hi > lo:
                    dst, src = o[lo * N : hi * N], xr[(lo + j * dw - pl) * N :]
                    for t in range(dst.shape[0]):
                        dst[t] += k * src[t]


@njit(nogil=True, fastmath=True, cache=True)
def forward(x, w, out, c0, c1, pt, pl, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via conv2d)
    """x (C, H, W, N), w (C, kh, kw), out (C, Ho, Wo, N): fills channels [c0, c1) of ``out``."""
    _, H, W, N = x.shape
    _, Ho, Wo, _ = out.shape
    kh, kw = w.shape[1], w.shape[2]
    for c in range(c0, c1):
        for h in range(Ho):
            i0, i1 = _taps_inside(h, sh, dh, pt, H, kh)
            if sw == 1:  # a tap reads one contiguous stretch of an input row: whole rows at a time
                o = out[c, h].ravel()
                o[:] = 0
                for i in range(i0, i1):
                    _row_taps(o, x[c, h * sh + i * dh - pt].ravel(), w[c, i], W, Wo, pl, dw, N)
                continue
            for v in range(Wo):
                j0, j1 = _taps_inside(v, sw, dw, pl, W, kw)
                o = out[c, h, v]
                o[:] = 0
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        k = w[c, i, j]
                        src = x[c, h * sh + i * dh - pt, v * sw + j * dw - pl]
                        for n in range(N):
                            o[n] += k * src[n]


@njit(nogil=True, fastmath=True, cache=True)
def backward(x, g, w, dx, dwt, need_x, need_w, c0, c1, pt, pl, sh, sw, dh, dw):  # pragma: no cover
    """Gradients for channels [c0, c1): each output pixel's gradient ``g[c, h, v]`` flows back
    along the taps that made it:

        dW[c, i, j]       += sum_n g[c, h, v, n] * x[c, y, z, n]
        dx[c, y, z, n]    += w[c, i, j] * g[c, h, v, n]

    with ``y = h*sh + i*dh - pt``, ``z = v*sw + j*dw - pl`` inside the image. ``dx`` (C, H, W, N)
    and ``dwt`` (C, kh, kw) are overwritten for these channels (when asked for); ``dW`` is
    summed in float64."""
    _, H, W, N = dx.shape if need_x else x.shape
    _, Ho, Wo, _ = g.shape
    kh, kw = w.shape[1], w.shape[2]
    acc = np.zeros((kh, kw), dtype=np.float64)
    for c in range(c0, c1):
        if need_x:
            dx[c] = 0
        acc[:] = 0
        for h in range(Ho):
            i0, i1 = _taps_inside(h, sh, dh, pt, H, kh)
            for v in range(Wo):
                j0, j1 = _taps_inside(v, sw, dw, pl, W, kw)
                go = g[c, h, v]
                for i in range(i0, i1):
                    y = h * sh + i * dh - pt
                    for j in range(j0, j1):
                        z = v * sw + j * dw - pl
                        if need_w:
                            src = x[c, y, z]
                            s = go[0] * src[0]
                            for n in range(1, N):
                                s += go[n] * src[n]
                            acc[i, j] += s
                        if need_x:
                            k = w[c, i, j]
                            d = dx[c, y, z]
                            for n in range(N):
                                d[n] += k * go[n]
        if need_w:
            for i in range(kh):
                for j in range(kw):
                    dwt[c, i, j] = acc[i, j]
