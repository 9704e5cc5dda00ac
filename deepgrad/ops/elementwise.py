"""Elementwise arithmetic and math: forward and backward side by side.

Each binary op accepts a Tensor or a plain number/array on either side and
broadcasts like NumPy; the engine (``autograd.unbroadcast``) sums gradients back to
each input's shape, so the backward rules below are written for same-shaped inputs.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import one_of
from .promotion import as_operand, cast_operand, result_type


def _shape(x):
    return np.shape(x)


def _keeps_dtype(arr: np.ndarray, other, floating: bool) -> bool:
    """Whether ``arr`` op ``other`` already computes in ``arr``'s dtype (the common cases, decided
    without the general promotion: same dtypes, or a float array with a Python number)."""
    kind = arr.dtype.kind
    t = type(other)
    if t is np.ndarray:
        return arr.dtype == other.dtype and (kind == "f" or not floating)
    if t is float:
        return kind == "f"
    if t is int:
        return kind == "f" or (kind in "iu" and not floating)
    return False


def _promoted(a, b, floating: bool = False):
    """``a`` and ``b`` (ndarrays or Python scalars) in their common dtype, by PyTorch's
    promotion rules (``floating``: at least float32, for true division)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.dtype == b.dtype and not floating:
        return a, b  # the common case first, without further calls
    if (type(a) is np.ndarray and _keeps_dtype(a, b, floating)) or (
        type(b) is np.ndarray and type(a) is not np.ndarray and _keeps_dtype(b, a, floating)
    ):
        return a, b
    dt = result_type(a, b)
    if floating and dt.kind != "f":
        dt = np.dtype(np.float32)
    return cast_operand(a, dt), cast_operand(b, dt)


