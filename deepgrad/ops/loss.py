"""Losses: cross-entropy (fused log-softmax + NLL), NLL, binary cross-entropy (on
probabilities and, stably, on logits) and mean squared error.

Cross-entropy is one op with a hand-written backward: for logits z, target
distribution q (one-hot, smoothed, or weighted) the gradient of
-sum_c q_c log softmax(z)_c is softmax(z) * sum_c q_c - q.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..tensor import Tensor
from .activation import log_softmax_array, stable_sigmoid

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, op):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _class_targets(t, c, weight, ignore_index, dtype, op):
    """Class-index targets (n,) -> ``(valid, tv, w_t)``: the rows not ignored, the targets with
    ignored rows set to class 0, and each row's weight (0 where ignored)."""
    valid = t != ignore_index
    tv = np.where(valid, t, 0)
    if valid.any() and (tv.min() < 0 or tv.max() >= c):
        bad = tv[(tv < 0) | (tv >= c)][0]
        raise IndexError(f"{op}: target {bad} is out of range for {c} classes")
    w_t = np.where(valid, 1.0 if weight is None else weight[tv], 0.0).astype(dtype)
    return valid, tv, w_t


def _reduce_weighted(losses, reduction, denom, shape):
    """Per-row losses -> their sum / ``denom`` ("mean", a weighted mean), sum, or ``shape`` ("none")."""
    if reduction == "mean":
        return losses.sum() / denom
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(shape)


def _to_2d(z):
    """(N, C, d1, ...) -> (N*d1*..., C), so every loss below works on rows."""
    if z.ndim == 2:
        return z
    return np.moveaxis(z, 1, -1).reshape(-1, z.shape[1])


def _from_2d(g, shape):
    if len(shape) == 2:
        return g
    moved = (shape[0], *shape[2:], shape[1])
    return np.moveaxis(g.reshape(moved), -1, 1)


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, reduction, label_smoothing):
        z = _to_2d(logits)
        n, c = z.shape
        logp = log_softmax_array(z, 1)
        ls = label_smoothing
        if target.dtype.kind in "iu":  # class indices
            t = target.reshape(-1)
            if t.shape[0] != n:
                raise ValueError(
                    f"cross_entropy: input of shape {logits.shape} needs a target of shape "
                    f"{(logits.shape[0], *logits.shape[2:])}, got {target.shape}"
                )
            valid, tv, w_t = _class_targets(t, c, weight, ignore_index, z.dtype, "cross_entropy")
            q = np.zeros_like(z)
            q[np.arange(n), tv] = (1 - ls) * w_t
            if ls:
                wc = np.ones(c, z.dtype) if weight is None else weight
                q += (ls / c) * wc[None, :] * valid[:, None]
            denom = w_t.sum()
        else:  # class probabilities
            t = _to_2d(target)
            if t.shape != z.shape:
                raise ValueError(
                    f"cross_entropy: probability target of shape {target.shape} must match input {logits.shape}"
                )
            q = (1 - ls) * t + ls / c if ls else t
            if weight is not None:
                q = q * weight[None, :]
            denom = n
        losses = -(q * logp).sum(axis=1)
        out = _reduce_weighted(losses, reduction, denom, (logits.shape[0], *logits.shape[2:]))
        ctx.logp, ctx.q, ctx.reduction, ctx.denom, ctx.shape = logp, q, reduction, denom, logits.shape
        return np.asarray(out, dtype=z.dtype)

    @staticmethod
    def backward(ctx, grad):
        q = ctx.q
        g = np.exp(ctx.logp) * q.sum(axis=1, keepdims=True) - q
        if ctx.reduction == "mean":
            g *= grad / ctx.denom
        elif ctx.reduction == "sum":
            g *= grad
        else:
            g *= grad.reshape(-1, 1)
        return _from_2d(g, ctx.shape), None, None, None, None, None


