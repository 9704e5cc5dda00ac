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
# gestures (about 95% test accuracy with its pretrained weights). Here:
#
# 1. the course's **identity block** and **convolutional block** (1x1 -> f x f -> 1x1, with
#    batch norm), step by step with the course's test shapes, in NCHW layout;
# 2. a block whose last batch-norm scale is zero *is* the identity (then ReLU);
# 3. a gradient check of both blocks in float64 (`deepgrad.check.gradcheck_model`);
# 4. ResNet-50 assembled from the library's `Bottleneck` block: its parameter count against
#    the course's Keras summary;
# 5. the lesson: a deep plain CNN and a ResNet of the same depth, and a shallow plain CNN,
#    trained alike on a Fashion-MNIST subset (SIGNS is not redistributable), in three seeds:
#    the deep plain network ends at a much higher *training* error than the shallow one
#    (degradation: an optimization problem, not overfitting), the ResNet does not.

# %%
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.check import gradcheck_model
from deepgrad.data import DataLoader
from deepgrad.ops import flatten, relu
from deepgrad.optim import SGD
from deepgrad.vision import Bottleneck, ResidualBlock, count_parameters

args = _common.parse_args("c4w2_resnets", "Residual networks: blocks, ResNet-50, plain vs residual training.",
                          epochs=(int, 6, "epochs of the plain vs residual comparison (default 6)"),
                          n_train=(int, 1000, "training images (default 1000)"),
                          depth=(int, 44, "depth 6n+2 of the deep networks (default 44)"),
                          seeds=(str, "1,2,3", "seeds of the plain vs residual comparison (default 1,2,3)"))
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
results.add("identity block output shape", None, str(tuple(A.shape)), expected="(3, 3, 4, 4)",
            note="NCHW; the course's (3, 4, 4, 3) in NHWC")

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
results.add("convolutional block output shape", None, str(tuple(A2.shape)), expected="(3, 6, 2, 2)",
            note="NCHW; the course's (3, 2, 2, 6) in NHWC")

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
results.add("gamma=0 block: max |block(x) - relu(x)|", None, identity_err, expected=0.0)
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
    results.add(f"gradient check, {name}: max relative difference", None, report.max_relative_difference,
                note="threshold 1e-7")
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
n_shortcut = sum(1 for name, m in resnet50.named_modules() if isinstance(m, nn.Conv2d) and "shortcut" in name)
n_main = n_convs - n_shortcut
print(f"ResNet-50: 1 stem conv + {n_main - 1} convolutions in the 16 blocks + 1 fc = {n_main + 1} weight layers "
      f"(the name's 50; the {n_shortcut} 1x1 projection shortcuts are not counted), {n_params:,} parameters")
print(f"  + {bn_channels:,} conv biases (one per batch-norm channel) = {n_params + bn_channels:,} (Keras: trainable)")
print(f"  + {2 * bn_channels:,} moving means and variances = {n_params + 3 * bn_channels:,} (Keras: total)")
results.add("ResNet-50 weight layers (main path: convolutions + fc)", None, n_main + 1, expected=50,
            note=f"+ {n_shortcut} projection shortcuts")
results.add("ResNet-50 parameters (deepgrad, no conv bias)", None, n_params)
results.add("ResNet-50 trainable parameters (+ conv biases)", None, n_params + bn_channels, expected=23546886,
            note="Keras' count in the course's summary")
results.add("ResNet-50 total parameters (+ BN moving statistics)", None, n_params + 3 * bn_channels, expected=23600006,
            note="Keras' count in the course's summary")
del resnet50

# %% [markdown]
# ## 6. The lesson: plain vs residual, same depth
#
# Networks of depth 6n+2 built the way the ResNet paper builds its CIFAR networks: a 3x3
# stem (stride 2 here, 28x28 -> 14x14, so that 2 CPU cores finish in minutes), three
# stages of n two-convolution blocks with 8, 16, 32 channels (stride 2 entering stages 2
# and 3), global average pooling and fc. The **ResNet** uses `deepgrad.vision.ResidualBlock`;
# the **plain** network uses the same block without its shortcut (same convolutions, same
# batch norms; the projection shortcuts' few parameters aside). A shallow plain network
# (depth 8) shows what the deep plain network should reach at least, since it could copy
# it and make its extra layers identities.
#
# The three networks see the same images in the same order (SGD with momentum 0.9, lr
# 0.05, batches of 64) and start from the same seed. The evidence is the **training
# error**, as in the ResNet paper's figure: the fraction of training images misclassified
# during the last epoch (training mode). A deeper network that fits its own training set
# *worse* is not overfitting: it is harder to optimize. Each seed draws its own training
# subset and initial weights; the table gives the mean and the spread (min to max) over
# the seeds.

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
            raise ValueError(f"DeepCNN: depth must be 6n+2 (8, 14, 20, 26, 32, 44, ...), got {depth}")
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
X_te_all, y_te_all = _common.load_fashion_mnist("test")
n_train, n_test, epochs, depth = args.n_train, 2000, args.epochs, args.depth
seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
if args.quick:
    n_train, n_test, epochs, depth, seeds = 640, 500, 2, 14, seeds[:1]
print(f"{n_train} training images, {n_test} test images, {epochs} epochs, depth {depth}, seeds {seeds}")


