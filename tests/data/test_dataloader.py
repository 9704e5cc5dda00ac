import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import DataLoader, Dataset, Subset, TensorDataset


def _ds(n=10):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(X, np.arange(n))


def _orders(loader, epochs=1):
    return [np.concatenate([y.data for _, y in loader]) for _ in range(epochs)]


def test_batches_shapes_dtypes_and_tensors():
    batches = list(DataLoader(_ds(10), batch_size=4))
    assert [len(x) for x, _ in batches] == [4, 4, 2]
    x, y = batches[0]
    assert isinstance(x, dg.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(y.data, [0, 1, 2, 3])
    np.testing.assert_array_equal(x.data[1], [3, 4, 5])


def test_float64_inputs_become_float32():
    ds = TensorDataset(np.zeros((4, 2)), np.zeros(4, np.int64))
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    assert x.dtype == np.float32


def test_drop_last():
    loader = DataLoader(_ds(10), batch_size=4, drop_last=True, shuffle=True, seed=0)
    assert len(loader) == 2
    sizes = [len(y) for _, y in loader]
    assert sizes == [4, 4]
    assert len(DataLoader(_ds(10), batch_size=4)) == 3
    assert len(DataLoader(_ds(8), batch_size=4, drop_last=True)) == 2


def test_shuffle_is_a_permutation_and_changes_per_epoch():
    loader = DataLoader(_ds(50), batch_size=7, shuffle=True, seed=3)
    e1, e2 = _orders(loader, 2)
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert not np.array_equal(e1, e2)
    assert not np.array_equal(e1, np.arange(50))


def test_same_seed_same_order_different_seed_different_order():
    a = _orders(DataLoader(_ds(50), batch_size=8, shuffle=True, seed=1), 3)
    b = _orders(DataLoader(_ds(50), batch_size=8, shuffle=True, seed=1), 3)
    c = _orders(DataLoader(_ds(50), batch_size=8, shuffle=True, seed=2), 3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_default_seed_follows_manual_seed():
    dg.manual_seed(11)
    a = _orders(DataLoader(_ds(30), batch_size=8, shuffle=True))
    dg.manual_seed(11)
    b = _orders(DataLoader(_ds(30), batch_size=8, shuffle=True))
    np.testing.assert_array_equal(a[0], b[0])


def test_state_dict_resumes_mid_epoch_exactly():
    ref = DataLoader(_ds(40), batch_size=6, shuffle=True, seed=5)
    full = [np.concatenate([y.data for _, y in ref]) for _ in range(3)]

    loader = DataLoader(_ds(40), batch_size=6, shuffle=True, seed=5)
    list(loader)  # epoch 1
    it = iter(loader)
    seen = [next(it)[1].data for _ in range(3)]  # 3 batches into epoch 2
    state = loader.state_dict()
    assert state["skip"] == 3

    fresh = DataLoader(_ds(40), batch_size=6, shuffle=True, seed=999)
    fresh.load_state_dict(state)
    rest = [y.data for _, y in fresh]
    np.testing.assert_array_equal(np.concatenate(seen + rest), full[1])
    np.testing.assert_array_equal(np.concatenate([y.data for _, y in fresh]), full[2])


def test_state_dict_between_epochs():
    a = DataLoader(_ds(20), batch_size=6, shuffle=True, seed=5)
    list(a)
    b = DataLoader(_ds(20), batch_size=6, shuffle=True, seed=0)
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(_orders(a)[0], _orders(b)[0])


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return np.float32(i), i * i


def test_generic_dataset_and_collate_fn():
    batches = list(DataLoader(Squares(), batch_size=2))
    np.testing.assert_array_equal(batches[0][1].data, [0, 1])
    np.testing.assert_array_equal(batches[2][1].data, [16])
    got = list(DataLoader(Squares(), batch_size=3, collate_fn=lambda ex: [e[1] for e in ex]))
    assert got == [[0, 1, 4], [9, 16]]


def test_transform_hook_applies_per_batch():
    loader = DataLoader(_ds(6), batch_size=3, transform=lambda b: (b[0] * 0 + 1, b[1]))
    for x, _ in loader:
        assert (x.data == 1).all()
    ds = TensorDataset(np.ones((4, 2), np.float32), np.arange(4), transform=lambda x: x * 2)
    assert (ds[0][0] == 2).all()
    x, _ = next(iter(DataLoader(ds, batch_size=4)))
    assert (x.data == 2).all()


def test_subset_and_tuple_input():
    ds = _ds(10)
    sub = Subset(ds, [9, 2, 5])
    assert len(sub) == 3
    np.testing.assert_array_equal(sub[0][1], 9)
    ys = np.concatenate([y.data for _, y in DataLoader(sub, batch_size=2)])
    np.testing.assert_array_equal(ys, [9, 2, 5])
    X = np.zeros((5, 2), np.float32)
    assert len(DataLoader((X, np.arange(5)), batch_size=2)) == 3


def test_errors():
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_ds(3), batch_size=0)
    with pytest.raises(IndexError):
        Subset(_ds(3), [5])
