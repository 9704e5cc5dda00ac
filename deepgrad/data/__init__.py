"""Data: datasets, mini-batch loading, train/dev/test splits and real data sets.

>>> from deepgrad.data import TensorDataset, DataLoader
>>> import numpy as np
>>> ds = TensorDataset(np.zeros((10, 3), np.float32), np.arange(10))
>>> [len(x) for x, y in DataLoader(ds, batch_size=4)]
[4, 4, 2]
"""
from . import datasets  # noqa: F401
from .dataloader import DataLoader  # noqa: F401
from .dataset import Dataset, Subset, TensorDataset, default_collate, fetch_batch  # noqa: F401
from .split import (  # noqa: F401
    Splits,
    make_splits,
    random_split,
    split_indices,
    train_dev_split,
    train_dev_test_split,
    train_traindev_dev_test_split,
    train_traindev_split,
)
