"""Transfer learning (course 4, week 2): reuse a trained network's body, train a new head.

* :func:`freeze` / :func:`unfreeze`: turn gradients off/on for a model or some of its
  sub-modules (by name prefix), so the optimizer leaves them as they are.
* :func:`replace_head`: swap the last ``Linear`` layer for a fresh one with a new number of classes.
* :func:`param_groups`: optimizer parameter groups with a lower learning rate for the body
  than for the head ("fine-tune the top layers gently").
"""
from __future__ import annotations

from .. import nn


def _select(model: nn.Module, names):
    if names is None:
        return list(model.parameters())
    names = [names] if isinstance(names, str) else list(names)
    params = [p for n, p in model.named_parameters() if any(n == k or n.startswith(k + ".") for k in names)]
    if not params:
        known = sorted({n.split(".")[0] for n, _ in model.named_parameters()})
        raise KeyError(f"freeze/unfreeze: no parameters under {names}; top-level names: {known}")
    return params


def freeze(model: nn.Module, names=None) -> list:
    """Stop training the parameters of ``model`` (or only those under the sub-module names
    ``names``, e.g. ``"features"`` or ``["stem", "layers.0"]``); returns them."""
    params = _select(model, names)
    for p in params:
        p.requires_grad = False
        p.grad = None
    return params


def unfreeze(model: nn.Module, names=None) -> list:
    params = _select(model, names)
    for p in params:
        p.requires_grad = True
    return params


def head_name(model: nn.Module) -> str:
    """Dotted name of the last ``Linear`` layer of ``model`` (the classifier head)."""
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last = name
    if last is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer to use as a head")
    return last


def replace_head(model: nn.Module, num_classes: int, name: str | None = None, generator=None) -> nn.Linear:
    """Replace the head (the last ``Linear``, or the layer called ``name``) by a fresh
    ``Linear(in_features, num_classes)``; returns the new layer (trainable)."""
    name = name or head_name(model)
    parent = model
    *path, last = name.split(".")
    for part in path:  # sub-modules are attributes, also a Sequential's "0", "1", ...
        parent = getattr(parent, part)
    old = getattr(parent, last)
    if not isinstance(old, nn.Linear):
        raise TypeError(f"replace_head: {name} is a {type(old).__name__}, not a Linear layer")
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None, dtype=old.weight.dtype, generator=generator)
    setattr(parent, last, new)  # Module.__setattr__ keeps its place among the sub-modules
    return new


def param_groups(model: nn.Module, lr: float, body_lr: float | None = None, body_lr_scale: float = 0.1,
                 head: str | None = None) -> list[dict]:
    """``[{"params": body, "lr": body_lr}, {"params": head, "lr": lr}]`` for an optimizer.

    The head is the last ``Linear`` (or the sub-module ``head``); the body is every other
    trainable parameter, with ``body_lr`` (default ``lr * body_lr_scale``). Frozen
    parameters are left out; an empty body group is dropped.
    """
    head = head or head_name(model)
    head_params: list = []
    body_params: list = []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (head_params if (n == head or n.startswith(head + ".")) else body_params).append(p)
    groups = []
    if body_params:
        groups.append({"params": body_params, "lr": lr * body_lr_scale if body_lr is None else body_lr})
    groups.append({"params": head_params, "lr": lr})
    return groups
