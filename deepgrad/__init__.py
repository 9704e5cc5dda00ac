"""deepgrad: deep learning built up from the computational graph, on NumPy.

>>> import deepgrad as dg
>>> x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = (x * x).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.], dtype=float32)

``import deepgrad as dg`` is enough, as ``import torch`` is: ``dg.nn``,
``dg.nn.functional``, ``dg.optim`` (with ``dg.optim.lr_scheduler``), ``dg.data``,
``dg.train`` and ``dg.vision`` are attributes of the package (``data``, ``train`` and
``vision`` are imported on first use, which keeps ``import deepgrad`` fast).
"""

from typing import TYPE_CHECKING

from numpy import bool_, float32, float64, int32, int64

from . import check, nn, optim
from .autograd import Context, Function, enable_grad, is_grad_enabled, no_grad
from .check.anomaly import detect_anomaly, set_detect_anomaly
from .creation import arange, empty, eye, from_numpy, full, ones, ones_like, rand, randn, zeros, zeros_like
from .ops import *  # noqa: F403
from .ops import __all__ as _ops_all
from .ops.threads import get_num_threads, set_num_threads
from .random import default_generator, manual_seed, seed
from .serialization import load_model, load_weights, save_model, save_weights
from .tensor import Tensor, as_tensor, tensor

if TYPE_CHECKING:  # imported on first use (see __getattr__); named here for editors and type checkers
    from . import data, train, vision

__version__ = "0.1.0"

_LAZY = ("data", "train", "vision")

__all__ = [
    *_ops_all,
    "Context",
    "Function",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "detect_anomaly",
    "set_detect_anomaly",
    "default_generator",
    "manual_seed",
    "seed",
    "get_num_threads",
    "set_num_threads",
    "Tensor",
    "as_tensor",
    "tensor",
    "arange",
    "empty",
    "eye",
    "from_numpy",
    "full",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "zeros",
    "zeros_like",
    "bool_",
    "float32",
    "float64",
    "int32",
    "int64",
    "load_model",
    "load_weights",
    "save_model",
    "save_weights",
    "check",
    "nn",
    "optim",
    "data",
    "train",
    "vision",
]


def __getattr__(name: str):
    """Import ``deepgrad.data``, ``deepgrad.train`` and ``deepgrad.vision`` on first access."""
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")


def __dir__() -> list:
    return sorted({*__all__, "__version__"})
