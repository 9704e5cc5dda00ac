"""Adam and AdamW (course 2, week 2: "Adam optimization algorithm").

Adam combines momentum (a moving average m of gradients) with RMSprop (a moving
average v of squared gradients), both bias-corrected for their zero start. PyTorch's
update for parameter p with gradient g at step t:

    g = g + weight_decay * p                 (Adam: L2 penalty added to the gradient)
    p = p * (1 - lr * weight_decay)          (AdamW: decoupled weight decay instead)
    m = m + (1 - beta1) * (g - m)            (= beta1 m + (1 - beta1) g)
    v = beta2 * v + (1 - beta2) * g^2
    v_max = max(v_max, v)                    (amsgrad only; then v_max replaces v below)
    p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

All parameters of a group are updated together in a few in-place NumPy operations
over the flat buffers (see ``optimizer.py``).
"""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, check_nonneg


class Adam(Optimizer):
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, maximize: bool = False):
        name = type(self).__name__
        check_nonneg(name, lr=lr, eps=eps, weight_decay=weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"{name}: invalid betas {betas} (each must be in [0, 1))")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize))

    def state_names(self, group):
        names = ("exp_avg", "exp_avg_sq")
        return names + ("max_exp_avg_sq",) if group["amsgrad"] else names

    def _update(self, group, ch, sl, step):
        lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
        b1, b2 = group["betas"]
        p = ch.data[sl]
        if self._decoupled:
            if wd != 0:
                p *= 1 - lr * wd
            g = self._effective_grad(ch, sl, group["maximize"], 0.0)
        else:
            g = self._effective_grad(ch, sl, group["maximize"], wd)  # the raw grad or scratch tmp(1)
        t = ch.tmp(0)[sl]
        m = ch.state["exp_avg"][sl]
        v = ch.state["exp_avg_sq"][sl]
        # m.lerp_(g, 1 - beta1), as PyTorch computes it
        np.subtract(g, m, out=t)
        t *= 1 - b1
        m += t
        # v = beta2 v + (1 - beta2) g^2
        np.multiply(g, g, out=t)
        t *= 1 - b2
        v *= b2
        v += t
        if group["amsgrad"]:
            vmax = ch.state["max_exp_avg_sq"][sl]
            np.maximum(vmax, v, out=vmax)
            v = vmax
        # p -= lr / (1 - b1^t) * m / (sqrt(v) / s + eps),  s = sqrt(1 - b2^t)
        #    = (lr s / (1 - b1^t)) * m / (sqrt(v) + eps s)       (one pass fewer; same up to rounding)
        s = math.sqrt(1 - b2**step)
        np.sqrt(v, out=t)
        t += eps * s
        np.divide(m, t, out=t)
        t *= -lr * s / (1 - b1**step)
        p += t


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): the decay shrinks the
    weights directly, ``p *= 1 - lr * weight_decay``, instead of entering m and v."""

    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.01,
                 amsgrad: bool = False, maximize: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize)
