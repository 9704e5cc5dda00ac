"""Activations and softmax: relu, leaky_relu, elu, gelu, sigmoid, tanh, softplus,
softmax, log_softmax. Each forward is written to be numerically stable for large
inputs, and each backward reuses what the forward computed.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Function
from ._util import normalize_axis

try:  # exact erf for GELU: SciPy when present, else the standard library per element
    from scipy.special import erf as _erf
except Exception:  # pragma: no cover - depends on the environment
    _erf_scalar = np.frompyfunc(math.erf, 1, 1)

    def _erf(x):
        return _erf_scalar(x).astype(x.dtype)


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.out = out
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * (ctx.out > 0)


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
        cdf = 0.5 * (1 + _erf(x / _SQRT_2))
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


def relu(x):
    return ReLU.apply(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(x, negative_slope)


def elu(x, alpha=1.0):
    return ELU.apply(x, alpha)


def gelu(x, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(x, approximate)


def sigmoid(x):
    return Sigmoid.apply(x)


def tanh(x):
    return Tanh.apply(x)


def softplus(x, beta=1.0, threshold=20.0):
    return Softplus.apply(x, beta, threshold)


def softmax(x, axis=-1):
    return Softmax.apply(x, normalize_axis(axis, x.ndim, "softmax"))


def log_softmax(x, axis=-1):
    return LogSoftmax.apply(x, normalize_axis(axis, x.ndim, "log_softmax"))
