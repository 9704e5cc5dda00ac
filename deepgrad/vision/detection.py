"""Object localization, landmarks and YOLO-style detection (course 4, week 3).

* :class:`Localizer`: one object per image; a convolutional body and three heads: class
  logits, the box ``(cx, cy, w, h)`` as fractions of the image side, and landmarks (a
  triangle's three corners, ``(x, y)`` fractions); :func:`localization_loss` adds
  cross-entropy, the box's squared error and the landmarks' squared error (only where
  the object has landmarks), the course's "output vector" ``[p_c, b_x, b_y, b_h, b_w,
  c_1..c_n, l_1..]`` with one loss term per part.
* :class:`YOLO`: a fully convolutional net whose output is an ``S x S`` grid with ``A``
  anchor boxes per cell and ``5 + C`` numbers per anchor ``[t_o, t_x, t_y, t_w, t_h,
  class logits]`` (the course's 19x19x5x85 at small scale); :func:`yolo_loss` is YOLO's
  sum of objectness, coordinate and class terms; :func:`detect` turns outputs into boxes
  (decode, score threshold, per-class non-max suppression; ``deepgrad.vision.boxes``).
"""
from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd import no_grad
from ..tensor import Tensor
from . import boxes as B


def conv_body(in_channels: int, widths, pool_all: bool = True) -> tuple[nn.Sequential, int]:
    """Conv 3x3 -> ReLU -> 2x2 max-pool (one fused op) -> batch norm, once per width: each
    stage halves the image side. Returns the body and its output channels."""
    layers, c = [], in_channels
    for w in widths:
        layers += [nn.Conv2dReLUMaxPool2d(c, w, 3, padding=1), nn.BatchNorm2d(w)]
        c = w
    return nn.Sequential(*layers), c


class Localizer(nn.Module):
    """Classification + localization + landmarks for images ``(N, 3, H, W)`` with one object.

    ``forward`` returns ``(class logits (N, C), box (N, 4), landmarks (N, 2 * K))``: box as
    ``(cx, cy, w, h)`` and landmarks as ``(x1, y1, x2, y2, ...)``, all fractions of the image
    side (what :func:`localization_targets` makes from pixel boxes).
    """

    def __init__(self, image_size: int = 48, num_classes: int = 3, landmarks: int = 3, widths=(16, 32, 64),
                 hidden: int = 128):
        super().__init__()
        self.body, c = conv_body(3, widths)
        side = image_size // 2 ** len(widths)
        self.neck = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(c * side * side, hidden), nn.ReLU())
        self.cls = nn.Linear(hidden, num_classes)
        self.box = nn.Linear(hidden, 4)
        self.landmarks = nn.Linear(hidden, 2 * landmarks)
        self.image_size = image_size

    def forward(self, x):
        h = self.neck(self.body(x))
        return self.cls(h), self.box(h), self.landmarks(h)


def localization_targets(boxes, landmarks, image_size: float):
    """Pixel boxes ``(N, 4)`` xyxy and landmarks ``(N, K, 2)`` -> the regression targets:
    ``(N, 4)`` ``(cx, cy, w, h) / image_size`` and ``(N, 2K)`` ``/ image_size`` (NaN kept), float32."""
    b = B.box_convert(boxes, "xyxy", "cxcywh") / image_size
    lm = np.asarray(landmarks, np.float32).reshape(len(b), -1) / image_size
    return b.astype(np.float32), lm.astype(np.float32)


def localization_loss(outputs, labels, box_target, landmark_target, box_weight: float = 10.0,
                      landmark_weight: float = 10.0):
    """Cross-entropy of the class + ``box_weight`` x mean squared error of the box +
    ``landmark_weight`` x mean squared error of the landmarks over the images that have them
    (NaN targets are left out). Returns ``(total, parts dict of floats)``."""
    logits, box, lm = outputs
    ce = ops.cross_entropy(logits, labels)
    box_l = ops.mse_loss(box, box_target)
    lt = np.asarray(getattr(landmark_target, "data", landmark_target))
    has = ~np.isnan(lt).any(axis=1)
    total = ce + box_weight * box_l
    lm_l = 0.0
    if has.any():
        idx = np.flatnonzero(has)
        lm_t = lm[idx]
        lm_loss = ops.mse_loss(lm_t, lt[idx].astype(np.float32))
        total = total + landmark_weight * lm_loss
        lm_l = float(lm_loss.data)
    return total, {"class": float(ce.data), "box": float(box_l.data), "landmarks": lm_l}


def predict_localization(model: Localizer, images, batch_size: int = 256):
    """``(labels (N,), boxes (N, 4) xyxy pixels, landmarks (N, K, 2) pixels)`` for images ``(N, 3, H, W)``."""
    was = model.training
    model.eval()
    labs, bxs, lms = [], [], []
    with no_grad():
        for i in range(0, len(images), batch_size):
            logits, box, lm = model(Tensor._wrap(np.ascontiguousarray(images[i:i + batch_size])))
            labs.append(logits.data.argmax(1))
            bxs.append(B.box_convert(box.data * model.image_size, "cxcywh", "xyxy"))
            lms.append(lm.data.reshape(len(lm.data), -1, 2) * model.image_size)
    model.train(was)
    return np.concatenate(labs), np.concatenate(bxs).astype(np.float32), np.concatenate(lms).astype(np.float32)


