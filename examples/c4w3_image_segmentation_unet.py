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
# # Course 4, week 3: image segmentation with U-Net (on generated shapes)
#
# Semantic segmentation labels every pixel. The course trains a U-Net on CARLA driving
# scenes (96x128, 23 classes) and reaches about 97.5% pixel accuracy on its training
# images. U-Net's two ideas:
#
# * an **expanding path** that upsamples with learned **transposed convolutions**
#   (`ConvTranspose2d`, kernel 2, stride 2: each input pixel paints a 2x2 patch), back to
#   the input's resolution;
# * **skip connections** that concatenate the contracting path's feature maps of the
#   same size, bringing back the fine detail that pooling threw away.
#
# CARLA is not available offline; our scenes are generated (`make_shapes`): circles,
# squares and triangles, possibly overlapping, on textured noisy backgrounds, every pixel
# labelled background / circle / square / triangle.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.data.datasets import make_shapes
from deepgrad.vision.segmentation import UNet, iou_per_class, predict_masks

args = _common.parse_args("c4w3_image_segmentation_unet", "U-Net segmentation of generated shapes.",
                          epochs=(int, 6, "training epochs (default 6)"))
dg.manual_seed(args.seed)
results = _common.Results(args)
cfg = dict(size=48, train=1000, test=300, epochs=args.epochs, batch=16, lr=3e-3, widths=(8, 16, 32, 64), convs=2)
if args.quick:
    cfg.update(train=64, test=32, epochs=1, widths=(8, 16, 32), convs=1)
NAMES = ("background", "circle", "square", "triangle")

# %% [markdown]
# ## 1. Transposed convolution: upsampling that learns
#
# With kernel 2 and stride 2 the windows do not overlap: an input pixel `x` becomes the
# 2x2 patch `x * W`. A 2x2 input and an all-ones kernel give a 4x4 output of 2x2 blocks.

# %%
up = nn.ConvTranspose2d(1, 1, 2, stride=2, bias=False)
up.weight.data[...] = 1.0
x = dg.tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]], np.float32))
y = up(x)
print(y.data[0, 0])
results.add("ConvTranspose2d(k=2, s=2): 2x2 -> shape", None, str(tuple(y.shape[2:])))
# the same with the functional form, and a 3x3 kernel with stride 2 (overlapping windows add up)
y3 = F.conv_transpose2d(x, dg.ones(1, 1, 3, 3), stride=2)
print("k=3, s=2:", tuple(y3.shape), "centre value (all four inputs overlap there):", float(y3.data[0, 0, 2, 2]))

# %% [markdown]
# ## 2. The data

# %%
train = make_shapes(cfg["train"], size=cfg["size"], objects=(1, 3), seed=args.seed)
test = make_shapes(cfg["test"], size=cfg["size"], objects=(1, 3), seed=args.seed + 1000)
share = np.bincount(train.masks.ravel(), minlength=4) / train.masks.size
print("pixel share per class:", {n: round(float(s), 3) for n, s in zip(NAMES, share)})

# %% [markdown]
# ## 3. The U-Net
#
# Contracting path: conv blocks (3x3 conv, batch norm, ReLU) at 8, 16, 32 channels with
# 2x2 max-pooling between them, a 64-channel bottleneck at 6x6; expanding path:
# `ConvTranspose2d` doubles the side, the skip is concatenated, a conv block mixes them;
# a 1x1 convolution gives 4 logits per pixel. Loss: per-pixel cross-entropy.

# %%
model = UNet(3, 4, cfg["widths"], cfg["convs"])
print(model)
opt = optim.Adam(model.parameters(), lr=cfg["lr"])
steps = cfg["epochs"] * -(-len(train) // cfg["batch"])
sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=cfg["lr"] * 0.01)
rng = np.random.default_rng(args.seed)
losses = []
for epoch in range(cfg["epochs"]):
    model.train()
    order = rng.permutation(len(train))
    for s in range(0, len(train), cfg["batch"]):
        idx = order[s:s + cfg["batch"]]
        loss = F.cross_entropy(model(dg.tensor(train.images[idx])), train.masks[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.data))
    print(f"epoch {epoch + 1}: mean loss {np.mean(losses[-(len(train) // cfg['batch']):]):.4f}")
results["losses"] = losses

# %% [markdown]
# ## 4. Results: pixel accuracy and IoU per class
#
# Pixel accuracy is dominated by the background (most pixels); the IoU of each class
# (intersection / union of its predicted and true pixels) is the stricter measure.

# %%
pred_train = predict_masks(model, train.images[:300])
pred = predict_masks(model, test.images)
iou = iou_per_class(pred, test.masks, 4)
train_acc = float(np.mean(pred_train == train.masks[:300]))
test_acc = float(np.mean(pred == test.masks))
print(f"pixel accuracy: train {train_acc:.4f}, test {test_acc:.4f}")
print("test IoU per class:", {n: round(float(v), 3) for n, v in zip(NAMES, iou)})
results.add("train pixel accuracy", 0.975, train_acc, pct=True, note="course: CARLA, 23 classes")
results.add("test pixel accuracy", None, test_acc, pct=True)
results.add("test mean IoU over the 4 classes", None, float(np.nanmean(iou)),
            note="`deepgrad run shapes-unet` trains longer")
results["iou"] = {n: float(v) for n, v in zip(NAMES, iou)}

plt = _common.pyplot()
if plt is not None:
    colours = np.array([[0, 0, 0], [1, 0.25, 0.25], [0.25, 1, 0.25], [0.3, 0.6, 1]], np.float32)
    fig, axes = plt.subplots(3, 6, figsize=(12, 6.4))
    for k in range(6):
        for r, (im, t) in enumerate(((test.images[k].transpose(1, 2, 0), "image"), (colours[test.masks[k]], "true mask"),
                                     (colours[pred[k]], "predicted"))):
            axes[r, k].imshow(im)
            axes[r, k].set_xticks([])
            axes[r, k].set_yticks([])
            if k == 0:
                axes[r, k].set_ylabel(t)
    fig.suptitle(f"U-Net on held-out shapes (masks: red circle, green square, blue triangle); mean IoU {np.nanmean(iou):.3f}",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "segmentation.png", dpi=100)
    plt.close(fig)
    print(f"picture: {args.out / 'segmentation.png'}")

# %%
results.finish()
