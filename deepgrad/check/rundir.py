"""A run directory (what ``deepgrad run`` writes) -> the model and a batch of its data.

``load_run(RUN)`` rebuilds the model from ``model.safetensors`` (its architecture is stored
in the file; nothing is executed) and reads ``metrics.json`` for the recipe's name;
``recipe_batch(recipe, n)`` loads ``n`` test examples the way that recipe feeds them to
its model (Fashion-MNIST standardized, flattened for the MLP; planar points).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np


class RunError(Exception):
    """A run directory that cannot be used (missing files, unknown recipe); one-line message."""


@dataclass
class Run:
    path: str
    recipe: str
    model: object
    metrics: dict


@dataclass
class Batch:
    x: np.ndarray  # what the model takes
    y: np.ndarray  # int64 labels
    images: np.ndarray | None  # (N, H, W) in [0, 1] for pictures, None for non-image data
    classes: tuple
    loss: str = "cross_entropy"


def load_run(path) -> Run:
    from ..serialization import load_model

    path = os.fspath(path)
    if not os.path.isdir(path):
        raise RunError(f"{path}: not a run directory (expected the output directory of `deepgrad run`)")
    model_file = os.path.join(path, "model.safetensors")
    if not os.path.exists(model_file):
        raise RunError(f"{path}: no model.safetensors in this run directory")
    metrics = {}
    mpath = os.path.join(path, "metrics.json")
    if os.path.exists(mpath):
        try:
            with open(mpath) as f:
                metrics = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise RunError(f"{mpath}: unreadable ({e})") from None
    recipe = metrics.get("recipe")
    if recipe is None:
        from ..serialization import read_model_metadata

        recipe = read_model_metadata(model_file).get("recipe")
    if not recipe:
        raise RunError(f"{path}: metrics.json does not name the recipe that made this run")
    try:
        model = load_model(model_file)
    except Exception as e:  # a damaged or foreign file: say so in one line
        raise RunError(f"{model_file}: cannot load the model ({e})") from None
    return Run(path, recipe, model, metrics)


FASHION_RECIPES = {"fashion-mlp": True, "fashion-lenet": False, "fashion-resnet": False}  # recipe -> flattened input
#: the Fashion-MNIST recipes' standardization (deepgrad.recipes._common.FASHION_MEAN/STD; the check
#: package sits below recipes, so the numbers are repeated here and a test keeps them equal)
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def recipe_batch(recipe: str, n: int = 256, split: str = "test", seed: int = 0) -> Batch:
    """``n`` examples of ``split``, shuffled with ``seed``, prepared as ``recipe`` prepares them."""
    rng = np.random.default_rng(seed)
    if recipe in FASHION_RECIPES:
        from ..data.datasets import load_fashion_mnist
        from ..data.datasets.fashion_mnist import CLASSES

        try:
            X, y = load_fashion_mnist(split, download=False)
        except FileNotFoundError as e:
            raise RunError(f"Fashion-MNIST not found ({str(e).splitlines()[0]}); run scripts/get-data.sh") from None
        idx = rng.permutation(len(y))[:n]
        images = X[idx, 0]
        x = (X[idx] - np.float32(FASHION_MEAN)) / np.float32(FASHION_STD)
        if FASHION_RECIPES[recipe]:
            x = x.reshape(len(idx), -1)
        return Batch(np.ascontiguousarray(x), y[idx], images, tuple(CLASSES))
    if recipe == "planar":
        from ..data.datasets import make_flower

        X, y = make_flower(400, seed=1)
        idx = rng.permutation(len(y))[:n]
        return Batch(X[idx].astype(np.float32), y[idx].astype(np.int64), None, ("red", "blue"), "bce_with_logits")
    raise RunError(f"recipe {recipe!r}: no data loader for inspect/explain yet (supported: "
                   f"{', '.join(sorted(FASHION_RECIPES) + ['planar'])})")


def loss_for(batch: Batch):
    """The loss the recipe trains with, as ``loss(output, target)``."""
    from .. import ops

    if batch.loss == "bce_with_logits":
        return lambda out, t: ops.binary_cross_entropy_with_logits(out.reshape(-1), t.astype(np.float32))
    return ops.cross_entropy
