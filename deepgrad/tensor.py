"""The ``Tensor``: an ndarray plus what autodiff needs (``requires_grad``, ``grad``, its graph node).

Ops live in :mod:`deepgrad.ops`; the methods here only forward to them, so that
``x.sum(axis=0)``, ``x.sum(dim=0)`` and ``deepgrad.sum(x, axis=0)`` are the same op.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from . import autograd

if TYPE_CHECKING:
    from .ops._util import Axis


def _ragged_error(data) -> ValueError | None:
    """A ValueError describing the first place where nested lists do not nest evenly
    (None when they do)."""

    def shape_of(x, path):
        if not isinstance(x, (list, tuple)):
            return ()
        if not x:
            return (0,)
        first = shape_of(x[0], (*path, 0))
        for i, item in enumerate(x[1:], 1):
            sub = shape_of(item, (*path, i))
            if sub != first:
                where = "".join(f"[{j}]" for j in path)
                raise _Ragged(
                    f"tensor: ragged nested sequence: element data{where}[{i}] has shape {sub} "
                    f"but data{where}[0] has shape {first}; every row must have the same length"
                )
        return (len(x), *first)

    try:
        shape_of(data, ())
    except _Ragged as e:
        return ValueError(str(e))
    except RecursionError:
        return None
    return None


class _Ragged(Exception):
    pass


def _default_dtype_for(arr: np.ndarray, from_numpy: bool):
    if arr.dtype.kind == "f":
        return arr.dtype if from_numpy else np.dtype(np.float32)
    if arr.dtype.kind in "iu":
        return arr.dtype if from_numpy else np.dtype(np.int64)
    if arr.dtype.kind == "b":
        return arr.dtype
    if arr.dtype.kind in "US":
        raise TypeError(f"tensor: the data holds strings (dtype {arr.dtype}); a tensor holds numbers or booleans")
    raise TypeError(f"tensor: unsupported data type {arr.dtype}")


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``data`` is the underlying ``numpy.ndarray``; ``grad`` (an ndarray of the same
    shape and dtype, or ``None``) accumulates across ``backward`` calls until it is
    reset. Floating tensors default to float32; integer and boolean tensors hold
    labels, indices and masks and never require gradients.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "_retains_grad", "__weakref__")
    data: np.ndarray
    grad: np.ndarray | None
    requires_grad: bool
    _ctx: Any  # the autograd.Context that made this tensor, None for a leaf
    _retains_grad: bool
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operator

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        from_numpy = isinstance(data, (np.ndarray, np.generic))
        try:
            arr = np.array(data, dtype=dtype, copy=True)
        except ValueError:
            err = _ragged_error(data) if isinstance(data, (list, tuple)) else None
            if err is None:
                raise
            raise err from None
        if arr.dtype.kind == "O" and isinstance(data, (list, tuple)):
            raise _ragged_error(data) or TypeError(
                "tensor: nested sequence holds values that are not numbers (dtype object)"
            )
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
    def _wrap(cls, arr: np.ndarray) -> Tensor:
        """A leaf Tensor around ``arr`` without copying (internal)."""
        t = cls.__new__(cls)
        t.data = arr
        t.grad = None
        t.requires_grad = False
        t._ctx = None
        t._retains_grad = False
        return t

    def requires_grad_(self, flag: bool = True) -> Tensor:
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

    def detach(self) -> Tensor:
        """The same data, cut from the graph (no copy)."""
        return Tensor._wrap(self.data)

    def clone(self) -> Tensor:
        """A copy that stays in the graph (its gradient flows back to this tensor)."""
        return _S.copy(self)

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
    def astype(self, dtype) -> Tensor:
        """A copy in ``dtype`` (differentiable between float dtypes)."""
        return _E.cast(self, dtype)

    def to(self, *args, dtype=None, device: str | None = None) -> Tensor:
        """PyTorch's ``to``: ``x.to(dg.float64)``, ``x.to("cpu")``, ``x.to("cpu", dg.float32)``.

        A dtype converts as :meth:`astype` does; the device ``"cpu"`` is accepted and changes
        nothing (deepgrad runs on the CPU), any other device is an error.
        """
        for a in args:
            if isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta"):
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"to: got more than one dtype ({dtype!r} and {a!r})")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise ValueError(f"to: deepgrad runs on the CPU only; device {device!r} is not available")
        return self if dtype is None else _E.cast(self, dtype)

    def float(self) -> Tensor:
        return _E.cast(self, np.float32)

    def double(self) -> Tensor:
        return _E.cast(self, np.float64)

    def long(self) -> Tensor:
        return _E.cast(self, np.int64)

    def dim(self) -> int:
        """The number of dimensions (PyTorch's name for ``ndim``)."""
        return self.data.ndim

    def numel(self) -> int:
        """The number of elements (PyTorch's name for ``size``)."""
        return self.data.size

    # ----- operators: each is the op of the same name in deepgrad.ops -------------
    def __add__(self, other) -> Tensor:
        return _E.add(self, other)

    def __radd__(self, other) -> Tensor:
        return _E.add(other, self)

    def __sub__(self, other) -> Tensor:
        return _E.sub(self, other)

    def __rsub__(self, other) -> Tensor:
        return _E.sub(other, self)

    def __mul__(self, other) -> Tensor:
        return _E.mul(self, other)

    def __rmul__(self, other) -> Tensor:
        return _E.mul(other, self)

    def __truediv__(self, other) -> Tensor:
        return _E.div(self, other)

    def __rtruediv__(self, other) -> Tensor:
        return _E.div(other, self)

    def __pow__(self, other) -> Tensor:
        return _E.pow(self, other)

    def __rpow__(self, other) -> Tensor:
        return _E.pow(other, self)

    def __matmul__(self, other) -> Tensor:
        return _matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return _matmul(other, self)

    def __neg__(self) -> Tensor:
        return _E.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _E.abs(self)

    # Comparisons are elementwise and return boolean tensors (as in NumPy and PyTorch).
    def __eq__(self, other) -> Tensor:  # type: ignore[override]
        return _E.equal(self, other)

    def __ne__(self, other) -> Tensor:  # type: ignore[override]
        return _E.not_equal(self, other)

    def __lt__(self, other) -> Tensor:
        return _E.less(self, other)

    def __le__(self, other) -> Tensor:
        return _E.less_equal(self, other)

    def __gt__(self, other) -> Tensor:
        return _E.greater(self, other)

    def __ge__(self, other) -> Tensor:
        return _E.greater_equal(self, other)

    def __getitem__(self, index) -> Tensor:
        return _S.getitem(self, index)

    # ----- elementwise -------------------------------------------------------------
    def add(self, other) -> Tensor:
        return _E.add(self, other)

    def sub(self, other) -> Tensor:
        return _E.sub(self, other)

    def mul(self, other) -> Tensor:
        return _E.mul(self, other)

    def div(self, other) -> Tensor:
        return _E.div(self, other)

    def pow(self, exponent) -> Tensor:
        return _E.pow(self, exponent)

    def neg(self) -> Tensor:
        return _E.neg(self)

    def exp(self) -> Tensor:
        return _E.exp(self)

    def log(self) -> Tensor:
        return _E.log(self)

    def sqrt(self) -> Tensor:
        return _E.sqrt(self)

    def abs(self) -> Tensor:
        return _E.abs(self)

    def sign(self) -> Tensor:
        return _E.sign(self)

    def clip(self, a_min=None, a_max=None, *, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
        """Clamp to ``[a_min, a_max]`` (or PyTorch's ``min=``/``max=``)."""
        return _E.clip(self, a_min, a_max, min=min, max=max)

    def clamp(self, a_min=None, a_max=None, *, min=None, max=None) -> Tensor:  # noqa: A002
        """PyTorch's name for :meth:`clip`."""
        return _E.clip(self, a_min, a_max, min=min, max=max)

    def maximum(self, other) -> Tensor:
        return _E.maximum(self, other)

    def minimum(self, other) -> Tensor:
        return _E.minimum(self, other)

    # ----- reductions: NumPy's axis/keepdims or PyTorch's dim/keepdim ---------------
    def sum(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _R.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _R.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        """The largest values (only the values, like ``amax``; see ``argmax`` for the indices)."""
        return _R.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        """The smallest values (only the values, like ``amin``; see ``argmin`` for the indices)."""
        return _R.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def amax(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _R.amax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def amin(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _R.amin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(
        self,
        axis: Axis = None,
        keepdims: bool | None = None,
        ddof: builtins.float | None = None,
        *,
        dim: Axis = None,
        keepdim: bool | None = None,
        correction: builtins.float | None = None,
    ) -> Tensor:
        return _R.var(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim, correction=correction)

    def std(
        self,
        axis: Axis = None,
        keepdims: bool | None = None,
        ddof: builtins.float | None = None,
        *,
        dim: Axis = None,
        keepdim: bool | None = None,
        correction: builtins.float | None = None,
    ) -> Tensor:
        return _R.std(self, axis, keepdims, ddof, dim=dim, keepdim=keepdim, correction=correction)

    def logsumexp(
        self, axis: Axis = None, keepdims: bool | None = None, *, dim: Axis = None, keepdim: bool | None = None
    ) -> Tensor:
        return _R.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        return _R.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(
        self,
        axis: int | None = None,
        keepdims: bool | None = None,
        *,
        dim: int | None = None,
        keepdim: bool | None = None,
    ) -> Tensor:
        return _R.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    # ----- shape ---------------------------------------------------------------------
    def reshape(self, *shape) -> Tensor:
        return _S.reshape(self, *shape)

    def view(self, *shape) -> Tensor:
        """PyTorch's name for :meth:`reshape`."""
        return _S.reshape(self, *shape)

    def transpose(self, *axes) -> Tensor:
        """Permute the axes (NumPy's ``transpose``); see :meth:`swapaxes` for torch's ``transpose(d0, d1)``."""
        return _S.transpose(self, *axes)

    def permute(self, *dims) -> Tensor:
        return _S.transpose(self, *dims)

    def swapaxes(
        self, axis1: int | None = None, axis2: int | None = None, *, dim0: int | None = None, dim1: int | None = None
    ) -> Tensor:
        return _S.swapaxes(self, axis1, axis2, dim0=dim0, dim1=dim1)

    def moveaxis(self, source: int, destination: int) -> Tensor:
        return _S.moveaxis(self, source, destination)

    def broadcast_to(self, shape) -> Tensor:
        return _S.broadcast_to(self, shape)

    def expand(self, *shape) -> Tensor:
        return _S.expand(self, *shape)

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Tensor:
        return _S.squeeze(self, axis, dim=dim)

    def unsqueeze(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _S.unsqueeze(self, axis, dim=dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _S.flatten(self, start_dim, end_dim)

    def pad(self, pad_width, constant_values=0) -> Tensor:
        return _S.pad(self, pad_width, constant_values)

    def split(self, indices_or_sections, axis: int | None = None, *, dim: int | None = None) -> list[Tensor]:
        return _S.split(self, indices_or_sections, axis, dim=dim)

    @property
    def T(self) -> Tensor:
        """All axes reversed."""
        return _S.transpose(self)

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (a batch of matrices transposed)."""
        return _S.swapaxes(self, -1, -2)

    # ----- linear algebra and activations ------------------------------------------
    def matmul(self, other) -> Tensor:
        return _matmul(self, other)

    def relu(self) -> Tensor:
        return _A.relu(self)

    def leaky_relu(self, negative_slope: builtins.float = 0.01) -> Tensor:
        return _A.leaky_relu(self, negative_slope)

    def elu(self, alpha: builtins.float = 1.0) -> Tensor:
        return _A.elu(self, alpha)

    def gelu(self, approximate: str = "none") -> Tensor:
        return _A.gelu(self, approximate)

    def sigmoid(self) -> Tensor:
        return _A.sigmoid(self)

    def tanh(self) -> Tensor:
        return _A.tanh(self)

    def softplus(self, beta: builtins.float = 1.0, threshold: builtins.float = 20.0) -> Tensor:
        return _A.softplus(self, beta, threshold)

    def softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _A.softmax(self, axis, dim=dim)

    def log_softmax(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _A.log_softmax(self, axis, dim=dim)


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


# The ops import Tensor from this module, so they are imported after it is defined.
from .ops import activation as _A  # noqa: E402
from .ops import elementwise as _E  # noqa: E402
from .ops import reduce as _R  # noqa: E402
from .ops import shape as _S  # noqa: E402
from .ops.matmul import matmul as _matmul  # noqa: E402  (the module name is shadowed by the function in ops)
