"""Direct convolution for small filter banks, and the fused conv -> ReLU -> max-pool stage
(LeNet's), as compiled loops: forward and backward.

Loaded by :mod:`deepgrad.ops.compiled` only when numba is installed (``pip install
deepgrad[fast]``); otherwise the NumPy code in :mod:`deepgrad.ops.conv` and
:mod:`deepgrad.ops.conv_relu_pool` (im2col and GEMMs) runs, and both are checked against each
other and against finite differences (tests/ops/test_compiled.py). ``Conv2d`` and
``Conv2dReLUMaxPool2d`` use these loops for ``groups=1`` and at most
:data:`~deepgrad.ops.conv.COMPILED_MAX_WEIGHTS` weights, on batches where they are faster than
GEMMs (:func:`deepgrad.ops.conv.small_filter_kernels`).

Why compiled: LeNet's convolutions have few channels (1 -> 6, 6 -> 16), so their GEMMs are
thin (6 or 16 rows) and run far from BLAS's peak, while the im2col copies, the pooling and
its routing of the gradient cost as much again in memory traffic. These loops are the
definitions written out, in the layout the convolutions here keep (channels, rows,
columns, batch innermost), so every innermost loop runs over the batch: contiguous, and
vectorized by the compiler. ``xp`` is the zero-padded input (C, Hp, Wp, N); ``p`` the pool.

    conv      conv[co, i, j, n] = sum_{c, ki, kj} w[co, c, ki, kj] * xp[c, i*sh + ki*dh, j*sw + kj*dw, n]
    pool      out[co, iq, jq, n] = max(0, b[co] + max_{pi, pj < p} conv[co, p*iq + pi, p*jq + pj, n])
              arg[co, iq, jq, n] = pi*p + pj of the first maximum, or 255 where out is not > 0
    route     d[co, i, j, n] = grad[co, i//p, j//p, n] where (i, j) is that window's arg, else 0;
              db[co] = sum of grad where arg != 255
    weights   dw[co, c, ki, kj] = sum_{i, j, n} d[co, i, j, n] * xp[c, i*sh + ki*dh, j*sw + kj*dw, n]
    input     dxp[c, i*sh + ki*dh, j*sw + kj*dw, n] += w[co, c, ki, kj] * d[co, i, j, n]

(``d`` is the gradient of the conv output: the routed one after a pool, the output's
gradient for a plain convolution.)

With stride 1 (LeNet's, VGG's), a conv output row's pixels read one contiguous stretch of an
input row for each tap, so the loops run over whole rows (``Wo*N`` numbers at a time, the
row flattened); other strides go pixel by pixel. Each pass over a row does several taps and
two output channels at once (four in the input gradient), so that a number loaded from
memory feeds several multiply-adds (measured on LeNet-5's second convolution: the weight
gradient at 20-23 G multiply-adds a second on one core, against 8 one tap and one channel at
a time, and 20 for OpenBLAS's GEMM on its im2col matrix).

Each call does a block of output channels (conv, pool, route, weights) or of input channels
(input), so threads (:func:`deepgrad.ops.threads.parallel`) split channels and never write
the same memory; ``nogil`` lets them run at once. The weight gradient is summed in float64
across rows.
"""
from __future__ import annotations

import numpy as np
from numba import njit

#: Contraction into fused multiply-adds only: no flag that assumes away NaN or infinity, so a
#: NaN in the input still reaches the output (and the pool's comparisons stay exact).
_FM = {"contract"}
#: ... and for the weight gradient's dot products also reassociation (to vectorize the sums).
_FM_SUM = {"contract", "reassoc"}
NO_ARG = np.uint8(255)  # arg where the ReLU is closed: no gradient flows back


@njit(nogil=True, cache=True, inline="always")
def _taps(xr, kj, dw, N, L):  # pragma: no cover (inlined into the compiled loops)
    """The stretch of a flattened input row that tap ``kj`` reads along a stride-1 conv output row."""
    return xr[kj * dw * N : kj * dw * N + L]


