"""Tensor factories: ``zeros``, ``ones``, ``full``, ``randn``, ``rand``, ``arange``, ``eye``, ...

Each takes a shape as separate ints or one tuple (``zeros(2, 3)`` or ``zeros((2, 3))``),
and makes float32 tensors unless ``dtype`` says otherwise, as PyTorch does.
"""

from __future__ import annotations

import numpy as np

from .random import default_generator
from .tensor import Tensor

__all__ = [
    "arange",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "zeros",
    "zeros_like",
]


def _shape(shape: tuple) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the shape as a tuple."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def zeros(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad=requires_grad)


def ones(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape(shape), dtype), requires_grad=requires_grad)


def empty(*shape, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    """Like :func:`zeros` (the memory is always initialized here)."""
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad=requires_grad)


def randn(*shape, dtype=np.float32, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard-normal samples from the library generator (see ``deepgrad.manual_seed``)."""
    g = generator or default_generator()
    return Tensor(g.standard_normal(_shape(shape), dtype=np.dtype(dtype)), requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in [0, 1) from the library generator."""
    g = generator or default_generator()
    return Tensor(g.random(_shape(shape), dtype=np.dtype(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=np.float32, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(shape, fill_value, dtype), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(t.data, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(t.data, dtype=dtype), requires_grad=requires_grad)


def arange(*args, dtype=None) -> Tensor:
    """NumPy's ``arange``: integers give int64, a float bound gives float32 (as in PyTorch)."""
    arr = np.arange(*args)
    if dtype is None:
        dtype = np.float32 if arr.dtype.kind == "f" else np.int64
    return Tensor._wrap(arr.astype(dtype, copy=False))


def eye(n: int, m: int | None = None, dtype=np.float32) -> Tensor:
    return Tensor(np.eye(n, m, dtype=dtype))


def from_numpy(arr: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (keeps its dtype)."""
    return Tensor._wrap(np.asarray(arr))
