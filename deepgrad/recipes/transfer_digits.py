"""Transfer learning: LeNet-5 pretrained on Fashion-MNIST, fine-tuned on few labelled sklearn digits, vs from scratch.

Course 4, week 2 ("transfer learning"): when the new task has few labels, start from a
network trained on a large related data set, replace its head, train the head with the
body frozen, then unfreeze the body and fine-tune it gently (a lower learning rate for
the body than for the head). Here the large set is Fashion-MNIST (60,000 images of
clothes) and the small one is scikit-learn's 8x8 handwritten digits (1,797 images),
resized to 28x28 like MNIST (the 8x8 digit scaled to 20x20 and centred, values 0..16
scaled to [0, 1], white on black as in Fashion-MNIST, then Fashion-MNIST's normalization).

Course 3's "data mismatch" lesson, applied to the source: the digits are 8x8 images blown
up to 20x20 (blurry, 17 grey levels), Fashion-MNIST is sharp 28x28. With ``source =
"digits-pipeline"`` (the default, ``--source``) the Fashion-MNIST images go through the
digits' own pipeline before pretraining (:func:`digits_pipeline`: down to 8x8 with 17
grey levels, back up to a 20x20 box in 28x28 with the same function as the digits,
:func:`upsample_8x8`); ``"raw"`` pretrains on the images as they are. The full run also
pretrains on the other source as an ablation (``metrics["ablation"]``), fine-tuned on the
same splits and compared with the same scratch runs.

For each number of labels per class (5, 10, 20, 50, 100) and each seed (0-4), the same
LeNet-5 is trained on those labels from scratch and by transfer, for the same number of
steps, and both are evaluated on the held-out digits (the images not in that seed's pool
of 100 per class, 797). ``metrics.json`` holds per cell the mean and sample standard
deviation of both, the mean paired gain (same split, same seed) and the number of seeds
transfer won; ``transfer_beats_scratch`` is computed from them (:func:`beats`: a positive
mean gain and a win in most seeds, in every cell). ``--epochs`` sets the pretraining
epochs (default 5), ``--lr`` the fine-tuning/scratch learning rate, ``--batch-size``
their mini-batch size, ``--source`` the pretraining images.

Measured (defaults, ``OPENBLAS_NUM_THREADS=1 deepgrad run transfer-digits``, 153 s on one
core): pretraining 85.9% Fashion-MNIST test accuracy on piped test images (89.9% raw);
digits test accuracy, mean ± std over 5 seeds, gain in points (seeds won):

    labels/class  scratch       transfer (piped source)   transfer (raw source, ablation)
       5          84.1 ± 3.1%   90.1 ± 1.7%  +6.0 (5/5)   87.6 ± 1.1%  +3.5 (4/5)
      10          91.2 ± 2.8%   93.8 ± 1.8%  +2.5 (5/5)   91.8 ± 1.6%  +0.6 (2/5)
      20          94.3 ± 0.7%   96.7 ± 1.1%  +2.4 (5/5)   94.9 ± 0.9%  +0.6 (4/5)
      50          95.6 ± 1.0%   97.6 ± 0.6%  +2.0 (5/5)   96.4 ± 0.9%  +0.8 (4/5)
     100          95.7 ± 0.9%   97.8 ± 0.6%  +2.1 (5/5)   96.7 ± 0.3%  +1.0 (4/5)

Transfer from the piped source beats scratch in all 25 paired runs; from the raw source
it gains little and not reliably (18 of 25; with the old 1-epoch raw pretraining it did
not gain at all). See ``examples/README.md`` (C4W2 transfer learning).
"""
from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

# the pretrained body expects inputs scaled with Fashion-MNIST's statistics
from ._common import FASHION_MEAN as MEAN  # noqa: F401
from ._common import normalize_fashion as normalize