# ----- YOLO -------------------------------------------------------------------------------------
class YOLO(nn.Module):
    """A small YOLO: ``(N, 3, H, W) -> (N, S, S, A, 5 + C)`` raw outputs, ``S = H / 2**len(widths)``.

    Body of fused conv-ReLU-pool stages (each halves the side), then a 3x3 conv and a 1x1
    conv to ``A * (5 + C)`` channels, rearranged so that each cell's anchors come last.
    """

    def __init__(self, num_classes: int = 3, anchors=((12, 12), (20, 20)), widths=(16, 32, 64), head: int = 64):
        super().__init__()
        self.anchors = np.asarray(anchors, np.float32).reshape(-1, 2)
        self.num_classes = num_classes
        self.body, c = conv_body(3, widths)
        A = len(self.anchors)
        self.head = nn.Sequential(nn.Conv2d(c, head, 3, padding=1), nn.ReLU(), nn.Conv2d(head, A * (5 + num_classes), 1))
        self.stride = 2 ** len(widths)

    def forward(self, x):
        y = self.head(self.body(x))  # (N, A*(5+C), S, S)
        N, _, S, _ = y.shape
        A, D = len(self.anchors), 5 + self.num_classes
        return y.reshape(N, A, D, S, S).transpose(0, 3, 4, 1, 2)  # (N, S, S, A, D)


def yolo_targets(boxes_list, labels_list, grid_size: int, image_size: float, anchors, num_classes: int):
    """Stacked :func:`~deepgrad.vision.boxes.yolo_encode` targets of a batch: ``(N, S, S, A, 5)``, ``(N, S, S, A)``."""
    enc = [B.yolo_encode(b, lab, grid_size, image_size, anchors, num_classes) for b, lab in zip(boxes_list, labels_list)]
    return np.stack([e[0] for e in enc]), np.stack([e[1] for e in enc])


def yolo_loss(pred, target, classes, coord_weight: float = 5.0, noobj_weight: float = 0.5):
    """YOLO's loss, summed over the grid and averaged over the images.

    ``pred`` ``(N, S, S, A, 5 + C)`` raw outputs; ``target`` ``(N, S, S, A, 5)`` and
    ``classes`` ``(N, S, S, A)`` from :func:`yolo_targets`. Terms: objectness as binary
    cross-entropy on every anchor (anchors without an object weighted ``noobj_weight``);
    for the anchors responsible for an object, ``coord_weight`` x squared error of
    ``sigmoid(t_x, t_y)`` against the centre's offset in the cell and of ``t_w, t_h``
    against ``log(side / anchor)``, and cross-entropy of the class.
    Returns ``(total, parts dict of floats)``.
    """
    N = pred.shape[0]
    D = pred.shape[-1]
    t = np.asarray(target, np.float32).reshape(-1, 5)
    c = np.asarray(classes, np.int64).reshape(-1)
    flat = pred.reshape(-1, D)
    obj = t[:, 0]
    w = np.where(obj > 0, 1.0, noobj_weight).astype(np.float32)
    obj_l = ops.binary_cross_entropy_with_logits(flat[:, 0], obj, weight=w, reduction="sum") / N
    pos = np.flatnonzero(obj > 0)
    parts = {"objectness": float(obj_l.data)}
    total = obj_l
    if len(pos):
        p = flat[pos]
        xy = ops.sigmoid(p[:, 1:3])
        coord = (((xy - t[pos, 1:3]) ** 2).sum() + ((p[:, 3:5] - t[pos, 3:5]) ** 2).sum()) / N
        cls = ops.cross_entropy(p[:, 5:], c[pos], reduction="sum") / N
        total = total + coord_weight * coord + cls
        parts.update(coord=float(coord.data), cls=float(cls.data))
    return total, parts


def detect(model: YOLO, images, image_size: float, score_threshold: float = 0.5, iou_threshold: float = 0.5,
           max_boxes: int = 10, batch_size: int = 256):
    """Detections for each image ``(N, 3, H, W)``: a list of ``(boxes (k, 4), scores (k,), classes (k,))``
    (decode, keep scores >= ``score_threshold``, per-class NMS at ``iou_threshold``, at most ``max_boxes``)."""
    was = model.training
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(images), batch_size):
            raw = model(Tensor._wrap(np.ascontiguousarray(images[i:i + batch_size]))).data
            bx, sc, cl = B.yolo_decode(raw, model.anchors, image_size)
            for k in range(len(raw)):
                out.append(B.filter_detections(bx[k], sc[k], cl[k], score_threshold, iou_threshold, max_boxes,
                                               image_size=image_size))
    model.train(was)
    return out
