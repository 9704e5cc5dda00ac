"""Transfer learning: LeNet-5 pretrained on Fashion-MNIST, fine-tuned on few labelled sklearn digits, vs from scratch.

Course 4, week 2 ("transfer learning"): when the new task has few labels, start from a
network trained on a large related data set, replace its head, train the head with the
body frozen, then unfreeze the body and fine-tune it gently (a lower learning rate for
the body than for the head). Here the large set is Fashion-MNIST (60,000 images of
clothes) and the small one is scikit-learn's 8x8 handwritten digits (1,797 images),
resized to 28x28 like MNIST (the 8x8 digit scaled to 20x20 and centred, values 0..16
scaled to [0, 1], white on black as in Fashion-MNIST, then Fashion-MNIST's normalization).

For each number of labels per class (5, 10, 20, 50, 100) and each seed, the same LeNet-5
is trained on those labels from scratch and by transfer, for the same number of steps,
and both are evaluated on the held-out digits (the images not in that seed's pool of
100 per class, 797). ``metrics.json`` holds the table of mean test accuracies.
``--epochs`` sets the pretraining epochs (default 1), ``--lr`` the fine-tuning/scratch
learning rate, ``--batch-size`` their mini-batch size.

Measured (defaults, seed 0; 2 seeds per cell): pretraining 85.2% Fashion-MNIST test
accuracy; digits test accuracy scratch / transfer at 5, 10, 20, 50, 100 labels per class:
85.0/84.8, 93.6/91.0, 94.0/94.0, 95.4/92.8, 95.7/95.0%. Transfer does *not* beat scratch
here: see ``examples/README.md`` (C4W2 transfer learning) for what was checked and why.
"""
from __future__ import annotations

import time

import numpy as np

DEFAULTS = {
    "pretrain_epochs": 1, "pretrain_lr": 2e-3, "pretrain_batch_size": 64, "head": "classifier",
    "labels_per_class": [5, 10, 20, 50, 100], "pool_per_class": 100, "seeds": [0, 1],
    "batch_size": 32, "lr": 1e-3, "head_steps": 100, "finetune_steps": 200, "body_lr_scale": 0.3,
    "shift": 2,
}
QUICK = {"pretrain_epochs": 1, "pretrain_train": 4000, "pretrain_test": 2000, "labels_per_class": [10, 50], "seeds": [0],
         "head_steps": 40, "finetune_steps": 80}
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's statistics: the pretrained body expects inputs scaled this way


