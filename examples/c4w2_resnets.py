# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Course 4, week 2: residual networks
#
# Very deep "plain" networks are hard to train: the signal and its gradient pass through
# dozens of layers, and in practice a deeper plain network reaches a *higher* training
# loss than a shallower one (He et al., 2016). A residual block adds a shortcut around two
# or three layers, `a[l+2] = g(z[l+2] + a[l])`: if the block's layers learn nothing
# (weights near zero) the block is the identity, so adding blocks cannot make the
# network worse, and the gradient has a short path back to the early layers.
#
# The course builds ResNet-50 in Keras from two blocks and trains it on the SIGNS hand
# gestures (86% test accuracy after its short training, 95% with its pretrained weights).
# Here:
#
# 1. the course's **identity block** and **convolutional block** (1x1 -> f x f -> 1x1, with
#    batch norm), step by step with the course's test shapes, in NCHW layout;
# 2. a block whose last batch-norm scale is zero *is* the identity (then ReLU);
# 3. a gradient check of both blocks in float64 (`deepgrad.check.gradcheck_model`);
# 4. ResNet-50 assembled from the library's `Bottleneck` block: its parameter count against
#    the course's Keras summary;
# 5. the lesson: a plain deep CNN and a ResNet of the same depth trained on Fashion-MNIST
#    (SIGNS is not redistributable), with a shallow plain network for reference.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.check import gradcheck_model
from deepgrad.data import DataLoader
from deepgrad.ops import flatten, relu
from deepgrad.optim import SGD
from deepgrad.vision import Bottleneck, ResidualBlock, count_parameters
import _common

args = _common.parse_args("c4w2_resnets", "Residual networks: blocks, ResNet-50, plain vs residual training.",
                          epochs=(int, 2, "epochs of the plain vs residual comparison (default 2)"),
                          n_train=(int, 3000, "training images (default 3000)"),
                          depth=(int, 20, "depth 6n+2 of the deep networks (default 20)"))
dg.manual_seed(args.seed)
results = _common.Results(args)


# %% [markdown]
# ## 1. The identity block
#
# Main path: conv 1x1 (F1) -> BN -> ReLU -> conv f x f "same" (F2) -> BN -> ReLU -> conv 1x1
# (F3) -> BN; then add the input and apply ReLU. The input and output shapes are equal
# (F3 = the input's channels), so the shortcut is the input itself.
#
# The course stores images as (m, n_H, n_W, n_C); deepgrad, like PyTorch, as
# (m, n_C, n_H, n_W). The convolutions have no bias: batch norm's beta replaces it (Keras
# keeps both; see the parameter count in section 4).

# %%
def conv_bn(cin, cout, k, stride=1, act=True):
    """conv k x k (no bias; 'same' padding for stride 1) -> BatchNorm -> ReLU (unless ``act=False``)."""
    pad = "same" if stride == 1 else (k - 1) // 2
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=pad, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*(layers + [nn.ReLU()] if act else layers))


class IdentityBlock(nn.Module):
    """The course's ``identity_block(X, f, filters)``: (m, C, H, W) -> (m, C, H, W), ``filters[2] == C``."""

    def __init__(self, channels, f, filters):
        super().__init__()
        F1, F2, F3 = filters
        if F3 != channels:
            raise ValueError(f"IdentityBlock: the last filter count {F3} must equal the input channels {channels}")
        self.main = nn.Sequential(conv_bn(channels, F1, 1), conv_bn(F1, F2, f), conv_bn(F2, F3, 1, act=False))

    def forward(self, x):
        return relu(self.main(x) + x)  # the shortcut: add the block's input before the last ReLU


X = np.concatenate([np.full((1, 3, 4, 4), v, np.float32) for v in (-1.0, 1.0, 3.0)])  # the course's test input
block = IdentityBlock(3, f=2, filters=[4, 4, 3])
A = block(dg.tensor(X))
print("identity block:", X.shape, "->", A.shape)
for name, m in block.main.named_modules():
    if isinstance(m, nn.Conv2d):
        print(f"  main.{name}: conv {m.kernel_size[0]}x{m.kernel_size[1]}, {m.in_channels} -> {m.out_channels} channels")
