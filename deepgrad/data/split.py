"""Train / dev / test splits (course 3, "Setting up your goal").

The dev set picks models and the test set gives an unbiased final estimate; both
must come from the distribution you care about. A *train-dev* set (course 3, data
mismatch) is carved out of the training distribution: the gap train -> train-dev
measures variance, train-dev -> dev measures data mismatch.

Stratified splits keep each class's share the same in every part, which matters for
small or imbalanced sets. All splits are repeatable given ``seed``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np

from .dataset import Subset, _as_array


def _is_counts(sizes) -> bool:
    return all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes) and sum(sizes) > 1


def _largest_remainder(raw: np.ndarray, total: int) -> np.ndarray:
    """Round ``raw`` down, then give the ``total - sum`` leftover units to the largest remainders."""
    cnt = np.floor(raw + 1e-9).astype(np.int64)
    rest = int(total - cnt.sum())
    if rest > 0:
        order = np.argsort(-(raw - cnt), kind="stable")
        cnt[order[:rest]] += 1
    return cnt


def split_indices(n_or_labels, sizes: Sequence[float], stratify: bool = False, seed: int | None = 0) -> list[np.ndarray]:
    """Indices for each part of a split.

    ``n_or_labels``: the number of examples, or their labels ``(N,)`` (needed for
    ``stratify=True``). ``sizes``: fractions per part, e.g. ``(0.8, 0.1, 0.1)``; when they
    sum to less than 1 the remainder goes to the first part (the training set). Integers
    summing to more than 1 are absolute counts (examples left over are not used).
    Returns one shuffled int64 index array per part; parts never overlap.
    """
    rng = np.random.default_rng(seed)
    if np.ndim(n_or_labels) == 0:
        if stratify:
            raise ValueError("split_indices: stratify=True needs the labels, not just a count")
        n, labels = int(n_or_labels), None
    else:
        labels = _as_array(n_or_labels)
        n = len(labels)
    sizes = list(sizes)
    if not sizes:
        raise ValueError("split: no sizes given")
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, float, np.integer, np.floating)) or not np.isfinite(s) or s < 0:
            raise ValueError(f"split: sizes must be finite numbers >= 0, got {sizes}")
    counts_given = _is_counts(sizes)
    if counts_given:
        if sum(sizes) > n:
            raise ValueError(f"split: sizes {sizes} ask for {sum(sizes)} examples, only {n} available")
        fr, total_fraction = np.asarray(sizes, np.float64) / max(n, 1), sum(sizes) / max(n, 1)
    else:
        fr = np.asarray(sizes, dtype=np.float64)
        if (fr < 0).any() or fr.sum() > 1 + 1e-9:
            raise ValueError(f"split: fractions must be >= 0 and sum to at most 1, got {sizes}")
        fr[0] += max(0.0, 1.0 - fr.sum())
        total_fraction = 1.0
    if not stratify:
        counts = np.asarray(sizes, np.int64) if counts_given else _largest_remainder(fr * n, n)
        perm = rng.permutation(n)
        bounds = np.cumsum([0, *counts])
        return [perm[bounds[i] : bounds[i + 1]].astype(np.int64) for i in range(len(sizes))]
    assert labels is not None  # stratify without labels was refused above
    if labels.ndim != 1:
        raise ValueError(f"split_indices: stratify needs 1-D class labels, got shape {labels.shape}")
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise ValueError("split_indices: stratify needs class labels; got non-integer values "
                         f"(e.g. {labels[labels != np.round(labels)][0]!r})")
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    # Cumulative rounding: after each class, part k (k >= 1) holds floor(fr_k * examples
    # seen so far) and part 0 the rest, so every class is split in the requested
    # proportions (within one example) and the parts' totals are exact.
    seen, prev = 0, np.zeros(len(sizes), np.int64)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        seen += len(idx)
        cum = np.floor(fr * seen + 1e-9).astype(np.int64)
        cum[0] = max(int(round(total_fraction * seen)) - int(cum[1:].sum()), int(prev[0]))
        cnt = cum - prev
        prev = cum
        bounds = np.cumsum([0, *cnt])
        for i in range(len(sizes)):
            parts[i].append(idx[bounds[i] : bounds[i + 1]])
    out = []
    for p in parts:
        arr = np.concatenate(p) if p else np.zeros(0, np.int64)
        out.append(arr[rng.permutation(len(arr))].astype(np.int64))
    return out


def _take(arrays, idx):
    return tuple(_as_array(a)[idx] for a in arrays)


def train_dev_test_split(*arrays, dev: float = 0.1, test: float = 0.1, stratify=None, seed: int | None = 0):
    """Split arrays (same first dimension) into train/dev/test parts.

    ``stratify``: labels to stratify on (or ``True`` to use the last array).
    Returns ``(train, dev, test)``, each a tuple of arrays in the order given.
    """
    labels = _labels(arrays, stratify)
    n = len(arrays[0])
    tr, dv, te = split_indices(labels if labels is not None else n, (1 - dev - test, dev, test), stratify=labels is not None, seed=seed)
    return _take(arrays, tr), _take(arrays, dv), _take(arrays, te)


def train_dev_split(*arrays, dev: float = 0.1, stratify=None, seed: int | None = 0):
    """Split arrays into ``(train, dev)`` parts (e.g. carve a dev set out of a training set)."""
    labels = _labels(arrays, stratify)
    n = len(arrays[0])
    tr, dv = split_indices(labels if labels is not None else n, (1 - dev, dev), stratify=labels is not None, seed=seed)
    return _take(arrays, tr), _take(arrays, dv)


def train_traindev_split(*arrays, train_dev: float = 0.05, stratify=None, seed: int | None = 0):
    """Carve a *train-dev* set (same distribution as train, never trained on) out of train.

    Returns ``(train, train_dev)``; compare train, train-dev and dev errors to separate
    variance from data mismatch.
    """
    return train_dev_split(*arrays, dev=train_dev, stratify=stratify, seed=seed)


def random_split(dataset, sizes: Sequence[float], stratify=None, seed: int | None = 0) -> list[Subset]:
    """Split a Dataset into ``Subset``s (fractions or counts, like ``torch.utils.data.random_split``).

    ``stratify``: labels ``(N,)`` to stratify on.
    """
    n = len(dataset)
    if stratify is not None:
        idx = split_indices(stratify, sizes, stratify=True, seed=seed)
    else:
        idx = split_indices(n, sizes, seed=seed)
    return [Subset(dataset, cast(Sequence[int], i)) for i in idx]  # a 1-D int64 array, as Subset converts it


def _labels(arrays, stratify):
    if stratify is None or stratify is False:
        return None
    return _as_array(arrays[-1] if stratify is True else stratify)


# ----- train / train-dev / dev / test in one call, recorded with the run ---------------------------
#: the four parts of course 3's split, in order
PARTS = ("train", "train_dev", "dev", "test")


class Splits:
    """Index arrays for train, train-dev, dev and test (:func:`make_splits`), and their record.

    ``splits.train`` etc. are int64 index arrays (disjoint); ``splits.take(X, y)`` returns
    ``{"train": (X_tr, y_tr), ...}``; ``splits.record()`` is the JSON dict a run stores (seed,
    stratified, and per part: the count, the count per class and a SHA-256 of the indices, so
    two runs on the same split can be recognised).
    """

    def __init__(self, parts: dict, labels=None, seed=None, stratified: bool = False, fractions=None):
        self.parts = {k: np.asarray(v, np.int64) for k, v in parts.items()}
        self.labels = None if labels is None else _as_array(labels)
        self.seed, self.stratified, self.fractions = seed, stratified, fractions

    def __getattr__(self, name):
        parts = self.__dict__.get("parts", {})
        if name in parts:
            return parts[name]
        raise AttributeError(name)

    def __iter__(self):
        return iter(self.parts[k] for k in self.parts)

    def __len__(self):
        return len(self.parts)

    def take(self, *arrays) -> dict:
        """``{"train": (a[train_idx], b[train_idx], ...), "train_dev": ..., "dev": ..., "test": ...}``."""
        return {k: _take(arrays, idx) for k, idx in self.parts.items()}

    def record(self) -> dict:
        import hashlib

        out = {"seed": self.seed, "stratified": bool(self.stratified)}
        if self.fractions is not None:
            out["fractions"] = dict(self.fractions)
        for k, idx in self.parts.items():
            part = {"examples": int(len(idx)),
                    "sha256": hashlib.sha256(np.sort(idx).astype("<i8").tobytes()).hexdigest()[:16]}
            if self.labels is not None and self.labels.ndim == 1 and self.labels.dtype.kind in "iub":
                cls, cnt = np.unique(self.labels[idx], return_counts=True)
                part["per_class"] = {str(int(c)): int(n) for c, n in zip(cls, cnt)}
            out[k] = part
        return out

    def __repr__(self):
        return "Splits(" + ", ".join(f"{k}={len(v)}" for k, v in self.parts.items()) + ")"


def make_splits(n_or_labels, train_dev: float = 0.05, dev: float = 0.1, test: float = 0.1, stratify: bool = True,
                seed: int | None = 0) -> Splits:
    """Train, train-dev, dev and test in one call (course 3): fractions of the examples (or
    counts), the rest to train; stratified on the labels when given (``stratify=True``), repeatable
    given ``seed``. Train-dev comes from the same distribution as train and is never trained on:
    train -> train-dev measures variance, train-dev -> dev data mismatch. A part of size 0 is empty.

    When dev and test come from ANOTHER distribution (the data you care about), split that data
    with :func:`split_indices` and use ``train_dev`` here for the training distribution.
    """
    labels = None if np.ndim(n_or_labels) == 0 else _as_array(n_or_labels)
    strat = bool(stratify) and labels is not None
    sizes = [train_dev, dev, test]
    counts = _is_counts([1 if s == 0 else s for s in sizes]) and all(isinstance(s, (int, np.integer)) for s in sizes)
    n = len(labels) if labels is not None else int(n_or_labels)
    if counts:
        sizes = [n - sum(sizes), *sizes]
        if sizes[0] < 0:
            raise ValueError(f"make_splits: train_dev + dev + test = {n - sizes[0]} examples, only {n} available")
    else:
        sizes = [max(0.0, 1.0 - sum(sizes)), *sizes]
    idx = split_indices(labels if strat else n, sizes, stratify=strat, seed=seed)
    fractions = dict(zip(PARTS, [float(s) for s in sizes]))
    return Splits(dict(zip(PARTS, idx)), labels=labels, seed=seed, stratified=strat, fractions=fractions)


def train_traindev_dev_test_split(*arrays, train_dev: float = 0.05, dev: float = 0.1, test: float = 0.1,
                                  stratify=None, seed: int | None = 0):
    """Arrays split into ``(train, train_dev, dev, test)``, each a tuple of arrays (see :func:`make_splits`)."""
    labels = _labels(arrays, stratify)
    s = make_splits(labels if labels is not None else len(arrays[0]), train_dev, dev, test,
                    stratify=labels is not None, seed=seed)
    parts = s.take(*arrays)
    return tuple(parts[k] for k in PARTS)
