"""Learning curves: train and dev error against the training-set size (course 3: more data or not?).

    curve = learning_curve(train_fn, (X, y), (X_dev, y_dev), sizes=(0.1, 0.25, 0.5, 1.0))
    print(curve.table()); curve.plot("curves.png")

``train_fn(X_sub, y_sub, callbacks)`` builds and fits a model on a stratified subset (the
subsets are nested: each size's examples include the smaller sizes' ones, for the same
seed) and returns the fitted ``Trainer``; train error is measured on the subset it was
trained on, dev error on the whole dev set. A dev error that is still falling at the
largest size says more data will help (variance); train and dev errors that have met
high above the target say it will not (bias).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LearningCurve:
    points: list = field(default_factory=list)  # dicts: fraction, examples, train_error, dev_error, seconds, run_id

    def table(self) -> str:
        lines = [f"{'size':>6}  {'examples':>8}  {'train error':>11}  {'dev error':>9}  {'seconds':>7}"]
        for p in self.points:
            lines.append(f"{p['fraction']:>6.3g}  {p['examples']:>8}  {100 * p['train_error']:>10.2f}%  "
                         f"{100 * p['dev_error']:>8.2f}%  {p['seconds']:>7.1f}")
        return "\n".join(lines)

    def plot(self, path, title: str = "") -> str:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = [p["examples"] for p in self.points]
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(n, [100 * p["train_error"] for p in self.points], "o-", label="train error")
        ax.plot(n, [100 * p["dev_error"] for p in self.points], "s-", label="dev error")
        ax.set_xscale("log")
        ax.set_xlabel("training examples")
        ax.set_ylabel("error (%)")
        ax.set_title(title or "learning curve")
        ax.grid(alpha=0.3, which="both")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return str(path)


def _error(trainer, data) -> float:
    return 1.0 - float(trainer.evaluate(data)["accuracy"])


def learning_curve(train_fn, train, dev, sizes=(0.1, 0.25, 0.5, 1.0), seed: int = 0, tracker_fn=None) -> LearningCurve:
    """Fit ``train_fn`` on stratified subsets of ``train`` (fractions in ``sizes``, in (0, 1]);
    ``tracker_fn(fraction, examples)`` may return a callback (e.g. a :class:`RunTracker`) per point."""
    from ..data import split_indices

    X, y = (np.asarray(a) for a in train)
    sizes = [float(s) for s in sizes]
    for s in sizes:
        if not 0 < s <= 1:
            raise ValueError(f"learning_curve: sizes must be fractions in (0, 1], got {s}")
    curve = LearningCurve()
    for frac in sorted(set(sizes)):
        idx = np.arange(len(y)) if frac == 1 else split_indices(y, (frac, 1 - frac), stratify=True, seed=seed)[0]
        idx = np.sort(idx)
        cbs = []
        tracker = tracker_fn(frac, len(idx)) if tracker_fn else None
        if tracker is not None:
            cbs.append(tracker)
        t0 = time.perf_counter()
        trainer = train_fn(X[idx], y[idx], cbs)
        point = {"fraction": frac, "examples": int(len(idx)), "train_error": _error(trainer, (X[idx], y[idx])),
                 "dev_error": _error(trainer, dev), "seconds": round(time.perf_counter() - t0, 2),
                 "run_id": getattr(tracker, "run_id", None)}
        if tracker is not None:
            tracker.complete(final={"train_accuracy": 1 - point["train_error"], "dev_accuracy": 1 - point["dev_error"],
                                    "train_fraction": frac})
        curve.points.append(point)
    return curve


# ----- the recipes' models, for `deepgrad curves RECIPE` -------------------------------------------
def recipe_setup(recipe: str, quick: bool, epochs: int | None, seed: int):
    """``(train, dev, train_fn, config)`` for fashion-mlp or planar with the recipe's defaults."""
    import deepgrad as dg

    from .. import nn, optim
    from ..train import NaNGuard, Trainer

    if recipe == "fashion-mlp":
        from ..data import split_indices
        from ..data.datasets import load_fashion_mnist
        from ..recipes._common import normalize_fashion
        from ..recipes.fashion_mlp import DEFAULTS, build_model

        D: dict[str, Any] = DEFAULTS
        ep = epochs or (D["quick_epochs"] if quick else D["epochs"])
        X, y = load_fashion_mnist("train", flatten=True)
        X = normalize_fashion(X)
        tr, dv = split_indices(y, (len(y) - D["dev_size"], D["dev_size"]), stratify=True, seed=seed)
        if quick:
            tr, dv = tr[: D["quick_train"]], dv[: D["quick_dev"]]
        cfg = {"hidden": D["hidden"], "dropout": D["dropout"], "lr": D["lr"], "batch_size": D["batch_size"],
               "epochs": ep, "quick": quick, "dev_size": D["dev_size"]}

        def fit(Xs, ys, callbacks):
            dg.manual_seed(seed)
            model = build_model(cfg["hidden"], cfg["dropout"])
            opt = optim.Adam(model.parameters(), lr=cfg["lr"])
            steps = int(np.ceil(len(ys) / cfg["batch_size"]))
            sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=ep * steps, eta_min=cfg["lr"] * 0.01)
            t = Trainer(model, opt, "cross_entropy", metrics=("accuracy",), scheduler=sched, progress=False,
                        scheduler_interval="step", seed=seed, batch_size=cfg["batch_size"],
                        callbacks=[NaNGuard(), *callbacks])
            t.fit((Xs, ys), epochs=ep)
            return t

        return (X[tr], y[tr]), (X[dv], y[dv]), fit, cfg
    if recipe == "planar":
        from ..data import train_dev_test_split
        from ..data.datasets import make_flower
        from ..ops import binary_cross_entropy_with_logits
        from ..recipes.planar import DEFAULTS as D

        ep = epochs or (D["quick_epochs"] if quick else D["epochs"])
        X, y = make_flower(D["n"], seed=1)
        (X_tr, y_tr), (X_dev, y_dev), _ = train_dev_test_split(X, y, dev=0.15, test=0.15, stratify=True, seed=seed)
        cfg = {"hidden": D["hidden"], "lr": D["lr"], "epochs": ep, "quick": quick, "n": D["n"]}

        def loss_fn(logits, target):
            return binary_cross_entropy_with_logits(logits.reshape(-1), target.astype(dg.float32))

        def fit(Xs, ys, callbacks):
            dg.manual_seed(seed)
            model = nn.Sequential(nn.Linear(2, cfg["hidden"]), nn.Tanh(), nn.Linear(cfg["hidden"], 1))
            t = Trainer(model, optim.SGD(model.parameters(), lr=cfg["lr"]), loss_fn, seed=seed, batch_size=len(Xs), progress=False,
                        callbacks=[NaNGuard(), *callbacks])
            t.fit((Xs, ys), epochs=ep, shuffle=False)
            return t

        return (X_tr, y_tr), (X_dev, y_dev), fit, cfg
    raise ValueError(f"deepgrad curves: recipe {recipe!r} is not supported (fashion-mlp, planar); "
                     f"use deepgrad.experiments.learning_curve(train_fn, train, dev, sizes) from Python")