def _binary(op_name, ufunc, a, b):
    """``ufunc(a, b)`` on operands already promoted, with a broadcasting error that names the op."""
    try:
        return ufunc(a, b)
    except ValueError as e:
        if "broadcast" in str(e):
            raise ValueError(f"{op_name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together") from None
        raise


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("add", np.add, *_promoted(a, b))

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _binary("sub", np.subtract, *_promoted(a, b))

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = _promoted(a, b)
        ctx.a, ctx.b = a, b
        return _binary("mul", np.multiply, a, b)

    @staticmethod
    def backward(ctx, grad):
        na, nb = ctx.needs_input_grad
        return (grad * ctx.b if na else None), (grad * ctx.a if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        a, b = _promoted(a, b, floating=True)
        out = _binary("div", np.true_divide, a, b)
        ctx.b, ctx.out = b, out
        return out

    @staticmethod
    def backward(ctx, grad):
        na, nb = ctx.needs_input_grad
        ga = grad / ctx.b if na else None
        gb = -grad * ctx.out / ctx.b if nb else None
        return ga, gb


class Pow(Function):
    """``a ** b``; d/da = b a^(b-1), d/db = a^b log a."""

    @staticmethod
    def forward(ctx, a, b):
        a, b = _promoted(a, b)
        out = _binary("pow", np.power, a, b)
        ctx.a, ctx.b, ctx.out = a, b, out
        return out

    @staticmethod
    def backward(ctx, grad):
        na, nb = ctx.needs_input_grad
        a, b = ctx.a, ctx.b
        ga = gb = None
        if na:
            if isinstance(b, (int, float)) and b == 2:
                ga = grad * 2 * a
            else:
                ga = grad * b * np.power(a, b - 1)
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = grad * ctx.out * np.log(a)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.out


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.log(a)

    @staticmethod
    def backward(ctx, grad):
        return grad / ctx.a


class Sqrt(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.sqrt(a)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad / (2 * ctx.out)


class Abs(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return np.abs(a)

    @staticmethod
    def backward(ctx, grad):
        return grad * np.sign(ctx.a)


class Clip(Function):
    """Clamp to [a_min, a_max]; the gradient passes where a_min <= x <= a_max (as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, a_min, a_max):
        ctx.a, ctx.lo, ctx.hi = a, a_min, a_max
        return np.clip(a, a_min, a_max)

    @staticmethod
    def backward(ctx, grad):
        a = ctx.a
        mask = np.ones(a.shape, dtype=bool)
        if ctx.lo is not None:
            mask &= a >= ctx.lo
        if ctx.hi is not None:
            mask &= a <= ctx.hi
        return grad * mask, None, None


class Maximum(Function):
    """Elementwise max (or min with ``is_max=False``); on ties each side gets half the
    gradient (as in PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, is_max=True):
        a, b = _promoted(a, b)
        ctx.a, ctx.b, ctx.is_max = a, b, is_max
        return _binary("maximum" if is_max else "minimum", np.maximum if is_max else np.minimum, a, b)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.a, ctx.b
        wa = ((a > b) if ctx.is_max else (a < b)) + 0.5 * (a == b)
        na, nb = ctx.needs_input_grad
        return (grad * wa if na else None), (grad * (1 - wa) if nb else None)


class Where(Function):
    """``condition ? x : y``; the condition is a boolean array and gets no gradient."""

    @staticmethod
    def forward(ctx, cond, x, y):
        cond = np.asarray(cond, dtype=bool)
        x, y = _promoted(x, y)
        ctx.cond = cond
        try:
            return np.where(cond, x, y)
        except ValueError:
            raise ValueError(
                f"where: shapes {_shape(cond)}, {_shape(x)} and {_shape(y)} cannot be broadcast together"
            ) from None

    @staticmethod
    def backward(ctx, grad):
        _, nx, ny = ctx.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        gx = np.where(ctx.cond, grad, zero) if nx else None
        gy = np.where(ctx.cond, zero, grad) if ny else None
        return None, gx, gy


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad.astype(ctx.dtype), None


# ----- public functions --------------------------------------------------------------
def _operand(x):
    t = type(x)
    if t is float or t is int or isinstance(x, Tensor):
        return x
    return as_operand(x)


# The binary ops below skip _operand for plain Tensors (the hot path of every model).


def _floating(a: Tensor) -> Tensor:
    """An integer or boolean tensor as float32 (exp, log and sqrt of integers are float32, as in PyTorch)."""
    if not isinstance(a, Tensor):
        a = Tensor(a)
    return a if a.data.dtype.kind == "f" else Tensor._wrap(a.data.astype(np.float32))


def add(a, b) -> Tensor:
    """``a + b`` with broadcasting and PyTorch's type promotion."""
    return Add.apply(a if type(a) is Tensor else _operand(a), b if type(b) is Tensor else _operand(b))


def sub(a, b) -> Tensor:
    return Sub.apply(a if type(a) is Tensor else _operand(a), b if type(b) is Tensor else _operand(b))


subtract = sub


def mul(a, b) -> Tensor:
    return Mul.apply(a if type(a) is Tensor else _operand(a), b if type(b) is Tensor else _operand(b))


multiply = mul


def div(a, b) -> Tensor:
    """True division; integer inputs give float32 (as in PyTorch)."""
    return Div.apply(a if type(a) is Tensor else _operand(a), b if type(b) is Tensor else _operand(b))


divide = true_divide = div


def pow(a, b) -> Tensor:  # noqa: A001 - NumPy's name
    return Pow.apply(a if type(a) is Tensor else _operand(a), b if type(b) is Tensor else _operand(b))


power = pow


def neg(a) -> Tensor:
    return Neg.apply(a)


negative = neg


def exp(a) -> Tensor:
    return Exp.apply(_floating(a))


def log(a) -> Tensor:
    return Log.apply(_floating(a))


def sqrt(a) -> Tensor:
    return Sqrt.apply(_floating(a))


def abs(a) -> Tensor:  # noqa: A001 - NumPy's name
    return Abs.apply(a)


def clip(a, a_min=None, a_max=None, *, min=None, max=None) -> Tensor:  # noqa: A002 - PyTorch's names
    """Clamp to ``[a_min, a_max]`` (NumPy's names) or ``[min, max]`` (PyTorch's ``clamp``)."""
    lo = one_of("clip", "a_min", a_min, "min", min, None)
    hi = one_of("clip", "a_max", a_max, "max", max, None)
    if lo is None and hi is None:
        raise ValueError("clip: give a_min (min), a_max (max) or both")
    return Clip.apply(a, lo, hi)


clamp = clip


def maximum(a, b) -> Tensor:
    return Maximum.apply(_operand(a), _operand(b))


def minimum(a, b) -> Tensor:
    return Maximum.apply(_operand(a), _operand(b), is_max=False)


def where(condition, x, y) -> Tensor:
    if isinstance(condition, Tensor):
        condition = condition.data
    return Where.apply(condition, _operand(x), _operand(y))


def cast(a, dtype) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype == a.dtype:
        return a
    if dtype.kind != "f":
        return Tensor._wrap(a.data.astype(dtype))
    return Cast.apply(a, dtype)


def _values(x):
    return x.data if isinstance(x, Tensor) else x


def equal(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.equal(_values(a), _values(b))))


def not_equal(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.not_equal(_values(a), _values(b))))


def less(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.less(_values(a), _values(b))))


def less_equal(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.less_equal(_values(a), _values(b))))


def greater(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.greater(_values(a), _values(b))))


def greater_equal(a, b) -> Tensor:
    return Tensor._wrap(np.asarray(np.greater_equal(_values(a), _values(b))))


def sign(a) -> Tensor:
    return Tensor._wrap(np.sign(a.data))
