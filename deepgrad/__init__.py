"""deepgrad: deep learning built up from the computational graph, on NumPy.

>>> import deepgrad as dg
>>> x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)
"""
from __future__ import annotations

import numpy as np

from . import _methods  # noqa: F401  (installs Tensor operators and methods)
from .autograd import Context, Function, enable_grad, is_grad_enabled, no_grad
from .ops import *  # noqa: F401,F403
from .random import default_generator, manual_seed, seed
from .tensor import Tensor, as_tensor, tensor

from . import check, nn  # noqa: E402,F401  (after the core they build on)
from .check.anomaly import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
from .serialization import load_model, load_weights, save_model, save_weights  # noqa: E402,F401

__version__ = "0.1.0"

float32 = np.float32
float64 = np.float64
int64 = np.int64
int32 = np.int32
bool_ = np.bool_


def _shape(shape) -> tuple:
    """``f(2, 3)`` and ``f((2, 3))`` alike: the shape as a tuple."""
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape


def _factory(fn):
    def make(*shape, dtype=np.float32, requires_grad=False):
        return Tensor(fn(_shape(shape), dtype), requires_grad=requires_grad)

    return make


zeros = _factory(lambda s, d: np.zeros(s, d))
ones = _factory(lambda s, d: np.ones(s, d))
empty = zeros


def randn(*shape, dtype=np.float32, requires_grad=False, generator=None):
    """Standard-normal samples from the library generator (see ``deepgrad.manual_seed``)."""
    shape = _shape(shape)
    g = generator or default_generator()
    return Tensor(g.standard_normal(shape, dtype=np.dtype(dtype)), requires_grad=requires_grad)


def rand(*shape, dtype=np.float32, requires_grad=False, generator=None):
    shape = _shape(shape)
    g = generator or default_generator()
    return Tensor(g.random(shape, dtype=np.dtype(dtype)), requires_grad=requires_grad)


def full(shape, fill_value, dtype=np.float32, requires_grad=False):
    return Tensor(np.full(shape, fill_value, dtype), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return Tensor(np.zeros_like(t.data, dtype=dtype), requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return Tensor(np.ones_like(t.data, dtype=dtype), requires_grad=requires_grad)


def arange(*args, dtype=None):
    arr = np.arange(*args)
    return Tensor(arr if dtype is None else arr.astype(dtype), dtype=None if dtype is None else dtype)


def eye(n, m=None, dtype=np.float32):
    return Tensor(np.eye(n, m, dtype=dtype))


def from_numpy(arr: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (keeps its dtype)."""
    return Tensor._wrap(np.asarray(arr))
