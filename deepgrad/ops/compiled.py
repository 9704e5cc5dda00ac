"""Optional compiled kernels: where NumPy cannot reach a fair speed, loops compiled by numba.

The core needs NumPy alone, and every op here has a NumPy implementation. A few ops have no
fast NumPy form; for those, when numba is installed (``pip install deepgrad[fast]``; numba
and llvmlite are BSD-2-Clause, ~210 MB installed, work offline), the same op runs as
compiled loops instead. Same layer, same arguments, same results up to float rounding; both
paths are tested against each other and against finite differences.

Two families of ops have kernels:

* the depthwise convolution (``Conv2d`` with ``groups`` equal to its channel counts;
  :mod:`deepgrad.ops.depthwise_numba`);
* the convolution with a small filter bank (``Conv2d`` and the fused conv -> ReLU -> max-pool
  stage ``Conv2dReLUMaxPool2d``, LeNet-5's, with ``groups=1`` and at most
  :data:`~deepgrad.ops.conv.COMPILED_MAX_WEIGHTS` weights; :mod:`deepgrad.ops.conv_numba`).

* ``DEEPGRAD_KERNELS=numpy`` in the environment, or :func:`use_compiled(False)
  <use_compiled>`, runs the NumPy code everywhere.
* numba is imported on the first op that wants it, not at ``import deepgrad``; the kernels
  compile on first use (~1-2 s) and are cached on disk after that.
"""
from __future__ import annotations

import importlib
import os
from types import ModuleType

import numpy as np

_enabled = os.environ.get("DEEPGRAD_KERNELS", "").strip().lower() not in ("numpy", "0", "off", "none")
_loaded: dict[str, ModuleType | None] = {}


def use_compiled(flag: bool) -> bool:
    """Turn the compiled kernels on or off for this process; returns the previous setting."""
    global _enabled
    old, _enabled = _enabled, bool(flag)
    return old


#: The dtypes the kernels are compiled for; other float dtypes (float16) run the NumPy code.
DTYPES = ("float32", "float64")


def _kernels(name: str, dtype) -> ModuleType | None:
    if not _enabled or (dtype is not None and np.dtype(dtype).name not in DTYPES):
        return None
    if name not in _loaded:
        try:
            _loaded[name] = importlib.import_module(f"{__package__}.{name}_numba")
        except ImportError:  # numba is not installed: the NumPy code runs
            _loaded[name] = None
    return _loaded[name]


def depthwise_kernels(dtype=None) -> ModuleType | None:
    """The depthwise convolution's compiled kernels, or None (numba missing or turned off, or a
    ``dtype`` the kernels are not compiled for)."""
    return _kernels("depthwise", dtype)


def conv_kernels(dtype=None) -> ModuleType | None:
    """The direct convolution's and the fused conv -> ReLU -> max-pool stage's compiled kernels,
    or None (as :func:`depthwise_kernels`)."""
    return _kernels("conv", dtype)


conv_relu_pool_kernels = conv_kernels  # (the same module serves both)


def describe() -> str:
    """One line for reports: which kernels run."""
    if not _enabled:
        return "numpy (compiled kernels turned off)"
    mod = depthwise_kernels()
    if mod is None:
        return "numpy (numba not installed)"
    import numba

    return f"numba {numba.__version__} (depthwise convolution; small-filter convolution and conv-ReLU-max-pool)"
