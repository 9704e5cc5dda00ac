"""Augmentation (seeded, per-sample, batch-vectorized) and transfer-learning helpers."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.data import DataLoader
from deepgrad.optim import Adam
from deepgrad.vision import models, transfer
from deepgrad.vision import transforms as T


def _imgs(n=6, c=2, h=8, w=8, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)


def test_random_crop_is_a_window_of_the_padded_image_and_seeded():
    x = _imgs()
    a = T.RandomCrop(padding=2, seed=3)(x)
    b = T.RandomCrop(padding=2, seed=3)(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    xp = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(len(x)):
        found = [(dy, dx) for dy in range(5) for dx in range(5) if np.array_equal(a[i], xp[i, :, dy:dy + 8, dx:dx + 8])]
        assert found, i
    # different samples get different crops (6 samples, 25 offsets)
    c = T.RandomCrop(padding=2, seed=4)(np.repeat(x[:1], 6, axis=0))
    assert len({c[i].tobytes() for i in range(6)}) > 1


def test_flip_rotation_shift_normalize():
    x = _imgs()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0, seed=0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0, seed=0)(x), x)
    np.testing.assert_allclose(T.RandomRotation(0.0, seed=0)(x), x, atol=1e-6)
    # a 90-degree rotation is an exact pixel permutation (angle fixed by a stub generator)
    class Fixed:
        def uniform(self, lo, hi, n):
            return np.full(n, 90.0)

    rot = T.RandomRotation(90.0, generator=Fixed())
    np.testing.assert_allclose(rot(x), np.rot90(x, k=-1, axes=(2, 3)), atol=1e-5)
    s = T.RandomShift(2, seed=1)(x)
    assert s.shape == x.shape
    n = T.Normalize([1.0, 2.0], [2.0, 4.0])(x)
    np.testing.assert_allclose(n[:, 1], (x[:, 1] - 2) / 4, rtol=1e-6)
    one = T.Normalize(0.5, 0.25)(x[0])
    assert one.shape == x[0].shape
    with pytest.raises(ValueError, match="Normalize"):
        T.Normalize([0, 0, 0], [1, 1, 1])(x)


def test_transforms_as_dataloader_batch_transform():
    x, y = _imgs(10), np.arange(10)
    aug = T.Compose([T.RandomCrop(padding=1, seed=0), T.RandomHorizontalFlip(seed=1), T.Normalize(0.0, 1.0)])
    batches = list(DataLoader((x, y), batch_size=4, transform=aug))
    assert [b[0].shape for b in batches] == [(4, 2, 8, 8), (4, 2, 8, 8), (2, 2, 8, 8)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), y)  # labels untouched


def test_freeze_replace_head_and_param_groups():
    dg.manual_seed(0)
    m = models.LeNet5()
    transfer.freeze(m, "features")
    assert all(not p.requires_grad for n, p in m.named_parameters() if n.startswith("features"))
    assert all(p.requires_grad for n, p in m.named_parameters() if n.startswith("classifier"))
    head = transfer.replace_head(m, 3)
    assert transfer.head_name(m) == "classifier.5" and head.out_features == 3 and m.classifier[5] is head
    groups = transfer.param_groups(m, lr=1e-2)
    assert groups[0]["lr"] == pytest.approx(1e-3) and groups[1]["lr"] == 1e-2
    assert [p.shape for p in groups[1]["params"]] == [(3, 84), (3,)]
    before = {n: p.data.copy() for n, p in m.named_parameters()}
    opt = Adam(groups)
    x = dg.tensor(_imgs(4, 1, 28, 28))
    dg.nn.functional.cross_entropy(m(x), dg.tensor(np.array([0, 1, 2, 0]))).backward()
    opt.step()
    for n, p in m.named_parameters():
        changed = not np.array_equal(before[n], p.data)
        assert changed == n.startswith("classifier"), n  # frozen body unchanged, head and fc layers trained
    transfer.unfreeze(m)
    assert all(p.requires_grad for p in m.parameters())
    with pytest.raises(KeyError, match="no parameters under"):
        transfer.freeze(m, "backbone")
    with pytest.raises(ValueError, match="no Linear"):
        transfer.head_name(nn.Sequential(nn.Conv2d(1, 2, 3)))
