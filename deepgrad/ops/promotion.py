"""PyTorch's type promotion for the elementwise ops (``result_type``) and the conversion
of their non-Tensor operands (``as_operand``, ``cast_operand``).

NumPy promotes an int64 array with a float32 array, or with a Python float, to float64;
PyTorch (and deepgrad) give float32, the default float dtype.
"""

from __future__ import annotations

import numpy as np

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
