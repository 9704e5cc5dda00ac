"""Small helpers shared by the op families: argument names (NumPy's and PyTorch's) and
axis checking. (Type promotion: ``promotion.py``.)"""

from __future__ import annotations

import operator
from typing import Any, TypeVar, Union

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
    axes = normalize_axes(int(axis), ndim, op)
    return None if axes is None else axes[0]


def to_tuple(value, n: int, name: str, op: str) -> tuple:
    """An int-or-tuple argument (kernel size, stride, padding, dilation, ...) as a tuple of ``n``
    ints: ``3 -> (3, 3)``, ``(1, 2) -> (1, 2)``; a sequence of another length, or a value
    that is not an integer, raises an error naming the op and the argument."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{op}: {name} must be an int or a {n}-tuple of ints, got {value!r}")
        items = value
    else:
        items = (value,) * n
    try:
        return tuple(operator.index(v) for v in items)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a {n}-tuple of ints, got {value!r}") from None
