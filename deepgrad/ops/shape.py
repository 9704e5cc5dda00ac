"""Shape ops: reshape, transpose, broadcast, squeeze/unsqueeze, flatten, concatenate,
stack, split, pad and indexing. Their backward moves the gradient back into the
input's layout; only indexing with integer arrays needs a scatter-add (repeated
indices accumulate).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import Axis, axis_arg, normalize_axes, normalize_axis, one_of


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape a tensor of shape {a.shape} (size {a.size}) into {shape}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.shape), None


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.inverse = None if axes is None else tuple(np.argsort(axes))
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(ctx.inverse), None


class BroadcastTo(Function):
    @staticmethod
    def forward(ctx, a, shape):
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {a.shape} to {shape}") from None

    @staticmethod
    def backward(ctx, grad):
        return grad, None  # the engine's unbroadcast sums it back


class Copy(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        return grad


class Concatenate(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in arrays])[:-1]
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            raise ValueError(
                f"concatenate: shapes {[x.shape for x in arrays]} do not match outside axis {axis}"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.split(grad, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.axis = axis
        try:
            return np.stack(arrays, axis=axis)
        except ValueError:
            raise ValueError(f"stack: all tensors must have the same shape, got {[x.shape for x in arrays]}") from None

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.axis, 0))


class Pad(Function):
    @staticmethod
    def forward(ctx, a, pad_width, constant_values):
        pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (a.ndim, 2)) if a.ndim else np.zeros((0, 2), int)
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(pw, a.shape))
        return np.pad(a, pw, mode="constant", constant_values=constant_values)

    @staticmethod
    def backward(ctx, grad):
        return grad[ctx.slices], None, None


def _is_basic(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for p in parts:
        if not (p is None or p is Ellipsis or isinstance(p, (int, np.integer, slice))):
            return False
    return True


class GetItem(Function):
    """``a[index]``: basic indexing (ints, slices, None, ...) is a view whose gradient is
    written back into a zero array; advanced indexing (integer arrays, boolean masks)
    scatter-adds, so repeated indices accumulate."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return np.asarray(a[index])
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor shape {a.shape})") from None

    @staticmethod
    def backward(ctx, grad):
        out = np.zeros(ctx.shape, dtype=grad.dtype)
        if _is_basic(ctx.index):
            out[ctx.index] = grad
        else:
            np.add.at(out, ctx.index, grad)
        return out, None


def _convert_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    if isinstance(index, tuple):
        return tuple(_convert_index(i) for i in index)
    return index


# ----- public functions --------------------------------------------------------------
def reshape(a: Tensor, *shape) -> Tensor:
    """The same values in a new shape (one dimension may be -1); ``reshape(2, 3)`` or ``reshape((2, 3))``."""
    shape = _shape_arg(shape)
    if shape == a.shape:
        return a
    return Reshape.apply(a, shape)


view = reshape


def transpose(a: Tensor, *axes) -> Tensor:
    """Permute the axes (NumPy's ``transpose``; all axes reversed when none are given)."""
    if not axes:
        return Transpose.apply(a, None)
    perm = _shape_arg(axes)
    if len(perm) != a.ndim or sorted(x % max(a.ndim, 1) for x in perm) != list(range(a.ndim)):
        raise ValueError(
            f"transpose: axes {perm} are not a permutation of the {a.ndim} axes of shape {a.shape} "
            f"(NumPy's transpose; to swap two axes as torch's transpose(dim0, dim1) does, use swapaxes)"
        )
    return Transpose.apply(a, tuple(x % a.ndim for x in perm))


permute = transpose  # PyTorch's name


def swapaxes(
    a: Tensor, axis1: int | None = None, axis2: int | None = None, *, dim0: int | None = None, dim1: int | None = None
) -> Tensor:
    """Swap two axes (``axis1``/``axis2``, or PyTorch's ``dim0``/``dim1``)."""
    i = one_of("swapaxes", "axis1", axis1, "dim0", dim0, None)
    j = one_of("swapaxes", "axis2", axis2, "dim1", dim1, None)
    if i is None or j is None:
        raise TypeError("swapaxes: give the two axes to swap")
    axes = list(range(a.ndim))
    i, j = normalize_axis(i, a.ndim, "swapaxes"), normalize_axis(j, a.ndim, "swapaxes")
    if i is None or j is None:
        return a
    axes[i], axes[j] = axes[j], axes[i]
    return Transpose.apply(a, tuple(axes))