def subset(seed):
    """The seed's training subset and the first ``n_test`` test images, standardized with the subset's statistics."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(X_all), n_train, replace=False)
    Xtr = (X_all[idx].reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32)
    Xte = (X_te_all[:n_test].reshape(-1, 1, 28, 28) / np.float32(255)).astype(np.float32)
    mean, std = Xtr.mean(), Xtr.std()
    return (Xtr - mean) / std, y_all[idx], (Xte - mean) / std, y_te_all[:n_test]


def evaluate(model, Xe, ye):
    """Accuracy in eval mode (batch norm's running statistics)."""
    model.eval()
    with dg.no_grad():
        pred = np.concatenate([model(dg.tensor(Xe[i:i + 500])).data.argmax(1) for i in range(0, len(Xe), 500)])
    model.train()
    return _common.accuracy(pred, ye)


def train_one(d, residual, seed, Xtr, ytr, Xte, yte):
    dg.manual_seed(seed)
    model = DeepCNN(d, residual)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader((Xtr, ytr), batch_size=64, shuffle=True, seed=seed)
    losses, epoch_err, epoch_loss = [], [], []
    for _epoch in range(epochs):
        wrong, seen, total = 0, 0, 0.0
        for xb, yb in loader:
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            wrong += int((logits.data.argmax(1) != yb.data).sum())
            seen += len(yb.data)
            total += loss.item() * len(yb.data)
        epoch_err.append(wrong / seen)
        epoch_loss.append(total / seen)
    return {"depth": d, "residual": residual, "seed": seed, "params": count_parameters(model), "losses": losses,
            "epoch_train_error": epoch_err, "epoch_train_loss": epoch_loss,
            "train_error": epoch_err[-1], "train_loss": epoch_loss[-1],
            "train_error_eval_mode": 1 - evaluate(model, Xtr, ytr), "test_accuracy": evaluate(model, Xte, yte)}


labels = ["plain-8", f"plain-{depth}", f"resnet-{depth}"]
configs = {"plain-8": (8, False), f"plain-{depth}": (depth, False), f"resnet-{depth}": (depth, True)}
runs = {label: [] for label in labels}
for seed in seeds:
    data = subset(seed)
    for label in labels:
        t = time.perf_counter()
        r = train_one(*configs[label], seed, *data)
        runs[label].append(r)
        print(f"seed {seed} {label:>10}: {r['params']:,} params, last-epoch train error {r['train_error']:.3f} "
              f"(loss {r['train_loss']:.3f}), test accuracy {r['test_accuracy']:.3f}  ({time.perf_counter() - t:.0f} s)",
              flush=True)


def spread(values, pct=True):
    """``mean (min to max)`` over the seeds, in percent (or plain numbers)."""
    v = np.asarray(values, dtype=float) * (100 if pct else 1)
    unit = "%" if pct else ""
    if len(v) == 1:
        return f"{v[0]:.1f}{unit}" if pct else f"{v[0]:.3f}"
    f = (lambda x: f"{x:.1f}") if pct else (lambda x: f"{x:.3f}")
    return f"{f(v.mean())}{unit} ({f(v.min())} to {f(v.max())})"


err = {label: [r["train_error"] for r in runs[label]] for label in labels}
deep_vs_shallow = [p - s for p, s in zip(err[f"plain-{depth}"], err["plain-8"])]
plain_vs_res = [p - r for p, r in zip(err[f"plain-{depth}"], err[f"resnet-{depth}"])]
holds = sum(a > 0 and b > 0 for a, b in zip(deep_vs_shallow, plain_vs_res))
note = f"mean (min to max) over seeds {', '.join(map(str, seeds))}"
for label in labels:
    results.add(f"{label}: training error, last epoch", None, spread(err[label]), note=note)
results.add(f"plain-{depth} minus plain-8: training error (points)", None, spread(deep_vs_shallow),
            note="> 0: the deeper plain network fits its training set worse")
results.add(f"plain-{depth} minus resnet-{depth}: training error (points)", None, spread(plain_vs_res),
            note="> 0: the shortcuts remove the degradation")
results.add("seeds where the lesson holds (both differences > 0)", None, f"{holds} of {len(seeds)}")
for label in labels:
    results.add(f"{label}: training loss, last epoch", None, spread([r["train_loss"] for r in runs[label]], pct=False))
for label in labels:
    results.add(f"{label}: test accuracy ({n_test} images)", None, spread([r["test_accuracy"] for r in runs[label]]),
                note="short training: not the lesson's evidence")
results["runs"] = runs
results["depth"] = depth
results["seeds"] = seeds
results["lesson_holds_in"] = holds

# %% [markdown]
# ## Training curves (every seed; the first one bold)

# %%
plt = _common.pyplot()
if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for k, label in enumerate(labels):
        for j, r in enumerate(runs[label]):
            L = np.asarray(r["losses"])
            w = max(1, len(L) // 20)
            smooth = np.convolve(L, np.ones(w) / w, mode="valid")
            ax1.plot(np.arange(len(smooth)) + w, smooth, color=f"C{k}", alpha=1.0 if j == 0 else 0.35,
                     label=label if j == 0 else None)
            ax2.plot(np.arange(1, epochs + 1), 100 * np.asarray(r["epoch_train_error"]), color=f"C{k}", marker="o",
                     ms=3, alpha=1.0 if j == 0 else 0.35, label=label if j == 0 else None)
    ax1.set(xlabel="step (batches of 64)", ylabel="training loss (moving average)",
            title=f"training loss, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} (faint: later seeds)")
    ax2.set_xticks(range(1, epochs + 1))
    ax2.set(xlabel="epoch", ylabel="training error (%)", title="training error per epoch (the lesson)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "plain_vs_resnet.png", dpi=100)
    plt.close(fig)

# %%
results.finish()
