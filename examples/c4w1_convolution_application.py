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
# # Course 4, week 1: convolutional model, application
#
# The course trains a small ConvNet (CONV -> RELU -> MAXPOOL -> CONV -> RELU -> MAXPOOL ->
# FLATTEN -> DENSE) on the SIGNS hand-gesture images. SIGNS is not redistributable, so
# we train the classic LeNet-5 on Fashion-MNIST (10 classes of 28x28 clothing images),
# with a plain PyTorch-style training loop: `zero_grad`, forward, loss, `backward`, `step`.
#
# LeNet-5 (from `deepgrad.vision`): conv 6@5x5 (padding 2) -> ReLU -> 2x2 max-pool ->
# conv 16@5x5 -> ReLU -> 2x2 max-pool -> fc 120 -> fc 84 -> fc 10: 61,706 parameters,
# against 203,530 for an MLP 784-256-10 that does worse: the convolution shares each
# small filter across the whole image.
#
# It reaches about 87% test accuracy after 2 epochs (the figures table in `examples/README.md`).

# %%
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.data import DataLoader
from deepgrad.optim import Adam
from deepgrad.vision import LeNet5, summary

args = _common.parse_args("c4w1_convolution_application", "LeNet-5 on Fashion-MNIST with a plain training loop.",
                          epochs=(int, 2, "epochs (default 2)"))
dg.manual_seed(args.seed)
results = _common.Results(args)

X, y = _common.load_fashion_mnist("train")
X_test, y_test = _common.load_fashion_mnist("test")
X, X_test = X.reshape(-1, 1, 28, 28), X_test.reshape(-1, 1, 28, 28)
mean, std = X.mean(), X.std()
X, X_test = ((X - mean) / std).astype(np.float32), ((X_test - mean) / std).astype(np.float32)
epochs = args.epochs
if args.quick:
    X, y, X_test, y_test, epochs = X[:3000], y[:3000], X_test[:1000], y_test[:1000], 1
print(f"train {X.shape}, test {X_test.shape}")

# %% [markdown]
# ## The model and its size

# %%
model = LeNet5()
info = summary(model, (1, 28, 28))
results.add("LeNet-5 parameters", None, info["total_params"], expected=61706)

# %% [markdown]
# ## Training: Adam, mini-batches of 64

# %%
opt = Adam(model.parameters(), lr=1e-3)
loader = DataLoader((X, y), batch_size=64, shuffle=True, seed=args.seed)


def evaluate(Xe, ye):
    model.eval()
    correct = 0
    with dg.no_grad():
        for i in range(0, len(Xe), 1000):
            correct += int((model(dg.tensor(Xe[i:i + 1000])).data.argmax(1) == ye[i:i + 1000]).sum())
    model.train()
    return correct / len(Xe)


history = []
t0 = time.perf_counter()
for epoch in range(1, epochs + 1):
    total, n = 0.0, 0
    for xb, yb in loader:
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        total += loss.item() * len(yb)
        n += len(yb)
    acc = evaluate(X_test, y_test)
    history.append({"epoch": epoch, "train_loss": total / n, "test_accuracy": acc, "seconds": time.perf_counter() - t0})
    print(f"epoch {epoch}: train loss {total / n:.4f}  test accuracy {acc:.4f}  ({time.perf_counter() - t0:.1f} s)")

results.add(f"test accuracy after {epochs} epoch(s)", 0.783, history[-1]["test_accuracy"], pct=True,
            note="course: its small ConvNet on SIGNS, validation accuracy (train 86.4%)")
results.add("training time (s)", None, round(history[-1]["seconds"], 1))
results["history"] = history

# %% [markdown]
# ## The learning curves: `history.csv` and `learning_curves.png`

# %%
with open(args.out / "history.csv", "w") as f:
    f.write("epoch,train_loss,test_accuracy,seconds\n")
    for h in history:
        f.write(f"{h['epoch']},{h['train_loss']:.6f},{h['test_accuracy']:.6f},{h['seconds']:.2f}\n")
plt = _common.pyplot()
if plt is not None:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ep = [h["epoch"] for h in history]
    ax1.plot(ep, [h["train_loss"] for h in history], marker="o")
    ax1.set(xlabel="epoch", ylabel="train loss (mean over the epoch)", title="LeNet-5, training loss")
    ax2.plot(ep, [100 * h["test_accuracy"] for h in history], marker="o", color="C1")
    ax2.set(xlabel="epoch", ylabel="test accuracy (%)", title="LeNet-5, test accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.set_xticks(ep)
    fig.tight_layout()
    fig.savefig(args.out / "learning_curves.png", dpi=90)
    plt.close(fig)
    print(f"picture: {args.out / 'learning_curves.png'}")

# %%
results.finish()
