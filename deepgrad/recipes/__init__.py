"""Recipes: complete, repeatable experiments behind ``deepgrad run <recipe>``.

``RECIPES`` maps a recipe's name to the module that implements it; the module has a
docstring (its first line is the one-line description shown by ``deepgrad run --list``),
an optional ``DEFAULTS`` dict and ``run(args) -> dict`` (the metrics it wrote). Registering
a recipe is one line here. Modules are imported only when their recipe runs.
A module declares the ``deepgrad run`` flags it takes in ``FLAGS`` (``dest`` names, e.g.
``("epochs", "seed", "lr", "batch_size", "checkpoint_dir")``); any other is refused.
"""
from __future__ import annotations

import importlib

RECIPES: dict[str, str] = {
    "fashion-mlp": "deepgrad.recipes.fashion_mlp",
    "fashion-lenet": "deepgrad.recipes.fashion_cnn", "fashion-resnet": "deepgrad.recipes.fashion_cnn",
    "planar": "deepgrad.recipes.planar",
    "transfer-digits": "deepgrad.recipes.transfer_digits",
    "shapes-localize": "deepgrad.recipes.shapes_localize",
    "shapes-yolo": "deepgrad.recipes.shapes_yolo",
    "shapes-unet": "deepgrad.recipes.shapes_unet",
    "fashion-triplet": "deepgrad.recipes.fashion_triplet",
    "style-transfer": "deepgrad.recipes.style_transfer",
    "word2vec": "deepgrad.recipes.word2vec", "glove": "deepgrad.recipes.glove", "gloss-topic": "deepgrad.recipes.gloss_topic",
    "dates-attention": "deepgrad.recipes.dates_attention",
    "dates-transformer": "deepgrad.recipes.dates_transformer", "dates-words": "deepgrad.recipes.dates_transformer",
    "char-lm": "deepgrad.recipes.char_lm",
    "trigger-word": "deepgrad.recipes.trigger_word",
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
