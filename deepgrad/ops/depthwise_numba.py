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

(taps that fall into the zero padding are skipped). Each call does the channels ``[c0, c1)``,
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
def forward(x, w, out, c0, c1, pt, pl, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via conv2d)
    """x (C, H, W, N), w (C, kh, kw), out (C, Ho, Wo, N): fills channels [c0, c1) of ``out``."""
    _, H, W, N = x.shape
    _, Ho, Wo, _ = out.shape
    kh, kw = w.shape[1], w.shape[2]
    for c in range(c0, c1):
        for h in range(Ho):
            i0, i1 = _taps_inside(h, sh, dh, pt, H, kh)
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
