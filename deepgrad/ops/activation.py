"""Activations and softmax: relu, leaky_relu, elu, gelu, sigmoid, tanh, softplus,
softmax, log_softmax. Each forward is written to be numerically stable for large
inputs, and each backward reuses what the forward computed.
"""

from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from ._util import axis_arg, normalize_axis
from .elementwise import _floating
from .threads import parallel_blocks


def _load_erf():
    """The error function for exact GELU: SciPy's when it is installed, else the standard
    library's per element. Loaded on first use, so that ``import deepgrad`` does not
    import SciPy (about a quarter of a second)."""
    try:
        from scipy.special import erf
    except ImportError:  # pragma: no cover - depends on the environment
        scalar = np.frompyfunc(math.erf, 1, 1)
        return lambda v: np.asarray(scalar(v)).astype(v.dtype)
    return erf


_erf = None


def _erf_array(x):
    global _erf
    if _erf is None:
        _erf = _load_erf()
    return _erf(x)


class ReLU(Function):
    """``max(x, 0)``; the gradient passes where the output is positive. Large arrays are
    cut into blocks along their outermost axis in memory, one per thread."""

    @staticmethod
    def forward(ctx, x):
        out = np.empty_like(x)  # (keeps x's memory layout)
        parallel_blocks(lambda i: np.maximum(x[i], 0, out=out[i]), out)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        out = ctx.out
        dx = np.empty_like(grad)  # (the engine hands grad over in out's layout)
        parallel_blocks(lambda i: np.multiply(grad[i], out[i] > 0, out=dx[i]), dx)
        return dx


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.pos, ctx.slope = x > 0, slope
        return np.where(ctx.pos, x, x * slope)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.pos, grad, grad * ctx.slope), None


class ELU(Function):
    @staticmethod
    def forward(ctx, x, alpha):
        pos = x > 0
        e = np.exp(np.minimum(x, 0))
        ctx.pos, ctx.e, ctx.alpha = pos, e, alpha
        return np.where(pos, x, alpha * (e - 1))

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.pos, grad, grad * ctx.alpha * ctx.e), None


_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class GELU(Function):
    """x * Phi(x); ``approximate='tanh'`` uses 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))."""

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.x, ctx.approximate = x, approximate
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
            t = np.tanh(inner)
            ctx.t = t
            return 0.5 * x * (1 + t)
        cdf = 0.5 * (1 + _erf_array(x / _SQRT_2))
        ctx.cdf = cdf
        return x * cdf

    @staticmethod
    def backward(ctx, grad):
        x = ctx.x
        if ctx.approximate == "tanh":
            t = ctx.t
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner), None
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
        return grad * (ctx.cdf + x * pdf), None


def stable_sigmoid(x, e=None):
    """``1 / (1 + exp(-x))`` with exp of a non-positive number only: no overflow for any x.
    ``e``, if given, is ``exp(-|x|)`` already computed by the caller."""
    if e is None:
        e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1, e) / (1 + e)


def log_softmax_array(x, axis):
    """log(softmax(x)) along ``axis`` on an ndarray, shifted by the max for stability."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = stable_sigmoid(x).astype(x.dtype, copy=False)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        s = ctx.out
        return grad * s * (1 - s)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        t = ctx.out
        return grad * (1 - t * t)


class Softplus(Function):
    """(1/beta) log(1 + exp(beta x)), linear above ``threshold`` (as in PyTorch)."""

    @staticmethod
    def forward(ctx, x, beta, threshold):
        z = beta * x
        ctx.z, ctx.lin = z, z > threshold
        soft = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / beta
        return np.where(ctx.lin, x, soft).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        return np.where(ctx.lin, grad, grad * stable_sigmoid(ctx.z)), None, None


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def backward(ctx, grad):
        s = ctx.out
        return s * (grad - (grad * s).sum(axis=ctx.axis, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        out = log_softmax_array(x, axis)
        ctx.out, ctx.axis = out, axis
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad - np.exp(ctx.out) * grad.sum(axis=ctx.axis, keepdims=True), None


# Integer and boolean inputs are computed in float32 (as in PyTorch), except by relu.
def relu(x: Tensor) -> Tensor:
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLU.apply(_floating(x), negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return ELU.apply(_floating(x), alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(_floating(x), approximate)


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(_floating(x))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(_floating(x))


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return Softplus.apply(_floating(x), beta, threshold)


def softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``axis`` (``dim``), default the last."""
    ax = normalize_axis(axis_arg("softmax", axis, dim, -1), x.ndim, "softmax")
    return Softmax.apply(_floating(x), ax)


def log_softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``axis`` (``dim``), default the last, computed stably."""
    ax = normalize_axis(axis_arg("log_softmax", axis, dim, -1), x.ndim, "log_softmax")
    return LogSoftmax.apply(_floating(x), ax)
