"""Record what each module of a model outputs during one forward pass (for inspect and explain).

A context manager: inside it, a forward hook on every module (removed on exit) keeps the
first output of each module (with ``retain_grad`` its gradient is filled by ``backward``)
and, optionally, its positional inputs.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..tensor import Tensor


def leaf_modules(model) -> list:
    """(name, module) of the modules without children: the layers a table reports on."""
    return [(n, m) for n, m in model.named_modules() if n and not any(True for _ in m.children())]


@contextmanager
def record_outputs(model, names=None, retain_grad: bool = False, inputs: bool = False):
    """Yield a dict name -> output Tensor (and name -> input args when ``inputs``) filled by forward passes."""
    outs: dict = {}
    ins: dict = {}
    mods = [(n, m) for n, m in model.named_modules() if names is None or n in names]

    def hook_for(name):
        def hook(module, args, out):
            if name not in outs and isinstance(out, Tensor):
                if retain_grad and out.requires_grad:
                    out.retain_grad()
                outs[name] = out
                if inputs:
                    ins[name] = args

        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in mods]
    try:
        yield (outs, ins) if inputs else outs
    finally:
        for h in handles:
            h.remove()