#: the `deepgrad run` flags this recipe takes (any other is refused)
FLAGS = ("epochs", "seed", "lr", "batch_size", "source")
DEFAULTS = {
    "source": "digits-pipeline", "ablation_sources": ["raw"],
    "pretrain_epochs": 5, "pretrain_lr": 2e-3, "pretrain_batch_size": 64, "head": "classifier",
    "labels_per_class": [5, 10, 20, 50, 100], "pool_per_class": 100, "seeds": [0, 1, 2, 3, 4],
    "batch_size": 32, "lr": 1e-3, "head_steps": 100, "finetune_steps": 200, "body_lr_scale": 0.3,
    "shift": 2,
}
QUICK = {"pretrain_epochs": 1, "pretrain_train": 4000, "pretrain_test": 2000, "labels_per_class": [10, 50],
         "seeds": [0], "head_steps": 40, "finetune_steps": 80, "ablation_sources": []}


# ----- data --------------------------------------------------------------------------------
def upsample_8x8(x8):
    """The digits' last step, shared by both data sets: 8x8 images ``(N, 1, 8, 8)`` in [0, 1]
    resized to 20x20 by bilinear interpolation and centred in a zero 28x28 frame (MNIST's
    layout: a 20x20 box with a 4-pixel margin); returns ``(N, 1, 28, 28)`` float32 in [0, 1]."""
    from ..vision.transforms import bilinear_sample

    x8 = np.asarray(x8, dtype=np.float32)
    if x8.ndim != 4 or x8.shape[1:] != (1, 8, 8):
        raise ValueError(f"upsample_8x8: expected (N, 1, 8, 8) images, got {x8.shape}")
    n = len(x8)
    src = (np.arange(20) + 0.5) * (8 / 20) - 0.5  # centres of the 20 output pixels in source coordinates
    ys, xs = np.meshgrid(src, src, indexing="ij")
    small = bilinear_sample(x8, np.broadcast_to(ys, (n, 20, 20)), np.broadcast_to(xs, (n, 20, 20)))
    out = np.zeros((n, 1, 28, 28), np.float32)
    out[:, :, 4:24, 4:24] = np.clip(small, 0.0, 1.0)
    return out


def to_8x8(x):
    """Fashion-MNIST-sized images ``(N, 1, 28, 28)`` in [0, 1] reduced the way the digits
    were made: 2x2 average pooling to 14x14, bilinear resampling to 8x8, then quantized to
    the digits' 17 grey levels (0, 1/16, ..., 1); returns ``(N, 1, 8, 8)`` float32."""
    from ..vision.transforms import bilinear_sample

    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"to_8x8: expected (N, 1, 28, 28) images, got {x.shape}")
    n = len(x)
    x14 = x.reshape(n, 1, 14, 2, 14, 2).mean(axis=(3, 5))
    src = (np.arange(8) + 0.5) * (14 / 8) - 0.5
    ys, xs = np.meshgrid(src, src, indexing="ij")
    x8 = bilinear_sample(x14, np.broadcast_to(ys, (n, 8, 8)), np.broadcast_to(xs, (n, 8, 8)))
    return (np.round(np.clip(x8, 0.0, 1.0) * 16) / 16).astype(np.float32)


def digits_pipeline(x, chunk: int = 5000):
    """Course 3's fix for data mismatch, "make the training data more like the dev/test data":
    pass the *source* images ``(N, 1, 28, 28)`` through the digits' own pipeline (down to 8x8
    with 17 grey levels, :func:`to_8x8`, then back up to a 20x20 box in 28x28,
    :func:`upsample_8x8`), so that the pretrained body sees blurry, low-resolution images
    like the target's. Same shape and dtype (float32) out; processed ``chunk`` images at a time."""
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        return np.zeros((0, 1, 28, 28), np.float32)
    return np.concatenate([upsample_8x8(to_8x8(x[i:i + chunk])) for i in range(0, len(x), chunk)])


SOURCES = ("digits-pipeline", "raw")


