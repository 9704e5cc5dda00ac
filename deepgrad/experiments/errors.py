"""Error analysis (course 3, week 2: "Carrying out error analysis").

    rep = analyze_errors(probs, y, images=X_dev, class_names=CLASSES, out_dir="errors/")
    # errors/confusion.png, errors/mistakes.png (the most confident mistakes per true class),
    # errors/errors.csv (one line per misclassified example, ready for tag columns)
    tag_report("errors/errors.csv", error_rate=0.11)
    # after you added columns such as "blurry", "mislabeled" and marked the rows:
    # each tag's share of the errors and the ceiling it puts on improvement

A tag marks a row when its cell is not empty and not ``0``/``no``/``false``/``n``. The
*ceiling* of a tag is how much the error rate would drop if every error with that tag were
fixed: share x error rate (the course's spreadsheet: fixing "dog" images can at best take
10% error to 9.5% when 5% of the errors are dogs).
"""
from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

#: the columns errors.csv starts with; any other column is a tag
BASE_COLUMNS = ("index", "true", "true_name", "predicted", "predicted_name", "confidence")
_NO = ("", "0", "no", "false", "n", "-")


def probabilities(outputs) -> np.ndarray:
    """Class probabilities from model outputs: softmax of ``(N, C)`` logits; one logit per example
    (binary) becomes ``[1 - sigmoid, sigmoid]``. Rows that already sum to 1 are kept."""
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 1 or (out.ndim == 2 and out.shape[1] == 1):
        p = 1.0 / (1.0 + np.exp(-out.reshape(-1)))
        return np.stack([1 - p, p], axis=1)
    out = out.reshape(len(out), -1)
    if np.all(out >= 0) and np.allclose(out.sum(1), 1.0, atol=1e-4):
        return out
    z = out - out.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def confusion_matrix(y_true, y_pred, classes: int) -> np.ndarray:
    m = np.zeros((classes, classes), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def analyze_errors(outputs, y, images=None, class_names=None, out_dir=".", per_class: int = 4, tags=(),
                   ids=None) -> dict:
    """Write ``confusion.png``, ``mistakes.png`` (with ``images``) and ``errors.csv`` to ``out_dir``.

    ``outputs``: logits or probabilities ``(N, C)`` (or one logit per example); ``y``: labels;
    ``ids``: the examples' indices in their data set (default ``0..N-1``), written to the CSV;
    ``tags``: empty tag columns to add to the CSV. Returns a summary dict (error rate,
    confusion matrix, the files, the most confused pairs)."""
    probs = probabilities(outputs)
    y = np.asarray(y, np.int64).reshape(-1)
    if len(y) != len(probs):
        raise ValueError(f"analyze_errors: {len(probs)} outputs but {len(y)} labels")
    classes = probs.shape[1]
    if y.min(initial=0) < 0 or y.max(initial=0) >= classes:
        raise ValueError(f"analyze_errors: labels must be in 0..{classes - 1}, got {y.min()}..{y.max()}")
    names = list(class_names) if class_names is not None else [str(c) for c in range(classes)]
    ids = np.arange(len(y)) if ids is None else np.asarray(ids)
    pred = probs.argmax(1)
    conf = probs[np.arange(len(y)), pred]
    wrong = np.flatnonzero(pred != y)
    os.makedirs(out_dir, exist_ok=True)
    cm = confusion_matrix(y, pred, classes)
    files = {"confusion": _plot_confusion(cm, names, os.path.join(out_dir, "confusion.png"))}
    order = wrong[np.argsort(-conf[wrong], kind="stable")]
    if images is not None:
        files["mistakes"] = _plot_gallery(np.asarray(images), y, pred, conf, order, names, per_class,
                                          os.path.join(out_dir, "mistakes.png"), ids)
    path = os.path.join(out_dir, "errors.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*BASE_COLUMNS, *tags])
        for i in order:
            w.writerow([int(ids[i]), int(y[i]), names[y[i]], int(pred[i]), names[pred[i]], f"{conf[i]:.4f}",
                        *[""] * len(tags)])
    files["csv"] = path
    off = cm.copy()
    np.fill_diagonal(off, 0)
    top = np.dstack(np.unravel_index(np.argsort(-off, axis=None), off.shape))[0][:5]
    return {"examples": int(len(y)), "errors": int(len(wrong)), "error_rate": float(len(wrong) / max(len(y), 1)),
            "confusion": cm.tolist(), "classes": names, "files": files,
            "most_confused": [{"true": names[a], "predicted": names[b], "count": int(off[a, b])}
                              for a, b in top if off[a, b] > 0]}


def tag_report(csv_path, error_rate: float | None = None) -> dict:
    """Each tag's count, share of the errors and ceiling (share x ``error_rate``) from a tagged ``errors.csv``."""
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{csv_path}: no rows (no errors to analyze)")
    missing = [c for c in ("index", "true", "predicted") if c not in rows[0]]
    if missing:
        raise ValueError(f"{csv_path}: not an errors.csv (missing column(s) {', '.join(missing)})")
    tags = [c for c in rows[0] if c not in BASE_COLUMNS and c is not None]
    if not tags:
        raise ValueError(f"{csv_path}: no tag columns; add columns (e.g. blurry, mislabeled) and mark the rows")
    n = len(rows)
    out: dict[str, Any] = {"errors": n, "error_rate": error_rate, "tags": {}}
    for t in tags:
        k = sum(1 for r in rows if str(r.get(t) or "").strip().lower() not in _NO)
        share = k / n
        out["tags"][t] = {"count": k, "share": share,
                          "ceiling": None if error_rate is None else share * error_rate,
                          "error_if_fixed": None if error_rate is None else error_rate * (1 - share)}
    untagged = sum(1 for r in rows if all(str(r.get(t) or "").strip().lower() in _NO for t in tags))
    out["untagged"] = untagged
    return out


def format_tag_report(rep: dict) -> str:
    e = rep["error_rate"]
    lines = [f"{rep['errors']} errors" + (f" (error rate {100 * e:.2f}%)" if e is not None else "")]
    lines.append(f"  {'tag':<16} {'count':>5}  {'share':>7}" + ("  ceiling  (error if all fixed)" if e is not None else ""))
    for t, v in sorted(rep["tags"].items(), key=lambda kv: -kv[1]["count"]):
        line = f"  {t:<16} {v['count']:>5}  {100 * v['share']:>6.1f}%"
        if e is not None:
            line += f"  {100 * v['ceiling']:>6.2f}%  ({100 * v['error_if_fixed']:.2f}%)"
        lines.append(line)
    lines.append(f"  untagged: {rep['untagged']}")
    return "\n".join(lines)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_confusion(cm, names, path):
    plt = _plt()
    k = len(names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * k, 0.8 + 0.6 * k))
    rows = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rows[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix ({int(cm.sum() - np.trace(cm))} errors of {int(cm.sum())})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _as_image(x):
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        if side * side != a.size:
            return None
        a = a.reshape(side, side)
    elif a.ndim == 3:
        a = a[0] if a.shape[0] in (1, 3) and a.shape[0] < a.shape[-1] else a[..., 0]
    if a.ndim != 2:
        return None
    lo, hi = a.min(), a.max()
    return (a - lo) / (hi - lo) if hi > lo else a * 0


def _plot_gallery(images, y, pred, conf, order, names, per_class, path, ids):
    plt = _plt()
    k = len(names)
    picks = [[i for i in order if y[i] == c][:per_class] for c in range(k)]
    fig, axes = plt.subplots(k, per_class, figsize=(1.6 * per_class + 1.2, 1.5 * k), squeeze=False)
    for c in range(k):
        for j in range(per_class):
            ax = axes[c][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(names[c], fontsize=8)
            if j < len(picks[c]):
                i = picks[c][j]
                img = _as_image(images[i])
                if img is not None:
                    ax.imshow(img, cmap="gray")
                ax.set_title(f"#{int(ids[i])} -> {names[pred[i]]}\np={conf[i]:.2f}", fontsize=7)
            else:
                ax.axis("off") if j else None
    fig.suptitle("most confident mistakes per true class (row): predicted class and confidence", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


# ----- the data of a recorded recipe run ---------------------------------------------------------
def recipe_data(run: dict, split: str = "dev"):
    """``(X, y, images, class_names, ids)`` of a recorded recipe run's ``dev`` or ``test`` set,
    rebuilt from its config exactly as the recipe built it (fashion-mlp, fashion-lenet,
    fashion-resnet, planar). Raises ValueError for another recipe."""
    recipe, cfg, seed = run.get("recipe"), run.get("config") or {}, run.get("seed") or 0
    if recipe in ("fashion-mlp", "fashion-lenet", "fashion-resnet"):
        from ..data import split_indices
        from ..data.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
        from ..recipes._common import normalize_fashion

        flat = recipe == "fashion-mlp"
        quick = bool(cfg.get("quick"))
        if split == "test":
            X, y = load_fashion_mnist("test", flatten=flat)
            idx = np.arange(len(y))
            if quick and recipe != "fashion-mlp":
                idx = idx[:2000]  # fashion_cnn's quick_test
        else:
            X, y = load_fashion_mnist("train", flatten=flat)
            dev_size = int(cfg.get("dev_size", 5000))
            _, idx = split_indices(y, (len(y) - dev_size, dev_size), stratify=True, seed=seed)
            if quick and cfg.get("dev_examples"):
                idx = idx[: int(cfg["dev_examples"])]
        return normalize_fashion(X[idx]), y[idx], X[idx], list(FASHION_MNIST_CLASSES), idx
    if recipe == "planar":
        from ..data import split_indices
        from ..data.datasets import make_flower

        X, y = make_flower(int(cfg.get("n", 400)), seed=1)
        parts = split_indices(y, (1 - 0.15 - 0.15, 0.15, 0.15), stratify=True, seed=seed)  # planar's split
        idx = parts[1] if split == "dev" else parts[2]
        return X[idx], y[idx], None, ["red", "blue"], idx
    raise ValueError(f"deepgrad errors: recipe {recipe!r} is not supported (fashion-mlp, fashion-lenet, "
                     f"fashion-resnet, planar); use deepgrad.experiments.analyze_errors(outputs, y, ...) from Python")
