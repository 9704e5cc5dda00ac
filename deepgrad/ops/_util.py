"""Small helpers shared by the op families (axis checking)."""
from __future__ import annotations

import operator


def normalize_axes(axis, ndim: int, op: str):
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


def normalize_axis(axis: int, ndim: int, op: str):
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