results.add("identity block output shape (course: (3, 4, 4, 3) in NHWC)", "(3, 3, 4, 4)", str(tuple(A.shape)))

# %% [markdown]
# ## 2. The convolutional block
#
# When the shapes change (stride `s`, or a different number of channels) the shortcut
# cannot be the input: a 1x1 convolution with stride `s` plus batch norm ("projection")
# brings it to the main path's shape. As in the course, the stride sits in the first 1x1
# convolution of the main path.

# %%
class ConvolutionalBlock(nn.Module):
    """The course's ``convolutional_block(X, f, filters, s)``: (m, C, H, W) -> (m, F3, H/s, W/s)."""

    def __init__(self, channels, f, filters, s=2):
        super().__init__()
        F1, F2, F3 = filters
        self.main = nn.Sequential(conv_bn(channels, F1, 1, stride=s), conv_bn(F1, F2, f), conv_bn(F2, F3, 1, act=False))
        self.shortcut = conv_bn(channels, F3, 1, stride=s, act=False)

    def forward(self, x):
        return relu(self.main(x) + self.shortcut(x))


X2 = np.concatenate([np.full((1, 6, 4, 4), v, np.float32) for v in (-1.0, 1.0, 3.0)])
cblock = ConvolutionalBlock(6, f=2, filters=[2, 4, 6], s=2)
A2 = cblock(dg.tensor(X2))
print("convolutional block:", X2.shape, "->", A2.shape)
results.add("convolutional block output shape (course: (3, 2, 2, 6) in NHWC)", "(3, 6, 2, 2)", str(tuple(A2.shape)))

# %% [markdown]
# ## 3. A residual block can be the identity
#
# If the last batch norm of the main path has scale gamma = 0 (and shift beta = 0) the
# main path outputs zeros, and the block computes `relu(0 + x) = relu(x)`: exactly what the
# network had without the block. That is why stacking residual blocks does not hurt
# (many ResNet recipes even initialise that gamma to zero).

# %%
x = dg.tensor(np.random.default_rng(0).standard_normal((3, 3, 4, 4)).astype(np.float32))
last_bn = block.main[2][1]
last_bn.weight.data[...] = 0.0
last_bn.bias.data[...] = 0.0
identity_err = float(np.abs(block(x).data - np.maximum(x.data, 0)).max())
print(f"gamma = 0: max |block(x) - relu(x)| = {identity_err:.1e}")
results.add("gamma=0 block: max |block(x) - relu(x)|", 0.0, identity_err)
last_bn.weight.data[...] = 1.0

# %% [markdown]
# ## 4. Gradient check of both blocks (float64)
#
# Backpropagation through conv, batch norm (training mode: batch statistics), ReLU and the
# addition of the shortcut, against central differences, parameter by parameter.

# %%
proj = np.random.default_rng(1)
for name, blk, xin in (("identity block", block, X), ("convolutional block", cblock, X2)):
    xin64 = dg.tensor(xin + proj.standard_normal(xin.shape) * 0.5)  # float64, not constant per sample
    w = dg.tensor(proj.standard_normal(blk(dg.tensor(xin)).shape))
    report = gradcheck_model(blk, lambda m, xin64=xin64, w=w: (m(xin64) * w).sum(), max_elements=40)
    print(f"{name}: {len(report.inputs)} parameters checked, max relative difference "
          f"{report.max_relative_difference:.1e}, failed: {report.failed or 'none'}")
    results.add(f"gradient check, {name}: max relative difference", "< 1e-7", report.max_relative_difference)
    results[f"gradcheck_failed_{name.split()[0]}"] = list(report.failed)

# %% [markdown]
# ## 5. ResNet-50, from the library's `Bottleneck` block
#
# The course's ResNet50 for 64x64x3 SIGNS images and 6 classes: conv 7x7/2 (64) -> BN ->
# ReLU -> max-pool 3x3/2, then stages of [3, 4, 6, 3] bottleneck blocks (the first of each
# a convolutional block) with 64, 128, 256, 512 middle channels (x4 out), average pool, fc 6.
# `deepgrad.vision.Bottleneck` is that block (stride in the 3x3 convolution, as in
# torchvision; the parameter count is the same).
#
# Keras counts a bias in every convolution and batch norm's moving mean and variance
# (non-trainable) in its total; deepgrad's convolutions before batch norm have no bias.

