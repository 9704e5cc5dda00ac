"""Box operations for detection (course 4, week 3): IoU, non-max suppression, anchors,
YOLO targets, mean average precision.

Names follow torchvision where they overlap (``box_area``, ``box_convert``, ``box_iou``,
``nms``, ``batched_nms``). Boxes are ``(N, 4)`` arrays in ``"xyxy"`` format, ``(x1, y1,
x2, y2)`` with ``x1 <= x2`` and ``y1 <= y2``, unless a function says otherwise. These are
ndarray functions (no gradients: a detector's loss works on the raw network outputs,
:mod:`deepgrad.vision.detection`); Tensors are accepted and read as arrays.

Conventions where torchvision leaves a case open or differs:

* a degenerate box (zero width or height) has area 0; the IoU of two boxes whose union
  is empty is 0 (torchvision divides 0 by 0 and returns NaN);
* ``nms`` breaks score ties by index (the earlier box first: a stable sort), so its
  result is deterministic;
* ``mean_average_precision`` leaves out classes with no ground-truth box (their AP is NaN).
"""
from __future__ import annotations

import numpy as np

_FORMATS = ("xyxy", "xywh", "cxcywh")


def _arr(x, name: str, op: str) -> np.ndarray:
    a = np.asarray(getattr(x, "data", x))
    if a.size == 0:
        a = a.reshape(0, 4) if a.ndim < 2 or a.shape[-1] != 4 else a
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{op}: {name} must have shape (N, 4), got {a.shape}")
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.float32)
    return a


# ----- conversions, areas, IoU ------------------------------------------------------------
def box_convert(boxes, in_fmt: str, out_fmt: str) -> np.ndarray:
    """Convert ``(N, 4)`` boxes between ``"xyxy"`` (corners), ``"xywh"`` (top-left corner,
    width, height) and ``"cxcywh"`` (centre, width, height)."""
    for f, n in ((in_fmt, "in_fmt"), (out_fmt, "out_fmt")):
        if f not in _FORMATS:
            raise ValueError(f"box_convert: {n} must be one of {_FORMATS}, got {f!r}")
    b = _arr(boxes, "boxes", "box_convert")
    if in_fmt == out_fmt:
        return b.copy()
    if in_fmt == "xywh":
        b = np.c_[b[:, :2], b[:, :2] + b[:, 2:]]
    elif in_fmt == "cxcywh":
        b = np.c_[b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2]
    if out_fmt == "xyxy":
        return b.reshape(-1, 4)
    if out_fmt == "xywh":
        return np.c_[b[:, :2], b[:, 2:] - b[:, :2]].reshape(-1, 4)
    return np.c_[(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]].reshape(-1, 4)


def box_area(boxes) -> np.ndarray:
    """``(N,)`` areas of ``(N, 4)`` xyxy boxes (0 for degenerate ones)."""
    b = _arr(boxes, "boxes", "box_area")
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def _inter_union(a, b):
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return inter, union


def box_iou(boxes1, boxes2) -> np.ndarray:
    """Intersection over union of every pair: ``(N, 4), (M, 4) -> (N, M)``.

    IoU = area(A ∩ B) / area(A ∪ B); 0 where the union is empty (two degenerate boxes).
    """
    a, b = _arr(boxes1, "boxes1", "box_iou"), _arr(boxes2, "boxes2", "box_iou")
    inter, union = _inter_union(a, b)
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def pairwise_wh_iou(wh1, wh2) -> np.ndarray:
    """IoU of boxes given only by width and height, placed on the same centre: ``(N, 2), (M, 2) -> (N, M)``
    (how YOLO picks the anchor shape that fits a ground-truth box)."""
    a, b = np.asarray(wh1, np.float64).reshape(-1, 2), np.asarray(wh2, np.float64).reshape(-1, 2)
    inter = np.minimum(a[:, None, 0], b[None, :, 0]) * np.minimum(a[:, None, 1], b[None, :, 1])
    union = (a[:, 0] * a[:, 1])[:, None] + (b[:, 0] * b[:, 1])[None, :] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > 0)
    return out


