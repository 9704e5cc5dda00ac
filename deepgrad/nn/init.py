"""Weight initialisation (course 2, week 1: "weight initialization for deep networks").

Every function fills a ``Parameter``/``Tensor`` (or an ndarray) **in place** and
returns it, like ``torch.nn.init``. Random draws come from
``deepgrad.random.default_generator()`` (so ``deepgrad.manual_seed`` makes them
repeatable) unless a ``generator=`` (a ``numpy.random.Generator``) is given.

Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)`` (Linear ``(out, in)``,
Conv2d ``(out, in, kh, kw)``) ``fan_in = in * prod(kernel)`` and
``fan_out = out * prod(kernel)``.

Why the scales: with ``n`` inputs of unit variance, ``z = sum_i w_i x_i`` has variance
``n * Var(w)``. Keeping it near 1 layer after layer avoids exploding / vanishing
activations: ``Var(w) = 1/n`` (Xavier/LeCun, tanh), ``2/n`` (He, ReLU halves the variance).
"""
from __future__ import annotations

import math

import numpy as np

from ..random import default_generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain", "zeros_", "ones_", "constant_", "normal_", "uniform_", "trunc_normal_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "eye_",
    "he_normal_", "he_uniform_", "xavier_", "lecun_normal_", "calculate_fan_in_and_fan_out",
]


def _array(tensor) -> np.ndarray:
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"init: expected a Parameter, Tensor or ndarray to fill in place, got {type(tensor).__name__}")
    if arr.dtype.kind != "f":
        raise TypeError(f"init: can only fill floating-point tensors, got {arr.dtype}")
    return arr


def _rng(generator):
    return generator if generator is not None else default_generator()


def _fill(tensor, values):
    arr = _array(tensor)
    arr[...] = values
    return tensor


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for an activation (PyTorch's table).

    linear / conv / sigmoid: 1; tanh: 5/3; relu: sqrt(2);
    leaky_relu: sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01); selu: 3/4.
    """
    linear_fns = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "identity")
    if nonlinearity in linear_fns:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel)."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        raise ValueError(f"init: fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


# ----- constants -----------------------------------------------------------------------
def zeros_(tensor):
    return _fill(tensor, 0)


def ones_(tensor):
    return _fill(tensor, 1)


def constant_(tensor, val: float):
    return _fill(tensor, val)


def eye_(tensor):
    arr = _array(tensor)
    if arr.ndim != 2:
        raise ValueError(f"eye_: needs a 2-D tensor, got shape {arr.shape}")
    arr[...] = np.eye(*arr.shape, dtype=arr.dtype)
    return tensor


# ----- random ----------------------------------------------------------------------------
def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill from U(a, b)."""
    arr = _array(tensor)
    arr[...] = _rng(generator).uniform(a, b, size=arr.shape)
    return tensor


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill from N(mean, std^2)."""
    arr = _array(tensor)
    arr[...] = _rng(generator).normal(mean, std, size=arr.shape)
    return tensor


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0, generator=None):
    """N(mean, std^2) restricted to [a, b] (rejection sampling)."""
    arr = _array(tensor)
    rng = _rng(generator)
    out = rng.normal(mean, std, size=arr.size)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = rng.normal(mean, std, size=int(bad.sum()))
        bad = (out < a) | (out > b)
    arr[...] = out.reshape(arr.shape)
    return tensor


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot: U(-bound, bound), bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He: U(-bound, bound), bound = sqrt(3) * gain / sqrt(fan) (``a`` is the leaky-ReLU slope)."""
    fan = _fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He: N(0, std^2), std = gain / sqrt(fan)."""
    fan = _fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor, gain: float = 1.0, generator=None):
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al.)."""
    arr = _array(tensor)
    if arr.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {arr.shape}")
    rows, cols = arr.shape[0], arr.size // arr.shape[0]
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    arr[...] = (gain * q).reshape(arr.shape)
    return tensor


# ----- the course's names ------------------------------------------------------------------
def he_normal_(tensor, generator=None):
    """Course 2's "He initialization": ``W = randn(...) * sqrt(2 / n_prev)`` (for ReLU layers)."""
    return kaiming_normal_(tensor, mode="fan_in", nonlinearity="relu", generator=generator)


def he_uniform_(tensor, generator=None):
    return kaiming_uniform_(tensor, mode="fan_in", nonlinearity="relu", generator=generator)


def xavier_(tensor, generator=None):
    """Course 2's "Xavier initialization": ``W = randn(...) * sqrt(1 / n_prev)`` (for tanh layers).

    (Glorot's symmetric version using fan_in + fan_out is ``xavier_normal_``.)"""
    return kaiming_normal_(tensor, mode="fan_in", nonlinearity="linear", generator=generator)


lecun_normal_ = xavier_


def default_reset_(weight, bias=None, generator=None) -> None:
    """PyTorch's default initialization of Linear and Conv layers: ``kaiming_uniform_`` with
    a = sqrt(5) for the weight, the bias uniform in +-1/sqrt(fan_in)."""
    kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if bias is not None:
        bound = 1.0 / math.sqrt(calculate_fan_in_and_fan_out(weight)[0])
        uniform_(bias, -bound, bound, generator=generator)
