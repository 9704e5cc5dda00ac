"""The generated shapes set: seeded, labels consistent with the pixels."""
from __future__ import annotations

import numpy as np
import pytest

from deepgrad.data.datasets import SHAPES_CLASSES  # noqa: F401
from deepgrad.data.datasets.shapes import CLASSES, ShapesDataset, make_shapes, render


def test_seeded_per_image_and_disjoint_ranges():
    a = make_shapes(6, size=32, seed=3)
    b = make_shapes(3, size=32, seed=3, start=3)
    np.testing.assert_array_equal(a.images[3:], b.images)  # image i is the same whatever else is made
    c = make_shapes(6, size=32, seed=4)
    assert not np.allclose(a.images, c.images)
    assert a.images.dtype == np.float32 and a.images.shape == (6, 3, 32, 32)
    assert a.images.min() >= 0 and a.images.max() <= 1


def test_labels_agree_with_pixels():
    d = make_shapes(40, size=48, objects=(1, 3), seed=0)
    counts = [len(b) for b in d.boxes]
    assert min(counts) >= 1 and max(counts) == 3
    seen = set()
    for i in range(len(d)):
        boxes, labels, lms, inst, mask = d.boxes[i], d.labels[i], d.landmarks[i], d.instances[i], d.masks[i]
        assert boxes.shape == (len(labels), 4) and lms.shape == (len(labels), 3, 2)
        np.testing.assert_array_equal(mask > 0, inst > 0)
        for k, (box, lab, lm) in enumerate(zip(boxes, labels, lms)):
            seen.add(int(lab))
            ys, xs = np.nonzero(inst == k + 1)
            assert len(ys) > 0, "every object stays visible"
            # what is visible lies inside the object's box (pixel centres), with the right class
            assert xs.min() + 0.5 >= box[0] - 1e-4 and xs.max() + 0.5 <= box[2] + 1e-4
            assert ys.min() + 0.5 >= box[1] - 1e-4 and ys.max() + 0.5 <= box[3] + 1e-4
            assert (mask[ys, xs] == lab + 1).all()
            assert 0 <= box[0] < box[2] <= 48 and 0 <= box[1] < box[3] <= 48
            if CLASSES[lab] == "triangle":  # corners: the box's extremes, topmost first
                np.testing.assert_allclose(lm.min(0), box[:2], atol=1e-4)
                np.testing.assert_allclose(lm.max(0), box[2:], atol=1e-4)
                assert lm[0, 1] == lm[:, 1].min()
                (x0, y0), (x1, y1), (x2, y2) = lm
                assert (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0) > 0  # clockwise on screen (y down)
            else:
                assert np.isnan(lm).all()
    assert seen == {0, 1, 2}


def test_single_object_and_dataset():
    d = make_shapes(10, size=32, objects=1, seed=1)
    labels, boxes, lms = d.single()
    assert labels.shape == (10,) and boxes.shape == (10, 4) and lms.shape == (10, 3, 2)
    with pytest.raises(ValueError, match="exactly one object"):
        make_shapes(10, size=32, objects=(1, 3), seed=1).single()
    ds = ShapesDataset(5, size=32, seed=1, objects=1)
    x, m = ds[2]
    np.testing.assert_array_equal(x, d.images[2])
    np.testing.assert_array_equal(m, d.masks[2])
    xb, mb = ds.get_batch([0, 4])
    assert xb.shape == (2, 3, 32, 32) and mb.shape == (2, 32, 32)
    with pytest.raises(IndexError):
        ds[5]
    img, *_ = render(1, 2, size=32, objects=1)
    np.testing.assert_array_equal(img, d.images[2])


def test_dataset_in_a_dataloader():
    from deepgrad.data import DataLoader

    ds = ShapesDataset(10, size=16, seed=2)
    batches = list(DataLoader(ds, batch_size=4, shuffle=True, seed=0))
    assert [b[0].shape for b in batches] == [(4, 3, 16, 16), (4, 3, 16, 16), (2, 3, 16, 16)]
    assert batches[0][1].shape == (4, 16, 16) and str(batches[0][1].dtype) == "int64"
