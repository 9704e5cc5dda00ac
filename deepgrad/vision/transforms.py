"""Data augmentation for images (course 4, week 2: "data augmentation").

Each transform works on a whole batch at once, vectorized, with its own seeded
``numpy.random.Generator`` (so one ``seed`` makes the augmented stream repeatable):

* an ndarray ``(N, C, H, W)`` (a batch) or ``(C, H, W)`` (one sample) -> the same shape;
* a tuple ``(x, y, ...)`` (a DataLoader batch) -> the tuple with ``x`` transformed,
  so ``DataLoader(data, transform=Compose([...]))`` augments every batch.

Augmentations draw independent parameters per sample. Use them on the training set only.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..random import default_generator


def _rng(seed, generator):
    if generator is not None:
        return generator
    if seed is None:
        seed = int(default_generator().integers(2**63 - 1))
    return np.random.default_rng(seed)


class Transform:
    """Base: subclasses implement ``apply(x)`` for a float batch (N, C, H, W)."""

    def __call__(self, data):
        if isinstance(data, tuple):
            return (self(data[0]),) + data[1:]
        x = getattr(data, "data", data)  # a Tensor's array
        x = np.asarray(x)
        if x.ndim == 3:
            return self.apply(x[None])[0]
        if x.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected images (N, C, H, W) or (C, H, W), got shape {x.shape}")
        return self.apply(x)

    def apply(self, x):  # pragma: no cover - abstract
        raise NotImplementedError


class Compose(Transform):
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, data):
        for t in self.transforms:
            data = t(data)
        return data


class RandomCrop(Transform):
    """Pad by ``padding`` (zeros) and cut a random ``size`` crop per sample (the CIFAR
    recipe: pad 4, crop 32). ``size`` defaults to the input size."""

    def __init__(self, size=None, padding: int = 4, seed=None, generator=None):
        self.size = size if size is None or isinstance(size, tuple) else (size, size)
        self.padding = int(padding)
        self.rng = _rng(seed, generator)

    def apply(self, x):
        N, C, H, W = x.shape
        h, w = self.size or (H, W)
        p = self.padding
        if h > H + 2 * p or w > W + 2 * p:
            raise ValueError(f"RandomCrop: crop {h}x{w} is larger than the padded image {H + 2 * p}x{W + 2 * p}")
        xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))) if p else x
        oy = self.rng.integers(0, H + 2 * p - h + 1, N)
        ox = self.rng.integers(0, W + 2 * p - w + 1, N)
        windows = sliding_window_view(xp, (h, w), axis=(2, 3))  # (N, C, nY, nX, h, w), a view
        return np.ascontiguousarray(windows[np.arange(N), :, oy, ox])


class RandomShift(RandomCrop):
    """Shift each image by up to ``max_shift`` pixels in each direction (zeros enter)."""

    def __init__(self, max_shift: int = 2, seed=None, generator=None):
        super().__init__(None, max_shift, seed, generator)


class RandomHorizontalFlip(Transform):
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, seed=None, generator=None):
        self.p = float(p)
        self.rng = _rng(seed, generator)

    def apply(self, x):
        flip = self.rng.random(len(x)) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out


class RandomRotation(Transform):
    """Rotate each image by a random angle in [-degrees, degrees] about its centre
    (and shift it by up to ``max_shift`` pixels), bilinear interpolation, zeros outside."""

    def __init__(self, degrees: float = 10.0, max_shift: float = 0.0, seed=None, generator=None):
        self.degrees, self.max_shift = float(degrees), float(max_shift)
        self.rng = _rng(seed, generator)

    def apply(self, x):
        N, C, H, W = x.shape
        theta = np.deg2rad(self.rng.uniform(-self.degrees, self.degrees, N))
        shift = self.rng.uniform(-self.max_shift, self.max_shift, (N, 2)) if self.max_shift else np.zeros((N, 2))
        cy, cx = (H - 1) / 2, (W - 1) / 2
        yy, xx = np.meshgrid(np.arange(H) - cy, np.arange(W) - cx, indexing="ij")  # output grid (H, W)
        cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
        # inverse map: where in the source does each output pixel come from
        ys = cos * (yy - shift[:, 0, None, None]) - sin * (xx - shift[:, 1, None, None]) + cy
        xs = sin * (yy - shift[:, 0, None, None]) + cos * (xx - shift[:, 1, None, None]) + cx
        return bilinear_sample(x, ys, xs)


def bilinear_sample(x, ys, xs):
    """Sample images x (N, C, H, W) at fractional source coordinates ys, xs (N, Ho, Wo); zeros outside."""
    N, C, H, W = x.shape
    y0, x0 = np.floor(ys).astype(np.int64), np.floor(xs).astype(np.int64)
    wy, wx = (ys - y0).astype(x.dtype), (xs - x0).astype(x.dtype)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 2)))  # one ring of zeros around (plus one for y0+1)
    out = np.zeros((N, C) + ys.shape[1:], dtype=x.dtype)
    n = np.arange(N)[:, None, None]
    for dy, fy in ((0, 1 - wy), (1, wy)):
        for dx, fx in ((0, 1 - wx), (1, wx)):
            # +1: the zero ring; indices outside the image are clipped onto the zero rows/columns
            yi = np.clip(y0 + dy + 1, 0, H + 2)
            xi = np.clip(x0 + dx + 1, 0, W + 2)
            vals = xp[n, :, yi, xi]  # (N, Ho, Wo, C)
            out += np.moveaxis(vals * (fy * fx)[..., None], -1, 1)
    return out


class Normalize(Transform):
    """``(x - mean) / std`` per channel (scalars or one value per channel)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std}")

    def apply(self, x):
        if self.mean.shape[0] not in (1, x.shape[1]):
            raise ValueError(f"Normalize: {self.mean.shape[0]} channel statistics for images with {x.shape[1]} channels")
        return ((x - self.mean.astype(x.dtype)) / self.std.astype(x.dtype)).astype(x.dtype, copy=False)
