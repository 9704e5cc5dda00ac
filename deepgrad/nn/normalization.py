"""``LayerNorm`` (course 5, week 4): normalise each sample over its trailing axes, then
scale and shift (the fused op is ``deepgrad/ops/layernorm.py``)."""
from __future__ import annotations

import numpy as np

from ..ops.layernorm import layer_norm
from .module import Module
from .parameter import Parameter


class LayerNorm(Module):
    """PyTorch's ``nn.LayerNorm``: input (..., *normalized_shape) -> same shape.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape`` when
    ``elementwise_affine`` (``bias=False`` drops the shift only)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=np.float32):
        super().__init__()
        ns = (int(normalized_shape),) if np.ndim(normalized_shape) == 0 else tuple(int(d) for d in normalized_shape)
        if not ns or any(d <= 0 for d in ns):
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.normalized_shape = ns
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        if elementwise_affine:
            self.weight = Parameter(np.ones(ns, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(ns, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        if tuple(x.shape[max(x.ndim - len(self.normalized_shape), 0):]) != self.normalized_shape:
            raise ValueError(f"LayerNorm{self.normalized_shape}: expected input (..., "
                             f"{', '.join(map(str, self.normalized_shape))}), got {tuple(x.shape)}")
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