def digits_28x28():
    """scikit-learn's digits as (1797, 1, 28, 28) float32 in [0, 1] and (1797,) int64 labels.

    Each 8x8 image (values 0..16, ink high, as in Fashion-MNIST where the object is bright
    on a black background) is divided by 16, resized to 20x20 by bilinear interpolation
    and centred in a 28x28 frame (MNIST's layout: a 20x20 box with a 4-pixel margin):
    :func:`upsample_8x8`.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - optional dependency
        raise ImportError("transfer-digits needs scikit-learn for its digits data set: pip install scikit-learn") from e

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    return upsample_8x8(x), d.target.astype(np.int64)


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
def pretrain(epochs: int = 5, lr: float = 2e-3, batch_size: int = 64, seed: int = 0, limit: int | None = None,
             progress: bool = True, test_limit: int | None = None, source: str = "digits-pipeline"):
    """LeNet-5 trained on Fashion-MNIST (normalized, horizontal flips, cosine LR); returns
    ``(model, {"fashion_test_accuracy", "seconds", "source", "history"})`` (``history``: the
    training history's rows, one per epoch). With ``progress`` it says what it is doing
    (the pipeline over 70,000 images takes a while) and prints a line (or a bar) per epoch.

    ``source="digits-pipeline"`` (the default) first passes the training and test images
    through :func:`digits_pipeline` (the test accuracy is then on those images too);
    ``"raw"`` uses the sharp 28x28 images as they are."""
    if source not in SOURCES:
        raise ValueError(f"transfer-digits pretrain: unknown source {source!r}; expected one of {SOURCES}")
    import deepgrad as dg

    from .. import optim
    from ..data import DataLoader
    from ..data.datasets import load_fashion_mnist
    from ..train import DivergenceGuard, Trainer
    from ..train.run import RunDiverged
    from ..vision import LeNet5, transforms

    t0 = time.perf_counter()
    X, y = load_fashion_mnist("train")
    X_test, y_test = load_fashion_mnist("test")
    if limit:
        X, y = X[:limit], y[:limit]
    if test_limit:
        X_test, y_test = X_test[:test_limit], y_test[:test_limit]
    if source == "digits-pipeline":
        if progress:
            print(f"transfer-digits: passing {len(X) + len(X_test):,} Fashion-MNIST images through the digits' "
                  "8x8 pipeline ...", flush=True)
        X, X_test = digits_pipeline(X), digits_pipeline(X_test)
        if progress:
            print(f"transfer-digits: ... done ({time.perf_counter() - t0:.0f} s); pretraining LeNet-5 for "
                  f"{epochs} epoch(s) on {len(X):,} images", flush=True)
    elif progress:
        print(f"transfer-digits: pretraining LeNet-5 for {epochs} epoch(s) on {len(X):,} raw Fashion-MNIST images",
              flush=True)
    X, X_test = normalize(X), normalize(X_test)
    dg.manual_seed(seed)
    model = LeNet5()
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=True, seed=seed,
                        transform=transforms.RandomHorizontalFlip(seed=seed + 1))
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader), eta_min=lr * 0.01)
    trainer = Trainer(model, opt, "cross_entropy", scheduler=sched, scheduler_interval="step", seed=seed,
                      eval_batch_size=1000, progress=progress)
    history = trainer.fit(loader, epochs=epochs, callbacks=[DivergenceGuard()])
    if trainer.stop_reason and trainer.history.status()["status"] in ("nan", "diverged"):
        raise RunDiverged(f"pretraining ({source}) diverged: {trainer.stop_reason}")
    acc = trainer.evaluate((X_test, y_test))["accuracy"]
    return model, {"fashion_test_accuracy": acc, "seconds": round(time.perf_counter() - t0, 2), "source": source,
                   "history": [dict(r) for r in history.rows]}


def _train_steps(model, opt, X, y, steps: int, batch_size: int, rng, augment=None):
    """``steps`` Adam steps on mini-batches drawn without replacement, reshuffled every pass."""
    from .. import ops
    from ..tensor import Tensor
    from ..train.run import RunDiverged

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
        if not np.isfinite(loss.data).all():  # the NaN guard of this hand-written loop
            raise RunDiverged(f"fine-tuning loss is {float(loss.data)}; lower --lr")
        opt.zero_grad()
        loss.backward()
        opt.step()


def accuracy(model, X, y, batch_size: int = 1000) -> float:
    """Accuracy on ``(X, y)`` in eval mode (``Trainer.evaluate``); the model stays in training mode."""
    from ..train import Trainer

    return Trainer(model, None, loss_fn=None, eval_batch_size=batch_size, progress=False).evaluate((X, y))["accuracy"]


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


def _stats(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for a single value)."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def summarize(n: int, scratch: list, transfer: list, test_examples: int) -> dict:
    """One cell of the table from paired per-seed accuracies (same split, same seed)."""
    sc_m, sc_s = _stats(scratch)
    tr_m, tr_s = _stats(transfer)
    gains = [t - s for s, t in zip(scratch, transfer)]
    g_m, g_s = _stats(gains)
    return {"labels_per_class": n, "scratch": sc_m, "scratch_std": sc_s, "transfer": tr_m, "transfer_std": tr_s,
            "gain": g_m, "gain_std": g_s, "wins": int(sum(g > 0 for g in gains)), "seeds": len(gains),
            "scratch_seeds": list(scratch), "transfer_seeds": list(transfer), "test_examples": int(test_examples)}


def compare(pretrained_state, cfg: dict, log=print, scratch: dict | None = None) -> dict:
    """Test accuracy on held-out digits, scratch vs transfer, for each labels-per-class and seed.

    ``pretrained_state`` is one state dict or ``{name: state}`` for several pretrained
    bodies (e.g. one per source), each fine-tuned on the same splits and compared with the
    same scratch models (trained once per split). ``scratch`` may hold scratch accuracies
    already measured, ``{(labels_per_class, seed): accuracy}``; it is filled in.

    Returns ``{"rows": [...], "scratch": {...}}`` for one state, and
    ``{"rows": {name: [...]}, "scratch": {...}}`` for several. Each row is
    :func:`summarize`'s: ``labels_per_class``, ``scratch``/``transfer`` (means) and
    ``scratch_std``/``transfer_std``, ``gain`` (mean of the paired differences) and
    ``gain_std``, ``wins`` (seeds where transfer beat scratch) of ``seeds``, the per-seed
    accuracies and ``test_examples``.
    """
    single = not (isinstance(pretrained_state, dict) and pretrained_state
                  and all(isinstance(v, dict) for v in pretrained_state.values()))
    states = {"transfer": pretrained_state} if single else pretrained_state
    scratch = {} if scratch is None else scratch
    X_all, y_all = digits_28x28()
    X_all = normalize(X_all)
    rows: dict[str, list] = {name: [] for name in states}
    for n in cfg["labels_per_class"]:
        tr: dict[str, list] = {name: [] for name in states}
        sc = []
        for seed in cfg["seeds"]:
            train_idx, test_idx = split_few_labels(y_all, n, cfg["pool_per_class"], seed)
            X, y = X_all[train_idx], y_all[train_idx]
            Xt, yt = X_all[test_idx], y_all[test_idx]
            if (n, seed) not in scratch:
                scratch[(n, seed)] = accuracy(from_scratch(X, y, cfg, seed), Xt, yt)
            sc.append(scratch[(n, seed)])
            for name, state in states.items():
                tr[name].append(accuracy(fine_tune(state, X, y, cfg, seed), Xt, yt))
            if log:  # progress: each (labels, seed) cell trains 1 + len(states) networks
                done = ", ".join(f"{k} {v[-1]:.4f}" for k, v in tr.items())
                log(f"    {n} labels/class, seed {seed}: scratch {sc[-1]:.4f}, {done}")
        for name in states:
            row = summarize(n, sc, tr[name], len(test_idx))
            rows[name].append(row)
            if log:
                label = "" if single else f" [{name}]"
                log(f"  {n:>4} labels/class{label}: scratch {row['scratch']:.4f}  transfer {row['transfer']:.4f}  "
                    f"(transfer won {row['wins']}/{row['seeds']} seeds)")
    return {"rows": rows["transfer"] if single else rows, "scratch": scratch}


def table(rows) -> str:
    """The comparison as text: mean ± std over seeds (in %), mean paired gain (points), wins."""
    lines = ["labels/class  scratch        transfer       gain    wins", "-" * 56]
    for r in rows:
        sd_s, sd_t = r.get("scratch_std", 0.0), r.get("transfer_std", 0.0)
        gain = r.get("gain", r["transfer"] - r["scratch"])
        wins = f"{r['wins']}/{r['seeds']}" if "wins" in r else "-"
        lines.append(f"{r['labels_per_class']:>12}  {100 * r['scratch']:5.1f} ± {100 * sd_s:3.1f}%  "
                     f"{100 * r['transfer']:5.1f} ± {100 * sd_t:3.1f}%  {100 * gain:+5.1f}  {wins:>5}")
    return "\n".join(lines)


def beats(rows) -> bool:
    """Transfer beats scratch: a positive mean paired gain in every cell *and* a win in more
    than half of the seeds of every cell (computed from the measured accuracies)."""
    return bool(rows) and all(r["gain"] > 0 and 2 * r["wins"] > r["seeds"] for r in rows)


def write_history_and_plots(out: str, pre: dict, source: str, rows: list, ablation: dict) -> dict:
    """``history.csv`` (the pretraining epochs of ``source``; ``history_<other>.csv`` for an
    ablation source), its curves (``curves_loss.png``, ``curves_accuracy.png``) and
    ``transfer.png`` (digits test accuracy against labels per class, scratch vs transfer,
    mean ± std over seeds); returns the files written, as ``metrics["files"]``."""
    from ..serialization import atomic_write_bytes
    from ..train import History
    from ._common import plot_history

    plots: list[str] = []
    files = {"model": "pretrained_lenet5.safetensors", "history": "history.csv", "plots": plots}
    for s, info in pre.items():
        name = "history.csv" if s == source else f"history_{s}.csv"
        hist = History(info.get("history", []))
        atomic_write_bytes(os.path.join(out, name), hist.to_csv().encode())
        if s == source:
            plots += [os.path.basename(f) for f in plot_history(hist, os.path.join(out, "curves"),
                                                                         f"pretraining ({s})")]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return files
    fig, ax = plt.subplots(figsize=(6, 4))
    n = [r["labels_per_class"] for r in rows]
    ax.errorbar(n, [100 * r["scratch"] for r in rows], [100 * r["scratch_std"] for r in rows], marker="o",
                capsize=3, label="from scratch")
    ax.errorbar(n, [100 * r["transfer"] for r in rows], [100 * r["transfer_std"] for r in rows], marker="o",
                capsize=3, label=f"transfer ({source} source)")
    for s, a in ablation.items():
        ax.errorbar(n, [100 * r["transfer"] for r in a["rows"]], [100 * r["transfer_std"] for r in a["rows"]],
                    marker=".", capsize=3, linestyle="--", label=f"transfer ({s} source)")
    ax.set_xscale("log")
    ax.set_xticks(n)
    ax.set_xticklabels([str(k) for k in n])
    ax.minorticks_off()
    ax.set(xlabel="labelled digits per class", ylabel="digits test accuracy (%)",
           title="scratch vs transfer (mean ± std over seeds)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "transfer.png"), dpi=100)
    plt.close(fig)
    plots.append("transfer.png")
    return files


def run(args) -> dict:
    import json
    import os

    from ..serialization import atomic_write_bytes, save_model
    from ._common import out_dir, setting

    t0 = time.perf_counter()
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg: dict[str, Any] = dict(DEFAULTS)
    if quick:
        cfg.update(QUICK)
    cfg["pretrain_epochs"] = setting(args, "epochs", cfg["pretrain_epochs"])
    cfg["lr"] = setting(args, "lr", cfg["lr"])
    cfg["batch_size"] = setting(args, "batch_size", cfg["batch_size"])
    cfg["source"] = setting(args, "source", cfg["source"])
    if cfg["source"] not in SOURCES:
        raise ValueError(f"transfer-digits: unknown --source {cfg['source']!r}; expected one of {SOURCES}")
    cfg["ablation_sources"] = [s for s in cfg["ablation_sources"] if s != cfg["source"]]
    cfg["seeds"] = [seed + s for s in cfg["seeds"]]
    out = out_dir(args, "transfer-digits")

    print(f"transfer-digits: pretraining on Fashion-MNIST ({', '.join([cfg['source']] + cfg['ablation_sources'])}), "
          f"then {len(cfg['labels_per_class'])} x {len(cfg['seeds'])} few-label comparisons -> {out}", flush=True)
    states, pre = {}, {}
    for source in [cfg["source"]] + cfg["ablation_sources"]:
        model, pre[source] = pretrain(cfg["pretrain_epochs"], cfg["pretrain_lr"], cfg["pretrain_batch_size"], seed=seed,
                                      limit=cfg.get("pretrain_train"), test_limit=cfg.get("pretrain_test"),
                                      source=source, progress=not quick)
        states[source] = model.state_dict()
        name = "pretrained_lenet5.safetensors" if source == cfg["source"] else f"pretrained_lenet5_{source}.safetensors"
        save_model(model, os.path.join(out, name),
                   metadata={"recipe": "transfer-digits", "source": source,
                             "fashion_test_accuracy": pre[source]["fashion_test_accuracy"]})
        print(f"transfer-digits: pretrained LeNet-5 on Fashion-MNIST ({source}): test accuracy "
              f"{pre[source]['fashion_test_accuracy']:.4f} ({pre[source]['seconds']:.0f} s)")
    t1 = time.perf_counter()
    print(f"transfer-digits: scratch vs transfer on the digits, labels per class {cfg['labels_per_class']}, "
          f"seeds {cfg['seeds']}", flush=True)
    res = compare(states, cfg, log=lambda line: print(line, flush=True))
    rows = res["rows"][cfg["source"]]
    ablation = {s: {"pretrain": pre[s], "rows": res["rows"][s], "transfer_beats_scratch": beats(res["rows"][s])}
                for s in cfg["ablation_sources"]}
    metrics = {
        "recipe": "transfer-digits", "seed": seed, "quick": quick, "source": cfg["source"],
        "pretrain": pre[cfg["source"]], "rows": rows,
        "transfer_beats_scratch": beats(rows),
        "wins": int(sum(r["wins"] for r in rows)), "pairs": int(sum(r["seeds"] for r in rows)),
        "ablation": ablation,
        "compare_seconds": round(time.perf_counter() - t1, 2),
        "wall_time_s": round(time.perf_counter() - t0, 2),
        "config": cfg,
    }
    from ..train.run import config_hash, run_config  # the run's identity, as the other recipes record it

    metrics["config_hash"] = config_hash(run_config("transfer-digits", cfg, seed))
    metrics["files"] = write_history_and_plots(out, pre, cfg["source"], rows, ablation)
    atomic_write_bytes(os.path.join(out, "metrics.json"), (json.dumps(metrics, indent=2) + "\n").encode())
    print(f"source {cfg['source']} (transfer beats scratch: {metrics['transfer_beats_scratch']})")
    print(table(rows))
    for s, a in ablation.items():
        print(f"ablation: source {s} (transfer beats scratch: {a['transfer_beats_scratch']})")
        print(table(a["rows"]))
    print(f"transfer-digits: {metrics['wall_time_s']:.1f} s -> {out}")
    return metrics
