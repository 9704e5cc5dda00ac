"""deepgrad.vision.boxes against slow, obviously-correct references written with Python loops,
on random boxes drawn on a small integer grid (so ties in score, identical boxes, touching
boxes and zero-width/height boxes come up often), plus empty inputs and hand-worked cases.
torchvision is compared only where it happens to be installed."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepgrad.vision import boxes as B


# ----- references -------------------------------------------------------------------------
def ref_iou(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    area = lambda r: max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def ref_nms(boxes, scores, thr):
    order = sorted(range(len(boxes)), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if all(ref_iou(boxes[i], boxes[k]) <= thr for k in keep):
            keep.append(i)
    return keep


def ref_batched_nms(boxes, scores, cats, thr):
    keep = []
    for c in set(cats):
        idx = [i for i in range(len(boxes)) if cats[i] == c]
        keep += [idx[k] for k in ref_nms([boxes[i] for i in idx], [scores[i] for i in idx], thr)]
    return sorted(keep, key=lambda i: (-scores[i], i))


def ref_ap(tp, scores, npos):
    """Sum over true positives (in score order) of max precision at this rank or later, / npos."""
    if npos == 0:
        return math.nan
    order = sorted(range(len(tp)), key=lambda i: (-scores[i], i))
    t = [tp[i] for i in order]
    prec = [sum(t[: k + 1]) / (k + 1) for k in range(len(t))]
    return sum(max(prec[k:]) for k in range(len(t)) if t[k]) / npos


def ref_map(preds, targets, num_classes, thr=0.5):
    aps = []
    for c in range(num_classes):
        dets, npos = [], 0  # (score, image, box)
        for img, ((pb, ps, pl), (_gb, gl)) in enumerate(zip(preds, targets)):
            npos += sum(1 for g in gl if g == c)
            dets += [(ps[i], img, pb[i]) for i in range(len(pl)) if pl[i] == c]
        # per image, in score order (stable), a detection takes its best gt if free and IoU >= thr
        tp = [0] * len(dets)
        taken = set()
        order = sorted(range(len(dets)), key=lambda i: (-dets[i][0], i))
        for i in order:
            s, img, box = dets[i]
            gts = [(j, g) for j, g in enumerate(targets[img][0]) if targets[img][1][j] == c]
            if not gts:
                continue
            ious = [ref_iou(box, g) for _, g in gts]
            best = max(range(len(ious)), key=lambda k: (ious[k], -k))
            if ious[best] >= thr and (img, gts[best][0]) not in taken:
                taken.add((img, gts[best][0]))
                tp[i] = 1
        aps.append(ref_ap(tp, [d[0] for d in dets], npos))
    valid = [a for a in aps if not math.isnan(a)]
    return (sum(valid) / len(valid) if valid else math.nan), aps


# ----- strategies -------------------------------------------------------------------------
@st.composite
def box_lists(draw, max_n=12, grid=8):
    n = draw(st.integers(0, max_n))
    out = []
    for _ in range(n):
        x1, y1 = draw(st.integers(0, grid)), draw(st.integers(0, grid))
        w, h = draw(st.integers(0, 5)), draw(st.integers(0, 5))  # 0: degenerate
        out.append([x1, y1, x1 + w, y1 + h])
    return np.array(out, np.float64).reshape(-1, 4)


scores_for = lambda n: st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.7, 0.9]), min_size=n, max_size=n)  # noqa: E731


# ----- IoU, area, conversion --------------------------------------------------------------
@given(box_lists(), box_lists())
def test_box_iou_matches_reference(a, b):
    iou = B.box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    for i in range(len(a)):
        for j in range(len(b)):
            assert iou[i, j] == pytest.approx(ref_iou(a[i], b[j]), abs=1e-12)
    assert np.all((iou >= 0) & (iou <= 1))


def test_box_iou_hand_cases_and_empty():
    a = np.array([[0, 0, 2, 2], [0, 0, 0, 0], [1, 1, 3, 3]], np.float32)
    iou = B.box_iou(a, a)
    assert iou[0, 2] == pytest.approx(1 / 7)  # overlap 1, union 4 + 4 - 1
    assert iou[0, 0] == 1 and iou[1, 1] == 0  # a degenerate box: empty union -> 0, not NaN
    assert B.box_iou(np.zeros((0, 4)), a).shape == (0, 3)
    assert B.box_iou(a, []).shape == (3, 0)
    with pytest.raises(ValueError, match=r"box_iou: boxes1 must have shape \(N, 4\)"):
        B.box_iou(np.zeros((2, 3)), a)


@given(box_lists())
def test_box_convert_round_trips(b):
    for fmt in ("xywh", "cxcywh"):
        c = B.box_convert(b, "xyxy", fmt)
        np.testing.assert_allclose(B.box_convert(c, fmt, "xyxy"), b, atol=1e-12)
    assert B.box_area(b) == pytest.approx([max(0, r[2] - r[0]) * max(0, r[3] - r[1]) for r in b])


def test_box_convert_values():
    b = np.array([[1.0, 2.0, 5.0, 10.0]])
    np.testing.assert_allclose(B.box_convert(b, "xyxy", "xywh"), [[1, 2, 4, 8]])
    np.testing.assert_allclose(B.box_convert(b, "xyxy", "cxcywh"), [[3, 6, 4, 8]])
    np.testing.assert_allclose(B.box_convert([[3, 6, 4, 8]], "cxcywh", "xywh"), [[1, 2, 4, 8]])
    assert B.box_convert(np.zeros((0, 4)), "xyxy", "cxcywh").shape == (0, 4)
    with pytest.raises(ValueError, match="in_fmt must be one of"):
        B.box_convert(b, "yxyx", "xyxy")


# ----- NMS ----------------------------------------------------------------------------------
@given(st.data(), box_lists(), st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]))
def test_nms_matches_reference(data, b, thr):
    s = data.draw(scores_for(len(b)))
    keep = B.nms(b, np.array(s, np.float64), thr)
    assert keep.dtype == np.int64
    assert keep.tolist() == ref_nms(b.tolist(), s, thr)


@given(st.data(), box_lists(max_n=16), st.sampled_from([0.3, 0.5]))
def test_batched_nms_matches_reference(data, b, thr):
    s = data.draw(scores_for(len(b)))
    cats = data.draw(st.lists(st.integers(0, 2), min_size=len(b), max_size=len(b)))
    keep = B.batched_nms(b, np.array(s), np.array(cats, np.int64), thr)
    assert keep.tolist() == ref_batched_nms(b.tolist(), s, cats, thr)


def test_nms_hand_cases():
    b = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    s = np.array([0.9, 0.8, 0.7, 0.9])
    assert B.nms(b, s, 0.5).tolist() == [0, 2]  # the tie 0/3 goes to index 0, which suppresses 1 and 3
    assert B.nms(b, s, 1.0).tolist() == [0, 3, 1, 2]  # nothing has IoU > 1
    assert B.nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []
    assert B.batched_nms(b, s, np.array([0, 1, 0, 1]), 0.5).tolist() == [0, 3, 2]  # 3 suppresses 1 (same class)
    assert B.batched_nms(np.zeros((0, 4)), [], [], 0.5).tolist() == []
    with pytest.raises(ValueError, match="nms: 4 boxes but 3 scores"):
        B.nms(b, s[:3], 0.5)


def test_against_torchvision_if_installed():
    tv = pytest.importorskip("torchvision")
    import torch

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, (60, 2))
    b = np.c_[xy, xy + rng.uniform(1, 20, (60, 2))]
    s = rng.permutation(60) / 60.0  # distinct scores: torchvision's tie order is unspecified
    c = rng.integers(0, 3, 60)
    np.testing.assert_allclose(B.box_iou(b, b[:7]), tv.ops.box_iou(torch.tensor(b), torch.tensor(b[:7])).numpy())
    assert B.nms(b, s, 0.3).tolist() == tv.ops.nms(torch.tensor(b), torch.tensor(s), 0.3).tolist()
    assert B.batched_nms(b, s, c, 0.3).tolist() == tv.ops.batched_nms(
        torch.tensor(b), torch.tensor(s), torch.tensor(c), 0.3).tolist()
    for fmt in ("xywh", "cxcywh"):
        np.testing.assert_allclose(B.box_convert(b, "xyxy", fmt), tv.ops.box_convert(torch.tensor(b), "xyxy", fmt).numpy())


# ----- anchors and YOLO targets -------------------------------------------------------------
def test_generate_anchors_centres_and_sizes():
    wh = [[4, 8], [10, 6]]
    a = B.generate_anchors(4, 32, wh)
    assert a.shape == (4, 4, 2, 4)
    cx = (a[..., 0] + a[..., 2]) / 2
    cy = (a[..., 1] + a[..., 3]) / 2
    np.testing.assert_allclose(cx[2, 3], [28, 28])  # column 3: x = 3.5 * 8
    np.testing.assert_allclose(cy[2, 3], [20, 20])  # row 2: y = 2.5 * 8
    np.testing.assert_allclose(a[0, 0, 1], [4 - 5, 4 - 3, 4 + 5, 4 + 3])


@given(box_lists(max_n=10, grid=20), box_lists(max_n=5, grid=20), st.sampled_from([0.3, 0.5]))
def test_match_anchors_matches_reference(anchors, gt, thr):
    m = B.match_anchors(anchors, gt, thr)
    ref = [-1] * len(anchors)
    for i, a in enumerate(anchors):
        if len(gt):
            ious = [ref_iou(a, g) for g in gt]
            j = max(range(len(gt)), key=lambda k: (ious[k], -k))
            if ious[j] >= thr:
                ref[i] = j
    for j, g in enumerate(gt):
        if len(anchors):
            ious = [ref_iou(a, g) for a in anchors]
            ref[max(range(len(anchors)), key=lambda k: (ious[k], -k))] = j
    assert m.tolist() == ref


def _logit(p):
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def test_yolo_encode_decode_round_trip():
    anchors = np.array([[8, 8], [20, 12]], np.float32)
    boxes = np.array([[3, 4, 13, 12], [30, 30, 52, 44], [40, 2, 47, 9.5]], np.float32)
    labels = np.array([2, 0, 1])
    t, cls = B.yolo_encode(boxes, labels, grid_size=4, image_size=64, anchor_wh=anchors, num_classes=3)
    assert t.shape == (4, 4, 2, 5) and cls.shape == (4, 4, 2)
    assert t[..., 0].sum() == 3 and (cls >= 0).sum() == 3
    # box 1: centre (41, 37) -> cell row 2, column 2; wide: anchor 1
    assert t[2, 2, 1, 0] == 1 and cls[2, 2, 1] == 0
    np.testing.assert_allclose(t[2, 2, 1, 1:3], [41 / 16 - 2, 37 / 16 - 2], atol=1e-6)
    np.testing.assert_allclose(t[2, 2, 1, 3:], np.log([22 / 20, 14 / 12]), atol=1e-6)
    # raw outputs that say exactly this decode back to the boxes
    pred = np.full((1, 4, 4, 2, 8), -20.0)
    pred[0, ..., 0] = np.where(t[..., 0] > 0, 20.0, -20.0)
    pred[0, ..., 1:3] = _logit(t[..., 1:3])
    pred[0, ..., 3:5] = t[..., 3:5]
    pred[0, ..., 5:] = np.where(np.arange(3) == cls[..., None], 10.0, -10.0)
    bx, sc, cl = B.yolo_decode(pred, anchors, 64)
    assert bx.shape == (1, 32, 4) and sc.shape == cl.shape == (1, 32)
    kb, ks, kc = B.filter_detections(bx[0], sc[0], cl[0], score_threshold=0.6, iou_threshold=0.5, image_size=64)
    assert len(kb) == 3
    order = np.argsort(kc)
    np.testing.assert_allclose(kb[order], boxes[[1, 2, 0]], atol=1e-3)
    assert sorted(kc.tolist()) == [0, 1, 2]
    empty = B.yolo_encode(np.zeros((0, 4)), [], 4, 64, anchors, 3)
    assert empty[0].sum() == 0 and (empty[1] == -1).all()
    with pytest.raises(ValueError, match="labels must be in"):
        B.yolo_encode(boxes, [0, 1, 3], 4, 64, anchors, 3)


# ----- average precision ---------------------------------------------------------------------
def test_average_precision_hand_cases():
    assert B.average_precision([1, 0, 1], [0.9, 0.8, 0.7], 2) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert B.average_precision([1, 1], [0.9, 0.8], 2) == 1.0
    assert B.average_precision([0, 1], [0.9, 0.8], 2) == pytest.approx(0.25)
    assert B.average_precision([], [], 3) == 0.0
    assert math.isnan(B.average_precision([], [], 0))


@given(st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.2, 0.4, 0.4, 0.6, 0.8])), max_size=20),
       st.integers(0, 6))
def test_average_precision_matches_reference(dets, extra_missed):
    tp = [d[0] for d in dets]
    s = [d[1] for d in dets]
    npos = sum(tp) + extra_missed
    got, want = B.average_precision(tp, s, npos), ref_ap(tp, s, npos)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want)


@given(st.data(), st.integers(1, 5))
def test_mean_average_precision_matches_reference(data, n_images):
    preds, targets = [], []
    for _ in range(n_images):
        gb = data.draw(box_lists(max_n=4, grid=10))
        gl = data.draw(st.lists(st.integers(0, 2), min_size=len(gb), max_size=len(gb)))
        pb = data.draw(box_lists(max_n=6, grid=10))
        if len(gb) and data.draw(st.booleans()):  # some exact hits, so that AP is not always 0
            pb = np.r_[pb, gb[: data.draw(st.integers(1, len(gb)))]]
        pl = data.draw(st.lists(st.integers(0, 2), min_size=len(pb), max_size=len(pb)))
        ps = data.draw(scores_for(len(pb)))
        preds.append((pb, np.array(ps), np.array(pl, np.int64)))
        targets.append((gb, np.array(gl, np.int64)))
    got = B.mean_average_precision(preds, targets, num_classes=3)
    want_map, want_aps = ref_map([(p[0].tolist(), p[1].tolist(), p[2].tolist()) for p in preds],
                                 [(t[0].tolist(), t[1].tolist()) for t in targets], 3)
    for g, w in zip(got["ap"], want_aps):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w)
    assert (math.isnan(got["map"]) and math.isnan(want_map)) or got["map"] == pytest.approx(want_map)


def test_map_perfect_duplicates_and_empty():
    gt = [(np.array([[0, 0, 10, 10], [20, 20, 30, 30]]), np.array([0, 1]))]
    perfect = [(gt[0][0], np.array([0.9, 0.8]), gt[0][1])]
    assert B.mean_average_precision(perfect, gt, 2)["map"] == 1.0
    # a duplicate of a found box is a false positive, ranked below: AP stays 1 (it comes after full recall)
    dup = [(np.r_[gt[0][0], gt[0][0][:1]], np.array([0.9, 0.8, 0.7]), np.array([0, 1, 0]))]
    assert B.mean_average_precision(dup, gt, 2)["ap"][0] == 1.0
    # a false positive ranked above the hit halves the precision at that rank
    dup_hi = [(np.r_[gt[0][0][:1] + 6, gt[0][0]], np.array([0.95, 0.9, 0.8]), np.array([0, 0, 1]))]
    assert B.mean_average_precision(dup_hi, gt, 2)["ap"][0] == pytest.approx(0.5)
    none = [(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64))]
    r = B.mean_average_precision(none, gt, 3)
    assert r["ap"][:2] == [0.0, 0.0] and math.isnan(r["ap"][2]) and r["map"] == 0.0