# ----- data --------------------------------------------------------------------------------
def digits_28x28():
    """scikit-learn's digits as (1797, 1, 28, 28) float32 in [0, 1] and (1797,) int64 labels.

    Each 8x8 image (values 0..16, ink high, as in Fashion-MNIST where the object is bright
    on a black background) is divided by 16, resized to 20x20 by bilinear interpolation
    and centred in a 28x28 frame (MNIST's layout: a 20x20 box with a 4-pixel margin).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - optional dependency
        raise ImportError("transfer-digits needs scikit-learn for its digits data set: pip install scikit-learn") from e
    from ..vision.transforms import bilinear_sample

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    src = (np.arange(20) + 0.5) * (8 / 20) - 0.5  # centres of the 20 output pixels in source coordinates
    ys, xs = np.meshgrid(src, src, indexing="ij")
    n = len(x)
    small = bilinear_sample(x, np.broadcast_to(ys, (n, 20, 20)), np.broadcast_to(xs, (n, 20, 20)))
    out = np.zeros((n, 1, 28, 28), np.float32)
    out[:, :, 4:24, 4:24] = np.clip(small, 0.0, 1.0)
    return out, d.target.astype(np.int64)


def normalize(x):
    return (x - np.float32(MEAN)) / np.float32(STD)


def split_few_labels(y, n_per_class: int, pool_per_class: int, seed: int):
    """Indices ``(train, test)``: ``n_per_class`` training images per class taken from a
    per-seed pool of ``pool_per_class`` per class; the test set is everything outside the pool
    (so it is the same for every ``n_per_class`` of a seed)."""
    if n_per_class > pool_per_class:
        raise ValueError(f"split_few_labels: {n_per_class} labels per class > pool of {pool_per_class}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        train.append(idx[:n_per_class])
        test.append(idx[pool_per_class:])
    return np.concatenate(train), np.concatenate(test)


# ----- training ----------------------------------------------------------------------------
def pretrain(epochs: int = 1, lr: float = 2e-3, batch_size: int = 64, seed: int = 0, limit: int | None = None,
             progress: bool = True, test_limit: int | None = None):
    """LeNet-5 trained on Fashion-MNIST (normalized, horizontal flips, cosine LR); returns
    ``(model, {"fashion_test_accuracy", "seconds"})``."""
    import deepgrad as dg
    from .. import optim
    from ..data import DataLoader
    from ..data.datasets import load_fashion_mnist
    from ..train import Trainer
    from ..vision import LeNet5, transforms

    t0 = time.perf_counter()
    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    if limit:
        X, y = X[:limit], y[:limit]
    if test_limit:
        X_test, y_test = X_test[:test_limit], y_test[:test_limit]
    X, X_test = normalize(X), normalize(X_test)
    dg.manual_seed(seed)
    model = LeNet5()
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transforms.RandomHorizontalFlip(seed=seed + 1))
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader), eta_min=lr * 0.01)
    trainer = Trainer(model, opt, "cross_entropy", scheduler=sched, scheduler_interval="step", seed=seed,
                      eval_batch_size=1000, progress=progress)
    trainer.fit(loader, epochs=epochs)
    acc = trainer.evaluate((X_test, y_test))["accuracy"]
    return model, {"fashion_test_accuracy": acc, "seconds": round(time.perf_counter() - t0, 2)}


def _train_steps(model, opt, X, y, steps: int, batch_size: int, rng, augment=None):
    """``steps`` Adam steps on mini-batches drawn without replacement, reshuffled every pass."""
    from .. import ops
    from ..tensor import Tensor

    model.train()
    order, pos = rng.permutation(len(X)), 0
    bs = min(batch_size, len(X))
    for _ in range(steps):
        if pos + bs > len(order):
            order, pos = rng.permutation(len(X)), 0
        idx = order[pos:pos + bs]
        pos += bs
        xb = X[idx] if augment is None else augment(X[idx])
        loss = ops.cross_entropy(model(Tensor._wrap(xb)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.item())


def accuracy(model, X, y, batch_size: int = 1000) -> float:
    from ..autograd import no_grad
    from ..tensor import Tensor

    model.eval()
    with no_grad():
        pred = np.concatenate([model(Tensor._wrap(X[i:i + batch_size])).data.argmax(1)
                               for i in range(0, len(X), batch_size)])
    model.train()
    return float(np.mean(pred == y))


def from_scratch(X, y, cfg: dict, seed: int):
    """A freshly initialized LeNet-5, all layers trained at ``lr`` for head_steps + finetune_steps."""
    import deepgrad as dg
    from .. import optim
    from ..vision import LeNet5, transforms

    dg.manual_seed(seed)
    model = LeNet5()
    rng = np.random.default_rng(seed + 100)
    aug = transforms.RandomShift(cfg["shift"], seed=seed + 200) if cfg["shift"] else None
    _train_steps(model, optim.Adam(model.parameters(), lr=cfg["lr"]), X, y,
                 cfg["head_steps"] + cfg["finetune_steps"], cfg["batch_size"], rng, aug)
    return model


def fine_tune(pretrained_state: dict, X, y, cfg: dict, seed: int, num_classes: int = 10):
    """The transfer recipe on a copy of the pretrained LeNet-5:

    1. replace the head by a fresh one for ``num_classes`` classes: with ``cfg["head"] ==
       "classifier"`` (the default) the whole fc stack 400-120-84-classes, so that only the
       convolutional feature extractor is transferred; with ``"last"`` only the last Linear
       (the fc layers' features turned out to be too specific to clothes: see the README);
    2. freeze the body and train only the head for ``head_steps`` steps at ``lr``;
    3. unfreeze everything and fine-tune for ``finetune_steps`` steps, the head at ``lr``
       and the body at ``lr * body_lr_scale`` (:func:`deepgrad.vision.transfer.param_groups`).
    """
    import deepgrad as dg
    from .. import optim
    from ..vision import LeNet5, transforms
    from ..vision.transfer import freeze, head_name, param_groups, replace_head, unfreeze

    dg.manual_seed(seed)
    model = LeNet5()
    model.load_state_dict(pretrained_state)
    if cfg.get("head", "last") == "classifier":  # the whole fc stack is the head: a fresh classifier
        model.classifier = LeNet5(num_classes=num_classes).classifier
        head = "classifier"
    else:  # the head is the last Linear layer
        replace_head(model, num_classes, generator=np.random.default_rng(seed))
        head = head_name(model)
    rng = np.random.default_rng(seed + 100)
    aug = transforms.RandomShift(cfg["shift"], seed=seed + 200) if cfg["shift"] else None
    freeze(model)
    head_params = unfreeze(model, head)
    _train_steps(model, optim.Adam(head_params, lr=cfg["lr"]), X, y, cfg["head_steps"], cfg["batch_size"],
                 rng, aug)
    unfreeze(model)
    groups = param_groups(model, lr=cfg["lr"], body_lr_scale=cfg["body_lr_scale"], head=head)
    _train_steps(model, optim.Adam(groups, lr=cfg["lr"]), X, y, cfg["finetune_steps"], cfg["batch_size"], rng, aug)
    return model


def compare(pretrained_state: dict, cfg: dict, log=print) -> dict:
    """Test accuracy on held-out digits, scratch vs transfer, for each labels-per-class and seed.

    Returns ``{"rows": [{"labels_per_class", "scratch", "transfer", "scratch_seeds", "transfer_seeds"}], ...}``.
    """
    X_all, y_all = digits_28x28()
    X_all = normalize(X_all)
    rows = []
    for n in cfg["labels_per_class"]:
        sc, tr = [], []
        for seed in cfg["seeds"]:
            train_idx, test_idx = split_few_labels(y_all, n, cfg["pool_per_class"], seed)
            X, y = X_all[train_idx], y_all[train_idx]
            Xt, yt = X_all[test_idx], y_all[test_idx]
            sc.append(accuracy(from_scratch(X, y, cfg, seed), Xt, yt))
            tr.append(accuracy(fine_tune(pretrained_state, X, y, cfg, seed), Xt, yt))
        row = {"labels_per_class": n, "scratch": float(np.mean(sc)), "transfer": float(np.mean(tr)),
               "scratch_seeds": sc, "transfer_seeds": tr, "test_examples": int(len(test_idx))}
        rows.append(row)
        if log:
            log(f"  {n:>4} labels/class: scratch {row['scratch']:.4f}  transfer {row['transfer']:.4f}")
    return {"rows": rows}


def table(rows) -> str:
    lines = ["labels/class  scratch  transfer  gain", "-" * 36]
    for r in rows:
        lines.append(f"{r['labels_per_class']:>12}  {100 * r['scratch']:6.1f}%  {100 * r['transfer']:7.1f}%  "
                     f"{100 * (r['transfer'] - r['scratch']):+5.1f}")
    return "\n".join(lines)


def run(args) -> dict:
    import json
    import os

    from ..serialization import atomic_write_bytes, save_model
    from ._common import out_dir, setting

    t0 = time.perf_counter()
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg = dict(DEFAULTS)
    if quick:
        cfg.update(QUICK)
    cfg["pretrain_epochs"] = setting(args, "epochs", cfg["pretrain_epochs"])
    cfg["lr"] = setting(args, "lr", cfg["lr"])
    cfg["batch_size"] = setting(args, "batch_size", cfg["batch_size"])
    cfg["seeds"] = [seed + s for s in cfg["seeds"]]
    out = out_dir(args, "transfer-digits")

    model, pre = pretrain(cfg["pretrain_epochs"], cfg["pretrain_lr"], cfg["pretrain_batch_size"], seed=seed,
                          limit=cfg.get("pretrain_train"), test_limit=cfg.get("pretrain_test"))
    save_model(model, os.path.join(out, "pretrained_lenet5.safetensors"),
               metadata={"recipe": "transfer-digits", "fashion_test_accuracy": pre["fashion_test_accuracy"]})
    print(f"transfer-digits: pretrained LeNet-5 on Fashion-MNIST: test accuracy {pre['fashion_test_accuracy']:.4f} "
          f"({pre['seconds']:.0f} s)")
    t1 = time.perf_counter()
    res = compare(model.state_dict(), cfg)
    rows = res["rows"]
    metrics = {
        "recipe": "transfer-digits", "seed": seed, "quick": quick,
        "pretrain": pre, "rows": rows,
        "transfer_beats_scratch": all(r["transfer"] > r["scratch"] for r in rows),
        "compare_seconds": round(time.perf_counter() - t1, 2),
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "config": cfg,
    }
    atomic_write_bytes(os.path.join(out, "metrics.json"), (json.dumps(metrics, indent=2) + "\n").encode())
    print(table(rows))
    print(f"transfer-digits: {metrics['wall_time_s']:.1f} s -> {out}")
    return metrics