# %%
class ResNet50(nn.Module):
    def __init__(self, in_channels=3, num_classes=6):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
                                  nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
        blocks, c = [], 64
        for mid, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            for j in range(n):
                blocks.append(Bottleneck(c, mid, stride if j == 0 else 1))
                c = mid * Bottleneck.expansion
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(self.layers(self.stem(x))), 1))


resnet50 = ResNet50()
n_params = count_parameters(resnet50)
bn_channels = sum(m.num_features for _, m in resnet50.named_modules() if isinstance(m, nn.BatchNorm2d))
n_convs = sum(isinstance(m, nn.Conv2d) for _, m in resnet50.named_modules())
print(f"ResNet-50: {n_convs} convolutions + 1 fc = {n_convs + 1} weight layers, {n_params:,} parameters")
print(f"  + {bn_channels:,} conv biases (one per batch-norm channel) = {n_params + bn_channels:,} (Keras: trainable)")
print(f"  + {2 * bn_channels:,} moving means and variances = {n_params + 3 * bn_channels:,} (Keras: total)")
results.add("ResNet-50 weight layers", 50, n_convs + 1 - 4)  # the 4 projection shortcuts are not counted in "50"
results.add("ResNet-50 parameters (deepgrad, no conv bias)", None, n_params)
results.add("ResNet-50 trainable parameters (+ conv biases)", 23546886, n_params + bn_channels)
results.add("ResNet-50 total parameters (+ BN moving statistics)", 23600006, n_params + 3 * bn_channels)
del resnet50

# %% [markdown]
# ## 6. The lesson: plain vs residual, same depth
#
# Two networks of depth 6n+2 built the way the ResNet paper builds its CIFAR networks: a
# 3x3 stem (stride 2 here, so that 2 CPU cores finish in minutes: 28x28 -> 14x14), three
# stages of n two-convolution blocks with 8, 16, 32 channels (stride 2 entering stages 2 and
# 3), global average pooling and fc. The **ResNet** uses `deepgrad.vision.ResidualBlock`;
# the **plain** network uses the same block without its shortcut (same convolutions, same
# batch norms; the projection shortcuts' few parameters aside). A shallow plain network
# (depth 8) shows what the deeper plain network should reach at least.
#
# Same data (Fashion-MNIST subset), same seed, SGD with momentum 0.9, lr 0.05, batches of 64.

