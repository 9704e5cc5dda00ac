"""``Linear`` (a fully connected layer, course 1), ``Identity`` and ``Flatten``."""
from __future__ import annotations

import numpy as np

from ..ops.matmul import Linear as _LinearFn
from ..ops.shape import flatten as _flatten
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class Linear(Module):
    """``y = x @ W.T + b``: input (..., in_features) -> output (..., out_features).

    ``weight`` has shape (out_features, in_features) and ``bias`` (out_features,),
    as in PyTorch. Default initialisation is PyTorch's: ``kaiming_uniform_(a=sqrt(5))``
    for the weight (U(-1/sqrt(in), 1/sqrt(in))) and U(-1/sqrt(in), 1/sqrt(in)) for the
    bias, drawn from ``deepgrad.random.default_generator()`` (or ``generator=``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=np.float32, generator=None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear: in_features and out_features must be positive, got {in_features}, {out_features}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self._in_shape = (self.in_features,)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator=None) -> None:
        init.default_reset_(self.weight, self.bias, generator)

    def forward(self, x):
        if x.shape[-1:] != self._in_shape:
            raise ValueError(
                f"Linear({self.in_features}->{self.out_features}): expected input (..., {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        return _LinearFn.apply(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to remove a layer from a model)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (default: all but the batch dim): (N, C, H, W) -> (N, C*H*W)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        if not isinstance(x, Tensor):
            x = Tensor._wrap(np.asarray(x))
        if x.ndim <= self.start_dim and self.start_dim >= 0:
            raise ValueError(
                f"Flatten(start_dim={self.start_dim}): expected input with more than {self.start_dim} "
                f"dimension(s), got {tuple(x.shape)}"
            )
        return _flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