def moveaxis(a: Tensor, source: int, destination: int) -> Tensor:
    src, dst = normalize_axis(source, a.ndim, "moveaxis"), normalize_axis(destination, a.ndim, "moveaxis")
    if src is None or dst is None:
        return a
    order = [i for i in range(a.ndim) if i != src]
    order.insert(dst, src)
    return Transpose.apply(a, tuple(order))


def broadcast_to(a: Tensor, shape) -> Tensor:
    shape = tuple(shape)
    if shape == a.shape:
        return a
    return BroadcastTo.apply(a, shape)


def expand(a: Tensor, *shape) -> Tensor:
    """PyTorch's ``expand``: like broadcast_to, where -1 keeps a dimension."""
    target = list(_shape_arg(shape))
    off = len(target) - a.ndim
    for i, s in enumerate(target):
        if s == -1:
            if i < off:
                raise ValueError(
                    f"expand: -1 is not allowed for a new leading dimension (shape {a.shape} to {tuple(target)})"
                )
            target[i] = a.shape[i - off]
    return broadcast_to(a, tuple(target))


def squeeze(a: Tensor, axis: Axis = None, *, dim: Axis = None) -> Tensor:
    """Remove size-1 axes: all of them, or the given ones (an error if one is not size 1)."""
    axis = axis_arg("squeeze", axis, dim)
    if axis is None:
        shape = tuple(n for n in a.shape if n != 1)
    else:
        axes = normalize_axes(axis, a.ndim, "squeeze") or ()
        for ax in axes:
            if a.shape[ax] != 1:
                raise ValueError(f"squeeze: axis {ax} has size {a.shape[ax]}, not 1 (shape {a.shape})")
        shape = tuple(n for i, n in enumerate(a.shape) if i not in axes)
    return reshape(a, shape)


def unsqueeze(a: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Insert a size-1 axis at ``axis`` (``dim``) of the result."""
    axis = axis_arg("unsqueeze", axis, dim)
    if axis is None:
        raise TypeError("unsqueeze: give the position of the new axis (axis= or dim=)")
    nd = a.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for a result with {nd} dimensions")
    axis %= nd
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


expand_dims = unsqueeze


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (PyTorch's ``flatten``)."""
    if a.ndim == 0:
        return reshape(a, (1,))
    s = normalize_axis(start_dim, a.ndim, "flatten")
    e = normalize_axis(end_dim, a.ndim, "flatten")
    assert s is not None and e is not None  # a.ndim > 0 here
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = a.shape[:s] + (int(np.prod(a.shape[s : e + 1])),) + a.shape[e + 1 :]
    return reshape(a, shape)


def concatenate(tensors, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``axis`` or ``dim``, default 0)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate: needs at least one tensor")
    ax = normalize_axis(axis_arg("concatenate", axis, dim, 0), tensors[0].ndim, "concatenate")
    return Concatenate.apply(*tensors, axis=ax)


cat = concatenate


def stack(tensors, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Join same-shaped tensors along a new axis (``axis`` or ``dim``, default 0)."""
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: needs at least one tensor")
    ax = normalize_axis(axis_arg("stack", axis, dim, 0), tensors[0].ndim + 1, "stack")
    return Stack.apply(*tensors, axis=ax)


def split(a: Tensor, indices_or_sections, axis: int | None = None, *, dim: int | None = None) -> list[Tensor]:
    """NumPy's ``split``: a number of equal sections, or the indices where to cut.

    (PyTorch's ``split`` takes a section *size* instead; here an int is a count, as in NumPy.)
    """
    ax = normalize_axis(axis_arg("split", axis, dim, 0), a.ndim, "split")
    if ax is None:
        raise ValueError("split: cannot split a 0-d tensor")
    n = a.shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise ValueError(f"split: axis {ax} of size {n} does not divide into {k} equal sections")
        bounds = list(range(0, n + 1, n // k)) if n else [0] * (k + 1)
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        idx = (slice(None),) * ax + (slice(lo, hi),)
        out.append(GetItem.apply(a, idx))
    return out


def pad(a: Tensor, pad_width, constant_values=0) -> Tensor:
    """Constant padding with NumPy's ``pad_width`` convention: ((before, after), ...) per axis."""
    return Pad.apply(a, pad_width, constant_values)


def getitem(a: Tensor, index) -> Tensor:
    return GetItem.apply(a, _convert_index(index))


def copy(a: Tensor) -> Tensor:
    return Copy.apply(a)