# %%
class PlainBlock(ResidualBlock):
    """``ResidualBlock`` without the shortcut: relu(bn2(conv2(relu(bn1(conv1(x))))))."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__(in_channels, out_channels, stride)
        del self.shortcut  # unused: no parameters of it should be counted or trained

    def forward(self, x):
        return relu(self.bn2(self.conv2(relu(self.bn1(self.conv1(x))))))


class DeepCNN(nn.Module):
    """Depth ``6n + 2``: stem conv (stride 2), 3 stages of n blocks (width, 2 width, 4 width), GAP, fc."""

    def __init__(self, depth, residual, width=8, num_classes=10):
        super().__init__()
        if (depth - 2) % 6 or depth < 8:
            raise ValueError(f"DeepCNN: depth must be 6n+2 (8, 14, 20, 32, ...), got {depth}")
        n = (depth - 2) // 6
        Block = ResidualBlock if residual else PlainBlock
        self.stem = conv_bn(1, width, 3, stride=2)
        blocks, c = [], width
        for i in range(3):
            for j in range(n):
                blocks.append(Block(c, width * 2**i, 2 if (i > 0 and j == 0) else 1))
                c = width * 2**i
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.fc(flatten(self.pool(self.layers(self.stem(x))), 1))


X_all, y_all = _common.load_fashion_mnist("train")
X_te, y_te = _common.load_fashion_mnist("test")
n_train, n_test, epochs, depth = args.n_train, 2000, args.epochs, args.depth
if args.quick:
    n_train, n_test, epochs, depth = 640, 500, 1, 14
rng = np.random.default_rng(args.seed)
idx = rng.choice(len(X_all), n_train, replace=False)
Xtr = (X_all[idx].reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32)
ytr = y_all[idx]
Xte = (X_te[:n_test].reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32)
yte = y_te[:n_test]
mean, std = Xtr.mean(), Xtr.std()
Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
print(f"train {Xtr.shape}, test {Xte.shape}, {epochs} epoch(s), depth {depth}")


def evaluate(model, Xe, ye):
    model.eval()
    with dg.no_grad():
        pred = np.concatenate([model(dg.tensor(Xe[i:i + 500])).data.argmax(1) for i in range(0, len(Xe), 500)])
    model.train()
    return _common.accuracy(pred, ye)


def first_layer_grad_norm(model):
    """|dJ/dW| of the stem convolution on one batch at initialisation: how much signal reaches the bottom."""
    model.zero_grad()
    F.cross_entropy(model(dg.tensor(Xtr[:64])), dg.tensor(ytr[:64])).backward()
    g = float(np.linalg.norm(model.stem[0].weight.grad))
    model.zero_grad()
    return g


runs = {}
configs = [("plain", 8, False), ("plain", depth, False), ("resnet", depth, True)]
for kind, d, residual in configs:
    label = f"{kind}-{d}"
    dg.manual_seed(args.seed)
    model = DeepCNN(d, residual)
    g0 = first_layer_grad_norm(model)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader((Xtr, ytr), batch_size=64, shuffle=True, seed=args.seed)
    losses = []
    for epoch in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    k = max(1, len(losses) // 5)  # the last fifth of the steps: the loss the network ended at
    runs[label] = {"depth": d, "residual": residual, "params": count_parameters(model), "losses": losses,
                   "final_train_loss": float(np.mean(losses[-k:])), "test_accuracy": evaluate(model, Xte, yte),
                   "stem_grad_norm_at_init": g0}
    r = runs[label]
    print(f"{label:>10}: {r['params']:,} params, stem |grad| at init {g0:.3f}, "
          f"train loss (last fifth) {r['final_train_loss']:.3f}, test accuracy {r['test_accuracy']:.3f}")

plain, res, shallow = runs[f"plain-{depth}"], runs[f"resnet-{depth}"], runs["plain-8"]
results.add(f"train loss, last fifth of training: plain-8 / plain-{depth} / resnet-{depth}",
            "deeper plain is worse", f"{shallow['final_train_loss']:.3f} / {plain['final_train_loss']:.3f} / "
            f"{res['final_train_loss']:.3f}")
results.add(f"resnet-{depth}: train loss", None, res["final_train_loss"])
results.add(f"plain-{depth}: train loss", None, plain["final_train_loss"])
results.add(f"resnet-{depth}: test accuracy", "0.86-0.95 (ResNet-50, SIGNS)", res["test_accuracy"], pct=True)
results.add(f"plain-{depth}: test accuracy", None, plain["test_accuracy"], pct=True)
results.add("plain-8: test accuracy", None, shallow["test_accuracy"], pct=True)
results.add(f"stem |grad| at init: plain-{depth} / resnet-{depth}", None,
            f"{plain['stem_grad_norm_at_init']:.3f} / {res['stem_grad_norm_at_init']:.3f}")
results["runs"] = runs
results["depth"] = depth

# %% [markdown]
# ## Training curves

# %%
plt = _common.pyplot()
if plt is not None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, r in runs.items():
        L = np.asarray(r["losses"])
        w = max(1, len(L) // 20)
        smooth = np.convolve(L, np.ones(w) / w, mode="valid")
        ax.plot(np.arange(len(smooth)) + w, smooth, label=f"{label} (test {100 * r['test_accuracy']:.1f}%)")
    ax.set_xlabel("step (batches of 64)")
    ax.set_ylabel(f"training loss (moving average of {w})")
    ax.set_title("plain vs residual networks on Fashion-MNIST")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "plain_vs_resnet.png", dpi=100)
    plt.close(fig)

# %%
results.finish()
