"""Fashion-MNIST with convolutional networks: fashion-lenet (LeNet-5) and fashion-resnet (a small ResNet).

Course 4 in one run; each recipe has its own line in ``deepgrad run --list``
(:data:`DESCRIPTIONS`). A stratified dev set (5,000 images) is carved out of the training
set for model selection; the test set is used once, at the end.

``fashion-lenet``: LeNet-5 (conv 6@5x5 pad 2 -> pool -> conv 16@5x5 -> pool -> fc
120-84-10, ReLU, fused conv-ReLU-pool stages), Adam with a cosine learning-rate schedule
and random horizontal flips, 15 epochs (its measured time and test accuracy are in the
README's "Results of the recipes").

``fashion-resnet``: a small residual network (a conv-ReLU-pool stem to 14x14, then 2 + 2
residual blocks with batch norm at 14x14 (width 32) and 7x7 (width 64), global average
pooling, fc) trained with data augmentation (random shifts by padding + cropping,
horizontal flips), AdamW (weight decay 0.01) with a cosine schedule. The default is 10
epochs, sized to finish within about 30 minutes on a 2-core machine; ``--epochs 20`` is
the longer configuration (twice the time; the README's "Results of the recipes" gives
the figures and times of both, and how they were measured). With flip test-time augmentation (the softmax
of each image and of its mirror image, averaged) the run also reports
``test_accuracy_flip_tta``. The architecture was chosen on dev among: blocks [1, 1] for
10 epochs, [2, 2] for 10 epochs, width 40 for 16 epochs and width 32, [2, 2] for 20
epochs.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from ._common import FASHION_MEAN as MEAN  # noqa: F401
from ._common import normalize_fashion

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "checkpoint_dir")
DEFAULTS = {
    "fashion-lenet": {"epochs": 15, "batch_size": 64, "lr": 2e-3, "model": {"name": "lenet5"},
                      "augment": ["flip"], "weight_decay": 0.0},
    "fashion-resnet": {"epochs": 10, "batch_size": 128, "lr": 3e-3,
                       "model": {"name": "fashion-resnet", "width": 32, "blocks": [2, 2]},
                       "augment": ["shift", "flip"], "weight_decay": 1e-2, "label_smoothing": 0.0, "tta": ["flip"]},
}
DESCRIPTIONS = {
    "fashion-lenet": "Fashion-MNIST, LeNet-5 (conv-pool x2, fc 120-84-10), Adam, cosine LR, flips, 15 epochs (course 4, week 1).",
    "fashion-resnet": "Fashion-MNIST, small ResNet (2+2 residual blocks, batch norm), shifts+flips, AdamW, 10 epochs "
                      "(--epochs 20: the longer run) (course 4, week 2).",
}
COMMON = {"dev_size": 5000, "quick_train": 4000, "quick_dev": 1000, "quick_epochs": 1, "quick_test": 2000, "shift": 2,
          "min_lr_fraction": 0.01}


def fashion_resnet(width: int = 32, blocks=(1, 1), in_channels: int = 1, num_classes: int = 10):
    """A residual network sized for 28x28 images on a CPU (course 4, week 2: ResNets).

    stem: conv 3x3 (``width``) -> ReLU -> 2x2 max-pool, one fused op: (N, 1, 28, 28) -> (N, w, 14, 14);
    stage 1: ``blocks[0]`` residual blocks at w channels, 14x14;
    stage 2: ``blocks[1]`` residual blocks at 2w channels, 7x7 (the first has stride 2 and a
    1x1 projection shortcut); global average pool -> fc ``num_classes``.
    Pooling in the stem makes every later convolution 4x cheaper than a CIFAR-style ResNet's.
    """
    from .. import nn
    from ..vision.blocks import ResidualBlock

    layers = [nn.Conv2dReLUMaxPool2d(in_channels, width, 3, padding=1), nn.BatchNorm2d(width)]
    c = width
    for stage, n in enumerate(blocks):
        w = width * 2**stage
        for j in range(n):
            layers.append(ResidualBlock(c, w, stride=2 if (stage > 0 and j == 0) else 1))
            c = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, num_classes)]
    return nn.Sequential(*layers)


def make_model(spec: dict):
    """``{"name": "fashion-resnet", ...}`` -> :func:`fashion_resnet`; any other name -> ``vision.build_model``."""
    from ..vision import build_model

    spec = dict(spec)
    name = spec.pop("name")
    if name == "fashion-resnet":
        return fashion_resnet(**spec)
    return build_model(name, **spec)


def make_augment(names, shift: int, seed: int):
    """The training-set augmentation: ``"shift"`` (random shifts up to ``shift`` pixels), ``"flip"`` (left-right)."""
    from ..vision import transforms

    known = {"shift": lambda s: transforms.RandomShift(shift, seed=s),
             "flip": lambda s: transforms.RandomHorizontalFlip(0.5, seed=s)}
    bad = [n for n in names or () if n not in known]
    if bad:
        raise ValueError(f"fashion_cnn: unknown augmentation {bad}; known: {sorted(known)}")
    ts = [known[n](seed + 1 + i) for i, n in enumerate(names or ())]
    return transforms.Compose(ts) if ts else None


def flip_tta_accuracy(trainer, X, y) -> float:
    """Accuracy with test-time augmentation: average the softmax of each image and of its
    left-right mirror image (the training set was augmented with flips, so both are "in
    distribution"), then take the arg max."""
    p = _softmax(trainer.predict(X)) + _softmax(trainer.predict(np.ascontiguousarray(X[..., ::-1])))
    return float(np.mean(p.argmax(axis=1) == y))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..data import DataLoader, split_indices
    from ..data.datasets import load_fashion_mnist
    from ..train import CSVLogger, NaNGuard, Trainer
    from ._common import finish, fit_options, out_dir, setting

    t0 = time.perf_counter()
    recipe = getattr(args, "recipe", None) or "fashion-lenet"
    if recipe not in DEFAULTS:
        raise KeyError(f"fashion_cnn: unknown recipe {recipe!r}; this module runs {sorted(DEFAULTS)}")
    base = DEFAULTS[recipe]
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = {**base, **{k: v for k, v in COMMON.items() if not k.startswith("quick")}}
    cfg.update(epochs=setting(args, "epochs", COMMON["quick_epochs"] if quick else base["epochs"]),
               lr=setting(args, "lr", base["lr"]), batch_size=setting(args, "batch_size", base["batch_size"]),
               quick=quick)
    out = out_dir(args, recipe)

    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    X, X_test = normalize_fashion(X), normalize_fashion(X_test)
    train_idx, dev_idx = split_indices(y, (len(y) - cfg["dev_size"], cfg["dev_size"]), stratify=True, seed=seed)
    if quick:
        train_idx, dev_idx = train_idx[: COMMON["quick_train"]], dev_idx[: COMMON["quick_dev"]]
        X_test, y_test = X_test[: COMMON["quick_test"]], y_test[: COMMON["quick_test"]]
    cfg["train_examples"], cfg["dev_examples"] = len(train_idx), len(dev_idx)
    X_tr, y_tr, X_dev, y_dev = X[train_idx], y[train_idx], X[dev_idx], y[dev_idx]

    dg.manual_seed(seed)
    model = make_model(cfg["model"])
    opt: optim.Optimizer
    if cfg["weight_decay"]:
        opt = optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    else:
        opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    aug = make_augment(cfg["augment"], cfg["shift"], seed)
    train = DataLoader((X_tr, y_tr), batch_size=cfg["batch_size"], shuffle=True, seed=seed, transform=aug)
    # cosine annealing per step, from lr down to lr * min_lr_fraction at the last step
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"] * len(train),
                                                 eta_min=cfg["lr"] * cfg["min_lr_fraction"])
    ls = cfg.get("label_smoothing", 0.0)
    loss = (lambda out, target: dg.ops.cross_entropy(out, target, label_smoothing=ls)) if ls else "cross_entropy"
    trainer = Trainer(model, opt, loss, metrics=("accuracy",), scheduler=sched, scheduler_interval="step",
                      seed=seed, batch_size=cfg["batch_size"], eval_batch_size=500,
                      callbacks=[NaNGuard(), CSVLogger(f"{out}/history.csv")])
    history = trainer.fit(train, dev=(X_dev, y_dev), epochs=cfg["epochs"],
                          **fit_options(args, recipe, cfg, seed))
    dev_eval = trainer.evaluate((X_dev, y_dev))
    test_eval = trainer.evaluate((X_test, y_test))
    results = {
        "test_accuracy": test_eval["accuracy"], "test_loss": test_eval["loss"],
        "dev_accuracy": dev_eval["accuracy"], "dev_loss": dev_eval["loss"],
        "train_time_s": round(sum(r["time"] for r in history.rows), 3),
    }
    if "flip" in (cfg.get("tta") or ()):
        results["dev_accuracy_flip_tta"] = flip_tta_accuracy(trainer, X_dev, y_dev)
        results["test_accuracy_flip_tta"] = flip_tta_accuracy(trainer, X_test, y_test)
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test accuracy {results['test_accuracy']:.4f}  dev {results['dev_accuracy']:.4f}  "
          f"({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
