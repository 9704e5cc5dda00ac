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
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..autograd import Function
from ._util import to_tuple
from .conv import check_float, corr_backward, direct_input_grad_ok, gemm, geometry, input_grad_direct
from .im2col import Lease, chwn, chwn_padded, fits_budget, give, keep_or_give, nchw, row_chunk, take, unpad
from .pool import first_max_hits


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
        xp = chwn_padded(x, pads)
        C, _, _, N = xp.shape
        Cout = weight.shape[0]
        G, Og = groups, Cout // groups
        w3 = weight.reshape(G, Og, -1)
        K = w3.shape[2]
        Lq = Hq * Wq * N
        res = np.empty((Cout, p * p, Hq, Wq, N), dtype=np.result_type(x.dtype, weight.dtype))
        row_bytes = C * g.kh * g.kw * p * p * Wq * N * x.itemsize
        rows = row_chunk(row_bytes, Hq)
        need_w = ctx.needs_input_grad[1]
        kept = None
        for q0 in range(0, Hq, rows):
            q1 = min(Hq, q0 + rows)
            cols = _im2col_pooled(xp, g, p, Hq, Wq, q0, q1)
            r = gemm(w3, cols.reshape(G, K, -1)).reshape(Cout, p * p, q1 - q0, Wq, N)
            if rows >= Hq:
                res = r
                if need_w and fits_budget(row_bytes, Hq):
                    kept = cols
            else:
                res[:, :, q0:q1] = r
            if kept is None:
                give(cols)
        res = res.reshape(Cout, p * p, Lq)
        mx = res[:, 0].copy()
        for k in range(1, p * p):
            np.maximum(mx, res[:, k], out=mx)
        out = mx + bias[:, None] if bias is not None else mx.copy()
        np.maximum(out, 0, out=out)
        ctx.g, ctx.p, ctx.pads, ctx.x_shape, ctx.xp_shape, ctx.q = g, p, pads, x.shape, xp.shape, (Hq, Wq, rows)
        ctx.w3, ctx.w_shape, ctx.res, ctx.mx, ctx.out = w3, weight.shape, res, mx, out
        ctx.cols = None if kept is None else Lease(kept)
        ctx.xp = keep_or_give(xp, need_w and kept is None)  # the backward rebuilds im2col from xp
        return nchw(out.reshape(Cout, Hq, Wq, N))

    @staticmethod
    def backward(ctx, grad):
        nx, nw, nb = ctx.needs_input_grad[:3]
        g, p, (Hq, Wq, rows) = ctx.g, ctx.p, ctx.q
        res, mx, out, w3 = ctx.res, ctx.mx, ctx.out, ctx.w3
        Cout = res.shape[0]
        G, Og, K = w3.shape
        C, _, _, N = ctx.xp_shape
        d = chwn(grad).reshape(Cout, -1)
        d = d * (out > 0)  # through the ReLU
        db = d.sum(axis=1) if nb else None
        # through the pool: the first position of each window that holds the maximum
        gout = np.empty(res.shape, dtype=d.dtype)
        for k, hit in enumerate(first_max_hits([res[:, k] for k in range(p * p)], mx)):
            np.multiply(d, hit, out=gout[:, k])
        gout = gout.reshape(Cout, p * p, Hq, Wq, N)
        dw3 = None
        kept = None if ctx.cols is None else ctx.cols.arr
        if nw:
            for q0 in range(0, Hq, rows):
                q1 = min(Hq, q0 + rows)
                g3 = gout[:, :, q0:q1]
                g3 = (g3 if rows >= Hq else np.ascontiguousarray(g3)).reshape(G, Og, -1)
                c = kept if kept is not None else _im2col_pooled(ctx.xp.arr, g, p, Hq, Wq, q0, q1)
                part = gemm(c.reshape(G, K, -1), g3.transpose(0, 2, 1))
                dw3 = part if dw3 is None else dw3 + part
                if kept is None:
                    give(c)
        dx = dw = None
        if nx:
            # back to plain (Cout, Ho', Wo', N) order; then dx exactly as for conv2d
            g_std = np.ascontiguousarray(
                gout.reshape(Cout, p, p, Hq, Wq, N).transpose(0, 3, 1, 4, 2, 5)).reshape(Cout, Hq * p, Wq * p, N)
            gs = g._replace(Ho=Hq * p, Wo=Wq * p)
            if direct_input_grad_ok(gs, ctx.pads, ctx.x_shape):
                dx = nchw(input_grad_direct(g_std, w3, gs, ctx.pads, ctx.x_shape))
            else:
                dxp, _ = corr_backward(None, None, ctx.xp_shape, g_std, w3, gs, True, False)
                dx = unpad(dxp, ctx.pads, ctx.x_shape)
        if nw:
            dw = dw3.transpose(0, 2, 1).reshape(ctx.w_shape)
        return dx, dw, db, None, None, None, None, None


def conv2d_relu_max_pool2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, pool=2):
    """``max_pool2d(relu(conv2d(input, weight, bias, stride, padding, dilation, groups)), pool)`` as one op."""
    op = "conv2d_relu_max_pool2d"
    if int(pool) < 1:
        raise ValueError(f"{op}: pool must be a positive int, got {pool}")
    return Conv2dReLUMaxPool2d.apply(
        input, weight, bias, to_tuple(stride, 2, "stride", op), padding, to_tuple(dilation, 2, "dilation", op), int(groups), int(pool)
    )
