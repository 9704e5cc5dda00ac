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
        seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
        num_classes = max(num_classes or 0, seen, pos_label + 1)
    return _prf_matrix(confusion_matrix(t, p, num_classes), average, pos_label, name)


def _prf_matrix(m, average: str, pos_label: int, name):
    """Precision, recall, F1 from a confusion matrix ``m`` (rows: true class, columns: predicted)."""
    m = np.asarray(m, dtype=np.float64)
    if average == "binary":
        k = int(pos_label)
        tp = m[k, k] if k < len(m) else 0.0
        fp = (m[:, k].sum() if k < len(m) else 0.0) - tp
        fn = (m[k, :].sum() if k < len(m) else 0.0) - tp
        tp, fp, fn = (np.array([v], np.float64) for v in (tp, fp, fn))
    else:
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


# ----- streaming: metrics updated batch by batch (the Trainer's epochs) --------------------------------
class StreamingMetric:
    """A metric accumulated over batches without keeping them: ``reset()``, ``update(y_true,
    y_pred)`` per batch (labels or scores, as the functions above take), ``result()``.
    ``state_dict``/``load_state_dict`` carry a half-finished epoch across a resume."""

    name = "metric"

    def reset(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def update(self, y_true, y_pred) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict) -> None:
        self.__dict__.update(state)


class Accuracy(StreamingMetric):
    """Running accuracy: two counters."""

    def __init__(self, name: str = "accuracy"):
        self.name = name
        self.reset()

    def reset(self):
        self.correct, self.count = 0, 0

    def update(self, y_true, y_pred):
        t, p = _check(y_true, y_pred, self.name)
        self.correct += int((t == p).sum())
        self.count += len(t)

    def result(self):
        return self.correct / self.count if self.count else float("nan")


class ConfusionMetric(StreamingMetric):
    """Precision, recall or F1 (``kind``) from a running confusion matrix (grown as classes appear)."""

    def __init__(self, kind: str, average: str = "macro", pos_label: int = 1, name: str | None = None):
        if kind not in ("precision", "recall", "f1"):
            raise ValueError(f"ConfusionMetric: kind must be precision, recall or f1, got {kind!r}")
        self.kind, self.average, self.pos_label = kind, average, pos_label
        self.name = name or kind
        self.reset()

    def reset(self):
        self.matrix = np.zeros((0, 0), np.int64)

    def update(self, y_true, y_pred):
        t, p = _check(y_true, y_pred, self.name)
        if not len(t):
            return
        c = max(int(t.max()), int(p.max()), self.matrix.shape[0] - 1) + 1
        if c > self.matrix.shape[0]:
            m = np.zeros((c, c), np.int64)
            k = self.matrix.shape[0]
            m[:k, :k] = self.matrix
            self.matrix = m
        np.add.at(self.matrix, (t, p), 1)

    def result(self):
        if not self.matrix.sum():
            return float("nan")
        prf = _prf_matrix(self.matrix, self.average, self.pos_label, self.name)
        return _out(prf[("precision", "recall", "f1").index(self.kind)], self.average)


class Collected(StreamingMetric):
    """Any callable ``fn(y_true, y_pred)``: its batches' labels are kept and ``fn`` runs once at the end
    (the only metric that stores a whole epoch's labels; prefer a ``StreamingMetric``)."""

    def __init__(self, name: str, fn):
        self.name, self.fn = name, fn
        self.reset()

    def reset(self):
        self.y_true, self.y_pred = [], []

    def update(self, y_true, y_pred):
        t, p = _check(y_true, y_pred, self.name)
        self.y_true.append(t)
        self.y_pred.append(p)

    def result(self):
        if not self.y_true:
            return float("nan")
        return float(self.fn(np.concatenate(self.y_true), np.concatenate(self.y_pred)))

    def state_dict(self):
        def cat(xs):
            return np.concatenate(xs) if xs else np.zeros(0, np.int64)

        return {"y_true": cat(self.y_true), "y_pred": cat(self.y_pred)}

    def load_state_dict(self, state):
        self.y_true, self.y_pred = [np.asarray(state["y_true"])], [np.asarray(state["y_pred"])]


_STREAMS = {
    "accuracy": lambda: Accuracy(),
    "precision": lambda: ConfusionMetric("precision"),
    "recall": lambda: ConfusionMetric("recall"),
    "f1": lambda: ConfusionMetric("f1"),
    "f1_macro": lambda: ConfusionMetric("f1", name="f1_macro"),
    "precision_binary": lambda: ConfusionMetric("precision", "binary", name="precision_binary"),
    "recall_binary": lambda: ConfusionMetric("recall", "binary", name="recall_binary"),
    "f1_binary": lambda: ConfusionMetric("f1", "binary", name="f1_binary"),
}


def make_streaming(metric) -> StreamingMetric:
    """A fresh :class:`StreamingMetric` for a name, a ``StreamingMetric`` (copied) or a callable."""
    import copy

    if isinstance(metric, StreamingMetric):
        m = copy.deepcopy(metric)
        m.reset()
        return m
    if isinstance(metric, str):
        if metric not in _STREAMS:
            raise ValueError(f"unknown metric {metric!r}; known: {sorted(_STREAMS)}")
        return _STREAMS[metric]()
    if callable(metric):
        return Collected(getattr(metric, "__name__", "metric"), metric)
    raise TypeError(f"a metric is a name, a StreamingMetric or a callable (y_true, y_pred), got {type(metric).__name__}")
