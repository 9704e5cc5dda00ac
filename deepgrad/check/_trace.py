"""Record what each module of a model outputs during one forward pass (for inspect and explain).

A context manager: inside it, every module's ``forward`` is wrapped on the instance (the
class is untouched, and the wrappers are removed on exit), BatchNorm -> ReLU fusion is
switched off so each layer's own output is seen, and the first output of each module is
kept (with ``retain_grad`` its gradient is filled by ``backward``).
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
    from ..nn.batchnorm import unfused

    outs: dict = {}
    ins: dict = {}
    mods = [(n, m) for n, m in model.named_modules() if names is None or n in names]

    def wrap(name, orig):
        def forward(*args, **kwargs):
            out = orig(*args, **kwargs)
            if name not in outs and isinstance(out, Tensor):
                if retain_grad and out.requires_grad:
                    out.retain_grad()
                outs[name] = out
                if inputs:
                    ins[name] = args
            return out

        return forward

    for n, m in mods:
        object.__setattr__(m, "forward", wrap(n, m.forward))
    try:
        with unfused():
            yield (outs, ins) if inputs else outs
    finally:
        for _, m in mods:
            if "forward" in m.__dict__:
                object.__delattr__(m, "forward")
