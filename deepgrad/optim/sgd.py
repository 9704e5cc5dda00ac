"""Stochastic gradient descent, with momentum (course 2, week 2) and Nesterov momentum.

PyTorch's update, for gradient g of parameter p at step t:

    g = g + weight_decay * p                       (L2 regularisation)
    v = g                              at t = 1    (momentum buffer)
    v = momentum * v + (1 - dampening) * g   later
    g = g + momentum * v   (nesterov)   or   g = v
    p = p - lr * g

(The course writes momentum as v = beta v + (1 - beta) dW; PyTorch's form without the
(1 - beta) only rescales the effective learning rate by 1/(1 - beta).)
"""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, check_nonneg


class SGD(Optimizer):
    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, maximize: bool = False):
        check_nonneg("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def state_names(self, group):
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _param_state(self, group, ch, i):
        st = super()._param_state(group, ch, i)
        st.pop("step")  # PyTorch's SGD state holds only the momentum buffer
        return st

    def _update(self, group, ch, sl, step):
        lr, mu, damp, wd = group["lr"], group["momentum"], group["dampening"], group["weight_decay"]
        p = ch.data[sl]
        g = self._effective_grad(ch, sl, group["maximize"], wd)  # the raw grad or scratch tmp(1)
        if mu != 0:
            buf = ch.state["momentum_buffer"][sl]
            if step == 1:
                np.copyto(buf, g)
            else:
                buf *= mu
                if damp != 0:
                    t = ch.tmp(0)[sl]
                    np.multiply(g, 1 - damp, out=t)
                    buf += t
                else:
                    buf += g
            if group["nesterov"]:
                t = ch.tmp(0)[sl]
                np.multiply(buf, mu, out=t)
                t += g
                g = t
            else:
                g = buf
        t = ch.tmp(0)[sl]  # g may already be this scratch: elementwise in place is fine
        np.multiply(g, -lr, out=t)
        p += t
