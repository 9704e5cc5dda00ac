"""Convolution layers (course 4, week 1): ``Conv2d``, ``Conv1d``, ``ConvTranspose2d``.

Parameters and defaults follow PyTorch, including its default initialisation:
weight ``kaiming_uniform_(a=sqrt(5))`` (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and bias
U(-1/sqrt(fan_in), 1/sqrt(fan_in)), with ``fan_in = in_channels/groups * kh * kw``
(for the transposed layer, ``out_channels/groups * kh * kw``, as PyTorch computes it).
The math lives in :mod:`deepgrad.ops.conv`.
"""
from __future__ import annotations

import numpy as np

from ..ops import conv as _conv
from ..ops._util import to_tuple as _tuple
from . import init
from .module import Module
from .parameter import Parameter


class _ConvNd(Module):
    _n = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, dtype=np.float32, generator=None):
        super().__init__()
        name, n = type(self).__name__, self._n
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"{name}: in_channels and out_channels must be positive, got {in_channels}, {out_channels}")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: only padding_mode='zeros' is implemented, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid") or self._transposed:
                raise ValueError(f"{name}: padding {padding!r} is not supported")
            if padding == "same" and any(s != 1 for s in _tuple(stride, n, "stride", name)):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride={stride}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _tuple(kernel_size, n, "kernel_size", name)
        self.stride = _tuple(stride, n, "stride", name)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, n, "padding", name)
        self.dilation = _tuple(dilation, n, "dilation", name)
        self.output_padding = _tuple(output_padding, n, "output_padding", name)
        self.padding_mode = padding_mode
        if self._transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        init.default_reset_(self.weight, self.bias, generator)

    def _check_input(self, x):
        want = self._n + 2
        if x.ndim != want or x.shape[1] != self.in_channels:
            dims = "(N, C, H, W)" if self._n == 2 else "(N, C, L)"
            raise ValueError(
                f"{type(self).__name__}({self.in_channels}->{self.out_channels}): expected input {dims} with "
                f"C={self.in_channels}, got shape {tuple(x.shape)}"
            )

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0,) * self._n, "valid"):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._n:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv2d(_ConvNd):
    """2-D convolution: (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in/groups, kh, kw).

    ``padding`` is an int, a pair, ``'same'`` or ``'valid'``; ``groups=in_channels``
    makes it depthwise (MobileNet).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype, generator)

    def forward(self, x):
        self._check_input(x)
        return _conv.Conv2d.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Conv1d(_ConvNd):
    """1-D convolution over sequences: (N, C_in, L) -> (N, C_out, L_out); weight (C_out, C_in/groups, k)."""

    _n = 1

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype, generator)

    def forward(self, x):
        self._check_input(x)
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return _conv.Conv1d.apply(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0], self.groups)


class ConvTranspose2d(_ConvNd):
    """Transposed ("fractionally strided") convolution, the upsampling layer of U-Net
    (course 4, week 3): (N, C_in, H, W) -> (N, C_out, H_out, W_out) with
    ``H_out = (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1``;
    weight (C_in, C_out/groups, kh, kw)."""

    _transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype, generator)

    def forward(self, x):
        self._check_input(x)
        return _conv.ConvTranspose2d.apply(
            x, self.weight, self.bias, self.stride, self.padding, self.output_padding, self.dilation, self.groups
        )


class Conv2dReLUMaxPool2d(Conv2d):
    """``MaxPool2d(pool)(ReLU()(Conv2d(...)(x)))`` as one fused layer (same parameters as
    ``Conv2d``): the conv -> ReLU -> 2x2 max-pool stage of LeNet and VGG, faster because
    the bias and ReLU run after pooling and the pool reads contiguous blocks
    (see :mod:`deepgrad.ops.conv_relu_pool`)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, pool: int = 2, dtype=np.float32, generator=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         "zeros", dtype, generator)
        self.pool = int(pool)

    def forward(self, x):
        from ..ops.conv_relu_pool import Conv2dReLUMaxPool2d as _Fused

        self._check_input(x)
        return _Fused.apply(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self.pool)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", pool={self.pool}"
