"""What the shapes recipes (localize, YOLO, U-Net) share: a training loop over arrays with a
multi-part loss, and pictures. Not a recipe itself (not registered)."""
from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np


def setup(args, recipe: str, defaults: dict, quick_defaults: dict) -> tuple[dict[str, Any], int, str]:
    """A shapes recipe's ``(cfg, seed, out)``: its defaults (with ``--quick``'s smaller ones),
    then ``--epochs``, ``--lr`` and ``--batch-size``; the seed; the output directory."""
    from ._common import out_dir, setting

    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg = {**defaults, **(quick_defaults if quick else {}), "quick": quick}
    cfg.update(epochs=setting(args, "epochs", cfg["epochs"]), lr=setting(args, "lr", cfg["lr"]),
               batch_size=setting(args, "batch_size", cfg["batch_size"]))
    return cfg, seed, out_dir(args, recipe)


def train_loop(model, opt, n_train: int, batch_size: int, epochs: int, step_fn, evaluate, seed: int,
               sched=None, log=print, name: str = ""):
    """Mini-batch training for ``epochs`` epochs.

    ``step_fn(indices) -> (loss Tensor, parts dict)`` computes the loss of a batch (indices
    into the training set); ``evaluate() -> dict`` measures the dev set after each epoch.
    A non-finite loss stops the run with a ``FloatingPointError`` naming the epoch and step.
    Returns a ``History`` (one row per epoch: mean training loss and parts, dev figures, time).
    """
    from ..train.history import History

    hist = History()
    rng = np.random.default_rng(seed)
    steps = 0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = rng.permutation(n_train)
        sums: dict[str, float] = {}
        nb = 0
        for s in range(0, n_train, batch_size):
            idx = order[s:s + batch_size]
            loss, parts = step_fn(idx)
            value = float(loss.data)
            if not math.isfinite(value):
                raise FloatingPointError(f"{name}: loss is {value} at epoch {epoch}, step {steps + 1}")
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            steps += 1
            nb += 1
            for k, v in {"loss": value, **parts}.items():
                sums[k] = sums.get(k, 0.0) + v
        row: dict[str, Any] = {"epoch": epoch, **{f"train_{k}": v / nb for k, v in sums.items()}}
        row.update(evaluate())
        row["lr"] = opt.param_groups[0]["lr"] if hasattr(opt, "param_groups") else None
        row["time"] = round(time.perf_counter() - t0, 3)
        hist.append(row)
        if log:
            shown = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float) and k not in ("time", "lr"))
            log(f"{name} epoch {epoch}/{epochs}  {shown}  ({row['time']:.1f} s)")
            sys.stdout.flush()
    return hist


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


COLOURS = ("#ff4040", "#40ff40", "#40a0ff")


def draw_boxes(ax, image, boxes=(), labels=(), scores=None, gt_boxes=(), class_names=(), landmarks=None,
               gt_landmarks=None):
    """Show ``image (3, H, W)``; ground-truth boxes dashed white, predictions solid in the class's
    colour with ``name score``; landmarks as dots (predicted) and crosses (true)."""
    img = np.clip(np.asarray(image).transpose(1, 2, 0), 0, 1)
    ax.imshow(img, extent=(0, img.shape[1], img.shape[0], 0), interpolation="nearest")
    for b in gt_boxes:
        ax.add_patch(_rect(b, "white", "--", 1.0))
    for k, (b, lab) in enumerate(zip(boxes, labels)):
        col = COLOURS[int(lab) % len(COLOURS)]
        ax.add_patch(_rect(b, col, "-", 1.6))
        text = class_names[int(lab)] if class_names else str(int(lab))
        if scores is not None:
            text += f" {float(scores[k]):.2f}"
        ax.text(b[0], b[1] - 0.5, text, color=col, fontsize=6, va="bottom",
                bbox=dict(facecolor="black", alpha=0.5, pad=0.5, lw=0))
    if gt_landmarks is not None:
        for pts in np.asarray(gt_landmarks).reshape(-1, 3, 2):
            if not np.isnan(pts).any():
                ax.plot(pts[:, 0], pts[:, 1], "x", color="white", ms=5, mew=1.2)
    if landmarks is not None:
        for pts in np.asarray(landmarks).reshape(-1, 3, 2):
            ax.plot(pts[:, 0], pts[:, 1], "o", color="yellow", ms=3)
            ax.plot(pts[0, 0], pts[0, 1], "o", color="red", ms=3)  # the first corner (topmost)
    ax.set_xlim(0, img.shape[1])
    ax.set_ylim(img.shape[0], 0)
    ax.set_xticks([])
    ax.set_yticks([])


def _rect(b, colour, style, lw):
    from matplotlib.patches import Rectangle

    return Rectangle((b[0], b[1]), b[2] - b[0], b[3] - b[1], fill=False, ec=colour, ls=style, lw=lw)


def plot_metric(history, keys, path: str, title: str = ""):
    """The dev figures ``keys`` (e.g. ``dev_box_iou``) per epoch as one PNG; returns the path or None."""
    plt = pyplot()
    rows = [k for k in keys if any(r.get(k) is not None for r in history.rows)]
    if plt is None or not rows or not len(history):
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for k in rows:
        ax.plot(history["epoch"], history[k], marker="o", ms=3, label=k.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def finish_run(out, recipe, model, history, results, cfg, seed, t0, pictures, metric_keys=()):
    """``recipes._common.finish`` plus the recipe's own pictures listed in metrics.json (rewritten
    atomically); ``metric_keys``: dev figures drawn per epoch into ``dev_metrics.png``."""
    import json
    import os

    from ..serialization import atomic_write_bytes
    from ._common import finish

    if metric_keys:
        p = plot_metric(history, metric_keys, os.path.join(out, "dev_metrics.png"), f"{recipe}: dev set per epoch")
        if p:
            pictures = list(pictures) + [p]
    metrics = finish(out, recipe, model, history, results, cfg, seed, t0)
    metrics["files"]["pictures"] = [os.path.basename(p) for p in pictures]
    atomic_write_bytes(os.path.join(out, "metrics.json"), (json.dumps(metrics, indent=2) + "\n").encode())
    return metrics
