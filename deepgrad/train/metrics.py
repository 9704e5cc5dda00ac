"""Classification metrics (course 3: a single-number evaluation metric; precision, recall, F1).

Inputs are NumPy arrays (or Tensors): true labels ``(N,)`` and predicted labels ``(N,)``,
or scores — logits ``(N, C)`` are turned into labels by argmax, binary scores ``(N,)`` /
``(N, 1)`` by thresholding at 0 (logits) with ``threshold``.
"""
from __future__ import annotations

import numpy as np


def _arr(a) -> np.ndarray:
    return np.asarray(getattr(a, "data", a))


def to_labels(pred, threshold: float = 0.0) -> np.ndarray:
    """Predicted class labels from labels, logits ``(N, C)`` or binary scores ``(N,)``/``(N, 1)``."""
    p = _arr(pred)
    if p.ndim == 2 and p.shape[1] > 1:
        return p.argmax(axis=1)
    if p.ndim == 2:
        p = p[:, 0]
    if p.dtype.kind == "f":
        return (p > threshold).astype(np.int64)
    return p.astype(np.int64)


def _check(y_true, y_pred, name):
    t = _arr(y_true)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t[:, 0]
    t = t.astype(np.int64)
    p = to_labels(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true has shape {t.shape} but the predictions give {p.shape}")
    return t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of examples whose predicted label equals the true one."""
    t, p = _check(y_true, y_pred, "accuracy")
    return float((t == p).mean()) if len(t) else float("nan")


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``M[i, j]`` = number of examples of true class ``i`` predicted as ``j`` (int64, ``(C, C)``)."""
    t, p = _check(y_true, y_pred, "confusion_matrix")
    if num_classes is None:
        num_classes = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    m = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(m, (t, p), 1)
    return m


def _prf(y_true, y_pred, average: str, pos_label: int, num_classes, name):
    t, p = _check(y_true, y_pred, name)
    if average == "binary":
        tp = np.sum((p == pos_label) & (t == pos_label))
        fp = np.sum((p == pos_label) & (t != pos_label))
        fn = np.sum((p != pos_label) & (t == pos_label))
        tp, fp, fn = (np.array([v], np.float64) for v in (tp, fp, fn))
    else:
        m = confusion_matrix(t, p, num_classes).astype(np.float64)
        tp = np.diag(m)
        fp = m.sum(axis=0) - tp
        fn = m.sum(axis=1) - tp
        if average == "micro":
            tp, fp, fn = (np.array([v.sum()]) for v in (tp, fp, fn))
        elif average not in ("macro", None, "none"):
            raise ValueError(f"{name}: average must be 'binary', 'macro', 'micro' or None, got {average!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        rec = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return prec, rec, f1, average


def _out(v, average):
    return v if average in (None, "none") else float(v.mean())


def precision(y_true, y_pred, average: str = "macro", pos_label: int = 1, num_classes=None):
    """TP / (TP + FP): of the examples predicted positive, the share that are. ``average``:
    'binary' (class ``pos_label``), 'macro' (unweighted mean over classes), 'micro', None (per class)."""
    p, _, _, a = _prf(y_true, y_pred, average, pos_label, num_classes, "precision")
    return _out(p, a)


def recall(y_true, y_pred, average: str = "macro", pos_label: int = 1, num_classes=None):
    """TP / (TP + FN): of the truly positive examples, the share found."""
    _, r, _, a = _prf(y_true, y_pred, average, pos_label, num_classes, "recall")
    return _out(r, a)


def f1_score(y_true, y_pred, average: str = "macro", pos_label: int = 1, num_classes=None):
    """Harmonic mean of precision and recall, 2PR / (P + R) (per class, then averaged)."""
    _, _, f, a = _prf(y_true, y_pred, average, pos_label, num_classes, "f1_score")
    return _out(f, a)


f1 = f1_score

METRICS = {
    "accuracy": accuracy,
    "precision": precision,
    "recall": recall,
    "f1": f1_score,
    "f1_macro": f1_score,
    "precision_binary": lambda t, p: precision(t, p, average="binary"),
    "recall_binary": lambda t, p: recall(t, p, average="binary"),
    "f1_binary": lambda t, p: f1_score(t, p, average="binary"),
}


def get_metric(metric):
    """A metric by name (see ``METRICS``) or a callable ``(y_true, y_pred) -> float``; returns (name, fn)."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {sorted(METRICS)}")
    return metric, METRICS[metric]
