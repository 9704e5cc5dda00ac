"""The ``Tensor``: an ndarray plus what autodiff needs (``requires_grad``, ``grad``, its graph node).

Ops live in :mod:`deepgrad.ops`; the methods here only forward to them, so that
``x.sum(axis=0)`` and ``deepgrad.sum(x, axis=0)`` are the same op.
"""
from __future__ import annotations

import numpy as np

from . import autograd



def _default_dtype_for(arr: np.ndarray, from_numpy: bool):
    if arr.dtype.kind == "f":
        return arr.dtype if from_numpy else np.dtype(np.float32)
    if arr.dtype.kind in "iu":
        return arr.dtype if from_numpy else np.dtype(np.int64)
    if arr.dtype.kind == "b":
        return arr.dtype
    raise TypeError(f"tensor: unsupported data type {arr.dtype}")


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``data`` is the underlying ``numpy.ndarray``; ``grad`` (an ndarray of the same
    shape and dtype, or ``None``) accumulates across ``backward`` calls until it is
    reset. Floating tensors default to float32; integer and boolean tensors hold
    labels, indices and masks and never require gradients.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        from_numpy = isinstance(data, (np.ndarray, np.generic))
        arr = np.array(data, dtype=dtype, copy=True)
        if dtype is None:
            want = _default_dtype_for(arr, from_numpy)
            if arr.dtype != want:
                arr = arr.astype(want)
        self.data = arr
        self.grad = None
        self._ctx = None
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ----- construction helpers -------------------------------------------------
    @classmethod
    def _wrap(cls, arr: np.ndarray) -> "Tensor":
        """A leaf Tensor around ``arr`` without copying (internal)."""
        t = cls.__new__(cls)
        t.data = arr
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t._retains_grad = False
        return t

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        if flag and self.data.dtype.kind != "f":
            raise TypeError(
                f"only floating-point tensors can require gradients; this tensor is {self.data.dtype} "
                f"(integer and boolean tensors hold labels, indices and masks)"
            )
        if not flag and self._ctx is not None:
            raise RuntimeError("requires_grad_: cannot turn off gradients of a non-leaf tensor; use detach()")
        self.requires_grad = flag
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (for inspection)."""
        self._retains_grad = True

    # ----- array facts ------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shares memory, like ``torch.Tensor.numpy``)."""
        return self.data

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same data, cut from the graph (no copy)."""
        return Tensor._wrap(self.data)

    def clone(self) -> "Tensor":
        from .ops import shape as _s

        return _s.copy(self)

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor into the ``.grad`` of every leaf it depends on.

        ``gradient`` is the upstream gradient d(something)/d(self); it may be omitted
        only when this tensor has one element. The graph's saved values are freed
        afterwards unless ``retain_graph=True``.
        """
        autograd.backward(self, gradient, retain_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(", precision=4)
        extra = ""
        if self.data.dtype not in (np.float32, np.int64, np.bool_):
            extra += f", dtype={self.data.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx.fn.__name__}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.data.item())

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    __hash__ = object.__hash__

    def __setitem__(self, index, value):
        if self.requires_grad or self._ctx is not None:
            if autograd.is_grad_enabled():
                raise RuntimeError(
                    "__setitem__: in-place assignment to a tensor that requires grad would corrupt its "
                    "gradient; do it under deepgrad.no_grad() or on .data"
                )
        if isinstance(index, Tensor):
            index = index.data
        self.data[index] = value.data if isinstance(value, Tensor) else value

    # ----- dtype conversion -----------------------------------------------------
    def astype(self, dtype) -> "Tensor":
        from .ops import elementwise as _e

        return _e.cast(self, dtype)

    to = astype

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def long(self) -> "Tensor":
        return self.astype(np.int64)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a Tensor from array-like data (always copies).

    Python numbers and lists become float32 (or int64 / bool); an ndarray keeps its
    dtype. ``dtype`` overrides both.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x, dtype=None) -> Tensor:
    """``x`` itself when it is a Tensor, else a new constant Tensor."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else x.astype(dtype)
    return Tensor(x, dtype=dtype)
