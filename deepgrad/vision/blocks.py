"""Building blocks of the classic ConvNets of course 4, week 2.

* :class:`ResidualBlock` (ResNet): ``relu(F(x) + shortcut(x))`` with ``F`` = conv3x3-BN-ReLU-conv3x3-BN.
  The shortcut is the identity when shapes match, else a 1x1 "projection" conv + BN.
  Learning ``F(x) = 0`` is easy, so extra blocks cannot make the network worse:
  that is why very deep residual networks still train.
* :class:`Bottleneck` (ResNet-50 style): 1x1 reduce -> 3x3 -> 1x1 expand (x4), same shortcut rule.
* :class:`InceptionModule` (GoogLeNet): 1x1, 3x3 and 5x5 convolutions and a max-pool in
  parallel, concatenated on channels; 1x1 "bottleneck" reductions before the 3x3/5x5
  convolutions cut their cost by ~10x.
* :class:`InvertedResidual` (MobileNetV2): 1x1 expansion -> 3x3 depthwise -> 1x1 linear
  projection, residual when stride 1 and channels match. The depthwise-separable
  convolution costs ``1/C_out + 1/9`` of a normal 3x3 one.

Every block takes and returns (N, C, H, W) tensors.
"""
from __future__ import annotations

from .. import nn
from ..ops import clip, concatenate, relu


class ReLU6(nn.Module):
    """``min(max(x, 0), 6)`` (MobileNet's activation)."""

    def forward(self, x):
        return clip(x, 0.0, 6.0)


def conv_bn(cin, cout, k, stride=1, groups=1, act=True, act6=False):
    """conv(k x k, 'same'-style padding, no bias) -> BatchNorm -> ReLU (or ReLU6, or nothing)."""
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=(k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(ReLU6() if act6 else nn.ReLU())
    return nn.Sequential(*layers)


def _shortcut(cin, cout, stride):
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))


class ResidualBlock(nn.Module):
    """(N, cin, H, W) -> (N, cout, H/stride, W/stride); the "basic block" of ResNet-18/34."""

    expansion = 1

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = _shortcut(in_channels, out_channels, stride)

    @property
    def is_identity(self) -> bool:
        return isinstance(self.shortcut, nn.Identity)

    def forward(self, x):
        out = relu(self.bn1(self.conv1(x)))
        return relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    """(N, cin, H, W) -> (N, 4*mid, H/stride, W/stride): 1x1 (mid) -> 3x3 (mid, stride) -> 1x1 (4*mid)."""

    expansion = 4

    def __init__(self, in_channels: int, mid_channels: int, stride: int = 1):
        super().__init__()
        out = mid_channels * self.expansion
        self.reduce = conv_bn(in_channels, mid_channels, 1)
        self.conv = conv_bn(mid_channels, mid_channels, 3, stride=stride)
        self.expand = conv_bn(mid_channels, out, 1, act=False)
        self.shortcut = _shortcut(in_channels, out, stride)

    def forward(self, x):
        return relu(self.expand(self.conv(self.reduce(x))) + self.shortcut(x))


class InceptionModule(nn.Module):
    """Four parallel branches concatenated on channels: (N, cin, H, W) -> (N, c1+c3+c5+pool_proj, H, W).

    ``c3_reduce`` / ``c5_reduce`` are the 1x1 reductions in front of the 3x3 / 5x5 convolutions.
    """

    def __init__(self, in_channels, c1, c3_reduce, c3, c5_reduce, c5, pool_proj):
        super().__init__()
        self.branch1 = conv_bn(in_channels, c1, 1)
        self.branch3 = nn.Sequential(conv_bn(in_channels, c3_reduce, 1), conv_bn(c3_reduce, c3, 3))
        self.branch5 = nn.Sequential(conv_bn(in_channels, c5_reduce, 1), conv_bn(c5_reduce, c5, 5))
        self.branch_pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), conv_bn(in_channels, pool_proj, 1))
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x):
        return concatenate([self.branch1(x), self.branch3(x), self.branch5(x), self.branch_pool(x)], axis=1)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: (N, cin, H, W) -> (N, cout, H/stride, W/stride).

    1x1 expand to ``cin * expand_ratio`` (skipped when the ratio is 1) -> BN -> ReLU6 ->
    3x3 depthwise (groups = channels) -> BN -> ReLU6 -> 1x1 projection -> BN (linear:
    no activation on the narrow output, which would destroy information).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, expand_ratio: int = 6):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        hidden = in_channels * expand_ratio
        layers = []
        if expand_ratio != 1:
            layers.append(conv_bn(in_channels, hidden, 1, act6=True))
        layers += [conv_bn(hidden, hidden, 3, stride=stride, groups=hidden, act6=True), conv_bn(hidden, out_channels, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_residual else out
