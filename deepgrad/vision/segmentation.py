"""U-Net semantic segmentation (course 4, week 3).

:class:`UNet`: a contracting path (conv blocks, each followed by 2x2 max-pooling) and an
expanding path that upsamples with a learned ``ConvTranspose2d`` (kernel 2, stride 2),
**concatenates** the encoder's feature map of the same size (the skip connection that
brings back the fine detail pooling threw away) and convolves again; a 1x1 convolution
gives one logit per class and pixel. :func:`confusion_matrix` and :func:`iou_per_class`
measure it.
"""
from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd import no_grad
from ..tensor import Tensor


class ConvBlock(nn.Module):
    """``convs`` x (conv 3x3, same padding -> batch norm -> ReLU)."""

    def __init__(self, cin: int, cout: int, convs: int = 2):
        super().__init__()
        layers = []
        for k in range(convs):
            layers += [nn.Conv2d(cin if k == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)


class UNet(nn.Module):
    """U-Net for ``(N, in_channels, H, W)`` images (H, W divisible by ``2 ** (len(widths) - 1)``)
    -> ``(N, num_classes, H, W)`` logits.

    ``widths[i]`` channels at level ``i`` (level 0 = full resolution, the last level is the
    bottleneck). Down: ``ConvBlock`` then max-pool; up: ``ConvTranspose2d(k=2, s=2)``,
    concatenate the skip along channels, ``ConvBlock``.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 4, widths=(16, 32, 64, 96), convs: int = 2):
        super().__init__()
        widths = list(widths)
        self.down = nn.ModuleList()
        c = in_channels
        for w in widths[:-1]:
            self.down.append(ConvBlock(c, w, convs))
            c = w
        self.pool = nn.MaxPool2d(2)
        self.bottom = ConvBlock(c, widths[-1], convs)
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        c = widths[-1]
        for w in reversed(widths[:-1]):
            self.ups.append(nn.ConvTranspose2d(c, w, 2, stride=2))
            self.up_blocks.append(ConvBlock(2 * w, w, convs))
            c = w
        self.classifier = nn.Conv2d(c, num_classes, 1)
        self.levels = len(widths) - 1

    def forward(self, x):
        f = 2 ** self.levels
        if x.shape[-1] % f or x.shape[-2] % f:
            raise ValueError(f"UNet: image sides must be divisible by {f}, got {tuple(x.shape)}")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, block, skip in zip(self.ups, self.up_blocks, reversed(skips)):
            x = block(ops.concatenate([up(x), skip], axis=1))
        return self.classifier(x)


def predict_masks(model, images, batch_size: int = 128) -> np.ndarray:
    """Arg-max class per pixel ``(N, H, W)`` int64 for images ``(N, C, H, W)``."""
    was = model.training
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(images), batch_size):
            out.append(model(Tensor._wrap(np.ascontiguousarray(images[i:i + batch_size]))).data.argmax(1))
    model.train(was)
    return np.concatenate(out).astype(np.int64)


def confusion_matrix(pred, target, num_classes: int) -> np.ndarray:
    """``(K, K)`` int64 pixel counts, rows = true class, columns = predicted."""
    p, t = np.asarray(pred).reshape(-1), np.asarray(target).reshape(-1)
    return np.bincount(t * num_classes + p, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def iou_per_class(pred, target, num_classes: int) -> np.ndarray:
    """Intersection over union of each class's pixels over the whole set (NaN for a class in
    neither prediction nor target)."""
    cm = confusion_matrix(pred, target, num_classes).astype(np.float64)
    inter = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - inter
    return np.where(union > 0, inter / np.maximum(union, 1), np.nan)
