"""Recurrent layers with PyTorch's contract (course 5, week 1): ``RNN``, ``GRU``, ``LSTM``
and the one-step ``RNNCell``, ``GRUCell``, ``LSTMCell``.

Parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n) and initialisation
(uniform in +-1/sqrt(hidden_size)) are PyTorch's, so a state dict moves between the two
libraries unchanged. Each layer and direction runs as one fused op
(:mod:`deepgrad.ops.recurrent`) with a hand-written backpropagation through time.

Variable-length batches: ``forward(x, hx, lengths=...)`` (one length per sequence, any
order) is the equivalent of PyTorch's ``pack_padded_sequence(..., enforce_sorted=False)``
followed by ``pad_packed_sequence(..., total_length=T)``: outputs past a sequence's end
are zero, ``h_n`` (and ``c_n``) hold the state after its last real element, the reverse
direction starts from that last element, and padding receives no gradient.
"""
from __future__ import annotations

import math

import numpy as np

from ..ops import dropout as _dropout
from ..ops.recurrent import RecurrentCell, num_gates, recurrent
from ..ops.shape import cat, getitem, stack, swapaxes, unsqueeze
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor._wrap(np.asarray(x))


class RNNBase(Module):
    """Shared by RNN, GRU and LSTM (``mode`` is rnn_tanh, rnn_relu, gru or lstm)."""

    mode = "lstm"

    def _setup(self, mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
               dtype, generator):
        if input_size <= 0 or hidden_size <= 0 or num_layers <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size, hidden_size and num_layers must be positive, "
                f"got {input_size}, {hidden_size}, {num_layers}"
            )
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{type(self).__name__}: dropout must be a probability in [0, 1], got {dropout}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional = bool(bidirectional)
        D = 2 if bidirectional else 1
        G = num_gates(mode)
        H = self.hidden_size
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((G * H, in_size), dtype)))
                setattr(self, "weight_hh" + sfx, Parameter(np.empty((G * H, H), dtype)))
                if bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty(G * H, dtype)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty(G * H, dtype)))
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        """PyTorch's initialisation: every weight and bias uniform in +-1/sqrt(hidden_size)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound, generator=generator)

    def flatten_parameters(self) -> None:
        """Accepted for PyTorch compatibility (cuDNN weight packing); nothing to do here."""

    def _weights(self, layer: int, d: int):
        sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
        g = lambda n: getattr(self, n + sfx, None)  # noqa: E731
        return g("weight_ih"), g("weight_hh"), g("bias_ih"), g("bias_hh")

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _check_state(self, h, what, N, unbatched):
        D = 2 if self.bidirectional else 1
        want = (D * self.num_layers, self.hidden_size) if unbatched else (D * self.num_layers, N, self.hidden_size)
        h = _as_tensor(h)
        if tuple(h.shape) != want:
            raise ValueError(f"{self._name()}: expected {what} of shape {want}, got {tuple(h.shape)}")
        if h.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"{self._name()}: {what} is {h.dtype} but the weights are {self.weight_ih_l0.dtype}")
        return unsqueeze(h, 1) if unbatched else h

    def forward(self, input, hx=None, lengths=None):
        """input (T, N, input_size), or (N, T, input_size) with ``batch_first``, or (T, input_size)
        unbatched; ``hx`` h_0 (num_layers * D, N, H) (LSTM: the pair (h_0, c_0)), zeros when
        omitted; ``lengths`` (N,) valid lengths of a padded batch. Returns ``(output, h_n)``
        (LSTM: ``(output, (h_n, c_n))``), output (T, N, D * H) (batch_first: (N, T, D * H))."""
        x = _as_tensor(input)
        name = self._name()
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input ({'N, T' if self.batch_first else 'T, N'}, {self.input_size}) "
                f"or unbatched (T, {self.input_size}), got {tuple(x.shape)}"
            )
        if x.dtype != self.weight_ih_l0.dtype:
            raise TypeError(f"{name}: input is {x.dtype} but the weights are {self.weight_ih_l0.dtype}")
        unbatched = x.ndim == 2
        if unbatched:
            x = unsqueeze(x, 1)
        elif self.batch_first:
            x = swapaxes(x, 0, 1)
        T, N = x.shape[0], x.shape[1]
        if T == 0 or N == 0:
            raise ValueError(f"{name}: empty input of shape {tuple(input.shape)}")
        if lengths is not None:
            lengths = np.asarray(getattr(lengths, "data", lengths))
            if unbatched:
                lengths = lengths.reshape(1)
            if lengths.shape != (N,) or lengths.dtype.kind not in "iu":
                raise ValueError(f"{name}: lengths must be {N} integers, one per sequence, got {lengths.dtype} {lengths.shape}")
            if lengths.min() < 1 or lengths.max() > T:
                raise ValueError(f"{name}: lengths must lie in [1, {T}], got {lengths.min()}..{lengths.max()}")
        lstm = self.mode == "lstm"
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise ValueError(f"{name}: hx must be the pair (h_0, c_0)")
                h0 = self._check_state(hx[0], "h_0", N, unbatched)
                c0 = self._check_state(hx[1], "c_0", N, unbatched)
            else:
                h0 = self._check_state(hx, "h_0", N, unbatched)
        D = 2 if self.bidirectional else 1
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                out, h, c = recurrent(
                    layer_in, None if h0 is None else getitem(h0, k), None if c0 is None else getitem(c0, k),
                    w_ih, w_hh, b_ih, b_hh, mode=self.mode, lengths=lengths, reverse=d == 1,
                )
                outs.append(out)
                hs.append(h)
                cs.append(c)
            layer_in = outs[0] if D == 1 else cat(outs, axis=2)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_in = _dropout(layer_in, self.dropout)
        output = layer_in
        h_n = stack(hs, axis=0)
        c_n = stack(cs, axis=0) if lstm else None
        if unbatched:
            output = getitem(output, (slice(None), 0))
            h_n = getitem(h_n, (slice(None), 0))
            c_n = None if c_n is None else getitem(c_n, (slice(None), 0))
        elif self.batch_first:
            output = swapaxes(output, 0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "rnn_relu":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, generator=None):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._setup("rnn_" + nonlinearity, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                    bidirectional, dtype, generator)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o; returns ``(output, (h_n, c_n))``."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32, generator=None):
        super().__init__()
        self._setup("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                    dtype, generator)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n, with r applied to ``W_hn h + b_hn`` (PyTorch's variant)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32, generator=None):
        super().__init__()
        self._setup("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                    dtype, generator)


class RNNCellBase(Module):
    mode = "lstm"

    def _setup(self, mode, input_size, hidden_size, bias, dtype, generator):
        if input_size <= 0 or hidden_size <= 0:
            raise ValueError(
                f"{type(self).__name__}: input_size and hidden_size must be positive, got {input_size}, {hidden_size}"
            )
        self.mode = mode
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        G = num_gates(mode)
        self.weight_ih = Parameter(np.empty((G * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(np.empty((G * hidden_size, hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(G * hidden_size, dtype))
            self.bias_hh = Parameter(np.empty(G * hidden_size, dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters(generator)

    reset_parameters = RNNBase.reset_parameters

    def _name(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size})"

    def _state(self, h, what, N, unbatched, dtype):
        if h is None:
            return Tensor._wrap(np.zeros((N, self.hidden_size), dtype))
        h = _as_tensor(h)
        want = (self.hidden_size,) if unbatched else (N, self.hidden_size)
        if tuple(h.shape) != want:
            raise ValueError(f"{self._name()}: expected {what} of shape {want}, got {tuple(h.shape)}")
        if h.dtype != dtype:
            raise TypeError(f"{self._name()}: {what} is {h.dtype} but the weights are {dtype}")
        return unsqueeze(h, 0) if unbatched else h

    def _step(self, input, hx):
        x = _as_tensor(input)
        dtype = self.weight_ih.dtype
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._name()}: expected input (N, {self.input_size}) or ({self.input_size},), got {tuple(x.shape)}"
            )
        if x.dtype != dtype:
            raise TypeError(f"{self._name()}: input is {x.dtype} but the weights are {dtype}")
        unbatched = x.ndim == 1
        if unbatched:
            x = unsqueeze(x, 0)
        N = x.shape[0]
        if self.mode == "lstm":
            if hx is None:
                hx = (None, None)
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise ValueError(f"{self._name()}: hx must be the pair (h, c)")
            h = self._state(hx[0], "h", N, unbatched, dtype)
            c = self._state(hx[1], "c", N, unbatched, dtype)
        else:
            h, c = self._state(hx, "h", N, unbatched, dtype), None
        out = RecurrentCell.apply(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, mode=self.mode)
        if self.mode == "lstm":
            h1, c1 = getitem(out, 0), getitem(out, 1)
            if unbatched:
                h1, c1 = getitem(h1, 0), getitem(c1, 0)
            return h1, c1
        return getitem(out, 0) if unbatched else out

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "rnn_relu":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32, generator=None):
        super().__init__()
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._setup("rnn_" + nonlinearity, input_size, hidden_size, bias, dtype, generator)

    def forward(self, input, hx=None):
        return self._step(input, hx)


class LSTMCell(RNNCellBase):
    """One LSTM step: ``forward(x, (h, c))`` returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, generator=None):
        super().__init__()
        self._setup("lstm", input_size, hidden_size, bias, dtype, generator)

    def forward(self, input, hx=None):
        return self._step(input, hx)


class GRUCell(RNNCellBase):
    """One GRU step: ``forward(x, h)`` returns ``h'``."""

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, generator=None):
        super().__init__()
        self._setup("gru", input_size, hidden_size, bias, dtype, generator)

    def forward(self, input, hx=None):
        return self._step(input, hx)
