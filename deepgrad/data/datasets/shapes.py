"""Shapes: a generated image set for localization, detection and segmentation (course 4, week 3).

The course's detection and segmentation exercises use photographs (cars, street scenes)
that cannot be had offline; this set is generated instead, with every label a detector or
a segmenter needs known exactly. Each image is RGB on a textured, noisy background (a
colour gradient, soft blobs, stripes and per-pixel noise) with one or several
**circles, squares and triangles** of several colours and sizes, possibly overlapping
(a later shape hides part of an earlier one). Colour says nothing about the class: a
model has to see the shape.

Per image it gives:

* ``boxes`` ``(k, 4)`` float32, ``(x1, y1, x2, y2)`` in pixels (x to the right, y down;
  the pixel ``(row i, column j)`` covers ``[j, j+1) x [i, i+1)``): the whole shape's box,
  also where part of it is hidden;
* ``labels`` ``(k,)`` int64: 0 circle, 1 square, 2 triangle (:data:`CLASSES`);
* ``mask`` ``(H, W)`` int64: 0 background, ``1 + label`` where a shape is visible
  (the semantic segmentation target), and ``instances`` ``(H, W)``: 0 background,
  ``1 + object index`` (what is visible of each object);
* ``landmarks`` ``(k, 3, 2)`` float32, ``(x, y)`` points: a triangle's three corners,
  starting at the topmost and going clockwise on screen; NaN for circles and squares
  (they have no corners a model could name in a fixed order... a square's would be
  ambiguous under the symmetry, a circle has none).

Generation is seeded per image (image ``i`` of ``seed`` is the same whatever else is
generated), so a :class:`ShapesDataset` of any size makes its images on the fly, and
:func:`make_shapes` makes a batch of them at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..dataset import Dataset

CLASSES = ("circle", "square", "triangle")
#: base colours of the shapes (RGB in [0, 1]); each shape gets one, jittered
COLOURS = np.array([
    [0.90, 0.15, 0.15], [0.15, 0.75, 0.20], [0.20, 0.35, 0.95], [0.95, 0.85, 0.15],
    [0.85, 0.25, 0.85], [0.15, 0.85, 0.85], [0.97, 0.55, 0.10], [0.95, 0.95, 0.95],
], np.float32)


@dataclass
class ShapesData:
    """A batch of generated images and their labels (see the module's docstring)."""

    images: np.ndarray  # (N, 3, H, W) float32 in [0, 1]
    boxes: list  # N arrays (k_i, 4) float32, xyxy pixels
    labels: list  # N arrays (k_i,) int64
    masks: np.ndarray  # (N, H, W) int64, 0 background, 1 + class
    instances: np.ndarray  # (N, H, W) int64, 0 background, 1 + object index
    landmarks: list  # N arrays (k_i, 3, 2) float32, NaN where the shape has none
    size: int = 0
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.images)

    def single(self):
        """For images with exactly one object: ``labels (N,)``, ``boxes (N, 4)``, ``landmarks (N, 3, 2)``."""
        counts = {len(b) for b in self.boxes}
        if counts != {1}:
            raise ValueError(f"ShapesData.single: every image needs exactly one object; counts are {sorted(counts)}")
        return (np.concatenate(self.labels), np.concatenate(self.boxes), np.concatenate(self.landmarks))


