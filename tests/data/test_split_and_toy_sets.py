import numpy as np
import pytest

from deepgrad.data import (
    TensorDataset,
    random_split,
    split_indices,
    train_dev_split,
    train_dev_test_split,
    train_traindev_split,
)
from deepgrad.data.datasets import make_blobs, make_circles, make_flower, make_moons


def _labels():
    # imbalanced: 500 / 300 / 150 / 50
    return np.repeat(np.arange(4), [500, 300, 150, 50])


def test_stratified_proportions_per_class():
    y = _labels()
    parts = split_indices(y, (0.8, 0.1, 0.1), stratify=True, seed=0)
    assert [len(p) for p in parts] == [800, 100, 100]
    allidx = np.concatenate(parts)
    assert len(np.unique(allidx)) == len(y)  # disjoint and complete
    overall = np.bincount(y) / len(y)
    for p in parts:
        share = np.bincount(y[p], minlength=4) / len(p)
        np.testing.assert_allclose(share, overall, atol=0.011)
    np.testing.assert_array_equal(np.bincount(y[parts[1]]), [50, 30, 15, 5])


def test_unstratified_split_is_reproducible_and_disjoint():
    a = split_indices(103, (0.7, 0.2, 0.1), seed=4)
    b = split_indices(103, (0.7, 0.2, 0.1), seed=4)
    c = split_indices(103, (0.7, 0.2, 0.1), seed=5)
    assert sum(len(p) for p in a) == 103
    assert len(np.unique(np.concatenate(a))) == 103
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])


def test_counts_and_remainder_to_train():
    tr, dv = split_indices(_labels(), (900, 100), stratify=True, seed=0)
    assert len(dv) == 100 and len(tr) == 900
    tr, dv = split_indices(1000, (0.0, 0.25))  # fractions summing < 1: rest to the first part
    assert (len(tr), len(dv)) == (750, 250)
    with pytest.raises(ValueError):
        split_indices(10, (8, 5))
    with pytest.raises(ValueError):
        split_indices(10, (0.7, 0.7))


def test_array_helpers_and_train_dev():
    y = _labels()
    X = np.arange(len(y) * 2, dtype=np.float32).reshape(-1, 2)
    (Xtr, ytr), (Xd, yd), (Xte, yte) = train_dev_test_split(X, y, dev=0.1, test=0.2, stratify=True, seed=1)
    assert (len(ytr), len(yd), len(yte)) == (700, 100, 200)
    np.testing.assert_array_equal(Xtr[:, 0] // 2, np.flatnonzero(np.isin(np.arange(len(y)), Xtr[:, 0] // 2))[np.argsort(np.argsort(Xtr[:, 0]))])
    np.testing.assert_array_equal(y[(Xd[:, 0] // 2).astype(int)], yd)  # rows stay paired
    (Xa, ya), (Xb, yb) = train_traindev_split(Xtr, ytr, train_dev=0.1, stratify=True, seed=2)
    assert len(yb) == 70 and len(ya) == 630
    assert not set(Xb[:, 0]) & set(Xa[:, 0])
    (_, y1), (_, y2) = train_dev_split(X, y, dev=0.5, seed=3)
    assert len(y1) == len(y2) == 500


def test_random_split_datasets():
    y = _labels()
    ds = TensorDataset(np.zeros((len(y), 1), np.float32), y)
    a, b = random_split(ds, (0.9, 0.1), stratify=y, seed=0)
    assert len(a) == 900 and len(b) == 100
    np.testing.assert_array_equal(np.bincount(b.arrays[1]), [50, 30, 15, 5])


@pytest.mark.parametrize("make", [make_flower, make_circles, make_moons, make_blobs])
def test_toy_sets(make):
    X, y = make(200, seed=0)
    assert X.shape == (200, 2) and X.dtype == np.float32 and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    X2, _ = make(200, seed=0)
    np.testing.assert_array_equal(X, X2)


def test_flower_is_not_linearly_separable():
    # the point of the course exercise: a linear classifier stays near chance
    X, y = make_flower(400, seed=1)
    A = np.c_[X, np.ones(len(X))]
    w, *_ = np.linalg.lstsq(A, 2.0 * y - 1, rcond=None)
    acc = ((A @ w > 0) == y).mean()
    assert acc < 0.7


def test_digits_resized():
    pytest.importorskip("sklearn")
    from deepgrad.data.datasets import load_digits

    X, y = load_digits()
    assert X.shape == (1797, 1, 8, 8) and X.max() <= 1.0
    X28, _ = load_digits(size=28, flatten=True)
    assert X28.shape == (1797, 784) and X28.dtype == np.float32
    # corners are kept exactly by align-corners bilinear resizing
    np.testing.assert_allclose(X28.reshape(-1, 28, 28)[:, 0, 0], X[:, 0, 0, 0], atol=1e-6)


def test_digits_without_sklearn_says_how_to_get_it(monkeypatch):
    import sys

    from deepgrad.data.datasets import load_digits

    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()
