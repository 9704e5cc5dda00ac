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
# # Course 2, week 3: batch normalization and softmax regression
#
# Week 3 moves from two classes to C classes: the output layer has C units and
# **softmax** turns their scores `z` into probabilities `exp(z_c) / sum_j exp(z_j)`; the
# loss is the cross-entropy `-log p_y`. Here C = 10: all of Fashion-MNIST (60,000
# training images, 10,000 test images).
#
# **Batch normalization** normalizes each hidden unit's pre-activation over the
# mini-batch, `z_norm = (z - mean) / sqrt(var + eps)`, then rescales it with learned
# `gamma`, `beta`: `z_tilde = gamma z_norm + beta`. The next layer sees inputs of a stable
# scale however the earlier weights move, which speeds training up and allows larger
# learning rates; at test time the running averages of mean and variance replace the
# batch statistics (`model.eval()`). The bias of the layer before BN is redundant (`beta`
# does its job), so those layers have `bias=False`.
#
# The same network, `784 -> 256 -> 128 -> 10` with ReLU, is trained with and without BN
# by the same optimizer (mini-batch SGD with momentum, learning rate 0.05, batches of
# 128), using `deepgrad.train.Trainer`, which runs the loop of course 2 (mini-batches,
# forward, loss, backward, step; then the dev set) and keeps a per-epoch history.
#
# The course's own exercise (an introduction to a framework on a 6-class hand-signs set)
# has no batch-norm figure; as a reference point for Fashion-MNIST we print the
# published multilayer perceptron in the data set's README (256-128-100 units, 88.33%
# test accuracy) and the human baseline there (83.5%).

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.data.datasets import load_fashion_mnist
from deepgrad.train import Trainer, confusion_matrix

args = _common.parse_args(
    "c2w3_batchnorm_softmax",
    "Softmax classifier on 10-class Fashion-MNIST, with and without batch normalization.",
    epochs=(int, None, "epochs (default 10, 2 with --quick)"),
    lr=(float, 0.05, "learning rate of SGD with momentum 0.9"),
)
results = _common.Results(args)
CLASSES = _common.class_names()

X_train, y_train = load_fashion_mnist("train", flatten=True)  # (60000, 784) float32 in [0, 1], (60000,) int64
X_test, y_test = load_fashion_mnist("test", flatten=True)
if args.quick:  # a real but small run: 4,000 training and 1,000 test images
    X_train, y_train, X_test, y_test = X_train[:4000], y_train[:4000], X_test[:1000], y_test[:1000]
epochs = args.epochs or (2 if args.quick else 10)
print(f"train {X_train.shape}, test {X_test.shape}, {epochs} epochs")


# %% [markdown]
# ## The two networks


# %%
def make_model(batch_norm):
    if batch_norm:
        return nn.Sequential(
            nn.Linear(784, 256, bias=False), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Linear(256, 128, bias=False), nn.BatchNorm1d(128), nn.ReLU(),
            nn.Linear(128, 10),
        )
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def fit(batch_norm):
    dg.manual_seed(args.seed)
    model = make_model(batch_norm)
    opt = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    trainer = Trainer(model, opt, F.cross_entropy, metrics=["accuracy"], seed=args.seed, batch_size=128, progress=False)
    history = trainer.fit((X_train, y_train), dev=(X_test, y_test), epochs=epochs)
    return model, trainer, history


# %% [markdown]
# ## Train both, epoch by epoch

# %%
runs = {}
for batch_norm in (False, True):
    name = "with batch norm" if batch_norm else "without batch norm"
    model, trainer, history = fit(batch_norm)
    runs[name] = (model, trainer, history)
    print(f"\n{name}:")
    print(" epoch  train loss  test loss  test accuracy  seconds")
    for row in history.rows:
        print(f" {row['epoch']:5d}  {row['train_loss']:10.4f}  {row['dev_loss']:9.4f}  {row['dev_accuracy']:13.2%}  {row.get('time', 0):7.1f}")
    results[name] = history.to_dict()

for name, (_model, _trainer, history) in runs.items():
    last = history.rows[-1]
    results.add(f"{name}: test accuracy after {epochs} epochs", None, last["dev_accuracy"], pct=True)
for name, (_model, _trainer, history) in runs.items():
    best = history.best("dev_accuracy", mode="max")
    results.add(f"{name}: best test accuracy (epoch {best['epoch']})", None, best["dev_accuracy"], pct=True)
for name, (_model, _trainer, history) in runs.items():
    results.add(f"{name}: train loss after epoch 1", None, history.rows[0]["train_loss"])
    results.add(f"{name}: train loss after epoch {epochs}", None, history.rows[-1]["train_loss"])

# %% [markdown]
# ## Softmax outputs: probabilities over the 10 classes
#
# `F.cross_entropy` works on the scores (logits) and applies the softmax inside, the
# numerically safe form; `F.softmax` shows the probabilities themselves.

# %%
model, trainer, _ = runs["with batch norm"]
model.eval()
with dg.no_grad():
    probs = F.softmax(model(dg.tensor(X_test[:5])), dim=1).numpy()
for p, y in zip(probs, y_test[:5]):
    top = np.argsort(p)[::-1][:3]
    print(f"true {CLASSES[y]:<12} predicted " + ", ".join(f"{CLASSES[c]} {p[c]:.2f}" for c in top) + f"  (sum {p.sum():.3f})")

pred = trainer.predict(X_test).argmax(axis=1)
cm = confusion_matrix(y_test, pred, num_classes=10)
per_class = np.diag(cm) / cm.sum(axis=1)
print("per-class test accuracy (with batch norm):")
for c in np.argsort(per_class):
    print(f"  {CLASSES[c]:<12} {per_class[c]:.1%}")
results["per_class_accuracy_bn"] = {CLASSES[c]: float(per_class[c]) for c in range(10)}

# %% [markdown]
# ## Learning curves

# %%
plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, (_, _, history) in runs.items():
        e = [r["epoch"] for r in history.rows]
        axes[0].plot(e, [r["train_loss"] for r in history.rows], "o-", label=f"{name}: train")
        axes[0].plot(e, [r["dev_loss"] for r in history.rows], "s--", label=f"{name}: test")
        axes[1].plot(e, [r["dev_accuracy"] for r in history.rows], "o-", label=name)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("cross-entropy")
    axes[0].legend(fontsize=8)
    axes[1].axhline(0.8833, color="grey", linestyle=":", label="published MLP 256-128-100")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("test accuracy")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "batchnorm.png", dpi=100)
    print(f"picture: {args.out / 'batchnorm.png'}")

# %%
results.finish()