def _background(rng, size: int, noise: float) -> np.ndarray:
    """(3, H, W): a colour gradient, soft blobs, faint stripes and pixel noise, kept mid-dark."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    c0, c1 = rng.uniform(0.05, 0.45, 3), rng.uniform(0.05, 0.45, 3)
    ang = rng.uniform(0, 2 * np.pi)
    t = (np.cos(ang) * xx + np.sin(ang) * yy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = c0[:, None, None] * (1 - t) + c1[:, None, None] * t
    for _ in range(rng.integers(2, 5)):  # soft blobs
        cy, cx, s = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.08, 0.3)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        img = img + rng.uniform(-0.15, 0.15, 3)[:, None, None] * blob
    freq, phase, ang2 = rng.uniform(4, 12), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi)
    stripes = np.sin(2 * np.pi * freq * (np.cos(ang2) * xx + np.sin(ang2) * yy) + phase)
    img = img + rng.uniform(0.0, 0.06) * stripes
    img = img + rng.normal(0, noise, (3, size, size))
    return img.astype(np.float32)


def _triangle(rng, cx, cy, r):
    """Three corners (3, 2) on a circle of radius r around (cx, cy), not too flat, ordered
    from the topmost clockwise on screen (y down)."""
    while True:
        a = np.sort(rng.uniform(0, 2 * np.pi, 3))
        gaps = np.diff(np.r_[a, a[0] + 2 * np.pi])
        if gaps.min() > 0.45 * np.pi:  # not too flat
            break
    pts = np.c_[cx + r * np.cos(a), cy + r * np.sin(a)]
    # angles increase clockwise on screen (y down): start at the topmost (smallest y)
    start = int(np.argmin(pts[:, 1]))
    return np.roll(pts, -start, axis=0)


def _inside_triangle(pts, xx, yy):
    (x1, y1), (x2, y2), (x3, y3) = pts
    d1 = (xx - x2) * (y1 - y2) - (x1 - x2) * (yy - y2)
    d2 = (xx - x3) * (y2 - y3) - (x2 - x3) * (yy - y3)
    d3 = (xx - x1) * (y3 - y1) - (x3 - x1) * (yy - y1)
    neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
    pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return ~(neg & pos)


def _shape(rng, cls: int, size: int, min_size: float, max_size: float):
    """Geometry of one shape: (pixel-centre mask function, box xyxy, landmarks (3, 2))."""
    extent = rng.uniform(min_size, max_size)  # the box's side, roughly
    half = extent / 2
    cx, cy = rng.uniform(half, size - half), rng.uniform(half, size - half)
    nan = np.full((3, 2), np.nan, np.float32)
    if cls == 0:  # circle
        box = (cx - half, cy - half, cx + half, cy + half)
        return (lambda xx, yy: (xx - cx) ** 2 + (yy - cy) ** 2 <= half * half), box, nan
    if cls == 1:  # axis-aligned square
        box = (cx - half, cy - half, cx + half, cy + half)
        return (lambda xx, yy: (np.abs(xx - cx) <= half) & (np.abs(yy - cy) <= half)), box, nan
    pts = _triangle(rng, cx, cy, half * 1.1)
    lo, hi = pts.min(0), pts.max(0)
    # keep the triangle inside the image
    shift = np.maximum(0 - lo, 0) + np.minimum(size - hi, 0)
    pts = pts + shift
    lo, hi = pts.min(0), pts.max(0)
    box = (lo[0], lo[1], hi[0], hi[1])
    return (lambda xx, yy, p=pts: _inside_triangle(p, xx, yy)), box, pts.astype(np.float32)


def render(seed: int, index: int, size: int = 64, objects=(1, 3), min_size: float | None = None,
           max_size: float | None = None, noise: float = 0.04, max_hidden: float = 0.4, classes=None):
    """Image ``index`` of the set ``seed``: ``(image (3, H, W), boxes, labels, mask, instances, landmarks)``.

    ``objects``: an int or an inclusive ``(min, max)`` range of shapes per image;
    ``min_size``/``max_size``: the shapes' extent in pixels (default ``size/5 .. size/2.2``);
    ``max_hidden``: a shape may lose at most this fraction of its pixels to later ones
    (placements that hide more are redrawn), so every object stays recognisable;
    ``classes``: restrict to these class indices (default all three).
    """
    rng = np.random.default_rng([int(seed), int(index)])
    lo_n, hi_n = (objects, objects) if isinstance(objects, (int, np.integer)) else objects
    min_size = size / 5 if min_size is None else min_size
    max_size = size / 2.2 if max_size is None else max_size
    classes = tuple(range(len(CLASSES))) if classes is None else tuple(classes)
    img = _background(rng, size, noise)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5  # pixel centres
    k = int(rng.integers(lo_n, hi_n + 1))
    box_rows: list = []
    label_rows: list[int] = []
    lm_rows: list = []
    areas: list[int] = []
    inst = np.zeros((size, size), np.int64)
    for _ in range(k):
        for _attempt in range(50):
            cls = classes[int(rng.integers(len(classes)))]
            inside, box, lm = _shape(rng, cls, size, min_size, max_size)
            m = inside(xx, yy)
            if m.sum() < 4:
                continue
            trial = inst.copy()
            trial[m] = len(box_rows) + 1
            ok = all((trial == j + 1).sum() >= (1 - max_hidden) * areas[j] for j in range(len(box_rows)))
            if ok:
                break
        else:
            continue  # no room for another shape: this image has fewer
        inst = trial
        colour = np.clip(COLOURS[int(rng.integers(len(COLOURS)))] + rng.uniform(-0.08, 0.08, 3), 0, 1)
        shade = 1 + 0.15 * ((xx - box[0]) / max(box[2] - box[0], 1) - 0.5)  # a little shading
        img[:, m] = (colour[:, None] * shade[m][None]).astype(np.float32)
        box_rows.append(box)
        label_rows.append(cls)
        lm_rows.append(lm)
        areas.append(int(m.sum()))
    img = img + rng.normal(0, noise, img.shape).astype(np.float32) * (inst > 0)  # noise on the shapes too
    img = np.clip(img, 0, 1).astype(np.float32)
    labels = np.array(label_rows, np.int64)
    boxes = np.array(box_rows, np.float32).reshape(-1, 4)
    lms = np.array(lm_rows, np.float32).reshape(-1, 3, 2)
    mask = np.where(inst > 0, labels[np.maximum(inst - 1, 0)] + 1 if len(labels) else 0, 0).astype(np.int64)
    return img, boxes, labels, mask, inst, lms


def make_shapes(n: int, size: int = 64, objects=(1, 3), seed: int = 0, start: int = 0, **kwargs) -> ShapesData:
    """``n`` images (indices ``start .. start + n - 1`` of the set ``seed``) as a :class:`ShapesData`.

    Images never repeat across ``seed`` or index, so disjoint index ranges (or seeds) make
    train, dev and test sets. Other keyword arguments go to :func:`render`.
    """
    if n < 0 or size < 8:
        raise ValueError(f"make_shapes: need n >= 0 and size >= 8, got n={n}, size={size}")
    images = np.empty((n, 3, size, size), np.float32)
    masks = np.empty((n, size, size), np.int64)
    inst = np.empty((n, size, size), np.int64)
    boxes, labels, lms = [], [], []
    for i in range(n):
        img, b, lab, m, ins, lm = render(seed, start + i, size=size, objects=objects, **kwargs)
        images[i], masks[i], inst[i] = img, m, ins
        boxes.append(b)
        labels.append(lab)
        lms.append(lm)
    return ShapesData(images, boxes, labels, masks, inst, lms, size=size,
                      meta={"seed": seed, "start": start, "objects": objects, **kwargs})


class ShapesDataset(Dataset):
    """A ``Dataset`` whose example ``i`` is generated when asked for: ``(image (3, H, W), mask (H, W))``
    by default, or the full tuple of :func:`render` with ``target="all"``. Any length; nothing is stored."""

    def __init__(self, n: int, size: int = 64, objects=(1, 3), seed: int = 0, target: str = "mask", **kwargs):
        if target not in ("mask", "all"):
            raise ValueError(f"ShapesDataset: target must be 'mask' or 'all', got {target!r}")
        self.n, self.size, self.objects, self.seed, self.target, self.kwargs = n, size, objects, seed, target, kwargs

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i):
        if not 0 <= int(i) < self.n:
            raise IndexError(f"ShapesDataset: index {i} out of range for {self.n} images")
        out = render(self.seed, int(i), size=self.size, objects=self.objects, **self.kwargs)
        return (out[0], out[3]) if self.target == "mask" else out

    def get_batch(self, indices):
        d = [self[i] for i in indices]
        if self.target == "mask":
            return np.stack([a for a, _ in d]), np.stack([m for _, m in d])
        return tuple(list(x) for x in zip(*d))
