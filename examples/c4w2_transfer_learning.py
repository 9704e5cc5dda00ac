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
# # Course 4, week 2: transfer learning
#
# The course takes MobileNetV2 trained on ImageNet, replaces its top, trains the new
# head with the base frozen, then unfreezes the top of the base and fine-tunes it with a
# learning rate ten times lower, to tell alpacas from other animals with a few hundred
# images. ImageNet weights are not available here, so we do the same at small scale:
#
# * **large related task**: Fashion-MNIST (60,000 28x28 images of clothes): pretrain LeNet-5 (one epoch);
# * **small new task**: scikit-learn's 8x8 handwritten digits (1,797 images), resized to
#   28x28 like MNIST, with only a few labels per class (5 ... 100);
# * compare, on the same held-out digits, the same LeNet-5 trained **from scratch** on
#   those labels with the **transferred** one, for the same number of steps.
#
# The recipe lives in `deepgrad.recipes.transfer_digits` (`deepgrad run transfer-digits`
# runs the full table); the freeze / replace-head / parameter-group tools are in
# `deepgrad.vision.transfer`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import numpy as np

import deepgrad as dg
from deepgrad import optim
from deepgrad.recipes import transfer_digits as T
from deepgrad.vision import LeNet5, count_parameters
from deepgrad.vision.transfer import freeze, param_groups, unfreeze
import _common

args = _common.parse_args("c4w2_transfer_learning", "Transfer learning: Fashion-MNIST -> few-label digits.",
                          pretrain_epochs=(int, 1, "epochs of pretraining on Fashion-MNIST (default 1)"))
results = _common.Results(args)
cfg = dict(T.DEFAULTS)
if args.quick:  # a weaker body (one epoch on 4,000 images), one setting, fewer steps: seconds
    cfg.update(T.QUICK, labels_per_class=[20], head_steps=30, finetune_steps=60)
    args.pretrain_epochs = 1
cfg["seeds"] = [args.seed + s for s in cfg["seeds"]]

# %% [markdown]
# ## The two data sets
#
# Match the new data to what the pretrained body expects: same size (28x28, the digit in
# a 20x20 box with a 4-pixel margin, as in MNIST), same polarity (bright object on a black
# background: sklearn's digits store ink as high values, 0..16, like Fashion-MNIST) and
# the same normalization (Fashion-MNIST's mean and standard deviation).

# %%
X_digits, y_digits = T.digits_28x28()
print(f"digits {X_digits.shape}, values in [{X_digits.min():.1f}, {X_digits.max():.1f}], "
      f"mean {X_digits.mean():.3f} (Fashion-MNIST: {T.MEAN})")
plt = _common.pyplot()
if plt is not None:
    from deepgrad.data.datasets import load_fashion_mnist

    F_img, _ = load_fashion_mnist("test")
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for i in range(8):
        axes[0, i].imshow(F_img[i, 0], cmap="gray")
        axes[1, i].imshow(X_digits[i, 0], cmap="gray")
        axes[0, i].axis("off")
        axes[1, i].axis("off")
    axes[0, 0].set_title("Fashion-MNIST (pretraining)", loc="left", fontsize=9)
    axes[1, 0].set_title("sklearn digits at 28x28 (new task)", loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "data.png", dpi=100)
    plt.close(fig)

# %% [markdown]
# ## Pretrain on the large task
#
# LeNet-5 on Fashion-MNIST (Adam, cosine schedule, horizontal flips).

# %%
pretrained, pre = T.pretrain(args.pretrain_epochs, cfg["pretrain_lr"], cfg["pretrain_batch_size"], seed=args.seed,
                             limit=cfg.get("pretrain_train"), test_limit=cfg.get("pretrain_test"), progress=False)
state = pretrained.state_dict()
print(f"pretrained LeNet-5: Fashion-MNIST test accuracy {pre['fashion_test_accuracy']:.4f} ({pre['seconds']:.0f} s)")
results.add("pretraining: Fashion-MNIST test accuracy", None, pre["fashion_test_accuracy"], pct=True,
            note=f"LeNet-5, {args.pretrain_epochs} epoch(s)")

