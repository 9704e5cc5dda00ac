"""Activation layers: thin ``Module`` wrappers around the ops in ``deepgrad.ops.activation``
(course 1: "why non-linear activation functions"; ReLU, tanh, sigmoid, softmax)."""
from __future__ import annotations

from ..autograd import Function
from ..ops import activation as A
from ..ops._util import normalize_axis
from .module import Module


class ReLU(Module):
    """max(x, 0), any shape."""

    def __init__(self, inplace: bool = False):  # ``inplace`` accepted for PyTorch compatibility
        super().__init__()

    def forward(self, x):
        return A.ReLU.apply(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x):
        return A.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x) (``approximate='tanh'`` for the tanh formula)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Sigmoid(Module):
    """1 / (1 + exp(-x)): a probability for binary classification."""

    def forward(self, x):
        return A.Sigmoid.apply(x)


class Tanh(Module):
    def forward(self, x):
        return A.Tanh.apply(x)


class Softplus(Module):
    """(1/beta) log(1 + exp(beta x)), linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return A.softplus(x, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class SiLU(Module):
    """x * sigmoid(x) (swish)."""

    def forward(self, x):
        return x * A.Sigmoid.apply(x)


class _SoftmaxBase(Module):
    _fn: type[Function] | None = None

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        # PyTorch's legacy default when dim is None: dim 0 for 0-D/1-D/3-D input, else 1
        dim = self.dim if self.dim is not None else (0 if x.ndim in (0, 1, 3) else 1)
        return type(self)._fn.apply(x, normalize_axis(dim, x.ndim, type(self).__name__))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_SoftmaxBase):
    """exp(x_i) / sum_j exp(x_j) along ``dim``: class probabilities (course 2, softmax regression)."""

    _fn = A.Softmax


class LogSoftmax(_SoftmaxBase):
    """log softmax along ``dim`` (pair with ``NLLLoss``)."""

    _fn = A.LogSoftmax
