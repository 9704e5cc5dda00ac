"""``BatchNorm1d`` and ``BatchNorm2d`` (course 2, week 3: normalizing activations).

Normalise each channel with the mean and variance of the mini-batch during training,
keep exponential running averages of them (buffers, saved in ``state_dict``), and use
those in evaluation. ``weight`` (gamma) and ``bias`` (beta) learn the scale and shift.
"""
from __future__ import annotations

import numpy as np

from ..ops.normalization import BatchNorm as _BatchNormFn
from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    _ndims: tuple = ()
    _shapes: str = ""
    # buffers made by register_buffer in __init__ (None without track_running_stats)
    running_mean: np.ndarray | None
    running_var: np.ndarray | None
    num_batches_tracked: np.ndarray | None

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=np.float32):
        super().__init__()
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            assert self.running_mean is not None and self.running_var is not None and self.num_batches_tracked is not None
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.data[...] = 1
            self.bias.data[...] = 0

    def _check(self, x):
        shape = tuple(x.shape)
        if x.ndim not in self._ndims or shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): expected input "
                f"{self._shapes.format(c=self.num_features)}, got {shape}"
            )

    def _factor(self) -> float:
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            assert self.num_batches_tracked is not None  # registered as an array when tracking running stats
            self.num_batches_tracked += 1  # in place (a 0-d buffer)
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked)
        return float(factor)

    def forward(self, x):
        return self._apply(x)

    def _apply(self, x, residual=None, relu=False):
        self._check(x)
        if residual is not None:
            if tuple(residual.shape) != tuple(x.shape):
                raise ValueError(f"{type(self).__name__}({self.num_features}): residual of shape "
                                 f"{tuple(residual.shape)} does not match the input's {tuple(x.shape)}")
            if not isinstance(residual, Tensor):
                residual = Tensor._wrap(np.asarray(residual))
        factor = self._factor()
        use_batch = self.training or not self.track_running_stats
        return _BatchNormFn.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                  use_batch, factor, float(self.eps), residual, relu=relu)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Input (N, C) or (N, C, L); statistics per feature/channel C."""

    _ndims = (2, 3)
    _shapes = "(N, {c}) or (N, {c}, L)"


class BatchNorm2d(_BatchNorm):
    """Input (N, C, H, W); statistics per channel C over N, H and W."""

    _ndims = (4,)
    _shapes = "(N, {c}, H, W)"


class BatchNormReLU2d(BatchNorm2d):
    """``relu(BatchNorm2d(x) + residual)`` as ONE layer that you choose explicitly (``residual``
    optional): the end of a ResNet block in one op, which saves a pass over the activations.
    Same parameters, buffers and ``state_dict`` keys as ``BatchNorm2d``; nothing swaps it in
    for you (``Sequential`` runs ``BatchNorm2d`` then ``ReLU`` as the two layers they are)."""

    def forward(self, x, residual=None):
        return self._apply(x, residual, relu=True)
