"""Recurrent layers as fused ops (course 5, week 1): Elman RNN, GRU and LSTM over a whole
sequence, forward and backpropagation through time written by hand.

One op runs one layer in one direction over all T time steps:

* the input projection ``x_t @ W_ih.T + b`` of every time step is a single GEMM before
  the loop, (T*N, I) @ (I, G*H);
* each step does one GEMM for all gates, ``h_{t-1} @ W_hh.T`` (N, H) @ (H, G*H), and a few
  in-place NumPy calls on (N, G*H) buffers allocated once;
* backpropagation through time walks the steps backwards with one GEMM per step
  (``dgates_t @ W_hh``), and the weight gradients are three GEMMs over all steps at
  the end, ``dW_ih = dG.T @ X``, ``dW_hh = dG.T @ H_prev``, ``dx = dG @ W_ih``.

Equations (PyTorch's, so state dicts move unchanged; gate order LSTM i, f, g, o and
GRU r, z, n)::

    RNN   h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          (or relu)
    LSTM  i, f, g, o = s(.), s(.), tanh(.), s(.)  of  W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
          c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)
    GRU   r, z = s(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
          n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn)),   h_t = (1 - z) * n + z * h_{t-1}

The sigmoids are computed as ``s(u) = 0.5 + 0.5 tanh(u / 2)`` with the halving folded
into copies of the weights (a multiplication by 0.5 is exact in binary floating point),
so one ``tanh`` call covers all gates of a step.

Variable-length batches: with ``lengths`` (N,) the batch is sorted by length once
(longest first), so that at step t exactly the first ``batch_sizes[t]`` rows are still
running (PyTorch's packed-sequence layout). Finished rows are never touched again:
their final state is the state after their last real step, padded outputs are zero, and
no gradient flows through padding. The reverse direction reads each sequence backwards
from its own last element.

The op returns one array of shape (T + k, N, H): rows [0, T) are the outputs h_t, row T
is h_n and (LSTM) row T+1 is c_n; :func:`rnn_layer` splits it into tensors. The cell ops
(:func:`rnn_cell`, :func:`gru_cell`, :func:`lstm_cell`) are the same code with T = 1.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def num_gates(mode: str) -> int:
    if mode not in _GATES:
        raise ValueError(f"recurrent: mode must be one of {MODES}, got {mode!r}")
    return _GATES[mode]


def _gate_scale(mode: str, H: int, dtype):
    """Per-row factor of the weights: 0.5 on sigmoid gates (tanh(u/2) trick), else 1."""
    if mode == "lstm":
        s = np.full(4 * H, 0.5, dtype)
        s[2 * H:3 * H] = 1  # g is a tanh
        return s
    if mode == "gru":
        s = np.full(3 * H, 0.5, dtype)
        s[2 * H:] = 1  # n is a tanh
        return s
    return None


class _Plan:
    """The order in which the batch is processed.

    Without lengths: every row runs every step; the loop goes forward or backward in
    time. With lengths: the rows are sorted by length (longest first) and, for the
    reverse direction, each sequence is read back to front within its own length; the
    loop then always runs forward over this reordered batch, with ``batch_sizes[s]``
    rows active at step s.
    """

    def __init__(self, T: int, N: int, lengths, reverse: bool):
        self.T, self.N, self.reverse = T, N, bool(reverse)
        if lengths is None:
            self.packed = False
            self.batch_sizes = None
            return
        L = np.asarray(getattr(lengths, "data", lengths))
        if L.dtype.kind not in "iu" or L.shape != (N,):
            raise ValueError(f"recurrent: lengths must be {N} integers (one per sequence), got {L.dtype} {L.shape}")
        if N and (L.min() < 1 or L.max() > T):
            raise ValueError(f"recurrent: lengths must lie in [1, {T}] (the padded length), got {L.min()}..{L.max()}")
        self.packed = True
        perm = np.argsort(-L, kind="stable")
        Ls = L[perm].astype(np.int64)
        s = np.arange(T)[:, None]
        self.perm, self.Ls = perm, Ls
        self.batch_sizes = (Ls[None, :] > s).sum(axis=1)
        # tidx[s, j]: the time step of (sorted) sequence j processed at step s
        if self.reverse:
            self.tidx: np.ndarray | None = np.where(s < Ls[None, :], Ls[None, :] - 1 - s, s)
        else:
            self.tidx = None

    def gather(self, a):
        """(T, N, ...) in natural order -> processing order (a contiguous copy)."""
        if self.tidx is None:
            return np.ascontiguousarray(a[:, self.perm])
        return a[self.tidx, self.perm[None, :]]

    def scatter(self, dst, src):
        """Inverse of ``gather``: ``dst`` (natural order) receives ``src`` (processing order)."""
        if self.tidx is None:
            dst[:, self.perm] = src
        else:
            dst[self.tidx, self.perm[None, :]] = src


def _check_inputs(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode):
    G = num_gates(mode)
    if x.ndim != 3:
        raise ValueError(f"recurrent ({mode}): input must be (T, N, input_size), got shape {x.shape}")
    if w_ih.ndim != 2 or w_hh.ndim != 2 or w_hh.shape[0] != G * w_hh.shape[1] or w_ih.shape[0] != w_hh.shape[0]:
        raise ValueError(
            f"recurrent ({mode}): weights must be w_ih ({G}*H, I) and w_hh ({G}*H, H), "
            f"got {w_ih.shape} and {w_hh.shape}"
        )
    T, N, I = x.shape
    H = w_hh.shape[1]
    if w_ih.shape[1] != I:
        raise ValueError(f"recurrent ({mode}): input size {I} does not match w_ih of shape {w_ih.shape}")
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None and b.shape != (G * H,):
            raise ValueError(f"recurrent ({mode}): {name} must have shape ({G * H},), got {b.shape}")
    for name, s in (("h0", h0), ("c0", c0)):
        if s is not None and s.shape != (N, H):
            raise ValueError(f"recurrent ({mode}): {name} must have shape ({N}, {H}), got {s.shape}")
    if c0 is not None and mode != "lstm":
        raise ValueError(f"recurrent ({mode}): only the LSTM has a cell state c0")
    dt = x.dtype
    for name, a in (("w_ih", w_ih), ("w_hh", w_hh), ("b_ih", b_ih), ("b_hh", b_hh), ("h0", h0), ("c0", c0)):
        if a is not None and a.dtype != dt:
            raise TypeError(f"recurrent ({mode}): {name} is {a.dtype} but the input is {dt}; use one float dtype")
    if dt.kind != "f":
        raise TypeError(f"recurrent ({mode}): input must be floating point, got {dt}")
    return T, N, I, H, G


class Recurrent(Function):
    """One recurrent layer, one direction, all time steps (see the module docstring).

    Positional inputs: x (T, N, I), h0 (N, H) or None, c0 (N, H) or None (LSTM only),
    w_ih (G*H, I), w_hh (G*H, H), b_ih (G*H,) or None, b_hh (G*H,) or None.
    Keyword options: ``mode`` (rnn_tanh, rnn_relu, lstm, gru), ``lengths`` (N,) ints
    or None, ``reverse`` (process time backwards). Output: (T + k, N, H), k = 2 for the
    LSTM (h_n, c_n) and 1 otherwise (h_n).
    """

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode="lstm", lengths=None, reverse=False):
        T, N, I, H, G = _check_inputs(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode)
        dt = x.dtype
        plan = _Plan(T, N, lengths, reverse)
        lstm = mode == "lstm"
        k = 2 if lstm else 1
        backwards = plan.reverse and not plan.packed  # loop direction in time
        order = range(T - 1, -1, -1) if backwards else range(T)
        off_prev, off_cur = (1, 0) if backwards else (0, 1)

        # ---- input projection for all steps: one GEMM -------------------------------
        xs = plan.gather(x) if plan.packed else np.ascontiguousarray(x)
        scale = _gate_scale(mode, H, dt)
        w_ih_s = w_ih if scale is None else w_ih * scale[:, None]
        w_hh_s = w_hh if scale is None else w_hh * scale[:, None]
        A = (xs.reshape(T * N, I) @ w_ih_s.T).reshape(T, N, G * H)
        bias = None
        if b_ih is not None or b_hh is not None:
            bias = np.zeros(G * H, dt)
            if b_ih is not None:
                bias += b_ih
            if b_hh is not None:
                if mode == "gru":
                    bias[:2 * H] += b_hh[:2 * H]  # b_hn stays inside r * (W_hn h + b_hn)
                else:
                    bias += b_hh
            if scale is not None:
                bias *= scale
            A += bias

        # ---- state buffers: S[t + off_prev] is the state before step t -------------
        fast = not plan.packed and not plan.reverse
        if fast:  # outputs, h_n and c_n are written straight into the returned array
            P = np.empty((T + 1 + k, N, H), dt)
            S = P[:T + 1]
        else:
            P = None
            S = (np.zeros if plan.packed else np.empty)((T + 1, N, H), dt)
        start = T if backwards else 0
        h0s = None if h0 is None else (h0[plan.perm] if plan.packed else h0)
        if h0s is None:
            S[start] = 0
        else:
            S[start] = h0s
        C = TC = HH = None
        if lstm:
            C = (np.zeros if plan.packed else np.empty)((T + 1, N, H), dt)
            c0s = None if c0 is None else (c0[plan.perm] if plan.packed else c0)
            C[start] = 0 if c0s is None else c0s
            TC = (np.zeros if plan.packed else np.empty)((T, N, H), dt)
        if mode == "gru":
            HH = (np.zeros if plan.packed else np.empty)((T, N, 3 * H), dt)
        if plan.packed:
            A[np.arange(T)[:, None] >= plan.Ls[None, :]] = 0  # padding rows stay finite zeros

        w_hh_sT = np.ascontiguousarray(w_hh_s.T)  # a transposed view makes each small GEMM ~1.5x slower
        need_grad = is_grad_enabled() and any(ctx.needs_input_grad)
        D = P1 = None
        if lstm and need_grad:
            # backward factors, computed while a step's gates are in cache (one streaming
            # pass over (T, N, 4H) arrays after the loop costs more than the whole loop)
            D = (np.zeros if plan.packed else np.empty)((T, N, 4 * H), dt)
            P1 = (np.zeros if plan.packed else np.empty)((T, N, H), dt)
        bs = plan.batch_sizes
        tmp = np.empty((N, G * H), dt)
        tmp2 = np.empty((N, H), dt)
        b_hn = None if (mode != "gru" or b_hh is None) else b_hh[2 * H:]
        H2, H3 = 2 * H, 3 * H
        for t in order:
            b = N if bs is None else int(bs[t])
            a = A[t, :b]
            hp = S[t + off_prev, :b]
            hn_out = S[t + off_cur, :b]
            if mode == "lstm":
                g_ = tmp[:b]
                np.matmul(hp, w_hh_sT, out=g_)
                a += g_
                np.tanh(a, out=a)
                sg = a[:, :H2]
                sg *= 0.5
                sg += 0.5
                sg = a[:, H3:]
                sg *= 0.5
                sg += 0.5
                cn = C[t + off_cur, :b]
                np.multiply(a[:, H:H2], C[t + off_prev, :b], out=cn)
                ig = tmp2[:b]
                np.multiply(a[:, :H], a[:, H2:H3], out=ig)
                cn += ig
                tc = TC[t, :b]
                np.tanh(cn, out=tc)
                np.multiply(a[:, H3:], tc, out=hn_out)
                if D is not None:
                    # dL/dgates = [dc * D_i, dc * D_f, dc * D_g, dh * D_o]; dc += dh * P1
                    d = D[t, :b]
                    np.subtract(1, a, out=d)
                    d *= a  # s (1 - s) for i, f, o (the g block is overwritten below)
                    d[:, :H] *= a[:, H2:H3]  # g * i (1 - i)
                    d[:, H:H2] *= C[t + off_prev, :b]  # c_{t-1} * f (1 - f)
                    d[:, H3:] *= tc  # tanh(c) * o (1 - o)
                    dg_ = d[:, H2:H3]
                    np.multiply(a[:, H2:H3], a[:, H2:H3], out=dg_)
                    np.subtract(1, dg_, out=dg_)
                    dg_ *= a[:, :H]  # i (1 - g^2)
                    p = P1[t, :b]
                    np.multiply(tc, tc, out=p)
                    np.subtract(1, p, out=p)
                    p *= a[:, H3:]  # o (1 - tanh(c)^2)
            elif mode == "gru":
                hh = HH[t, :b]
                np.matmul(hp, w_hh_sT, out=hh)
                rz = a[:, :H2]
                rz += hh[:, :H2]
                np.tanh(rz, out=rz)
                rz *= 0.5
                rz += 0.5
                hn = hh[:, H2:]
                if b_hn is not None:
                    hn += b_hn
                n = a[:, H2:]
                rh = tmp2[:b]
                np.multiply(a[:, :H], hn, out=rh)
                n += rh
                np.tanh(n, out=n)
                np.subtract(hp, n, out=hn_out)
                hn_out *= a[:, H:H2]
                hn_out += n
            else:
                g_ = tmp[:b]
                np.matmul(hp, w_hh_sT, out=g_)
                a += g_
                if mode == "rnn_tanh":
                    np.tanh(a, out=hn_out)
                else:
                    np.maximum(a, 0, out=hn_out)
            if b < N:
                S[t + off_cur, b:] = 0
                if lstm:
                    C[t + off_cur, b:] = 0

        # ---- assemble (outputs; h_n; c_n) --------------------------------------------
        if fast:
            P[T + 1] = S[T]
            if lstm:
                P[T + 2] = C[T]
            out = P[1:]
        else:
            out = np.empty((T + k, N, H), dt)
            if plan.packed:
                plan.scatter(out[:T], S[1:])
                cols = np.arange(N)
                out[T][plan.perm] = S[plan.Ls, cols]
                if lstm:
                    out[T + 1][plan.perm] = C[plan.Ls, cols]
            else:  # reverse without lengths: S[t] = h_t, S[T] = h0
                out[:T] = S[:T]
                out[T] = S[0]
                if lstm:
                    out[T + 1] = C[0]
        ctx.mode, ctx.plan, ctx.dims = mode, plan, (T, N, I, H, G)
        ctx.order, ctx.offs = order, (off_prev, off_cur)
        ctx.xs, ctx.w_ih, ctx.w_hh = xs, w_ih, w_hh
        ctx.A, ctx.S, ctx.HH = A, S, HH  # the LSTM's backward needs D and P1, not c or tanh(c)
        ctx.has_h0, ctx.has_c0 = h0 is not None, c0 is not None
        ctx.D, ctx.P1 = D, P1
        return out

    @staticmethod
    def backward(ctx, grad):
        mode, plan = ctx.mode, ctx.plan
        T, N, I, H, G = ctx.dims
        off_prev, off_cur = ctx.offs
        A, S, HH = ctx.A, ctx.S, ctx.HH
        w_hh = ctx.w_hh
        dt = A.dtype
        lstm = mode == "lstm"
        H2 = 2 * H
        bs = plan.batch_sizes
        needs = ctx.needs_input_grad

        # gradients arriving at the outputs and final states, in processing order
        dY = grad[:T]
        if plan.packed:
            dY = plan.gather(dY)
            dh_car = np.array(grad[T][plan.perm], dtype=dt)
            dc_car = np.array(grad[T + 1][plan.perm], dtype=dt) if lstm else None
        else:
            dh_car = np.array(grad[T], dtype=dt)
            dc_car = np.array(grad[T + 1], dtype=dt) if lstm else None

        dG = (np.zeros if plan.packed else np.empty)((T, N, G * H), dt)
        Hprev = S[off_prev:off_prev + T]
        tmp = np.empty((N, H), dt)
        if lstm:
            D = ctx.D.reshape(T, N, 4, H)
            P1 = ctx.P1
            f_ = A.reshape(T, N, 4, H)[:, :, 1]
            dh_buf = dh_car
            for t in reversed(ctx.order):
                b = N if bs is None else int(bs[t])
                dh = dh_buf[:b]
                dh += dY[t, :b]
                dg = dG[t, :b].reshape(b, 4, H)
                np.multiply(dh, D[t, :b, 3], out=dg[:, 3])
                dc = dc_car[:b]
                np.multiply(dh, P1[t, :b], out=tmp[:b])
                dc += tmp[:b]
                np.multiply(dc[:, None, :], D[t, :b, :3], out=dg[:, :3])
                dc *= f_[t, :b]
                np.matmul(dG[t, :b], w_hh, out=dh_buf[:b])
            dHH = dG
        elif mode == "gru":
            A3 = A.reshape(T, N, 3, H)
            r_, z_, n_ = A3[:, :, 0], A3[:, :, 1], A3[:, :, 2]
            hn_ = HH[:, :, H2:]
            Dn = np.multiply(n_, n_)
            np.subtract(1, Dn, out=Dn)
            Dn *= 1 - z_  # (1 - z)(1 - n^2)
            Dz = np.subtract(Hprev, n_)
            Dz *= z_
            Dz *= 1 - z_  # (h_{t-1} - n) z (1 - z)
            Dr = np.subtract(1, r_)
            Dr *= r_
            Dr *= hn_  # (W_hn h + b_hn) r (1 - r)
            dHH = np.empty((T, N, 3 * H), dt) if not plan.packed else np.zeros((T, N, 3 * H), dt)
            dh = np.empty((N, H), dt)
            for t in reversed(ctx.order):
                b = N if bs is None else int(bs[t])
                dhb = dh[:b]
                np.add(dh_car[:b], dY[t, :b], out=dhb)
                dg = dG[t, :b]
                np.multiply(dhb, Dn[t, :b], out=dg[:, H2:])
                np.multiply(dhb, Dz[t, :b], out=dg[:, H:H2])
                np.multiply(dg[:, H2:], Dr[t, :b], out=dg[:, :H])
                dhh = dHH[t, :b]
                dhh[:, :H2] = dg[:, :H2]
                np.multiply(dg[:, H2:], r_[t, :b], out=dhh[:, H2:])
                np.matmul(dhh, w_hh, out=dh_car[:b])
                np.multiply(dhb, z_[t, :b], out=tmp[:b])
                dh_car[:b] += tmp[:b]
        else:
            Y = S[off_cur:off_cur + T]
            if mode == "rnn_tanh":
                Dact = np.multiply(Y, Y)
                np.subtract(1, Dact, out=Dact)
            else:
                Dact = (Y > 0).astype(dt)
            for t in reversed(ctx.order):
                b = N if bs is None else int(bs[t])
                dh = dh_car[:b]
                dh += dY[t, :b]
                np.multiply(dh, Dact[t, :b], out=dG[t, :b])
                np.matmul(dG[t, :b], w_hh, out=dh_car[:b])
            dHH = dG

        # ---- weight, bias and input gradients: GEMMs over all steps ------------------
        nx, nh0, nc0, nwih, nwhh, nbih, nbhh = needs
        dGf = dG.reshape(T * N, G * H)
        dHf = dHH.reshape(T * N, G * H)
        dx = dh0 = dc0 = dwih = dwhh = dbih = dbhh = None
        if nx:
            dxs = (dGf @ ctx.w_ih).reshape(T, N, I)
            if plan.packed:
                dx = np.empty((T, N, I), dt)
                plan.scatter(dx, dxs)
            else:
                dx = dxs
        if nwih:
            dwih = dGf.T @ ctx.xs.reshape(T * N, I)
        if nwhh:
            dwhh = dHf.T @ Hprev.reshape(T * N, H)
        if nbih:
            dbih = dGf.sum(axis=0)
        if nbhh:
            dbhh = dHf.sum(axis=0)
        if nh0:
            dh0 = dh_car
            if plan.packed:
                dh0 = np.empty_like(dh_car)
                dh0[plan.perm] = dh_car
        if nc0:
            dc0 = dc_car
            if plan.packed:
                dc0 = np.empty_like(dc_car)
                dc0[plan.perm] = dc_car
        return dx, dh0, dc0, dwih, dwhh, dbih, dbhh


def _data(t):
    return None if t is None else (t.data if isinstance(t, Tensor) else t)


def recurrent(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, mode="lstm", lengths=None, reverse=False):
    """One layer in one direction: returns ``(output (T, N, H), h_n (N, H), c_n or None)``.

    ``x`` is time-major (T, N, I). Outputs at padded steps (t >= lengths[n]) are zero,
    and h_n / c_n are each sequence's state after its last real step.
    """
    T = x.shape[0]
    packed = Recurrent.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, mode=mode, lengths=lengths, reverse=reverse)
    out = packed[:T]
    h_n = packed[T]
    c_n = packed[T + 1] if mode == "lstm" else None
    return out, h_n, c_n


class RecurrentCell(Function):
    """One time step: the layer op with T = 1. Output (N, H) = h', or (2, N, H) = (h', c')
    for the LSTM."""

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh, mode="lstm"):
        if x.ndim != 2:
            raise ValueError(f"{mode}_cell: input must be (N, input_size), got shape {x.shape}")
        out = Recurrent.forward(ctx, x[None], h, c, w_ih, w_hh, b_ih, b_hh, mode=mode)
        return out[1:] if mode == "lstm" else out[1]

    @staticmethod
    def backward(ctx, grad):
        k = 2 if ctx.mode == "lstm" else 1
        full = np.zeros((1 + k,) + grad.shape[-2:], grad.dtype)
        full[1:] = grad.reshape((k,) + grad.shape[-2:])
        grads = Recurrent.backward(ctx, full)
        dx = grads[0]
        return (None if dx is None else dx[0],) + grads[1:]


def _cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    return RecurrentCell.apply(x, h, c, w_ih, w_hh, b_ih, b_hh, mode=mode)


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """``h' = tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)`` (or relu): x (N, I), h (N, H)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_cell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return _cell("rnn_" + nonlinearity, x, h, None, w_ih, w_hh, b_ih, b_hh)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step (gates r, z, n as in PyTorch): x (N, I), h (N, H) -> h' (N, H)."""
    return _cell("gru", x, h, None, w_ih, w_hh, b_ih, b_hh)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step (gates i, f, g, o as in PyTorch): returns ``(h', c')``, each (N, H)."""
    hc = _cell("lstm", x, h, c, w_ih, w_hh, b_ih, b_hh)
    return hc[0], hc[1]
