"""Recipes: complete, repeatable experiments behind ``deepgrad run <recipe>``.

``RECIPES`` maps a recipe's name to the module that implements it; the module has a
docstring (its first line is the one-line description shown by ``deepgrad run --list``),
an optional ``DEFAULTS`` dict and ``run(args) -> dict`` (the metrics it wrote). Registering
a recipe is one line here. Modules are imported only when their recipe runs.
"""
from __future__ import annotations

import importlib

RECIPES: dict[str, str] = {
    "fashion-mlp": "deepgrad.recipes.fashion_mlp",
    "fashion-lenet": "deepgrad.recipes.fashion_cnn", "fashion-resnet": "deepgrad.recipes.fashion_cnn",
    "planar": "deepgrad.recipes.planar",
    "transfer-digits": "deepgrad.recipes.transfer_digits",
}


def names() -> list[str]:
    return sorted(RECIPES)


def get(name: str):
    """The recipe module for ``name``; ``KeyError`` listing the known recipes otherwise."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; known recipes: {', '.join(names())}")
    return importlib.import_module(RECIPES[name])


def describe(name: str) -> str:
    per_recipe = getattr(get(name), "DESCRIPTIONS", {})  # a module that runs several recipes describes each
    if name in per_recipe:
        return per_recipe[name]
    doc = (get(name).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""
