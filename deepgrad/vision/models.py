"""A small model zoo for course 4 (classic networks, week 2), sized for 28x28 and
32x32 inputs (Fashion-MNIST, CIFAR-like), with a parameter/FLOP :func:`summary`.

=====================  ==========================================================
``LeNet5``             conv 6@5x5 -> pool -> conv 16@5x5 -> pool -> fc 120-84-classes
``SmallVGG``           stacks of conv3x3 (same padding) + 2x2 max-pool, doubling channels
``ResNet``             CIFAR-style ResNet-(6n+2) (20, 32, 56, ...) or bottleneck (9n+2)
``ResNetSmall``        stem conv3x3 + 2 residual blocks + global average pool + fc
``SmallInception``     stem + 3 Inception modules + global average pool + fc
``MobileNetV2Small``   stem + inverted residual stages + 1x1 conv + global average pool + fc
=====================  ==========================================================

Every model maps (N, in_channels, H, W) to (N, num_classes) logits.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..ops import flatten
from ..tensor import Tensor
from .blocks import Bottleneck, InceptionModule, InvertedResidual, ResidualBlock, conv_bn


def _check_size(name, input_size):
    if input_size not in (28, 32):
        raise ValueError(f"{name}: input_size must be 28 or 32, got {input_size}")


class LeNet5(nn.Module):
    """LeCun et al. (1998), with ReLU and max-pooling by default (the course's modern variant).

    ``fused=True`` (with ReLU and max-pooling) builds each conv -> ReLU -> pool stage as one
    :class:`~deepgrad.nn.Conv2dReLUMaxPool2d` layer: identical outputs and gradients, faster.

    On 28x28 inputs the first convolution pads by 2 so that the feature maps are the
    classic 28 -> 14 -> 10 -> 5 (on 32x32 no padding is needed).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, input_size: int = 28,
                 activation: str = "relu", pool: str = "max", fused: bool = True):
        super().__init__()
        _check_size("LeNet5", input_size)
        act = {"relu": nn.ReLU, "tanh": nn.Tanh}[activation]
        Pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[pool]
        pad = 2 if input_size == 28 else 0
        if fused and activation == "relu" and pool == "max":
            # conv -> ReLU -> pool as one op each (same math, less memory traffic)
            self.features = nn.Sequential(
                nn.Conv2dReLUMaxPool2d(in_channels, 6, 5, padding=pad), nn.Conv2dReLUMaxPool2d(6, 16, 5)
            )
        else:
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, 6, 5, padding=pad), act(), Pool(2), nn.Conv2d(6, 16, 5), act(), Pool(2),
            )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class SmallVGG(nn.Module):
    """VGG's recipe at small scale: ``stages`` of ``convs_per_stage`` conv3x3-BN-ReLU then a 2x2
    max-pool, channels doubling from ``width``; then fc ``hidden`` -> classes."""

    def __init__(self, in_channels=1, num_classes=10, input_size=28, width=32, stages=3, convs_per_stage=2,
                 hidden=256, dropout=0.5):
        super().__init__()
        _check_size("SmallVGG", input_size)
        layers, c, size = [], in_channels, input_size
        for s in range(stages):
            out = width * 2**s
            for _ in range(convs_per_stage):
                layers.append(conv_bn(c, out, 3))
                c = out
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(c * size * size, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class ResNet(nn.Module):
    """CIFAR-style ResNet (He et al. 2016, section 4.2) for 28x28 / 32x32 inputs.

    ``depth = 6n + 2`` with basic blocks (20, 32, 44, 56, 110) or ``9n + 2`` with
    ``bottleneck=True`` (29, 47, ...): a conv3x3 stem, three stages of n blocks with
    ``width``, 2*width, 4*width channels (stride 2 entering stages 2 and 3), global
    average pooling and one fc layer.
    """

    def __init__(self, depth: int = 20, in_channels: int = 1, num_classes: int = 10, input_size: int = 28,
                 width: int = 16, bottleneck: bool = False):
        super().__init__()
        _check_size("ResNet", input_size)
        per = 9 if bottleneck else 6
        if depth < per + 2 or (depth - 2) % per:
            raise ValueError(f"ResNet: depth must be {per}n+2 ({'bottleneck' if bottleneck else 'basic'} blocks), got {depth}")
        n = (depth - 2) // per
        self.stem = conv_bn(in_channels, width, 3)
        stages: list[nn.Module] = []
        c = width
        for i in range(3):
            w = width * 2**i
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                if bottleneck:
                    stages.append(Bottleneck(c, w, stride))
                    c = w * Bottleneck.expansion
                else:
                    stages.append(ResidualBlock(c, w, stride))
                    c = w
        self.layers = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(self.layers(self.stem(x))), 1))


class ResNetSmall(nn.Module):
    """The benchmark ResNet: stem conv3x3 (``width``) + BN + ReLU, ``blocks`` residual blocks
    at ``width`` channels, global average pool, fc."""

    def __init__(self, in_channels=1, num_classes=10, width=32, blocks=2):
        super().__init__()
        self.stem = conv_bn(in_channels, width, 3)
        self.layers = nn.Sequential(*[ResidualBlock(width, width) for _ in range(blocks)])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(self.layers(self.stem(x))), 1))