class NLLLoss(Function):
    @staticmethod
    def forward(ctx, logp, target, weight, ignore_index, reduction):
        z = _to_2d(logp)
        n, c = z.shape
        t = target.reshape(-1)
        if t.shape[0] != n:
            raise ValueError(f"nll_loss: input of shape {logp.shape} does not fit target of shape {target.shape}")
        _, tv, w_t = _class_targets(t, c, weight, ignore_index, z.dtype, "nll_loss")
        losses = -z[np.arange(n), tv] * w_t
        denom = w_t.sum()
        out = _reduce_weighted(losses, reduction, denom, (logp.shape[0], *logp.shape[2:]))
        ctx.tv, ctx.w_t, ctx.denom, ctx.reduction, ctx.shape, ctx.dtype = tv, w_t, denom, reduction, logp.shape, z.dtype
        return np.asarray(out, dtype=z.dtype)

    @staticmethod
    def backward(ctx, grad):
        n = ctx.tv.shape[0]
        g = np.zeros((n, ctx.shape[1]), dtype=ctx.dtype)
        scale = grad / ctx.denom if ctx.reduction == "mean" else (grad if ctx.reduction == "sum" else grad.reshape(-1))
        g[np.arange(n), ctx.tv] = -ctx.w_t * scale
        return _from_2d(g, ctx.shape), None, None, None, None


def _reduce(losses, reduction):
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _grad_scale(grad, reduction, n):
    return grad / n if reduction == "mean" else grad


