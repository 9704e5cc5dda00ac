"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and is collected by ``Module.parameters()``.

    Its ``data`` may be a view into a larger buffer (optimizers pack parameters into one
    contiguous array); code that replaces ``p.data`` must keep the shape and dtype.
    """

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        arr = np.array(data, dtype=dtype if dtype is not None else None, copy=True)
        if dtype is None and arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        self.data = arr
        self.grad = None
        self._ctx = None
        self._retains_grad = False
        self.requires_grad = False
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor(") :]
