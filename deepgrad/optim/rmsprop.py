"""RMSprop (course 2, week 2): divide the gradient by a running root-mean-square of
recent gradients, damping the directions that oscillate.

PyTorch's update, for gradient g of parameter p:

    g = g + weight_decay * p
    s = alpha * s + (1 - alpha) * g^2
    centered:  a = a + (1 - alpha) * (g - a);  denom = sqrt(s - a^2) + eps
    else:      denom = sqrt(s) + eps
    momentum > 0:  b = momentum * b + g / denom;  p = p - lr * b
    else:          p = p - lr * g / denom
"""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_nonneg


class RMSprop(Optimizer):
    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum: float = 0.0, centered: bool = False, maximize: bool = False):
        check_nonneg("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def state_names(self, group):
        names = ("square_avg",)
        if group["momentum"] > 0:
            names += ("momentum_buffer",)
        if group["centered"]:
            names += ("grad_avg",)
        return names

    def _update(self, group, ch, sl, step):
        lr, alpha, eps, wd, mu = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
        p = ch.data[sl]
        g = self._effective_grad(ch, sl, group["maximize"], wd)  # the raw grad or scratch tmp(1)
        t = ch.tmp(0)[sl]
        s = ch.state["square_avg"][sl]
        s *= alpha
        np.multiply(g, g, out=t)
        t *= 1 - alpha
        s += t
        if group["centered"]:
            a = ch.state["grad_avg"][sl]
            np.subtract(g, a, out=t)  # a.lerp_(g, 1 - alpha)
            t *= 1 - alpha
            a += t
            np.multiply(a, a, out=t)
            np.subtract(s, t, out=t)
            np.sqrt(t, out=t)
        else:
            np.sqrt(s, out=t)
        t += eps
        np.divide(g, t, out=t)
        if mu > 0:
            b = ch.state["momentum_buffer"][sl]
            b *= mu
            b += t
            np.multiply(b, -lr, out=t)
        else:
            t *= -lr
        p += t