# ----- non-max suppression ----------------------------------------------------------------
def nms(boxes, scores, iou_threshold: float) -> np.ndarray:
    """Greedy non-max suppression: the indices (int64) of the boxes kept, by decreasing score.

    Repeatedly keep the highest-scoring remaining box and drop every remaining box whose
    IoU with it is greater than ``iou_threshold`` (as in torchvision). Ties in score: the
    box with the smaller index comes first.
    """
    b = _arr(boxes, "boxes", "nms")
    s = np.asarray(getattr(scores, "data", scores)).reshape(-1)
    if len(s) != len(b):
        raise ValueError(f"nms: {len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        iou = box_iou(b[i:i + 1], b[rest])[0]
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, np.int64)


def batched_nms(boxes, scores, idxs, iou_threshold: float) -> np.ndarray:
    """Non-max suppression within each category ``idxs`` (boxes of different categories never
    suppress each other); the kept indices sorted by decreasing score (ties: smaller index first)."""
    b = _arr(boxes, "boxes", "batched_nms")
    s = np.asarray(getattr(scores, "data", scores)).reshape(-1)
    c = np.asarray(getattr(idxs, "data", idxs)).reshape(-1)
    if not len(s) == len(b) == len(c):
        raise ValueError(f"batched_nms: {len(b)} boxes, {len(s)} scores and {len(c)} idxs must match")
    kept = [np.flatnonzero(c == k)[nms(b[c == k], s[c == k], iou_threshold)] for k in np.unique(c)]
    keep = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    return keep[np.lexsort((keep, -s[keep]))].astype(np.int64)


# ----- anchors ------------------------------------------------------------------------------
def generate_anchors(grid_size: int, image_size: float, anchor_wh) -> np.ndarray:
    """Anchor boxes ``(S, S, A, 4)`` xyxy: at the centre of each of the ``S x S`` cells of an
    image of side ``image_size``, one box per ``(w, h)`` in ``anchor_wh`` ``(A, 2)`` (pixels).
    ``anchors[i, j]`` belongs to the cell in row ``i`` (y) and column ``j`` (x)."""
    wh = np.asarray(anchor_wh, np.float32).reshape(-1, 2)
    cell = image_size / grid_size
    c = (np.arange(grid_size, dtype=np.float32) + 0.5) * cell
    cy, cx = np.meshgrid(c, c, indexing="ij")
    ctr = np.stack([cx, cy], -1)[:, :, None, :]  # (S, S, 1, 2)
    return np.concatenate([ctr - wh / 2, ctr + wh / 2], -1).astype(np.float32)


