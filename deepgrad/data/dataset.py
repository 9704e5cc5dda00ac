"""Datasets: indexable collections of examples (PyTorch's ``Dataset`` API).

A dataset answers ``len(ds)`` and ``ds[i]`` (one example, usually a tuple
``(x, y)``). Array-backed datasets also answer ``ds.get_batch(indices)`` so a
``DataLoader`` fetches a whole mini-batch with one fancy-indexing copy instead of
one Python call per example.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def _as_array(a) -> np.ndarray:
    return np.asarray(getattr(a, "data", a))


class Dataset:
    """Base class: implement ``__len__`` and ``__getitem__``."""

    def __len__(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __getitem__(self, index):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")


class TensorDataset(Dataset):
    """Examples are the rows of equally long arrays: ``TensorDataset(X, y)``.

    ``X`` of shape ``(N, ...)`` and ``y`` of shape ``(N,)`` (or ``(N, k)``); arrays or
    Tensors. ``transform`` (optional) maps a batch of inputs ``(B, ...) -> (B, ...)``
    and is applied to the first array only, e.g. normalisation or augmentation.
    """

    def __init__(self, *arrays, transform: Callable | None = None):
        if not arrays:
            raise ValueError("TensorDataset: give at least one array")
        self.arrays = tuple(_as_array(a) for a in arrays)
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if a.ndim == 0 or len(a) != n:
                shapes = [x.shape for x in self.arrays]
                raise ValueError(f"TensorDataset: all arrays need the same first dimension; got shapes {shapes} (array {i})")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            out = tuple(a[index] for a in self.arrays)
            if self.transform is not None:
                out = (self.transform(out[0][None])[0],) + out[1:]
            return out if len(out) > 1 else out[0]
        return self.get_batch(index)

    def get_batch(self, indices) -> tuple:
        """The examples at ``indices`` stacked: a tuple with one ``(B, ...)`` array per field."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        out = tuple(a[idx] for a in self.arrays)
        if self.transform is not None:
            out = (np.asarray(self.transform(out[0])),) + out[1:]
        return out


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices`` (a split: train, dev, test)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ValueError(f"Subset: indices must be 1-D, got shape {self.indices.shape}")
        n = len(dataset)
        if len(self.indices) and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices out of range for a dataset of {n} examples")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            return self.dataset[int(self.indices[index])]
        return self.get_batch(index)

    def get_batch(self, indices) -> tuple:
        inner = self.indices[np.asarray(indices)]
        return fetch_batch(self.dataset, inner)

    @property
    def arrays(self):
        """The subset's arrays (a copy), when the underlying dataset is array-backed."""
        return fetch_batch(self.dataset, self.indices)


def default_collate(examples: list) -> tuple:
    """Stack a list of examples (tuples of arrays/numbers) into one array per field."""
    first = examples[0]
    if isinstance(first, tuple | list):
        return tuple(np.stack([np.asarray(getattr(e[k], "data", e[k])) for e in examples]) for k in range(len(first)))
    return (np.stack([np.asarray(getattr(e, "data", e)) for e in examples]),)


def fetch_batch(dataset, indices) -> tuple:
    """A mini-batch from any dataset: the fast ``get_batch`` path or one ``__getitem__`` per example."""
    if hasattr(dataset, "get_batch"):
        out = dataset.get_batch(indices)
        return out if isinstance(out, tuple) else (out,)
    return default_collate([dataset[int(i)] for i in indices])
