"""Planar "flower" data, 2 classes, one hidden tanh layer (course 1, week 3).

Logistic regression cannot separate the petals (about 47% accuracy); a network with
a single hidden layer of ``hidden`` tanh units reaches about 90%. Full-batch gradient
descent, a sigmoid output and binary cross-entropy as in the course, with a stratified
train/dev/test split of the 400 generated points.
"""
from __future__ import annotations

import time
from typing import Any

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "checkpoint_dir", "config")
DEFAULTS = {"epochs": 2000, "hidden": 4, "lr": 1.2, "n": 400, "quick_epochs": 300}
#: what `deepgrad tune planar` searches (see deepgrad.tune.space): the learning rate on a log
#: scale and the number of hidden units (full-batch gradient descent: no momentum, no batch size)
SEARCH_SPACE = {"lr": {"low": 0.01, "high": 10.0, "log": True}, "hidden": {"low": 1, "high": 20, "int": True}}


def search_config(params: dict) -> dict:
    """A point of :data:`SEARCH_SPACE` as configuration overrides (keys of :data:`DEFAULTS`)."""
    return {"lr": float(params["lr"]), "hidden": int(params["hidden"])}


def run(args) -> dict:
    import deepgrad as dg

    from .. import nn, optim
    from ..data import train_dev_test_split
    from ..data.datasets import make_flower
    from ..ops import binary_cross_entropy_with_logits
    from ..train import NaNGuard, Trainer
    from ._common import config_overrides, finish, fit_options, out_dir, setting

    t0 = time.perf_counter()
    recipe = "planar"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    epochs = setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else DEFAULTS["epochs"])
    cfg: dict[str, Any] = {k: v for k, v in DEFAULTS.items() if not k.startswith("quick")}
    cfg.update(config_overrides(args))  # --config FILE (checked by the CLI); flags win below
    cfg.update(epochs=epochs, lr=setting(args, "lr", DEFAULTS["lr"]), quick=quick)
    out = out_dir(args, recipe)

    X, y = make_flower(cfg["n"], seed=1)
    (X_tr, y_tr), (X_dev, y_dev), (X_te, y_te) = train_dev_test_split(X, y, dev=0.15, test=0.15, stratify=True, seed=seed)
    dg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, cfg["hidden"]), nn.Tanh(), nn.Linear(cfg["hidden"], 1))

    def loss_fn(logits, target):
        return binary_cross_entropy_with_logits(logits.reshape(-1), target.astype(dg.float32))

    trainer = Trainer(model, optim.SGD(model.parameters(), lr=cfg["lr"]), loss_fn, seed=seed,
                      batch_size=len(X_tr), callbacks=[NaNGuard()], progress=bool(getattr(args, "progress", False)))
    history = trainer.fit((X_tr, y_tr), dev=(X_dev, y_dev), epochs=epochs, shuffle=False,
                          **fit_options(args, recipe, cfg, seed))
    tr, dv, te = (trainer.evaluate(d) for d in ((X_tr, y_tr), (X_dev, y_dev), (X_te, y_te)))
    results = {"test_accuracy": te["accuracy"], "test_loss": te["loss"], "train_accuracy": tr["accuracy"],
               "train_loss": tr["loss"], "dev_accuracy": dv["accuracy"], "dev_loss": dv["loss"]}
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test accuracy {te['accuracy']:.4f}  dev {dv['accuracy']:.4f}  train {tr['accuracy']:.4f}  "
          f"({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
