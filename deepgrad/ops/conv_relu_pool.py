"""Fused ``max_pool2d(relu(conv2d(x, W, b)), p)``: the LeNet/VGG "conv -> ReLU -> pool" stage as one op.

Same values and gradients as the three ops in a row (ties in the pool go to the first
maximum, as in PyTorch), computed with less memory traffic:

* Max-pooling commutes with adding a per-channel bias and with ReLU (both are
  monotone), so ``pool(relu(conv + b)) = relu(pool(conv) + b)``: bias and ReLU touch
  only the p*p times smaller pooled output.
* The im2col columns are ordered ``(pi, pj, i', j', n)`` (pool offset first, where the
  conv output row is ``i = p*i' + pi``), so the GEMM's output comes out as p*p
  contiguous blocks, one per position in the pooling window, and the pool is an
  elementwise maximum over those blocks.

(Ties are decided on the values before the bias is added; they can differ from the
unfused ops only where adding the bias rounds two different float values to the same one.)

Only non-overlapping pooling (kernel = stride = p, no padding, floor mode) is fused;
conv output rows/columns that floor-mode pooling would drop are not computed at all.

With numba installed, small stages (LeNet's) run as compiled loops instead
(:mod:`deepgrad.ops.conv_numba`, up to :data:`~deepgrad.ops.conv.COMPILED_MAX_WEIGHTS` weights): the same
values and gradients, without im2col, from a one-byte record per pooled output of where
its maximum was.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ._util import to_tuple
from .conv import (
    check_float,
    corr_backward,
    direct_grads,
    direct_input_grad_ok,
    direct_operands,
    gemm,
    geometry,
    input_grad_direct,
    small_filter_kernels,
)
from .im2col import Lease, chwn, chwn_padded, fits_budget, give, keep_or_give, nchw, row_chunk, take, unpad
from .pool import first_max_hits
from .threads import parallel, run_slices, split, threads_for


def _im2col_pooled(xp, g, p, Hq, Wq, q0, q1):
    """Columns for pooled rows [q0, q1): (C*kh*kw, p*p*(q1-q0)*Wq*N), ordered (pi, pj, i', j', n)."""
    C, _, _, N = xp.shape
    s0, s1, s2, s3 = xp.strides
    base = xp[:, q0 * p * g.sh :]
    shape = (C, g.kh, g.kw, p, p, q1 - q0, Wq, N)
    view = as_strided(
        base, shape=shape,
        strides=(s0, g.dh * s1, g.dw * s2, g.sh * s1, g.sw * s2, p * g.sh * s1, p * g.sw * s2, s3),
        writeable=False,
    )
    cols = take((C * g.kh * g.kw, p * p * (q1 - q0) * Wq * N), xp.dtype)
    np.copyto(cols.reshape(shape), view)
    return cols


class Conv2dReLUMaxPool2d(Function):
    """x (N, C, H, W), weight (C_out, C/groups, kh, kw), bias (C_out,) or None ->
    (N, C_out, Ho // p, Wo // p) = max_pool2d(relu(conv2d(x, weight, bias, ...)), p)."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, p):
        check_float(x, weight, "conv2d_relu_max_pool2d")
        pads, g = geometry(x.shape, weight.shape, stride, padding, dilation, groups, "conv2d_relu_max_pool2d")
        Hq, Wq = g.Ho // p, g.Wo // p
        if Hq < 1 or Wq < 1:
            raise ValueError(f"conv2d_relu_max_pool2d: conv output {g.Ho}x{g.Wo} is smaller than the pooling window {p}")
        dtype = np.result_type(x.dtype, weight.dtype)
        ctx.kern = small_filter_kernels(weight, groups, dtype, x.shape[0])
        if ctx.kern is not None:  # compiled loops (numba installed), for small filter banks
            return _forward_compiled(ctx, x, weight, bias, g, pads, p, Hq, Wq, dtype)
        xp = chwn_padded(x, pads)
        C, _, _, N = xp.shape
        Cout = weight.shape[0]
        G, Og = groups, Cout // groups
        w3 = weight.reshape(G, Og, -1)
        K = w3.shape[2]
        Lq = Hq * Wq * N
        row_bytes = C * g.kh * g.kw * p * p * Wq * N * x.itemsize
        rows = row_chunk(row_bytes, Hq)
        need_w = ctx.needs_input_grad[1]
        keep = need_w and fits_budget(row_bytes, Hq)  # keep every chunk's columns for the backward
        # pooled rows are split over threads; within its slice each thread goes chunk by chunk,
        # and pools, adds the bias and applies the ReLU to a chunk while it is still in cache
        slices = split(Hq, threads_for(row_bytes * Hq))
        res = np.empty((Cout, p * p, Lq), dtype=dtype)  # conv outputs, grouped by position in the window
        mx = np.empty((Cout, Lq), dtype=dtype)  # their maximum over each window
        out = np.empty((Cout, Lq), dtype=dtype)
        kept: dict = {}

        def rows_of(a, b, _worker):
            step = (b - a) if keep else rows
            for q0 in range(a, b, step):
                q1 = min(b, q0 + step)
                cols = _im2col_pooled(xp, g, p, Hq, Wq, q0, q1)
                res[:, :, q0 * Wq * N : q1 * Wq * N] = gemm(w3, cols.reshape(G, K, -1)).reshape(Cout, p * p, -1)
                if keep:
                    kept[q0] = cols
                else:
                    give(cols)
            # then this thread's rows: the pool (max over the window), the bias, the ReLU
            lo, hi = a * Wq * N, b * Wq * N
            r, m, o = res[:, :, lo:hi], mx[:, lo:hi], out[:, lo:hi]
            np.copyto(m, r[:, 0])
            for k in range(1, p * p):
                np.maximum(m, r[:, k], out=m)
            if bias is not None:
                np.add(m, bias[:, None], out=o)
            else:
                np.copyto(o, m)
            np.maximum(o, 0, out=o)

        run_slices(rows_of, slices)
        ctx.g, ctx.p, ctx.pads, ctx.x_shape, ctx.xp_shape, ctx.q = g, p, pads, x.shape, xp.shape, (Hq, Wq, rows)
        ctx.w3, ctx.w_shape, ctx.res, ctx.mx, ctx.out, ctx.slices = w3, weight.shape, res, mx, out, slices
        ctx.cols = {q0: Lease(c) for q0, c in kept.items()} if keep else None
        ctx.xp = keep_or_give(xp, need_w and not keep)  # the backward rebuilds im2col from xp
        return nchw(out.reshape(Cout, Hq, Wq, N))

    @staticmethod
    def backward(ctx, grad):
        if ctx.kern is not None:
            return _backward_compiled(ctx, grad)
        nx, nw, nb = ctx.needs_input_grad[:3]
        g, p, (Hq, Wq, rows) = ctx.g, ctx.p, ctx.q
        res, mx, out, w3 = ctx.res, ctx.mx, ctx.out, ctx.w3
        Cout = res.shape[0]
        G, Og, K = w3.shape
        C, _, _, N = ctx.xp_shape
        dgrid = chwn(grad).reshape(Cout, -1)
        kept = ctx.cols
        # the gradient of the conv output in plain (Cout, Ho', Wo', N) order, for dx
        g_std = np.empty((Cout, Hq * p, Wq * p, N), dtype=dgrid.dtype) if nx else None

        def rows_of(a, b, _worker):
            """The forward's slices and chunks: back through the ReLU and the pool for this
            thread's rows, then its part of dW and of the bias gradient."""
            lo, hi = a * Wq * N, b * Wq * N
            d = dgrid[:, lo:hi] * (out[:, lo:hi] > 0)  # through the ReLU
            db = d.sum(axis=1) if nb else None
            # through the pool: the first position of each window that holds the maximum
            g3 = np.empty((Cout, p * p, hi - lo), dtype=d.dtype)
            for k, hit in enumerate(first_max_hits([res[:, k, lo:hi] for k in range(p * p)], mx[:, lo:hi])):
                np.multiply(d, hit, out=g3[:, k])
            if g_std is not None:
                g_std[:, a * p : b * p] = g3.reshape(Cout, p, p, b - a, Wq, N).transpose(0, 3, 1, 4, 2, 5) \
                    .reshape(Cout, (b - a) * p, Wq * p, N)
            dw = None
            if nw:
                step = (b - a) if kept is not None else rows
                g5 = g3.reshape(Cout, p * p, b - a, Wq * N)
                for q0 in range(a, b, step):
                    q1 = min(b, q0 + step)
                    gq = g3 if q1 - q0 == b - a else np.ascontiguousarray(g5[:, :, q0 - a : q1 - a])
                    c = kept[q0].arr if kept is not None else _im2col_pooled(ctx.xp.arr, g, p, Hq, Wq, q0, q1)
                    part = gemm(c.reshape(G, K, -1), gq.reshape(G, Og, -1).transpose(0, 2, 1))
                    dw = part if dw is None else dw + part
                    if kept is None:
                        give(c)
            return dw, db

        dw3 = db = None
        for dw_k, db_k in run_slices(rows_of, ctx.slices):
            if dw_k is not None:
                dw3 = dw_k if dw3 is None else dw3 + dw_k
            if db_k is not None:
                db = db_k if db is None else db + db_k
        dx = dw = None
        if nx:
            gs = g._replace(Ho=Hq * p, Wo=Wq * p)  # then dx exactly as for conv2d
            if direct_input_grad_ok(gs, ctx.pads, ctx.x_shape):
                dx = nchw(input_grad_direct(g_std, w3, gs, ctx.pads, ctx.x_shape))
            else:
                dxp, _ = corr_backward(None, None, ctx.xp_shape, g_std, w3, gs, True, False)
                dx = unpad(dxp, ctx.pads, ctx.x_shape)
        if nw:
            dw = dw3.transpose(0, 2, 1).reshape(ctx.w_shape)
        return dx, dw, db, None, None, None, None, None


# ----- the same op as compiled loops (deepgrad/ops/conv_numba.py), when numba is installed -----
def _forward_compiled(ctx, x, weight, bias, g, pads, p, Hq, Wq, dtype):
    """Direct loops instead of im2col and GEMMs: threads split the output channels; the
    backward keeps the padded input (for dW) and, per pooled output, which position of its
    window was the maximum (one byte; 255 where the ReLU is closed)."""
    kern = ctx.kern
    xp, w = direct_operands(x, weight, pads, dtype)
    C, _, _, N = xp.shape
    Cout = w.shape[0]
    b = np.zeros(Cout, dtype=dtype) if bias is None else np.ascontiguousarray(bias, dtype=dtype)
    out = np.empty((Cout, Hq, Wq, N), dtype=dtype)
    arg = np.empty((Cout, Hq, Wq, N), dtype=np.uint8)
    macs = out.size * p * p * C * g.kh * g.kw
    parallel(lambda a, c, _k: kern.forward(xp, w, b, out, arg, a, c, p, g.sh, g.sw, g.dh, g.dw), Cout, threads_for(macs))
    ctx.g, ctx.p, ctx.pads, ctx.x_shape, ctx.xp_shape, ctx.w, ctx.arg = g, p, pads, x.shape, xp.shape, w, arg
    ctx.xp = keep_or_give(xp, ctx.needs_input_grad[1])
    return nchw(out)


def _backward_compiled(ctx, grad):
    nx, nw, nb = ctx.needs_input_grad[:3]
    kern, g, p, w, arg = ctx.kern, ctx.g, ctx.p, ctx.w, ctx.arg
    Cout, Hq, Wq, N = arg.shape
    gq = np.ascontiguousarray(chwn(grad), dtype=w.dtype)
    d = np.empty((Cout, Hq * p, Wq * p, N), dtype=w.dtype)  # the gradient of the conv outputs
    db = np.empty(Cout, dtype=np.float64)
    kern.route(gq, arg, d, db, 0, Cout, p)  # (cheap: one pass over the output gradient)
    dx, dwt = direct_grads(kern, ctx.xp.arr if nw else None, d, w, g, ctx.xp_shape, ctx.pads, ctx.x_shape, nx, nw)
    return dx, (dwt if nw else None), (db.astype(w.dtype) if nb else None), None, None, None, None, None


def conv2d_relu_max_pool2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, pool=2):
    """``max_pool2d(relu(conv2d(input, weight, bias, stride, padding, dilation, groups)), pool)`` as one op."""
    op = "conv2d_relu_max_pool2d"
    if int(pool) < 1:
        raise ValueError(f"{op}: pool must be a positive int, got {pool}")
    return Conv2dReLUMaxPool2d.apply(
        input, weight, bias, to_tuple(stride, 2, "stride", op), padding, to_tuple(dilation, 2, "dilation", op), int(groups), int(pool)
    )
