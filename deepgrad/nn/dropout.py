"""``Dropout``: inverted dropout (course 2, regularization).

During training each element is zeroed with probability ``p`` and the survivors are
scaled by 1/(1-p), so the expected activation is unchanged and evaluation (``eval()``)
is the identity."""
from __future__ import annotations

from ..ops.dropout import dropout as _dropout
from .module import Module


class Dropout(Module):
    """Any shape -> same shape. Masks come from the global generator (or ``generator=``)."""

    def __init__(self, p: float = 0.5, inplace: bool = False, generator=None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        return _dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