def match_anchors(anchors, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Assign ground-truth boxes to anchors by IoU (SSD / Faster R-CNN style): ``(A, 4), (G, 4) -> (A,)``
    int64, the index of the matched box or -1.

    An anchor takes the box it overlaps most if that IoU is at least ``iou_threshold``;
    and every box takes its best anchor in any case (so no box goes unmatched), the
    later box winning if two boxes have the same best anchor. Ties between anchors or
    boxes of equal IoU go to the smaller index.
    """
    a, g = _arr(anchors, "anchors", "match_anchors"), _arr(gt_boxes, "gt_boxes", "match_anchors")
    match = np.full(len(a), -1, np.int64)
    if len(a) == 0 or len(g) == 0:
        return match
    iou = box_iou(a, g)
    best = iou.argmax(1)
    ok = iou[np.arange(len(a)), best] >= iou_threshold
    match[ok] = best[ok]
    for j in range(len(g)):
        match[int(iou[:, j].argmax())] = j
    return match


# ----- YOLO targets -------------------------------------------------------------------------
def yolo_encode(boxes, labels, grid_size: int, image_size: float, anchor_wh, num_classes: int):
    """The YOLO training target of one image: ``(S, S, A, 5)`` float32 ``[objectness, x, y, w, h]``
    and ``(S, S, A)`` int64 class (-1 where no object).

    A box belongs to the cell holding its centre and, in that cell, to the anchor whose
    shape fits it best (``pairwise_wh_iou``). ``x, y`` are the centre's offsets inside the
    cell in [0, 1) (what ``sigmoid(t_x), sigmoid(t_y)`` predict); ``w, h`` are
    ``log(box side / anchor side)`` (what ``t_w, t_h`` predict: side = anchor * exp(t)).
    Two boxes on the same cell and anchor: the later one wins (rare at these sizes).
    """
    b = _arr(boxes, "boxes", "yolo_encode")
    lab = np.asarray(labels, np.int64).reshape(-1)
    wh_a = np.asarray(anchor_wh, np.float64).reshape(-1, 2)
    if len(lab) != len(b):
        raise ValueError(f"yolo_encode: {len(b)} boxes but {len(lab)} labels")
    if len(lab) and (lab.min() < 0 or lab.max() >= num_classes):
        raise ValueError(f"yolo_encode: labels must be in [0, {num_classes}), got {lab.min()}..{lab.max()}")
    S, A = grid_size, len(wh_a)
    target = np.zeros((S, S, A, 5), np.float32)
    cls = np.full((S, S, A), -1, np.int64)
    if len(b) == 0:
        return target, cls
    cxcywh = box_convert(b.astype(np.float64), "xyxy", "cxcywh")
    cell = image_size / S
    best = pairwise_wh_iou(cxcywh[:, 2:], wh_a).argmax(1)
    for (cx, cy, w, h), k, c in zip(cxcywh, best, lab):
        j, i = min(int(cx // cell), S - 1), min(int(cy // cell), S - 1)
        target[i, j, k] = (1.0, cx / cell - j, cy / cell - i, np.log(max(w, 1e-6) / wh_a[k, 0]),
                           np.log(max(h, 1e-6) / wh_a[k, 1]))
        cls[i, j, k] = c
    return target, cls


def yolo_decode(pred, anchor_wh, image_size: float):
    """Boxes and scores from raw YOLO outputs ``(N, S, S, A, 5 + C)`` ``[t_o, t_x, t_y, t_w, t_h,
    class logits]``: ``boxes (N, S*S*A, 4)`` xyxy pixels, ``scores (N, S*S*A)`` = objectness x
    class probability of the best class, ``classes (N, S*S*A)`` int64.

    Centre = (cell + sigmoid(t_x, t_y)) * cell size; side = anchor * exp(t_w, t_h); the
    course's ``box_confidence * box_class_probs`` score. Inverse of :func:`yolo_encode`.
    """
    p = np.asarray(getattr(pred, "data", pred), np.float64)
    if p.ndim != 5 or p.shape[1] != p.shape[2] or p.shape[4] < 5:
        raise ValueError(f"yolo_decode: pred must have shape (N, S, S, A, 5 + C), got {p.shape}")
    N, S, _, A, _ = p.shape
    wh_a = np.asarray(anchor_wh, np.float64).reshape(-1, 2)
    if len(wh_a) != A:
        raise ValueError(f"yolo_decode: pred has {A} anchors per cell but anchor_wh has {len(wh_a)}")
    cell = image_size / S
    sig = lambda z: 0.5 * (1 + np.tanh(0.5 * z))  # noqa: E731  (stable sigmoid)
    jj, ii = np.meshgrid(np.arange(S), np.arange(S), indexing="xy")
    cx = (jj[None, :, :, None] + sig(p[..., 1])) * cell
    cy = (ii[None, :, :, None] + sig(p[..., 2])) * cell
    w = wh_a[:, 0] * np.exp(np.clip(p[..., 3], -10, 10))
    h = wh_a[:, 1] * np.exp(np.clip(p[..., 4], -10, 10))
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1).reshape(N, -1, 4)
    obj = sig(p[..., 0])
    if p.shape[4] > 5:
        logits = p[..., 5:]
        e = np.exp(logits - logits.max(-1, keepdims=True))
        probs = e / e.sum(-1, keepdims=True)
        classes, best = probs.argmax(-1), probs.max(-1)
    else:
        classes, best = np.zeros(obj.shape, np.int64), np.ones_like(obj)
    return (boxes.astype(np.float32), (obj * best).reshape(N, -1).astype(np.float32),
            classes.reshape(N, -1).astype(np.int64))


def filter_detections(boxes, scores, classes, score_threshold: float = 0.6, iou_threshold: float = 0.5,
                      max_boxes: int = 10, image_size: float | None = None):
    """The course's ``yolo_eval`` for one image: drop boxes scoring below ``score_threshold``,
    clip to the image, per-class non-max suppression at ``iou_threshold``, keep at most
    ``max_boxes``. Returns ``(boxes (k, 4), scores (k,), classes (k,))`` by decreasing score."""
    b = _arr(boxes, "boxes", "filter_detections")
    s, c = np.asarray(scores).reshape(-1), np.asarray(classes).reshape(-1)
    keep = s >= score_threshold
    b, s, c = b[keep], s[keep], c[keep]
    if image_size is not None:
        b = np.clip(b, 0, image_size)
    k = batched_nms(b, s, c, iou_threshold)[:max_boxes]
    return b[k], s[k], c[k]


# ----- mean average precision ---------------------------------------------------------------
def average_precision(tp, scores, n_positives: int) -> float:
    """All-point interpolated average precision (PASCAL VOC 2010+) of detections flagged
    ``tp`` (1 true positive, 0 false) with ``scores``: the area under the precision-recall
    curve after making precision non-increasing (``p_interp(r) = max_{r' >= r} p(r')``).
    NaN when there are no positives; 0 when there are positives but no detections."""
    if n_positives == 0:
        return float("nan")
    tp = np.asarray(tp, np.float64).reshape(-1)
    if tp.size == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable")
    tp = tp[order]
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_positives
    precision = ctp / (ctp + cfp)
    mrec = np.r_[0.0, recall, 1.0]
    mpre = np.r_[0.0, precision, 0.0]
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def match_detections(pred_boxes, pred_scores, gt_boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Flag the detections of ONE class in ONE image as true (1) or false (0) positives, VOC
    style: by decreasing score (ties: index order), a detection is a true positive if its
    best-overlapping ground-truth box has IoU >= ``iou_threshold`` and was not taken by a
    higher-scoring detection (a duplicate is a false positive)."""
    pb = _arr(pred_boxes, "pred_boxes", "match_detections")
    gb = _arr(gt_boxes, "gt_boxes", "match_detections")
    s = np.asarray(pred_scores, np.float64).reshape(-1)
    tp = np.zeros(len(pb), np.int64)
    if len(pb) == 0 or len(gb) == 0:
        return tp
    iou = box_iou(pb, gb)
    taken = np.zeros(len(gb), bool)
    for i in np.argsort(-s, kind="stable"):
        j = int(iou[i].argmax())
        if iou[i, j] >= iou_threshold and not taken[j]:
            taken[j] = True
            tp[i] = 1
    return tp


def mean_average_precision(preds, targets, num_classes: int, iou_threshold: float = 0.5) -> dict:
    """mAP@``iou_threshold`` over a set of images.

    ``preds``: one ``(boxes (k, 4), scores (k,), labels (k,))`` per image; ``targets``: one
    ``(boxes (g, 4), labels (g,))`` per image. Returns ``{"map": mean over classes that have
    ground truth, "ap": [AP of each class (NaN without ground truth)], "n_gt": [...], "n_pred": [...]}``.
    """
    if len(preds) != len(targets):
        raise ValueError(f"mean_average_precision: {len(preds)} predictions but {len(targets)} targets")
    aps, n_gt, n_pred = [], [], []
    for c in range(num_classes):
        tps, scs, npos = [], [], 0
        for (pb, ps, pl), (gb, gl) in zip(preds, targets):
            pl, gl = np.asarray(pl).reshape(-1), np.asarray(gl).reshape(-1)
            pb, gb = _arr(pb, "pred boxes", "mean_average_precision"), _arr(gb, "gt boxes", "mean_average_precision")
            ps = np.asarray(ps, np.float64).reshape(-1)
            npos += int((gl == c).sum())
            tps.append(match_detections(pb[pl == c], ps[pl == c], gb[gl == c], iou_threshold))
            scs.append(ps[pl == c])
        tp, sc = np.concatenate(tps), np.concatenate(scs)
        aps.append(average_precision(tp, sc, npos))
        n_gt.append(npos)
        n_pred.append(int(len(tp)))
    valid = [a for a in aps if not np.isnan(a)]
    return {"map": float(np.mean(valid)) if valid else float("nan"), "ap": aps, "n_gt": n_gt, "n_pred": n_pred}
