"""Inverted dropout (course 2): zero each unit with probability p during training and
scale the survivors by 1/(1-p), so evaluation needs no rescaling."""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..random import default_generator
from ..tensor import Tensor


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p, generator):
        rng = generator if generator is not None else default_generator()
        keep = rng.random(x.shape, dtype=np.float32 if x.dtype == np.float32 else np.float64) >= p
        mask = keep.astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))  # inverted dropout: survivors scaled by 1/(1-p)
        ctx.mask = mask
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.mask, None, None


def dropout(
    input: Tensor, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None
) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return Dropout.apply(input, p, generator)
