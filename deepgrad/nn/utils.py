"""Gradient clipping (course 5: exploding gradients in RNNs) and flattening parameters.

``clip_grad_norm_`` rescales all gradients together so that their joint norm is at most
``max_norm`` (the direction is kept); ``clip_grad_value_`` clips each element to
[-clip_value, clip_value]. Both act in place on ``p.grad`` and skip parameters whose
gradient is None, like PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """Scale gradients in place so that ``||concat(grads)||_p <= max_norm``.

    Exactly PyTorch's rule: ``coef = min(1, max_norm / (total_norm + 1e-6))``, all
    gradients multiplied by ``coef``. Returns the total norm *before* clipping as a
    NumPy float64 scalar (``float()``, ``.item()`` and formatting all work).
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.number)) or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return np.float64(0.0)
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == 2.0:
        sq = 0.0
        for g in grads:
            f = g.reshape(-1)
            sq += float(np.dot(f, f))  # BLAS dot: no temporary array
        total = math.sqrt(sq)
    elif norm_type == 1.0:
        total = float(sum(float(np.abs(g).sum()) for g in grads))
    else:
        total = float(sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum()) for g in grads)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is non-finite ({total}); "
            "pass error_if_nonfinite=False to clip anyway"
        )
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return np.float64(total)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element to [-clip_value, clip_value] in place."""
    v = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -v, v, out=g)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D Tensor (a copy)."""
    ps = _as_list(parameters)
    if not ps:
        return Tensor._wrap(np.zeros(0, dtype=np.float32))
    return Tensor._wrap(np.concatenate([np.asarray(p.data).reshape(-1) for p in ps]))


def vector_to_parameters(vec, parameters) -> None:
    """Copy slices of the 1-D ``vec`` back into the parameters, in order (inverse of the above)."""
    v = np.asarray(getattr(vec, "data", vec))
    ps = _as_list(parameters)
    need = sum(p.data.size for p in ps)
    if v.ndim != 1 or v.size != need:
        raise ValueError(f"vector_to_parameters: expected a vector of {need} values, got shape {v.shape}")
    off = 0
    for p in ps:
        n = p.data.size
        p.data[...] = v[off:off + n].reshape(p.data.shape)
        off += n
