"""Localizer, YOLO and U-Net: shapes, losses (finite differences in float64, values on hand
cases), metrics against loops, and the three shapes recipes at --quick size."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.check import gradcheck, gradcheck_model
from deepgrad.vision import boxes as B
from deepgrad.vision.detection import YOLO, Localizer, localization_loss, yolo_loss, yolo_targets
from deepgrad.vision.segmentation import UNet, confusion_matrix, iou_per_class


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_localizer_shapes_and_loss_skips_missing_landmarks():
    m = Localizer(image_size=16, widths=(4, 8), hidden=8)
    x = dg.tensor(_rng().random((5, 3, 16, 16)).astype(np.float32))
    logits, box, lm = m(x)
    assert logits.shape == (5, 3) and box.shape == (5, 4) and lm.shape == (5, 6)
    y = np.array([0, 1, 2, 2, 0])
    bt = _rng(1).random((5, 4)).astype(np.float32)
    lt = np.full((5, 6), np.nan, np.float32)
    lt[2:4] = _rng(2).random((2, 6))
    total, parts = localization_loss((logits, box, lm), y, bt, lt, 10.0, 10.0)
    want_lm = np.mean((lm.data[2:4] - lt[2:4]) ** 2)
    assert parts["landmarks"] == pytest.approx(want_lm, rel=1e-5)
    assert parts["box"] == pytest.approx(np.mean((box.data - bt) ** 2), rel=1e-5)
    assert float(total.data) == pytest.approx(parts["class"] + 10 * parts["box"] + 10 * want_lm, rel=1e-5)
    total.backward()
    assert all(p.grad is not None and np.isfinite(p.grad).all() for p in m.parameters())


def test_yolo_loss_gradcheck_and_perfect_prediction():
    anchors = np.array([[6.0, 6.0], [10.0, 10.0]])
    boxes = [np.array([[2, 3, 9, 9], [14, 14, 24, 23]], np.float64), np.zeros((0, 4))]
    labels = [np.array([1, 2]), np.array([], np.int64)]
    T, C = yolo_targets(boxes, labels, grid_size=4, image_size=32, anchors=anchors, num_classes=3)
    assert T.shape == (2, 4, 4, 2, 5) and C.shape == (2, 4, 4, 2) and T[..., 0].sum() == 2
    pred = dg.tensor(_rng().standard_normal((2, 4, 4, 2, 8)), requires_grad=True)  # float64
    rep = gradcheck(lambda p: yolo_loss(p, T, C)[0], pred)
    assert rep.passed, rep
    # raw outputs that say exactly the targets: coordinate and class terms ~0, objectness small
    good = np.zeros((2, 4, 4, 2, 8))
    good[..., 0] = np.where(T[..., 0] > 0, 12.0, -12.0)
    off = np.clip(T[..., 1:3], 1e-6, 1 - 1e-6)
    good[..., 1:3] = np.log(off / (1 - off))
    good[..., 3:5] = T[..., 3:5]
    good[..., 5:] = np.where(np.arange(3) == C[..., None], 15.0, -15.0)
    total, parts = yolo_loss(dg.tensor(good), T, C)
    assert parts["coord"] < 1e-9 and parts["cls"] < 1e-5 and parts["objectness"] < 1e-3
    assert yolo_loss(pred, T, C)[1]["coord"] > 0.01


def test_yolo_forward_layout():
    m = YOLO(num_classes=3, anchors=((4, 4), (8, 8)), widths=(4, 8), head=8)
    x = dg.tensor(_rng().random((2, 3, 16, 16)).astype(np.float32))
    y = m(x)
    assert y.shape == (2, 4, 4, 2, 8)
    raw = m.head(m.body(x)).data  # (N, A*(5+C), S, S): anchor a's numbers are channels a*8 .. a*8+7
    np.testing.assert_array_equal(y.data[1, 2, 3, 1], raw[1, 8:16, 2, 3])


def test_unet_shapes_skips_and_gradients():
    m = UNet(3, 4, widths=(4, 6, 8), convs=1)
    x = dg.tensor(_rng().random((2, 3, 8, 8)).astype(np.float32))
    assert m(x).shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match="divisible by 4"):
        m(dg.tensor(np.zeros((1, 3, 6, 6), np.float32)))
    # the whole network, transposed convolutions and concatenations included, in float64
    small = UNet(2, 3, widths=(2, 3), convs=1).double()
    xs = dg.tensor(_rng(1).random((2, 2, 4, 4)))
    target = _rng(2).integers(0, 3, (2, 4, 4))
    rep = gradcheck_model(small, lambda mod: dg.ops.cross_entropy(mod(xs), target))
    assert rep.passed, rep


def test_iou_per_class_matches_loops():
    rng = _rng(3)
    pred, true = rng.integers(0, 4, (3, 7, 7)), rng.integers(0, 3, (3, 7, 7))  # class 3 never true
    got = iou_per_class(pred, true, 5)
    for k in range(5):
        inter = np.sum((pred == k) & (true == k))
        union = np.sum((pred == k) | (true == k))
        if union == 0:
            assert np.isnan(got[k])
        else:
            assert got[k] == pytest.approx(inter / union)
    assert confusion_matrix(pred, true, 5).sum() == pred.size


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["shapes-localize", "shapes-yolo", "shapes-unet"])
def test_shapes_recipes_quick(recipe, tmp_path):
    from deepgrad import recipes

    args = types.SimpleNamespace(recipe=recipe, quick=True, seed=0, out=str(tmp_path), epochs=None, lr=None,
                                 batch_size=None)
    metrics = recipes.get(recipe).run(args)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["recipe"] == recipe and on_disk["config"]["quick"] is True
    assert (tmp_path / "history.csv").exists() and (tmp_path / "model.safetensors").exists()
    for p in on_disk["files"]["pictures"]:
        assert (tmp_path / p).stat().st_size > 5000
    key = {"shapes-localize": "test_box_iou", "shapes-yolo": "test_map50", "shapes-unet": "test_mean_iou"}[recipe]
    assert 0.0 <= metrics[key] <= 1.0


@pytest.mark.slow
def test_yolo_overfits_a_few_images():
    """Targets, loss, decoding, NMS and mAP agree end to end: a small YOLO trained on 16
    images finds their objects again (a wrong offset or anchor in encode/decode would not)."""
    from deepgrad import optim
    from deepgrad.data.datasets import make_shapes
    from deepgrad.vision.detection import detect

    d = make_shapes(16, size=32, objects=(1, 2), seed=5)
    dg.manual_seed(0)
    m = YOLO(3, anchors=((8, 8), (13, 13)), widths=(8, 16, 32), head=32)
    T, C = yolo_targets(d.boxes, d.labels, 4, 32, m.anchors, 3)
    opt = optim.Adam(m.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        loss, _ = yolo_loss(m(dg.tensor(d.images)), T, C)
        first = first if first is not None else float(loss.data)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.data) < 0.05 * first
    dets = detect(m, d.images, 32, score_threshold=0.05)
    assert B.mean_average_precision(dets, list(zip(d.boxes, d.labels)), 3)["map"] > 0.8
