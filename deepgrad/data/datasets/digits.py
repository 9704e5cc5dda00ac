"""Handwritten digits (8x8, 1,797 images) from scikit-learn's ``load_digits``.

A small real image task; ``size=28`` resizes to Fashion-MNIST's 28x28 (bilinear) for
transfer learning between the two.
"""
from __future__ import annotations

import numpy as np


def resize_bilinear(images: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W)`` images to ``(N, size, size)`` by bilinear interpolation (align corners)."""
    n, h, w = images.shape
    ys = np.linspace(0, h - 1, size)
    xs = np.linspace(0, w - 1, size)
    y0 = np.floor(ys).astype(int)
    x0 = np.floor(xs).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    wy = (ys - y0)[None, :, None]
    wx = (xs - x0)[None, None, :]
    a = images[:, y0][:, :, x0]
    b = images[:, y0][:, :, x1]
    c = images[:, y1][:, :, x0]
    d = images[:, y1][:, :, x1]
    top = a * (1 - wx) + b * wx
    bottom = c * (1 - wx) + d * wx
    return top * (1 - wy) + bottom * wy


def load_digits(size: int | None = None, normalize: bool = True, flatten: bool = False, dtype=np.float32):
    """``X`` of shape ``(N, 1, s, s)`` (``s`` = 8 or ``size``; ``(N, s*s)`` with ``flatten``), ``y`` ``(N,)`` int64.

    Pixel values 0..16 are scaled to [0, 1] when ``normalize``.
    """
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "deepgrad.data.datasets.load_digits needs scikit-learn (its digits ship inside the wheel): "
            "pip install scikit-learn"
        ) from e
    d = _sk_load_digits()
    if d.images.ndim != 3 or d.images.shape[1:] != (8, 8) or len(d.target) != len(d.images):
        raise ValueError(f"load_digits: scikit-learn returned images {d.images.shape} and {len(d.target)} labels; "
                         "expected (N, 8, 8) and N")
    if d.images.min() < 0 or d.images.max() > 16 or d.target.min() < 0 or d.target.max() > 9:
        raise ValueError("load_digits: scikit-learn's digits hold values outside 0..16 or labels outside 0..9")
    if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
        raise ValueError(f"load_digits: size must be a whole number >= 1, got {size!r}")
    images = d.images.astype(np.float64)
    if normalize:
        images = images / 16.0
    if size is not None and size != images.shape[1]:
        images = resize_bilinear(images, int(size))
    X = images.reshape(len(images), -1) if flatten else images[:, None]
    return X.astype(dtype), d.target.astype(np.int64)
