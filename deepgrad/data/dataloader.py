"""``DataLoader``: mini-batches from a dataset (course 2, mini-batch gradient descent).

Each epoch draws a fresh permutation of the examples (when ``shuffle``) from the
loader's own ``numpy.random.Generator`` and cuts it into batches of ``batch_size``;
with ``drop_last`` the final short batch is skipped. Its shuffling state can be saved
and restored (``state_dict``), including how far into an epoch it got, so a training
run resumed from a checkpoint sees exactly the batches it would have seen.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..random import default_generator
from ..tensor import Tensor
from .dataset import Dataset, TensorDataset, fetch_batch


def _to_tensor(a):
    if isinstance(a, Tensor):
        return a
    arr = np.asarray(a)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # keep the pipeline float32 end to end
    return Tensor._wrap(arr)


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Args:
        dataset: a ``Dataset`` (or a tuple of arrays, wrapped in ``TensorDataset``).
        batch_size: examples per batch ``B``.
        shuffle: draw a new order each epoch.
        drop_last: skip the final batch when it has fewer than ``B`` examples.
        seed / generator: the shuffling randomness (default: seeded once from
            ``deepgrad.default_generator()``, so ``deepgrad.manual_seed`` fixes it).
        collate_fn: ``list of examples -> batch``; when given, batches are built
            example by example and returned as ``collate_fn`` makes them.
        transform: ``batch tuple of arrays -> batch tuple`` applied to each batch before
            it becomes Tensors (batch-level augmentation, normalisation).
        to_tensor: wrap each array of a batch in a ``Tensor`` (default) or yield ndarrays.

    Yields tuples ``(x, y, ...)`` with one ``(B, ...)`` entry per dataset field.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        generator: np.random.Generator | None = None,
        collate_fn: Callable | None = None,
        transform: Callable | None = None,
        to_tensor: bool = True,
    ):
        if isinstance(dataset, (tuple, list)) and not isinstance(dataset, Dataset):
            dataset = TensorDataset(*dataset)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be a whole number, got {type(batch_size).__name__} {batch_size!r}")
        if int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: expected a Dataset (with __len__ and __getitem__) or a tuple of arrays, "
                            f"got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.transform = transform
        self.to_tensor = to_tensor
        if generator is None:
            if seed is None:
                seed = int(default_generator().integers(2**63 - 1)) if shuffle else 0
            generator = np.random.default_rng(seed)
        self.generator = generator
        self._epoch_start_state = None  # generator state before the current epoch's permutation
        self._position = 0  # batches yielded so far in the current epoch
        self._resume_skip = 0

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        self._epoch_start_state = self.generator.bit_generator.state
        order = self._order()
        skip, self._resume_skip = self._resume_skip, 0
        n_batches = len(self)
        self._position = skip
        for b in range(skip, n_batches):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            batch = self._make_batch(idx)
            self._position = b + 1
            yield batch
        self._epoch_start_state = None
        self._position = 0

    def _make_batch(self, idx):
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[int(i)] for i in idx])
        arrays = fetch_batch(self.dataset, idx)
        if self.transform is not None:
            arrays = tuple(self.transform(arrays))
        if self.to_tensor:
            return tuple(_to_tensor(a) for a in arrays)
        return arrays

    # ----- resumable state -------------------------------------------------------------
    def state_dict(self) -> dict:
        """JSON-serialisable shuffle state: where the next batch comes from.

        Mid-epoch it holds the generator state from before this epoch's permutation and
        the number of batches already consumed, so a restored loader redraws the same
        permutation and continues with the next batch.
        """
        if self._epoch_start_state is not None:  # inside an epoch (possibly after its last batch)
            return {"generator": self._epoch_start_state, "skip": int(self._position)}
        return {"generator": self.generator.bit_generator.state, "skip": 0}

    def load_state_dict(self, state: dict) -> None:
        self.generator.bit_generator.state = state["generator"]
        self._resume_skip = int(state.get("skip", 0))
        self._epoch_start_state = None
        self._position = 0