class BCEWithLogits(Function):
    """Binary cross-entropy on logits x: max(x,0) - x*t + log(1 + exp(-|x|)), with
    ``pos_weight`` p: (1-t) x + (1 + (p-1) t) (log(1 + exp(-|x|)) + max(-x, 0))."""

    @staticmethod
    def forward(ctx, x, t, weight, pos_weight, reduction):
        e = np.exp(-np.abs(x))
        softplus_neg = np.log1p(e) + np.maximum(-x, 0)  # log(1 + exp(-x))
        if pos_weight is None:
            losses = (1 - t) * x + softplus_neg
            lw = 1.0
        else:
            lw = 1 + (pos_weight - 1) * t
            losses = (1 - t) * x + lw * softplus_neg
        if weight is not None:
            losses = losses * weight
        sig = stable_sigmoid(x, e)
        ctx.sig, ctx.t, ctx.lw, ctx.weight, ctx.reduction, ctx.n = sig, t, lw, weight, reduction, losses.size
        return np.asarray(_reduce(losses, reduction), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        # d/dx: (1 - t) - lw * (1 - sigmoid(x))
        g = (1 - ctx.t) - ctx.lw * (1 - ctx.sig)
        if ctx.weight is not None:
            g = g * ctx.weight
        g = g * _grad_scale(grad, ctx.reduction, ctx.n)
        return g.astype(ctx.sig.dtype, copy=False), None, None, None, None


class BCE(Function):
    """Binary cross-entropy on probabilities; logs are clamped at -100 as in PyTorch."""

    @staticmethod
    def forward(ctx, p, t, weight, reduction):
        if p.shape != t.shape:
            raise ValueError(f"binary_cross_entropy: input shape {p.shape} and target shape {t.shape} differ")
        if p.size and (p.min() < 0 or p.max() > 1):
            raise ValueError(
                "binary_cross_entropy: input must hold probabilities in [0, 1] (use binary_cross_entropy_with_logits for logits)"
            )
        with np.errstate(divide="ignore"):
            logp = np.maximum(np.log(p), -100)
            log1mp = np.maximum(np.log1p(-p), -100)
        losses = -(t * logp + (1 - t) * log1mp)
        if weight is not None:
            losses = losses * weight
        ctx.p, ctx.t, ctx.weight, ctx.reduction, ctx.n = p, t, weight, reduction, losses.size
        return np.asarray(_reduce(losses, reduction), dtype=p.dtype)

    @staticmethod
    def backward(ctx, grad):
        p, t = ctx.p, ctx.t
        eps = 1e-12
        g = (p - t) / np.maximum(p * (1 - p), eps)
        if ctx.weight is not None:
            g = g * ctx.weight
        g = g * _grad_scale(grad, ctx.reduction, ctx.n)
        return g.astype(p.dtype, copy=False), None, None, None


def _data(x):
    return x.data if isinstance(x, Tensor) else (None if x is None else np.asarray(x))


def _check_ce_target(shape: tuple, t: np.ndarray) -> None:
    """A target that cross_entropy can read: integer class indices of shape (N, d1, ...) or
    float class probabilities of the input's shape (N, C, d1, ...); else a clear error."""
    if t.dtype.kind not in "iuf":
        raise TypeError(
            f"cross_entropy: target must be integer class indices or float class probabilities, got dtype {t.dtype}"
        )
    index_shape = (shape[0], *shape[2:])
    if t.dtype.kind in "iu":
        if t.shape == index_shape:
            return
        hint = ""
        if t.shape == shape:
            hint = "; a one-hot target must be float (class probabilities): pass it as float32"
        elif t.shape == (*index_shape, 1):
            hint = "; drop the trailing size-1 axis (e.g. y.squeeze(-1))"
        raise ValueError(
            f"cross_entropy: a target of class indices (dtype {t.dtype}) must have shape {index_shape} "
            f"for input of shape {tuple(shape)}, got shape {t.shape} (rank {t.ndim}, expected {len(index_shape)}){hint}"
        )
    if t.shape != tuple(shape):
        hint = ""
        if t.shape == index_shape:
            hint = "; for class indices pass an integer target (e.g. y.long())"
        raise ValueError(
            f"cross_entropy: a float target (dtype {t.dtype}) is read as class probabilities and must "
            f"have the input's shape {tuple(shape)}, got shape {t.shape}{hint}"
        )


def cross_entropy(
    input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...) against class indices
    (N,) / (N, d1, ...) or class probabilities shaped like ``input`` (PyTorch's semantics)."""
    _check_reduction(reduction, "cross_entropy")
    if input.ndim < 2:
        raise ValueError(f"cross_entropy: input must be (N, C) logits, got shape {input.shape}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    t = _data(target)
    _check_ce_target(input.shape, t)
    w = _data(weight)
    if w is not None:
        w = w.astype(input.dtype, copy=False)
    if t.dtype.kind == "f":
        t = t.astype(input.dtype, copy=False)
    return CrossEntropy.apply(input, t, w, ignore_index, reduction, float(label_smoothing))


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    _check_reduction(reduction, "nll_loss")
    t = _data(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must be integer class indices, got dtype {t.dtype}")
    index_shape = (input.shape[0], *input.shape[2:])
    if input.ndim < 2 or t.shape != index_shape:
        raise ValueError(
            f"nll_loss: input of shape {input.shape} (N, C, ...) needs a target of shape "
            f"{index_shape if input.ndim >= 2 else '(N,)'}, got {t.shape}"
        )
    w = _data(weight)
    return NLLLoss.apply(input, t, None if w is None else w.astype(input.dtype), ignore_index, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor, target, weight=None, reduction: str = "mean", pos_weight=None
) -> Tensor:
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    t = _data(target).astype(input.dtype, copy=False)
    if t.shape != input.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {t.shape} must match input shape {input.shape}"
        )
    w, pw = _data(weight), _data(pos_weight)
    return BCEWithLogits.apply(input, t, w, pw, reduction)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    _check_reduction(reduction, "binary_cross_entropy")
    t = _data(target).astype(input.dtype, copy=False)
    return BCE.apply(input, t, _data(weight), reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    _check_reduction(reduction, "mse_loss")
    if isinstance(target, Tensor) and target.shape != input.shape:
        raise ValueError(f"mse_loss: input shape {input.shape} and target shape {target.shape} differ")
    diff = input - target
    return _reduce(diff * diff, reduction)
