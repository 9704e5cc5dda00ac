"""Fashion-MNIST, 10 classes, deep MLP 784-512-256-10 (BatchNorm, ReLU, dropout, Adam, cosine LR).

Courses 1-3 in one run: a deep fully connected network (course 1), batch norm,
dropout, Adam and a learning-rate schedule (course 2), and a dev set carved out of the
training set, stratified, to choose settings, with the test set touched once at the
end (course 3). ``--epochs 15`` reaches about 89-90% test accuracy.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._common import FASHION_MEAN as MEAN  # noqa: F401
from ._common import normalize_fashion

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "checkpoint_dir", "config")
DEFAULTS = {
    "epochs": 15,
    "batch_size": 128,
    "lr": 2e-3,
    "hidden": [512, 256],
    "dropout": 0.2,
    "weight_decay": 0.0,
    "beta1": 0.9,
    "dev_size": 5000,
    "quick_train": 4000,
    "quick_dev": 2000,
    "quick_epochs": 2,
}
#: what `deepgrad tune fashion-mlp` searches (see deepgrad.tune.space): the learning rate on a log
#: scale, Adam's momentum beta1 sampled as 1 - beta1 on a log scale, the width and depth of the
#: network and the mini-batch size in powers of two
SEARCH_SPACE = {
    "lr": {"low": 1e-4, "high": 3e-2, "log": True},
    "one_minus_beta1": {"low": 0.01, "high": 0.3, "log": True},
    "units": {"low": 64, "high": 1024, "log": True, "int": True},
    "layers": {"low": 1, "high": 3, "int": True},
    "log2_batch_size": {"low": 5, "high": 9, "int": True},
}


def search_config(params: dict) -> dict:
    """A point of :data:`SEARCH_SPACE` as configuration overrides (keys of :data:`DEFAULTS`)."""
    return {"lr": params["lr"], "beta1": 1.0 - params["one_minus_beta1"],
            "hidden": [int(params["units"])] * int(params["layers"]),
            "batch_size": 2 ** int(params["log2_batch_size"])}


def build_model(hidden=(512, 256), dropout=0.2, in_features=784, classes=10):
    from .. import nn

    layers = [nn.Flatten()]
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.ReLU(), nn.Dropout(dropout)]
        width = h
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..data import split_indices
    from ..data.datasets import load_fashion_mnist
    from ..train import CSVLogger, NaNGuard, Trainer
    from ._common import config_overrides, finish, fit_options, out_dir, setting

    t0 = time.perf_counter()
    recipe = "fashion-mlp"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    epochs = setting(args, "epochs", DEFAULTS["quick_epochs"] if quick else DEFAULTS["epochs"])
    cfg: dict[str, Any] = {k: v for k, v in DEFAULTS.items() if not k.startswith("quick")}
    cfg.update(config_overrides(args))  # --config FILE (checked by the CLI); flags win below
    cfg.update(epochs=epochs, quick=quick, lr=setting(args, "lr", DEFAULTS["lr"]),
               batch_size=setting(args, "batch_size", DEFAULTS["batch_size"]))
    out = out_dir(args, recipe)

    X, y = load_fashion_mnist("train", flatten=True)
    X_test, y_test = load_fashion_mnist("test", flatten=True)
    X, X_test = normalize_fashion(X), normalize_fashion(X_test)
    train_idx, dev_idx = split_indices(y, (len(y) - cfg["dev_size"], cfg["dev_size"]), stratify=True, seed=seed)
    if quick:
        train_idx, dev_idx = train_idx[: DEFAULTS["quick_train"]], dev_idx[: DEFAULTS["quick_dev"]]
    cfg["train_examples"], cfg["dev_examples"] = len(train_idx), len(dev_idx)
    X_tr, y_tr, X_dev, y_dev = X[train_idx], y[train_idx], X[dev_idx], y[dev_idx]

    dg.manual_seed(seed)
    model = build_model(cfg["hidden"], cfg["dropout"])
    betas = (cfg["beta1"], 0.999)
    opt = optim.AdamW(model.parameters(), lr=cfg["lr"], betas=betas, weight_decay=cfg["weight_decay"]) \
        if cfg["weight_decay"] else optim.Adam(model.parameters(), lr=cfg["lr"], betas=betas)
    steps_per_epoch = int(np.ceil(len(train_idx) / cfg["batch_size"]))
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch, eta_min=cfg["lr"] * 0.01)
    trainer = Trainer(model, opt, "cross_entropy", metrics=("accuracy",), scheduler=sched, scheduler_interval="step",
                      seed=seed, batch_size=cfg["batch_size"],
                      callbacks=[NaNGuard(), CSVLogger(f"{out}/history.csv")])
    history = trainer.fit((X_tr, y_tr), dev=(X_dev, y_dev), epochs=epochs,
                          **fit_options(args, recipe, cfg, seed))
    train_eval = trainer.evaluate((X_tr, y_tr))
    dev_eval = trainer.evaluate((X_dev, y_dev))
    test_eval = trainer.evaluate((X_test, y_test))
    results = {
        "test_accuracy": test_eval["accuracy"], "test_loss": test_eval["loss"],
        "train_accuracy": train_eval["accuracy"], "train_loss": train_eval["loss"],
        "dev_accuracy": dev_eval["accuracy"], "dev_loss": dev_eval["loss"],
        "train_time_s": round(sum(r["time"] for r in history.rows), 3),
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test accuracy {results['test_accuracy']:.4f}  dev {results['dev_accuracy']:.4f}  "
          f"train {results['train_accuracy']:.4f}  ({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
