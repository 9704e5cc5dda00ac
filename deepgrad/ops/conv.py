"""Convolutions (course 4, week 1): ``conv2d``, ``conv1d`` and ``conv_transpose2d``.

The API is NCHW, as in PyTorch: input ``(N, C, H, W)``, weight
``(C_out, C_in / groups, kh, kw)``. A convolution is a matrix product in disguise
("im2col"): copy every receptive field of the (padded) input into a column,

    cols[(c, ki, kj), (i, j, n)] = x_pad[c, i*sh + ki*dh, j*sw + kj*dw, n]

and then ``out = W.reshape(C_out, -1) @ cols`` is ONE BLAS GEMM (per group). The
backward pass is two more GEMMs, ``dW = dout @ cols.T`` and ``dcols = W.T @ dout``,
and "col2im" adds every column of ``dcols`` back to the input position it came from
(a loop over the kh*kw kernel offsets, each one a vectorized strided add). For stride-1
convolutions whose output is about as large as the input ("same" padding), ``dx`` is
instead the "full" correlation of ``dout`` with the flipped kernel, computed like a
forward pass (im2col + GEMM): no scatter-add, measured ~1.3x faster for ResNet's 3x3 convs.

The memory machinery lives in :mod:`deepgrad.ops.im2col`: the batch-innermost
``(C, H, W, N)`` layout the ops work in (outputs are NCHW-*shaped* views of it), the
cache of recycled buffers, and im2col/col2im. Memory is bounded: an im2col matrix larger
than ``IM2COL_BUDGET_BYTES`` (8 MiB) is built and consumed in chunks of output rows
(``IM2COL_CHUNK_BYTES``, sized for BLAS's thread count), into one reused buffer, and is recomputed in the
backward pass instead of being kept.

``conv_transpose2d`` is the backward-data pass of ``conv2d`` run forward
(col2im of ``W.T @ x``), and its own backward is an ordinary convolution.

With numba installed, two kinds of convolution run as compiled loops instead (same
arguments, same results up to the order of additions; :mod:`deepgrad.ops.compiled`):
depthwise ones (``_depthwise_forward_compiled``) and small filter banks, ``groups=1`` and
at most :data:`COMPILED_MAX_WEIGHTS` weights (LeNet's; ``direct_forward``), whose GEMMs
would be only a few rows high, for batches where that is faster (:func:`small_filter_kernels`).
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ._util import to_tuple
from .compiled import conv_kernels, depthwise_kernels
from .im2col import (
    Geometry,
    Lease,
    chwn,
    chwn_padded,
    col2im_add,
    fits_budget,
    give,
    im2col,
    im2col_rows,
    keep_or_give,
    nchw,
    pad_into,
    row_chunk,
    take,
    unpad,
    window,
    windows,
)
from .threads import parallel, split, threads_for


# ----- argument handling ------------------------------------------------------------------
def _resolve_padding(padding, kernel, dilation, stride, op: str):
    """Padding as ((top, bottom), (left, right)); accepts int, pair, 'same', 'valid'."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out.append((total // 2, total - total // 2))  # extra row/column at the end, like PyTorch
            return tuple(out)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = to_tuple(padding, 2, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (ph, ph), (pw, pw)


def _check_positive(op, **vals):
    for name, v in vals.items():
        if min(v) < 1:
            raise ValueError(f"{op}: {name} must be positive, got {v}")


# ----- the correlation core: out[co] = sum_c W[co, c] * x[c] over the kernel window -------------
def gemm(w3: np.ndarray, m3: np.ndarray) -> np.ndarray:
    """Per-group product (g, a, k) @ (g, k, L) -> (g, a, L); a plain 2-D GEMM when g == 1."""
    if w3.shape[0] == 1:
        return (w3[0] @ m3[0])[None]
    return np.matmul(w3, m3)


def gemm_into(w3: np.ndarray, m3: np.ndarray, out: np.ndarray) -> np.ndarray:
    if w3.shape[0] == 1:
        np.matmul(w3[0], m3[0], out=out[0])
    else:
        np.matmul(w3, m3, out=out)
    return out


def corr_forward(xp: np.ndarray, w3: np.ndarray, g: Geometry, keep_cols: bool, chunk: int | None = None):
    """xp (C, Hp, Wp, N), w3 (groups, Cout/groups, C/groups*kh*kw) -> out (Cout, Ho, Wo, N).

    Returns ``(out, cols)``; ``cols`` is the whole im2col matrix when it fit in the
    budget and ``keep_cols`` is set, else None (the backward recomputes it). ``chunk``
    overrides the chunk size in bytes. The output rows are split over threads
    (:func:`~deepgrad.ops.threads.parallel`): each copies and multiplies its own rows.
    """
    C, _, _, N = xp.shape
    G, Og, K = w3.shape
    row_bytes = C * g.kh * g.kw * g.Wo * N * xp.itemsize
    rows = row_chunk(row_bytes, g.Ho, chunk)
    win = windows(xp, g)
    out = np.empty((G * Og, g.Ho, g.Wo, N), dtype=np.result_type(xp.dtype, w3.dtype))
    whole = rows >= g.Ho
    cols = take((C * g.kh * g.kw, g.Ho * g.Wo * N), xp.dtype) if whole else None

    def rows_of(a, b, _worker):
        if cols is not None:  # the whole matrix: this worker fills and multiplies its block of columns
            im2col_rows(win, a, b, cols)
            blocks = [(a, b, cols[:, a * g.Wo * N : b * g.Wo * N])]
        else:  # chunks of rows through one buffer per worker
            buf = take((C * g.kh * g.kw, rows * g.Wo * N), xp.dtype)
            blocks = ((i0, min(b, i0 + rows), None) for i0 in range(a, b, rows))
        for i0, i1, c in blocks:
            if c is None:
                c = im2col(win, i0, i1, out=buf)
            # the GEMM writes straight into its rows of the output (a strided view, no copy)
            gemm_into(w3, c.reshape(G, K, -1), out[:, i0:i1].reshape(G, Og, -1))
        if cols is None:
            give(buf)

    parallel(rows_of, g.Ho, threads_for(row_bytes * g.Ho))
    if cols is not None and keep_cols and fits_budget(row_bytes, g.Ho):
        return out, cols
    give(cols)
    return out, None


def corr_backward(xp, cols, xp_shape, gout: np.ndarray, w3: np.ndarray, g: Geometry, need_x: bool, need_w: bool):
    """Gradients of ``corr_forward``: ``(dxp (C, Hp, Wp, N) or None, dw3 or None)``.

    ``gout`` is (Cout, Ho, Wo, N) contiguous; ``cols`` the kept im2col matrix or None
    (then it is rebuilt from ``xp`` chunk by chunk). Output rows are split over threads:
    each adds up its own part of ``dW`` and scatters into its own ``dxp`` (the first
    thread's is the result; the others' are added to it at the end, since neighbouring
    rows' receptive fields overlap).
    """
    C, Hp, Wp, N = xp_shape
    G, Og, K = w3.shape
    row_bytes = C * g.kh * g.kw * g.Wo * N * gout.itemsize
    rows = row_chunk(row_bytes, g.Ho)
    wt = w3.transpose(0, 2, 1) if need_x else None
    rebuild = need_w and cols is None
    win = windows(xp, g) if rebuild else None
    dxp0 = np.zeros(xp_shape, dtype=gout.dtype) if need_x else None

    def rows_of(a, b, worker):
        dxp = dxp0 if worker == 0 or dxp0 is None else np.zeros(xp_shape, dtype=gout.dtype)
        step = (b - a) if cols is not None else rows
        buf = take((C * g.kh * g.kw, step * g.Wo * N), xp.dtype) if rebuild else None
        dbuf = take((G, K, step * g.Wo * N), gout.dtype) if need_x else None
        dw3 = None
        for i0 in range(a, b, step):
            i1 = min(b, i0 + step)
            g3 = gout[:, i0:i1].reshape(G, Og, -1)
            if need_w:
                if cols is not None:
                    c = cols[:, i0 * g.Wo * N : i1 * g.Wo * N]
                else:
                    assert win is not None  # rebuild (need_w and no cols) made the windows
                    c = im2col(win, i0, i1, out=buf)
                # dW^T = cols @ dout^T: measured ~1.4x faster in OpenBLAS than dout @ cols^T
                part = gemm(c.reshape(G, K, -1), g3.transpose(0, 2, 1))
                if dw3 is None:
                    dw3 = part
                else:
                    dw3 += part
            if need_x:
                assert wt is not None and dbuf is not None and dxp is not None  # all made above when need_x
                L = g3.shape[2]
                dcols = gemm_into(wt, g3, dbuf.reshape(-1)[: G * K * L].reshape(G, K, L))
                col2im_add(dxp, dcols.reshape(G * K, -1), g, i0, i1)
        give(buf)
        give(dbuf)
        return dw3, dxp

    parts = parallel(rows_of, g.Ho, threads_for(row_bytes * g.Ho))
    dw3 = parts[0][0]
    for dw_k, dxp_k in parts[1:]:
        if dw_k is not None:
            dw3 += dw_k
        if dxp_k is not None:  # (a thread other than the first scattered into its own)
            dxp0 += dxp_k
    return dxp0, (None if dw3 is None else dw3.transpose(0, 2, 1))


def direct_input_grad_ok(g: Geometry, pads, x_shape) -> bool:
    """Use the "full correlation" form of dx: stride 1, padding within the kernel's reach, and
    an output about as large as the input (it does H*W/(Ho*Wo) times the col2im path's FLOPs)."""
    (pt, pb), (pl, pr) = pads
    H, W = x_shape[2:]
    return (g.sh == g.sw == 1 and max(pt, pb) <= g.dh * (g.kh - 1) and max(pl, pr) <= g.dw * (g.kw - 1)
            and H * W <= 1.25 * g.Ho * g.Wo)


def input_grad_direct(gout: np.ndarray, w3: np.ndarray, g: Geometry, pads, x_shape) -> np.ndarray:
    """dx (C, H, W, N) of a stride-1 convolution as a forward pass: the "full" correlation of
    dout (Cout, Ho', Wo', N) with the flipped kernel, channels swapped within each group.

    Chunked im2col + GEMM like the forward pass (cache-friendly), no col2im scatter-add.
    ``Ho'`` may be below the conv's Ho (rows that a floor-mode pool dropped get no gradient).
    """
    (pt, _), (pl, _) = pads
    N, C, H, W = x_shape
    G, Og, _ = w3.shape
    ext_h, ext_w = g.dh * (g.kh - 1), g.dw * (g.kw - 1)
    Cout, Hg, Wg, _ = gout.shape
    top, left = ext_h - pt, ext_w - pl
    bottom, right = H + pt - Hg, W + pl - Wg
    gp = chwn_padded(nchw(gout), ((top, bottom), (left, right)))
    wf = w3.reshape(G, Og, C // G, g.kh, g.kw)[..., ::-1, ::-1].transpose(0, 2, 1, 3, 4)
    out, _ = corr_forward(gp, np.ascontiguousarray(wf).reshape(G, C // G, -1),
                           Geometry(g.kh, g.kw, 1, 1, g.dh, g.dw, H, W), keep_cols=False)
    give(gp)
    return out


# ----- small filter banks as compiled loops (deepgrad/ops/conv_numba.py), when numba is installed ----------
#: With numba installed, a convolution (or fused conv-ReLU-pool stage) with ``groups=1`` and at
#: most this many weights runs as direct compiled loops; larger ones run im2col and GEMMs,
#: which are faster there. Measured on this project's 2-core machine, forward and backward of
#: the fused stage for a batch of 64 on one thread, compiled / NumPy code: LeNet-5's stages
#: (150 and 2400 weights) 0.27 and 0.65; 3 -> 16 3x3 (432) 0.40; 16 -> 32 3x3 (4608) 1.11;
#: 32 -> 64 3x3 (18432) 1.30.
COMPILED_MAX_WEIGHTS = 4096
#: ... and a batch of at least this many (the loops run along rows of ``Wo*N`` numbers: short
#: rows are mostly loop overhead), or of at least 4 when each output reads at most
#: COMPILED_SMALL_FILTER inputs (``C_in*kh*kw``: 1- or 3-channel images), where im2col+GEMM is
#: weakest. Measured, conv2d forward and backward on one thread, compiled / NumPy code: batch
#: 4, 16 -> 16 3x3 at 32x32: 2.34; batch 8, 6 -> 16 5x5 at 14x14: 1.64; batch 64, the same:
#: 0.73; batch 64, 16 -> 16 3x3 at 14x14: 0.78; batch 4, 3 -> 8 3x3 at 64x64: 0.69; batch 8,
#: 1 -> 6 5x5 at 28x28: 0.71; batch 1, 3 -> 16 3x3 at 128x128: 1.12.
COMPILED_MIN_BATCH = 16
COMPILED_SMALL_FILTER = 32


def small_filter_kernels(weight: np.ndarray, groups: int, dtype, batch: int):
    """The compiled direct-convolution kernels for this filter bank and batch size, or None (the
    NumPy code is faster there, or numba is missing)."""
    if groups != 1 or weight.size > COMPILED_MAX_WEIGHTS:
        return None
    if batch < COMPILED_MIN_BATCH and not (batch >= 4 and weight[0].size <= COMPILED_SMALL_FILTER):
        return None
    return conv_kernels(dtype)


def direct_operands(x: np.ndarray, weight: np.ndarray, pads, dtype):
    """``(xp, w)`` for the compiled loops: the padded input (C, Hp, Wp, N) and the contiguous
    weight, both in ``dtype`` (the backward keeps them)."""
    xp = chwn_padded(x, pads)
    if xp.dtype != dtype:
        xp = xp.astype(dtype)
    return xp, np.ascontiguousarray(weight, dtype=dtype)


def direct_forward(kern, x: np.ndarray, weight: np.ndarray, g: Geometry, pads, dtype):
    """``(out (C_out, Ho, Wo, N) without bias, xp, w)``: the convolution as compiled loops,
    threads splitting the output channels (``xp``, ``w``: :func:`direct_operands`)."""
    xp, w = direct_operands(x, weight, pads, dtype)
    out = np.empty((w.shape[0], g.Ho, g.Wo, xp.shape[3]), dtype=dtype)
    parallel(lambda a, b, _k: kern.conv_forward(xp, w, out, a, b, g.sh, g.sw, g.dh, g.dw), w.shape[0],
             threads_for(out.size * w[0].size))
    return out, xp, w


def direct_grads(kern, xp, d: np.ndarray, w: np.ndarray, g: Geometry, xp_shape, pads, x_shape, nx: bool, nw: bool):
    """``(dx or None, dw or None)`` from ``d`` (C_out, Ho', Wo', N), the gradient of the conv
    output (rows and columns past Ho', Wo' get none), as compiled loops in one parallel region:
    thread k does its block of output channels' dW and its block of input channels' dx (each
    region costs a thread wake-up, ~50-150 us on a VM)."""
    Cout, C = w.shape[0], w.shape[1]
    dwt = np.empty(w.shape, dtype=w.dtype) if nw else None
    dxp = np.empty(xp_shape, dtype=w.dtype) if nx else None
    T = threads_for(d.size * w[0].size * (nw + nx))
    co_parts, c_parts = split(Cout, T), split(C, T)

    def part(k0, k1, _worker):
        for k in range(k0, k1):
            if nw and k < len(co_parts):
                kern.weight_grad(xp, d, dwt, *co_parts[k], g.sh, g.sw, g.dh, g.dw)
            if nx and k < len(c_parts):
                kern.input_grad(d, w, dxp, *c_parts[k], g.sh, g.sw, g.dh, g.dw)

    parallel(part, max(len(co_parts), len(c_parts)), T)
    return (None if dxp is None else unpad(dxp, pads, x_shape)), dwt


# ----- depthwise convolution (groups == C_in == C_out: MobileNet) -----------------------------------
# One 2-D filter per channel, so each group's GEMM has a single row. Written per kernel tap,
# each of the kh*kw taps is one vectorized multiply-add over a shifted view of the input:
#     out[c] = sum_{ki, kj} W[c, ki, kj] * x_pad[c, i*sh + ki*dh, j*sw + kj*dw, n]
# Measured on MobileNet-sized layers (96 channels at 14x14, 192 at 7x7, batch 64): the
# backward pass is ~1.8x faster per tap (dW as kh*kw reductions, dx as kh*kw strided adds)
# than through im2col, GEMMs and col2im. The forward pass at stride 1 is one einsum over an
# overlapping view of the padded input (no copy; see _depthwise_forward_s1), measured ~2x
# faster than im2col + batched GEMM, which strided depthwise convs still use. Work is done in
# blocks of channels (DEPTHWISE_BLOCK_BYTES) so that the temporaries stay in cache.
# With numba installed, the same convolution runs as compiled loops instead
# (deepgrad/ops/depthwise_numba.py, via deepgrad/ops/compiled.py): ~2x faster, any stride.
DEPTHWISE_BLOCK_BYTES = 2**18
#: Channel blocks of the stride-1 depthwise forward (its einsum measured fastest from ~1 MiB up).
DEPTHWISE_S1_BLOCK_BYTES = 2**22
#: The im2col chunk of a strided depthwise forward pass, whatever the BLAS thread count.
DEPTHWISE_CHUNK_BYTES = 2**19


def _is_depthwise(groups: int, x_shape, w_shape) -> bool:
    return groups > 1 and groups == x_shape[1] == w_shape[0]


def _taps(xp: np.ndarray, g: Geometry):
    """``(ki, kj, view)`` for each kernel tap: ``view`` (C, Ho, Wo, N) holds, for every output
    pixel, the input pixel that tap multiplies."""
    for ki in range(g.kh):
        for kj in range(g.kw):
            yield ki, kj, window(xp, ki, kj, (g.dh, g.dw), (g.sh, g.sw), g.Ho, g.Wo)


def _channel_blocks(C: int, per_channel_bytes: int):
    step = max(1, DEPTHWISE_BLOCK_BYTES // max(1, per_channel_bytes))
    return [slice(c0, min(C, c0 + step)) for c0 in range(0, C, step)]


def _depthwise_forward(xp: np.ndarray, w: np.ndarray, g: Geometry) -> np.ndarray:
    """xp (C, Hp, Wp, N), w (C, kh, kw) -> out (C, Ho, Wo, N)."""
    C, _, _, N = xp.shape
    dtype = np.result_type(xp.dtype, w.dtype)
    out = np.empty((C, g.Ho, g.Wo, N), dtype=dtype)
    for cb in _channel_blocks(C, g.Ho * g.Wo * N * out.itemsize):
        acc, tmp = out[cb], np.empty(out[cb].shape, dtype=dtype)
        for ki, kj, v in _taps(xp[cb], g):
            if ki == 0 and kj == 0:
                np.multiply(v, w[cb, 0, 0, None, None, None], out=acc)
            else:
                np.multiply(v, w[cb, ki, kj, None, None, None], out=tmp)
                acc += tmp
    return out


def _depthwise_forward_s1(x: np.ndarray, w: np.ndarray, g: Geometry, pads) -> tuple[np.ndarray, np.ndarray]:
    """Stride 1: x (N, C, H, W) in any layout, w (C, kh, kw) -> ``(out (C, Ho, Wo, N), xp)``, ``xp``
    the padded (C, Hp, Wp, N) input (a recycled buffer; the backward needs it).

    No im2col copy: in a channel's flat padded buffer, output row i, column j reads tap
    (ki, kj) at ``(i + ki*dh)*Wp*N + (j + kj*dw)*N``, so for each channel and tap one output
    row is ONE run of ``Wo*N`` values. The taps form a (c, kh, kw, Ho, Wo*N) overlapping
    strided view, and the convolution of a block of channels is one ``einsum`` written
    straight into the output. Each block is padded (copied into ``xp``) just before its
    einsum reads it, so it is still in cache; blocks of channels go to threads."""
    N, C, H, W = x.shape
    Hp, Wp = H + sum(pads[0]), W + sum(pads[1])
    dtype = np.result_type(x.dtype, w.dtype)
    xp = take((C, Hp, Wp, N), x.dtype)
    src = x.transpose(1, 2, 3, 0)
    row = Wp * N
    out = np.empty((C, g.Ho, g.Wo, N), dtype=dtype)
    flat = xp.reshape(C, -1)
    isz = flat.itemsize
    w = w.astype(dtype, copy=False)
    step = max(1, DEPTHWISE_S1_BLOCK_BYTES // (Hp * row * isz))

    def channels(a, b, _worker):
        for c0 in range(a, b, step):
            cb = slice(c0, min(b, c0 + step))
            n = cb.stop - cb.start
            pad_into(xp[cb], src[cb], pads)
            taps = as_strided(flat[cb], shape=(n, g.kh, g.kw, g.Ho, g.Wo * N),
                              strides=(flat.strides[0], g.dh * row * isz, g.dw * N * isz, row * isz, isz),
                              writeable=False)
            np.einsum("cij,cijhl->chl", w[cb], taps, out=out[cb].reshape(n, g.Ho, -1))

    parallel(channels, C, threads_for(out.nbytes))
    return out, xp


def _depthwise_forward_compiled(kern, x: np.ndarray, w: np.ndarray, g: Geometry, pads) -> tuple[np.ndarray, np.ndarray]:
    """The compiled kernel (:mod:`deepgrad.ops.depthwise_numba`): x (N, C, H, W) in any layout,
    w (C, kh, kw) -> ``(out (C, Ho, Wo, N), xc)``, ``xc`` the input as contiguous (C, H, W, N)
    (a view of ``x`` when it is already in that layout, as a conv, BN or ReLU here leaves it;
    else each thread copies its block of channels just before its loops read them)."""
    N, C, H, W = x.shape
    dtype = np.result_type(x.dtype, w.dtype)
    xt = x.transpose(1, 2, 3, 0)
    copy = not (xt.flags.c_contiguous and xt.dtype == dtype)
    xc = np.empty(xt.shape, dtype=dtype) if copy else xt
    w = np.ascontiguousarray(w, dtype=dtype)
    out = np.empty((C, g.Ho, g.Wo, N), dtype=dtype)
    (pt, _), (pl, _) = pads

    def channels(a, b, _worker):
        if copy:
            np.copyto(xc[a:b], xt[a:b])
        kern.forward(xc, w, out, a, b, pt, pl, g.sh, g.sw, g.dh, g.dw)

    parallel(channels, C, threads_for(out.nbytes + (xc.nbytes if copy else 0)))
    return out, xc


def _depthwise_backward_compiled(kern, xc, x_shape, gout: np.ndarray, w: np.ndarray, g: Geometry, pads,
                                 need_x: bool, need_w: bool):
    """Gradients of :func:`_depthwise_forward_compiled`: ``(dx (C, H, W, N) or None, dw (C, kh, kw) or None)``."""
    N, C, H, W = x_shape
    dtype = gout.dtype
    gout = np.ascontiguousarray(gout)
    w = np.ascontiguousarray(w, dtype=dtype)
    none = np.empty((0, 0, 0, 0), dtype=dtype)
    dx = np.empty((C, H, W, N), dtype=dtype) if need_x else none
    dw = np.empty(w.shape, dtype=dtype) if need_w else np.empty((0, 0, 0), dtype=dtype)
    xs = np.ascontiguousarray(xc, dtype=dtype) if need_w else none
    (pt, _), (pl, _) = pads
    parallel(lambda a, b, _k: kern.backward(xs, gout, w, dx, dw, need_x, need_w, a, b, pt, pl, g.sh, g.sw, g.dh, g.dw),
             C, threads_for(gout.nbytes + (dx.nbytes if need_x else 0)))
    return (dx if need_x else None), (dw if need_w else None)


def _depthwise_backward(xp, xp_shape, gout: np.ndarray, w: np.ndarray, g: Geometry, need_x: bool, need_w: bool):
    """Gradients of :func:`_depthwise_forward`: ``(dxp (C, Hp, Wp, N) or None, dw (C, kh, kw) or None)``:
    ``dw[c, ki, kj] = sum(gout[c] * tap(ki, kj)[c])`` and each tap adds ``w[c, ki, kj] * gout[c]`` back
    onto the input pixels it read."""
    C, _, _, N = xp_shape
    dxp = np.zeros(xp_shape, dtype=gout.dtype) if need_x else None
    dw = np.empty((C, g.kh, g.kw), dtype=gout.dtype) if need_w else None
    for cb in _channel_blocks(C, g.Ho * g.Wo * N * gout.itemsize):
        gb = gout[cb]
        tmp = np.empty(gb.shape, dtype=gout.dtype)
        if need_w:
            assert dw is not None  # made above when need_w
            for ki, kj, v in _taps(xp[cb], g):
                np.multiply(gb, v, out=tmp)
                dw[cb, ki, kj] = tmp.reshape(tmp.shape[0], -1).sum(axis=1)
        if need_x:
            assert dxp is not None  # made above when need_x
            for ki, kj, v in _taps(dxp[cb], g):
                np.multiply(gb, w[cb, ki, kj, None, None, None], out=tmp)
                v += tmp  # v is a view into dxp: the gradient lands on the pixels the tap read
    return dxp, dw


def _out_size(size, pad, k, d, s, op, what):
    o = (size + pad - d * (k - 1) - 1) // s + 1
    if o < 1:
        raise ValueError(
            f"{op}: the {what} input of size {size} (padded to {size + pad}) is smaller than the "
            f"dilated kernel {d * (k - 1) + 1}; the output would be empty"
        )
    return o


def check_float(x, weight, op):
    if x.dtype.kind != "f" or weight.dtype.kind != "f":
        raise TypeError(
            f"{op}: input and weight must be floating point, got {x.dtype} input of shape {x.shape} and "
            f"{weight.dtype} weight of shape {weight.shape} (convert images with .astype(np.float32))"
        )


def geometry(x_shape, w_shape, stride, padding, dilation, groups, op):
    if len(x_shape) != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{op}: expected a 4-D weight (C_out, C_in/groups, kh, kw), got shape {tuple(w_shape)}")
    N, C, H, W = x_shape
    Cout, Cg, kh, kw = w_shape
    if groups < 1 or C % groups or Cout % groups:
        raise ValueError(f"{op}: groups={groups} must divide both in_channels={C} and out_channels={Cout}")
    if Cg * groups != C:
        raise ValueError(
            f"{op}: input of shape {tuple(x_shape)} has {C} channels but weight of shape {tuple(w_shape)} "
            f"expects {Cg * groups} (= {Cg} per group x groups={groups})"
        )
    _check_positive(op, stride=stride, dilation=dilation)
    pads = _resolve_padding(padding, (kh, kw), dilation, stride, op)
    Ho = _out_size(H, sum(pads[0]), kh, dilation[0], stride[0], op, "height")
    Wo = _out_size(W, sum(pads[1]), kw, dilation[1], stride[1], op, "width")
    return pads, Geometry(kh, kw, stride[0], stride[1], dilation[0], dilation[1], Ho, Wo)


# ----- conv2d --------------------------------------------------------------------------------------
class Conv2d(Function):
    """Cross-correlation ``out[n, co] = b[co] + sum_{c, ki, kj} W[co, c, ki, kj] x_pad[n, c, i*s + ki*d, j*s + kj*d]``.

    x (N, C, H, W), weight (C_out, C/groups, kh, kw), bias (C_out,) or None ->
    (N, C_out, H_out, W_out) with ``H_out = (H + pt + pb - dh*(kh-1) - 1) // sh + 1``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        check_float(x, weight, "conv2d")
        pads, g = geometry(x.shape, weight.shape, stride, padding, dilation, groups, "conv2d")
        if bias is not None and bias.shape != (weight.shape[0],):
            raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
        w3 = weight.reshape(groups, weight.shape[0] // groups, -1)
        need_w = ctx.needs_input_grad[1]
        ctx.g, ctx.pads, ctx.x_shape = g, pads, x.shape
        ctx.w3, ctx.w_shape = w3, weight.shape
        # depthwise: the backward goes per tap (~1.8x faster than GEMMs) and needs xp, not im2col
        ctx.depthwise = _is_depthwise(groups, x.shape, weight.shape)
        dtype = np.result_type(x.dtype, weight.dtype)
        ctx.kern = depthwise_kernels(dtype=dtype) if ctx.depthwise else None
        ctx.direct = None if ctx.depthwise else small_filter_kernels(weight, groups, dtype, x.shape[0])
        ctx.cols = ctx.xp = ctx.xc = None
        if ctx.kern is not None:  # compiled loops (numba installed): any stride, dilation, padding
            out, xc = _depthwise_forward_compiled(ctx.kern, x, w3.reshape(-1, g.kh, g.kw), g, pads)
            ctx.xc = xc if need_w else None
        elif ctx.direct is not None:  # a small filter bank: compiled direct loops (numba installed)
            out, xp, ctx.w4 = direct_forward(ctx.direct, x, weight, g, pads, dtype)
            ctx.xp_shape = xp.shape
            ctx.xp = keep_or_give(xp, need_w)
        else:
            if ctx.depthwise and g.sh == g.sw == 1:
                (out, xp), cols = _depthwise_forward_s1(x, w3.reshape(-1, g.kh, g.kw), g, pads), None
            else:  # (a depthwise conv's per-channel GEMMs are tiny and never threaded: small chunks suit it)
                xp = chwn_padded(x, pads)
                out, cols = corr_forward(xp, w3, g, keep_cols=need_w and not ctx.depthwise,
                                         chunk=DEPTHWISE_CHUNK_BYTES if ctx.depthwise else None)
            ctx.xp_shape = xp.shape
            ctx.cols = None if cols is None else Lease(cols)
            ctx.xp = keep_or_give(xp, need_w and cols is None)  # the backward rebuilds im2col from xp
        if bias is not None:
            out += bias.reshape(-1, 1, 1, 1)
        return nchw(out)

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        gout = chwn(grad)
        xp = None if ctx.xp is None else ctx.xp.arr
        dx = None
        if ctx.kern is not None:
            dxc, dw = _depthwise_backward_compiled(ctx.kern, ctx.xc, ctx.x_shape, gout, ctx.w3.reshape(-1, ctx.g.kh, ctx.g.kw),
                                                   ctx.g, ctx.pads, nx, nw)
            dx = None if dxc is None else nchw(dxc)
        elif ctx.direct is not None:
            d = np.ascontiguousarray(gout, dtype=ctx.w4.dtype)
            dx, dw = direct_grads(ctx.direct, xp, d, ctx.w4, ctx.g, ctx.xp_shape, ctx.pads, ctx.x_shape, nx, nw)
        else:
            direct = False
            if ctx.depthwise:
                dxp, dw = _depthwise_backward(xp, ctx.xp_shape, gout, ctx.w3.reshape(-1, ctx.g.kh, ctx.g.kw), ctx.g, nx, nw)
            else:
                cols = None if ctx.cols is None else ctx.cols.arr
                direct = nx and direct_input_grad_ok(ctx.g, ctx.pads, ctx.x_shape)
                dxp, dw = corr_backward(xp, cols, ctx.xp_shape, gout, ctx.w3, ctx.g, nx and not direct, nw)
            if direct:
                dx = nchw(input_grad_direct(gout, ctx.w3, ctx.g, ctx.pads, ctx.x_shape))
            elif nx:
                dx = unpad(dxp, ctx.pads, ctx.x_shape)
        dw = None if dw is None else dw.reshape(ctx.w_shape)
        db = gout.reshape(gout.shape[0], -1).sum(axis=1) if nb else None
        return dx, dw, db, None, None, None, None


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (PyTorch's ``F.conv2d``): input (N, C, H, W), weight (C_out, C/groups, kh, kw).

    ``padding`` is an int, a pair, ``'same'`` (stride 1 only) or ``'valid'``;
    ``groups=C`` with ``C_out = k*C`` is a depthwise convolution.
    """
    return Conv2d.apply(
        input, weight, bias, to_tuple(stride, 2, "stride", "conv2d"), padding, to_tuple(dilation, 2, "dilation", "conv2d"), int(groups)
    )


# ----- conv1d (a conv2d over a height-1 image) -------------------------------------------------------
class Conv1d(Function):
    """x (N, C, L), weight (C_out, C/groups, k), bias (C_out,) -> (N, C_out, L_out)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        if x.ndim != 3 or weight.ndim != 3:
            raise ValueError(
                f"conv1d: expected input (N, C, L) and weight (C_out, C_in/groups, k), got shapes {x.shape} and {weight.shape}"
            )
        pad2 = padding if isinstance(padding, str) else (0, padding)
        out = Conv2d.forward(ctx, x[:, :, None, :], weight[:, :, None, :], bias, (1, stride), pad2, (1, dilation), groups)
        return out[:, :, 0, :]

    @staticmethod
    def backward(ctx, grad):
        dx, dw, db = Conv2d.backward(ctx, grad[:, :, None, :])[:3]
        return (
            None if dx is None else dx[:, :, 0, :],
            None if dw is None else dw[:, :, 0, :],
            db, None, None, None, None,
        )


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (PyTorch's ``F.conv1d``): input (N, C, L), weight (C_out, C/groups, k)."""
    if not isinstance(padding, str):
        padding = to_tuple(padding, 1, "padding", "conv1d")[0]
    return Conv1d.apply(
        input, weight, bias, to_tuple(stride, 1, "stride", "conv1d")[0], padding, to_tuple(dilation, 1, "dilation", "conv1d")[0], int(groups)
    )


# ----- conv_transpose2d -------------------------------------------------------------------------------
class ConvTranspose2d(Function):
    """The gradient of conv2d with respect to its input, used as a layer (upsampling).

    x (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw), bias (C_out,) ->
    (N, C_out, H_out, W_out), ``H_out = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding_h + 1``.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, dilation, groups):
        op = "conv_transpose2d"
        check_float(x, weight, op)
        if x.ndim != 4 or weight.ndim != 4:
            raise ValueError(f"{op}: expected 4-D input and weight, got shapes {x.shape} and {weight.shape}")
        N, Cin, H, W = x.shape
        wc, Og, kh, kw = weight.shape
        if wc != Cin:
            raise ValueError(f"{op}: input of shape {x.shape} has {Cin} channels but weight of shape {weight.shape} expects {wc}")
        if groups < 1 or Cin % groups:
            raise ValueError(f"{op}: groups={groups} must divide in_channels={Cin}")
        _check_positive(op, stride=stride, dilation=dilation)
        (ph, pw), (oph, opw) = padding, output_padding
        if not (0 <= oph < max(stride[0], dilation[0]) and 0 <= opw < max(stride[1], dilation[1])):
            raise ValueError(f"{op}: output_padding {output_padding} must be smaller than stride {stride} or dilation {dilation}")
        Cout = Og * groups
        Ho = (H - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
        Wo = (W - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(f"{op}: input of shape {x.shape} gives an empty output ({Ho}x{Wo})")
        if bias is not None and bias.shape != (Cout,):
            raise ValueError(f"{op}: bias must have shape ({Cout},), got {bias.shape}")
        # As a convolution: input y (N, Cout, Ho, Wo) padded by p, output x, weight (Cin, Cout/g, kh, kw).
        g = Geometry(kh, kw, stride[0], stride[1], dilation[0], dilation[1], H, W)
        yp_shape = (Cout, Ho + 2 * ph, Wo + 2 * pw, N)
        w3 = weight.reshape(groups, Cin // groups, -1)
        xc = chwn(x)
        dyp, _ = corr_backward(None, None, yp_shape, xc, w3, g, True, False)
        out = dyp[:, ph : ph + Ho, pw : pw + Wo]
        if bias is not None:
            out += bias.reshape(-1, 1, 1, 1)
        ctx.g, ctx.w3, ctx.w_shape, ctx.pads = g, w3, weight.shape, ((ph, ph), (pw, pw))
        ctx.xc = xc if ctx.needs_input_grad[1] else None
        return nchw(out)

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        gp = chwn_padded(grad, ctx.pads)
        dx = dw = db = None
        out, cols = corr_forward(gp, ctx.w3, ctx.g, keep_cols=nw)
        if nx:
            dx = nchw(out)
        if nw:
            _, dw3 = corr_backward(gp, cols, gp.shape, ctx.xc, ctx.w3, ctx.g, False, True)
            dw = dw3.reshape(ctx.w_shape)
        give(cols)
        give(gp)
        if nb:
            db = grad.sum(axis=(0, 2, 3))
        return dx, dw, db, None, None, None, None, None


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution (PyTorch's ``F.conv_transpose2d``; note its argument order:
    ``groups`` before ``dilation``). input (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw)."""
    op = "conv_transpose2d"
    return ConvTranspose2d.apply(
        input, weight, bias, to_tuple(stride, 2, "stride", op), to_tuple(padding, 2, "padding", op),
        to_tuple(output_padding, 2, "output_padding", op), to_tuple(dilation, 2, "dilation", op), int(groups),
    )
