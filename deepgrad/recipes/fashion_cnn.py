"""Fashion-MNIST with convolutional networks: fashion-lenet (LeNet-5) and fashion-resnet (small ResNet + augmentation).

Course 4 in one run. ``fashion-lenet``: LeNet-5 (conv 6@5x5 -> pool -> conv 16@5x5 ->
pool -> fc 120-84-10, ReLU, fused conv-ReLU-pool stages), Adam; about 89-90% test
accuracy after 5 epochs (>= 85% after 2). ``fashion-resnet``: a CIFAR-style ResNet-8
(residual blocks, batch norm, global average pooling) trained with data augmentation
(random shifts by padding + cropping), Adam with a cosine schedule. A stratified dev
set is carved out of the training set; the test set is used once, at the end.
"""
from __future__ import annotations

import time

import numpy as np

DEFAULTS = {
    "fashion-lenet": {"epochs": 5, "batch_size": 64, "lr": 1e-3, "model": {"name": "lenet5"}, "augment": False},
    "fashion-resnet": {"epochs": 5, "batch_size": 128, "lr": 2e-3,
                       "model": {"name": "resnet", "depth": 8, "width": 16}, "augment": True},
}
COMMON = {"dev_size": 5000, "quick_train": 4000, "quick_dev": 1000, "quick_epochs": 1, "shift": 2}
MEAN, STD = 0.2860, 0.3530  # of the Fashion-MNIST training images scaled to [0, 1]


def run(args) -> dict:
    import deepgrad as dg
    from .. import optim
    from ..data import DataLoader, split_indices
    from ..data.datasets import load_fashion_mnist
    from ..train import CSVLogger, NaNGuard, Trainer
    from ..vision import build_model, transforms
    from ._common import finish, out_dir, setting

    t0 = time.perf_counter()
    recipe = getattr(args, "recipe", None) or "fashion-lenet"
    if recipe not in DEFAULTS:
        raise KeyError(f"fashion_cnn: unknown recipe {recipe!r}; this module runs {sorted(DEFAULTS)}")
    base = DEFAULTS[recipe]
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg = {**base, **{k: v for k, v in COMMON.items() if not k.startswith("quick")}}
    cfg.update(epochs=setting(args, "epochs", COMMON["quick_epochs"] if quick else base["epochs"]),
               lr=setting(args, "lr", base["lr"]), batch_size=setting(args, "batch_size", base["batch_size"]),
               quick=quick)
    out = out_dir(args, recipe)

    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    X = (X - np.float32(MEAN)) / np.float32(STD)
    X_test = (X_test - np.float32(MEAN)) / np.float32(STD)
    train_idx, dev_idx = split_indices(y, (len(y) - cfg["dev_size"], cfg["dev_size"]), stratify=True, seed=seed)
    if quick:
        train_idx, dev_idx = train_idx[: COMMON["quick_train"]], dev_idx[: COMMON["quick_dev"]]
    cfg["train_examples"], cfg["dev_examples"] = len(train_idx), len(dev_idx)
    X_tr, y_tr, X_dev, y_dev = X[train_idx], y[train_idx], X[dev_idx], y[dev_idx]

    dg.manual_seed(seed)
    model = build_model(**cfg["model"])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    aug = transforms.RandomShift(cfg["shift"], seed=seed + 1) if cfg["augment"] else None
    train = DataLoader((X_tr, y_tr), batch_size=cfg["batch_size"], shuffle=True, seed=seed, transform=aug)
    sched = None
    if cfg["augment"]:
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["epochs"] * len(train), eta_min=cfg["lr"] * 0.01)
    trainer = Trainer(model, opt, "cross_entropy", metrics=("accuracy",), scheduler=sched, scheduler_interval="step",
                      seed=seed, batch_size=cfg["batch_size"], eval_batch_size=500,
                      callbacks=[NaNGuard(), CSVLogger(f"{out}/history.csv")])
    history = trainer.fit(train, dev=(X_dev, y_dev), epochs=cfg["epochs"],
                          checkpoint_dir=getattr(args, "checkpoint_dir", None))
    dev_eval = trainer.evaluate((X_dev, y_dev))
    test_eval = trainer.evaluate((X_test, y_test))
    results = {
        "test_accuracy": test_eval["accuracy"], "test_loss": test_eval["loss"],
        "dev_accuracy": dev_eval["accuracy"], "dev_loss": dev_eval["loss"],
        "train_time_s": round(sum(r["time"] for r in history.rows), 3),
    }
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    print(f"{recipe}: test accuracy {results['test_accuracy']:.4f}  dev {results['dev_accuracy']:.4f}  "
          f"({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