# %% [markdown]
# ## The recipe, step by step
#
# 1. **Replace the head.** Which layers are "head"? The convolutional filters (edges,
#    strokes, blobs) are generic; the fully connected layers 400-120-84 combine them into
#    *clothing* features. Keeping the 84 clothing features and replacing only the last
#    Linear layer transferred worse than training from scratch in our runs, so the new
#    head is a fresh fc stack 400-120-84-10 and the body is the two conv layers
#    (`features`).
# 2. **Freeze the body, train the head.** `freeze(model)` turns off every gradient;
#    `unfreeze(model, "classifier")` turns the head's back on; the optimizer gets only
#    the trainable parameters.
# 3. **Unfreeze and fine-tune gently.** `param_groups` gives the body a lower learning rate
#    than the head, so the pretrained filters adapt without being wiped out.

# %%
n_demo = 10
train_idx, test_idx = T.split_few_labels(y_digits, n_demo, cfg["pool_per_class"], cfg["seeds"][0])
X_all = T.normalize(X_digits)
X_tr, y_tr, X_te, y_te = X_all[train_idx], y_digits[train_idx], X_all[test_idx], y_digits[test_idx]

dg.manual_seed(args.seed)
model = LeNet5()
model.load_state_dict(state)
model.classifier = LeNet5(num_classes=10).classifier  # 1. a fresh head
freeze(model)  # 2. body frozen ...
head_params = unfreeze(model, "classifier")  # ... head trainable
frozen_trainable = count_parameters(model, trainable_only=True)
print(f"phase 1: {frozen_trainable:,} of {count_parameters(model):,} parameters trainable (the head)")
rng = np.random.default_rng(0)
T._train_steps(model, optim.Adam(head_params, lr=cfg["lr"]), X_tr, y_tr, cfg["head_steps"], cfg["batch_size"], rng)
acc_head = T.accuracy(model, X_te, y_te)
unfreeze(model)  # 3. everything trainable, body at a lower learning rate
groups = param_groups(model, lr=cfg["lr"], body_lr_scale=cfg["body_lr_scale"], head="classifier")
print("phase 2: learning rates", [g["lr"] for g in groups], "for", [len(g["params"]) for g in groups], "tensors")
T._train_steps(model, optim.Adam(groups, lr=cfg["lr"]), X_tr, y_tr, cfg["finetune_steps"], cfg["batch_size"], rng)
acc_ft = T.accuracy(model, X_te, y_te)
print(f"{n_demo} labels per class: head only {acc_head:.4f}, after fine-tuning {acc_ft:.4f}")
results.add(f"{n_demo} labels/class: head only (body frozen)", None, acc_head, pct=True)
results.add(f"{n_demo} labels/class: after fine-tuning", None, acc_ft, pct=True,
            note="course: fine-tuning the top of the base adds a few points")
results["trainable_parameters_frozen_phase"] = frozen_trainable

# %% [markdown]
# ## Scratch vs transfer, by number of labels
#
# The same LeNet-5, the same steps, the same augmentation (random shifts of up to 2
# pixels) and the same held-out digits; mean over seeds. With few labels the transferred
# filters should win; with many, scratch catches up.

# %%
res = T.compare(state, cfg)
print(T.table(res["rows"]))
for r in res["rows"]:
    results.add(f"{r['labels_per_class']} labels/class: scratch / transfer", None,
                f"{100 * r['scratch']:.1f}% / {100 * r['transfer']:.1f}%",
                note=f"mean of {len(cfg['seeds'])} seed(s), {r['test_examples']} test digits")
results["rows"] = res["rows"]
if plt is not None:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    n = [r["labels_per_class"] for r in res["rows"]]
    ax.plot(n, [r["scratch"] for r in res["rows"]], "o-", label="from scratch")
    ax.plot(n, [r["transfer"] for r in res["rows"]], "s-", label="transfer from Fashion-MNIST")
    ax.set_xscale("log")
    ax.set_xlabel("labels per class")
    ax.set_ylabel("digits test accuracy")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "transfer.png", dpi=100)
    plt.close(fig)

# %%
results.finish()