class SmallInception(nn.Module):
    """A GoogLeNet in miniature: conv3x3 stem (32), two Inception modules, max-pool, one more
    Inception module, global average pool, fc."""

    def __init__(self, in_channels=1, num_classes=10, input_size=28):
        super().__init__()
        _check_size("SmallInception", input_size)
        self.stem = conv_bn(in_channels, 32, 3)
        self.inc1 = InceptionModule(32, 16, 16, 24, 4, 8, 8)  # -> 56
        self.inc2 = InceptionModule(56, 24, 24, 32, 8, 16, 16)  # -> 88
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inc3 = InceptionModule(88, 32, 32, 48, 8, 16, 16)  # -> 112
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.inc3.out_channels, num_classes)

    def forward(self, x):
        x = self.inc2(self.inc1(self.stem(x)))
        x = self.inc3(self.pool(x))
        return self.fc(flatten(self.gap(x), 1))


class MobileNetV2Small(nn.Module):
    """MobileNetV2 for small images: conv3x3 stem (stride 1), inverted residual stages
    ``settings`` = [(expand t, channels c, repeats n, stride s), ...], 1x1 conv to
    ``last_channels``, global average pool, fc. ``width_mult`` scales every width."""

    DEFAULT_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 2, 2))

    def __init__(self, in_channels=1, num_classes=10, input_size=28, width_mult=1.0, settings=None, last_channels=256):
        super().__init__()
        _check_size("MobileNetV2Small", input_size)
        settings = self.DEFAULT_SETTINGS if settings is None else settings

        def w(c):
            return max(8, int(round(c * width_mult / 8)) * 8)

        c = w(32)
        layers = [conv_bn(in_channels, c, 3, act6=True)]
        for t, ch, n, s in settings:
            for i in range(n):
                layers.append(InvertedResidual(c, w(ch), s if i == 0 else 1, t))
                c = w(ch)
        layers.append(conv_bn(c, last_channels, 1, act6=True))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last_channels, num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(self.features(x)), 1))


_ZOO = {
    "lenet5": LeNet5, "vgg": SmallVGG, "resnet": ResNet, "resnet-small": ResNetSmall,
    "inception": SmallInception, "mobilenetv2": MobileNetV2Small,
}


def build_model(name: str, **kwargs) -> nn.Module:
    """A zoo model by name (``lenet5``, ``vgg``, ``resnet``, ``resnet-small``, ``inception``, ``mobilenetv2``)."""
    if name not in _ZOO:
        raise KeyError(f"build_model: unknown model {name!r}; known: {', '.join(sorted(_ZOO))}")
    return _ZOO[name](**kwargs)


# ----- summary -------------------------------------------------------------------------------------------
def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return model.num_parameters(trainable_only)


def _layer_flops(m, inp, out) -> int:
    """Floating-point operations of one forward pass of a layer, per sample (a multiply-add = 2)."""
    if isinstance(m, nn.Conv2dReLUMaxPool2d):
        _, _, Ho, Wo = out.shape
        Ho, Wo = Ho * m.pool, Wo * m.pool
        cg = m.in_channels // m.groups
        return 2 * m.out_channels * Ho * Wo * cg * m.kernel_size[0] * m.kernel_size[1] + int(np.prod(out.shape[1:])) * m.pool**2
    if isinstance(m, nn.Conv2d):
        _, _, Ho, Wo = out.shape
        cg = m.in_channels // m.groups
        return 2 * m.out_channels * Ho * Wo * cg * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.ConvTranspose2d):
        _, _, H, W = inp.shape
        return 2 * m.in_channels * H * W * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    if isinstance(m, nn.Conv1d):
        return 2 * m.out_channels * out.shape[-1] * (m.in_channels // m.groups) * m.kernel_size[0]
    if isinstance(m, nn.Linear):
        return 2 * m.in_features * m.out_features
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return 2 * int(np.prod(out.shape[1:]))
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d)):
        return int(np.prod(inp.shape[1:]))
    return 0


def summary(model: nn.Module, input_shape=(1, 28, 28), print_fn=print) -> dict:
    """Run one sample of shape ``input_shape`` (C, H, W) through ``model`` and tabulate every
    leaf layer: output shape, parameters, forward FLOPs per sample. Returns
    ``{"layers": [...], "total_params", "trainable_params", "total_flops"}`` and prints the
    table unless ``print_fn`` is None."""
    from ..autograd import no_grad

    rows = []
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules]

    def record(name):
        def hook(m, args, out):
            inp = args[0] if args else None
            params = sum(p.data.size for p in m.parameters(recurse=False))
            rows.append({"name": name, "type": type(m).__name__, "output_shape": tuple(out.shape[1:]),
                         "params": int(params), "flops": int(_layer_flops(m, inp, out))})

        return hook

    handles = [m.register_forward_hook(record(name)) for name, m in leaves]
    was_training = model.training
    try:
        model.eval()
        dtype = next(iter(model.parameters())).dtype if any(True for _ in model.parameters()) else np.float32
        with no_grad():
            model(Tensor._wrap(np.zeros((1,) + tuple(input_shape), dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    report = {"layers": rows, "total_params": count_parameters(model),
              "trainable_params": count_parameters(model, trainable_only=True),
              "total_flops": int(sum(r["flops"] for r in rows))}
    if print_fn is not None:
        print_fn(f"{'layer':<36} {'type':<18} {'output':<16} {'params':>10} {'FLOPs':>12}")
        for r in rows:
            print_fn(f"{r['name']:<36} {r['type']:<18} {str(r['output_shape']):<16} {r['params']:>10,} {r['flops']:>12,}")
        print_fn(f"total params {report['total_params']:,} (trainable {report['trainable_params']:,}); "
                 f"forward FLOPs per sample {report['total_flops']:,}")
    return report