@njit(nogil=True, fastmath=_FM, cache=True)
def _add_row_taps(r0, r1, xp, c, y, w0, w1, two, sw, dw, N):  # pragma: no cover (compiled)
    """Conv output rows ``r0`` (and ``r1`` when ``two``; Wo*N flat) += the filter rows ``w0``
    (and ``w1``), (kw,) each, times the input pixels their taps read along the row: input row
    ``y`` of channel ``c``, tap ``kj`` from column ``kj*dw`` on, every ``sw``-th."""
    L, kw = r0.shape[0], w0.shape[0]
    if sw == 1:  # each tap reads one contiguous stretch: three taps (and two channels) per pass
        xr = xp[c, y].ravel()
        threes = kw - kw % 3
        for kj in range(0, threes, 3):
            s0, s1, s2 = _taps(xr, kj, dw, N, L), _taps(xr, kj + 1, dw, N, L), _taps(xr, kj + 2, dw, N, L)
            a0, a1, a2 = w0[kj], w0[kj + 1], w0[kj + 2]
            if two:
                b0, b1, b2 = w1[kj], w1[kj + 1], w1[kj + 2]
                for t in range(L):
                    x0, x1, x2 = s0[t], s1[t], s2[t]
                    r0[t] += a0 * x0 + a1 * x1 + a2 * x2
                    r1[t] += b0 * x0 + b1 * x1 + b2 * x2
            else:
                for t in range(L):
                    r0[t] += a0 * s0[t] + a1 * s1[t] + a2 * s2[t]
        for kj in range(threes, kw):
            s0, a0, b0 = _taps(xr, kj, dw, N, L), w0[kj], w1[kj]
            for t in range(L):
                r0[t] += a0 * s0[t]
            if two:
                for t in range(L):
                    r1[t] += b0 * s0[t]
    else:
        for kj in range(kw):
            for j in range(L // N):
                src = xp[c, y, kj * dw + j * sw]
                for n in range(N):
                    r0[j * N + n] += w0[kj] * src[n]
                    if two:
                        r1[j * N + n] += w1[kj] * src[n]


@njit(nogil=True, fastmath=_FM, cache=True)
def _pick(v, m, a, k):  # pragma: no cover (compiled)
    """One step of a window's running maximum ``(m, a)`` (value, position): ``v`` at position ``k``
    replaces it if greater (the first maximum wins a tie; a NaN wins over any number)."""
    take = (v > m) | ((v != v) & (m == m))  # (no branches: selects, which vectorize)
    return (v if take else m), (k if take else a)


@njit(nogil=True, fastmath=_FM, cache=True)
def _pool_row(rows, bias, out, arg):  # pragma: no cover (compiled)
    """One pooled row from its ``p`` conv output rows ``rows`` (p, Wq*p*N): each window's first
    maximum plus the bias, through the ReLU, into ``out`` (Wq, N); the maximum's position in
    its window (``pi*p + pj``), or NO_ARG where the ReLU is closed, into ``arg``."""
    p = rows.shape[0]
    Wq, N = out.shape
    for jq in range(Wq):
        c0 = jq * p * N  # the window's first column, flattened
        o, r = out[jq], arg[jq]
        for n in range(N):
            if p == 2:  # (LeNet's, VGG's: written out, so that the loop over n vectorizes)
                m, a = rows[0, c0 + n], 0
                m, a = _pick(rows[0, c0 + N + n], m, a, 1)
                m, a = _pick(rows[1, c0 + n], m, a, 2)
                m, a = _pick(rows[1, c0 + N + n], m, a, 3)
            else:
                m, a = rows[0, c0 + n], 0
                for k in range(1, p * p):
                    m, a = _pick(rows[k // p, c0 + (k % p) * N + n], m, a, k)
            v = m + bias
            on = v > 0
            # (NaN stays NaN, as np.maximum(NaN, 0) leaves it, and gets no gradient)
            o[n] = v if (on | (v != v)) else 0.0
            r[n] = a if on else NO_ARG


@njit(nogil=True, fastmath=_FM, cache=True)
def forward(xp, w, b, out, arg, co0, co1, p, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via the op)
    """Fills output channels [co0, co1) of ``out`` (Co, Hq, Wq, N) and ``arg`` (same shape, uint8);
    ``b`` (Co,) is the bias (zeros for none). Output channels go two at a time."""
    C, _, _, N = xp.shape
    kh = w.shape[2]
    _, Hq, Wq, _ = out.shape
    rows = np.empty((2, p, Wq * p * N), dtype=out.dtype)  # the p conv output rows of one pooled row, per channel
    for co in range(co0, co1, 2):
        two = co + 1 < co1
        c1 = co + 1 if two else co
        for iq in range(Hq):
            rows[:] = 0
            for pi in range(p):
                for c in range(C):
                    for ki in range(kh):
                        _add_row_taps(rows[0, pi], rows[1, pi], xp, c, (iq * p + pi) * sh + ki * dh,
                                      w[co, c, ki], w[c1, c, ki], two, sw, dw, N)
            _pool_row(rows[0], b[co], out[co, iq], arg[co, iq])
            if two:
                _pool_row(rows[1], b[c1], out[c1, iq], arg[c1, iq])


@njit(nogil=True, fastmath=_FM, cache=True)
def conv_forward(xp, w, out, co0, co1, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via the op)
    """A plain convolution (no bias): fills output channels [co0, co1) of ``out`` (Co, Ho, Wo, N),
    two at a time, row by row."""
    C, _, _, N = xp.shape
    kh = w.shape[2]
    _, Ho, _, _ = out.shape
    for co in range(co0, co1, 2):
        two = co + 1 < co1
        c1 = co + 1 if two else co
        for i in range(Ho):
            r0, r1 = out[co, i].ravel(), out[c1, i].ravel()
            r0[:] = 0
            r1[:] = 0
            for c in range(C):
                for ki in range(kh):
                    _add_row_taps(r0, r1, xp, c, i * sh + ki * dh, w[co, c, ki], w[c1, c, ki], two, sw, dw, N)


@njit(nogil=True, fastmath=_FM_SUM, cache=True)
def route(g, arg, d, db, co0, co1, p):  # pragma: no cover (compiled; tested via the op)
    """The output gradient ``g`` (Co, Hq, Wq, N) back through the ReLU and the pool, for channels
    [co0, co1): into ``d`` (Co, Hq*p, Wq*p, N), the gradient of the conv outputs (zero off each
    window's maximum), and ``db`` (Co,) float64, the bias gradient."""
    _, Hq, Wq, N = g.shape
    zero = np.zeros_like(g[0, 0, 0, :1])[0]  # (a zero of g's dtype: selects between like types vectorize)
    for co in range(co0, co1):
        s = 0.0  # (float64 across windows)
        for iq in range(Hq):
            for jq in range(Wq):
                gv, av = g[co, iq, jq], arg[co, iq, jq]
                for k in range(p * p):
                    dst, kk = d[co, iq * p + k // p, jq * p + k % p], np.uint8(k)
                    for n in range(N):  # (selects, no branches)
                        dst[n] = gv[n] if av[n] == kk else zero
                t = zero
                for n in range(N):
                    t += gv[n] if av[n] != NO_ARG else zero
                s += t
        db[co] = s


@njit(nogil=True, fastmath=_FM_SUM, cache=True)
def _row_dots(d0, d1, two, xp, c, y, acc0, acc1, sw, dw, N, zero):  # pragma: no cover (compiled)
    """``acc0`` (kw,) float64 += for each tap kj, sum(d0 * the input pixels tap kj reads along a
    conv output row; see :func:`_add_row_taps`); the same for ``d1`` into ``acc1`` when ``two``.
    Three taps (and two channels) share each pass; a row's sums are in the input's dtype (``zero``
    is a zero of that dtype: a float64 sum of float32 products would not vectorize as well)."""
    L, kw = d0.shape[0], acc0.shape[0]
    if sw == 1:
        xr = xp[c, y].ravel()
        threes = kw - kw % 3
        for kj in range(0, threes, 3):
            s0, s1, s2 = _taps(xr, kj, dw, N, L), _taps(xr, kj + 1, dw, N, L), _taps(xr, kj + 2, dw, N, L)
            a0 = a1 = a2 = b0 = b1 = b2 = zero
            if two:
                for t in range(L):
                    x0, x1, x2, g0, g1 = s0[t], s1[t], s2[t], d0[t], d1[t]
                    a0 += g0 * x0
                    a1 += g0 * x1
                    a2 += g0 * x2
                    b0 += g1 * x0
                    b1 += g1 * x1
                    b2 += g1 * x2
            else:
                for t in range(L):
                    g0 = d0[t]
                    a0 += g0 * s0[t]
                    a1 += g0 * s1[t]
                    a2 += g0 * s2[t]
            acc0[kj] += a0
            acc0[kj + 1] += a1
            acc0[kj + 2] += a2
            acc1[kj] += b0
            acc1[kj + 1] += b1
            acc1[kj + 2] += b2
        for kj in range(threes, kw):
            s0 = _taps(xr, kj, dw, N, L)
            a0 = b0 = zero
            for t in range(L):
                a0 += d0[t] * s0[t]
                b0 += d1[t] * s0[t]
            acc0[kj] += a0
            acc1[kj] += b0
    else:
        for kj in range(kw):
            a0 = b0 = zero
            for j in range(L // N):
                src = xp[c, y, kj * dw + j * sw]
                for n in range(N):
                    a0 += d0[j * N + n] * src[n]
                    b0 += d1[j * N + n] * src[n]
            acc0[kj] += a0
            acc1[kj] += b0


@njit(nogil=True, fastmath=_FM_SUM, cache=True)
def weight_grad(xp, d, dwt, co0, co1, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via the op)
    """``dwt`` (Co, C, kh, kw) for output channels [co0, co1), two at a time, summed over rows in float64."""
    C, _, _, N = xp.shape
    _, Ho, _, _ = d.shape
    kh, kw = dwt.shape[2], dwt.shape[3]
    acc = np.zeros((2, kh, kw), dtype=np.float64)
    zero = np.zeros_like(d[0, 0, 0, :1])[0]
    for co in range(co0, co1, 2):
        two = co + 1 < co1
        c1 = co + 1 if two else co
        for c in range(C):
            acc[:] = 0
            for i in range(Ho):
                d0, d1 = d[co, i].ravel(), d[c1, i].ravel()  # (these rows stay in cache for all taps)
                for ki in range(kh):
                    _row_dots(d0, d1, two, xp, c, i * sh + ki * dh, acc[0, ki], acc[1, ki], sw, dw, N, zero)
            for ki in range(kh):
                for kj in range(kw):
                    dwt[co, c, ki, kj] = acc[0, ki, kj]
                    if two:
                        dwt[c1, c, ki, kj] = acc[1, ki, kj]


@njit(nogil=True, fastmath=_FM, cache=True)
def input_grad(d, w, dxp, c0, c1, sh, sw, dh, dw):  # pragma: no cover (compiled; tested via the op)
    """``dxp`` (C, Hp, Wp, N), the gradient of the padded input, for input channels [c0, c1);
    four output channels' gradients per pass over an input row."""
    Co, Ho, Wo, N = d.shape
    kh, kw = w.shape[2], w.shape[3]
    L = Wo * N
    for c in range(c0, c1):
        dxp[c] = 0
        for i in range(Ho):
            for ki in range(kh):
                y = i * sh + ki * dh
                for kj in range(kw):
                    if sw == 1:
                        dst = _taps(dxp[c, y].ravel(), kj, dw, N, L)
                        fours = Co - Co % 4
                        for co in range(0, fours, 4):
                            g0, g1, g2, g3 = d[co, i].ravel(), d[co + 1, i].ravel(), d[co + 2, i].ravel(), d[co + 3, i].ravel()
                            v0, v1, v2, v3 = w[co, c, ki, kj], w[co + 1, c, ki, kj], w[co + 2, c, ki, kj], w[co + 3, c, ki, kj]
                            for t in range(L):
                                dst[t] += v0 * g0[t] + v1 * g1[t] + v2 * g2[t] + v3 * g3[t]
                        for co in range(fours, Co):
                            g0, v0 = d[co, i].ravel(), w[co, c, ki, kj]
                            for t in range(L):
                                dst[t] += v0 * g0[t]
                    else:
                        for co in range(Co):
                            g0, v0 = d[co, i].ravel(), w[co, c, ki, kj]
                            for j in range(Wo):
                                dst = dxp[c, y, kj * dw + j * sw]
                                for n in range(N):
                                    dst[n] += v0 * g0[j * N + n]
