"""Small helpers shared by the op families: argument names (NumPy's and PyTorch's),
axis checking and PyTorch's type promotion."""

from __future__ import annotations

import operator
from typing import Any, TypeVar, Union

import numpy as np

Axis = Union[int, "tuple[int, ...]", None]
"""An axis argument: None (all axes), one int, or a tuple of ints."""

_T = TypeVar("_T")


def one_of(
    op: str, numpy_name: str, numpy_value: _T | None, torch_name: str, torch_value: _T | None, default: _T
) -> _T:
    """The value of an argument that has a NumPy name and a PyTorch name.

    Every op spells its arguments both ways (``axis``/``dim``, ``keepdims``/``keepdim``,
    ``ddof``/``correction``) and resolves them here, so ``sum(x, dim=1)`` and
    ``sum(x, axis=1)`` are the same call. Giving both is a ``TypeError`` naming the op
    and the two arguments; giving neither returns ``default``.
    """
    if torch_value is None:
        return default if numpy_value is None else numpy_value
    if numpy_value is not None:
        raise TypeError(
            f"{op}: got both {numpy_name}={numpy_value!r} and {torch_name}={torch_value!r}; "
            f"give one ({numpy_name} is NumPy's name, {torch_name} PyTorch's)"
        )
    return torch_value


def axis_arg(op: str, axis: Any, dim: Any, default: Any = None) -> Any:
    """``axis`` (NumPy) or ``dim`` (PyTorch); see :func:`one_of`."""
    if dim is None:  # the common case, without a further call
        return default if axis is None else axis
    return one_of(op, "axis", axis, "dim", dim, default)


def keepdims_arg(op: str, keepdims: bool | None, keepdim: bool | None) -> bool:
    """``keepdims`` (NumPy) or ``keepdim`` (PyTorch), False when neither is given; see :func:`one_of`."""
    if keepdim is None:
        return bool(keepdims)
    return bool(one_of(op, "keepdims", keepdims, "keepdim", keepdim, False))


def normalize_axes(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, or None.

    Raises a ``ValueError`` naming the op when an axis is out of range or repeated.
    """
    if axis is None:
        return None
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = []
    for ax in axes:
        try:
            ax = operator.index(ax)
        except TypeError:
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {ax!r}") from None
        if not -ndim <= ax < max(ndim, 1) or (ndim == 0 and ax not in (0, -1)):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dimension(s)")
        out.append(ax % ndim if ndim else 0)
    if ndim == 0:
        return None  # a 0-d tensor: reducing over "axis 0" reduces nothing
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def normalize_axis(axis: int, ndim: int, op: str) -> int | None:
    """One axis as a non-negative int (None for a 0-d tensor)."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an int, got {axis!r}") from None
    axes = normalize_axes(axis, ndim, op)
    return None if axes is None else axes[0]


# ----- type promotion (PyTorch's rules) ----------------------------------------------
# Categories: bool < integer < floating. A Python number (or NumPy scalar) only decides
# the result when its category is higher than every tensor's, and then gives the
# default dtype of its category (float32 for floats, as in PyTorch); a 0-d tensor
# likewise only wins over tensors with dimensions when its category is higher.
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}
_DEFAULT = {0: np.dtype(np.bool_), 1: np.dtype(np.int64), 2: np.dtype(np.float32)}


def _category(dtype: np.dtype) -> int:
    try:
        return _CATEGORY[dtype.kind]
    except KeyError:
        raise TypeError(f"unsupported data type {dtype} (deepgrad computes with bool, integer and float)") from None


def _promote_pair(a: np.dtype | None, b: np.dtype) -> np.dtype:
    if a is None or a == b:
        return b
    ca, cb = _category(a), _category(b)
    if ca != cb:  # a float beats any integer (int64 with float32 is float32, as in PyTorch)
        return a if ca > cb else b
    return np.promote_types(a, b)


def _scalar_category(x) -> int | None:
    if isinstance(x, (bool, np.bool_)):
        return 0
    if isinstance(x, (int, np.integer)):
        return 1
    if isinstance(x, (float, np.floating)):
        return 2
    return None


def result_type(*operands) -> np.dtype:
    """The dtype PyTorch gives an op on ``operands`` (ndarrays or Python/NumPy scalars).

    Unlike NumPy, an integer tensor with a float32 tensor or a Python float is float32,
    and a float64 NumPy scalar does not turn a float32 tensor into float64.
    """
    dims = zero = None
    weak = -1
    for x in operands:
        if isinstance(x, np.ndarray):
            if x.ndim:
                dims = _promote_pair(dims, x.dtype)
            else:
                zero = _promote_pair(zero, x.dtype)
            continue
        c = _scalar_category(x)
        if c is None:
            raise TypeError(f"unsupported operand {type(x).__name__} (use a Tensor, an ndarray or a number)")
        weak = max(weak, c)
    res = dims
    if zero is not None and (res is None or _category(zero) > _category(res)):
        res = zero
    if res is None or weak > _category(res):
        res = _DEFAULT[max(weak, 0)]
    return res


def as_operand(x):
    """A non-Tensor operand of an elementwise op as an ndarray or a Python scalar.

    Lists become arrays with the tensor defaults (float32 / int64); NumPy scalars become
    Python scalars, so they promote like numbers (as in PyTorch).
    """
    if isinstance(x, np.generic):  # checked first: np.float64 is also a Python float
        return x.item()
    if isinstance(x, (np.ndarray, bool, int, float)):
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu" and arr.dtype != np.int64:
        return arr.astype(np.int64)
    return arr


def cast_operand(x, dtype: np.dtype):
    """``x`` (ndarray or Python scalar) ready for a ufunc computing in ``dtype``."""
    if isinstance(x, np.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    return x  # Python scalars are weak in NumPy 2: they take the array's dtype
