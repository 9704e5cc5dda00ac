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
# # Diagnostics: debugging a network that does not learn
#
# A deep network on Fashion-MNIST whose loss sits at log(10) = 2.30 epoch after epoch: it
# runs, nothing crashes, and it learns nothing. `deepgrad.check.inspect` looks inside one
# forward and backward pass and says why: per layer the activations' spread, zeros and dead
# units; per parameter the gradient's size and the update-to-weight ratio (the rule of
# thumb wants about 1e-3). Here the weights were initialized far too small (N(0, 0.01^2),
# course 2 week 1's warning), so each layer shrinks the signal and the backward pass
# shrinks the gradient again: the first layers get gradients a million times smaller than
# the last one ("vanishing"). He initialization (course 2, week 1) fixes it.
#
# Run: `python examples/debug_not_learning.py [--quick] [--out DIR]`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.check import HealthMonitor, inspect, plot_health_history
from deepgrad.data.datasets import load_fashion_mnist
from deepgrad.recipes._common import normalize_fashion
from deepgrad.train import Trainer

args = _common.parse_args("debug_not_learning", "A network that does not learn, diagnosed with inspect.")
results = _common.Results(args)
n_train, epochs = (2000, 2) if args.quick else (20000, 8)
X, y = load_fashion_mnist("train", flatten=True)
X, y = normalize_fashion(X[:n_train]), y[:n_train]
X_dev, y_dev = load_fashion_mnist("test", flatten=True)
X_dev, y_dev = normalize_fashion(X_dev[:2000]), y_dev[:2000]

# %% [markdown]
# ## The network: 6 hidden tanh layers of 128 units, weights N(0, 0.01^2)

# %%
def make(init: str):
    dg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    layers, width = [], 784
    for _ in range(6):
        lin = nn.Linear(width, 128)
        with dg.no_grad():
            if init == "small":
                lin.weight.data[...] = rng.normal(0, 0.01, lin.weight.shape)
            else:  # He: N(0, 2 / fan_in)
                lin.weight.data[...] = rng.normal(0, np.sqrt(2 / width), lin.weight.shape)
            lin.bias.data[...] = 0
        layers += [lin, nn.ReLU() if init == "he" else nn.Tanh()]
        width = 128
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def train(model, lr=0.05):
    monitor = HealthMonitor(probe=X[:256])
    tr = Trainer(model, optim.SGD(model.parameters(), lr=lr, momentum=0.9), "cross_entropy", seed=args.seed,
                 batch_size=64, callbacks=[monitor], progress=False)
    h = tr.fit((X, y), dev=(X_dev, y_dev), epochs=epochs)
    return h


bad = make("small")
h_bad = train(bad)
print("small init: train loss per epoch", [round(v, 3) for v in h_bad["train_loss"]])
print("            dev accuracy        ", [round(v, 3) for v in h_bad["dev_accuracy"]])

# %% [markdown]
# ## What `inspect` sees
#
# One batch, one forward and backward pass. The table shows the activations' standard
# deviation collapsing layer by layer (each layer multiplies the spread by about
# 0.01 sqrt(128) = 0.11: **signal lost**), and on the way back the gradient shrinks the same
# way. Every weight's gradient is about 1e-5 of the weight itself (**vanishing**), so its
# update-to-weight ratio is far below the 1e-3 rule of thumb (**slow updates**).

# %%
report = inspect(make("small"), (X[:256], y[:256]), "cross_entropy", lr=0.05,
                 out=str(args.out / "health_small_init.png"), title="small init: vanishing gradients")
print(report)
first = report.param("0.weight")
results.add("small init: |grad| / |W| of the first layer", None, first.grad_norm / first.weight_norm)
results.add("small init: activation std, last hidden layer", None, report.layer("11").std)
results.add("small init: flags on the first layer's weight", None, ", ".join(first.flags))
results.add("small init: layers flagged 'signal lost'", None, sum("signal lost" in r.flags for r in report.layers))
results.add("small init: dev accuracy after training", None, h_bad["dev_accuracy"][-1], pct=True)

# %% [markdown]
# ## The fix: He initialization (and ReLU)
#
# Weights N(0, 2 / fan_in) keep the activations' and the gradients' scale from layer to
# layer. The same `inspect` call now shows every layer's activations and gradients at the
# same scale, update ratios near 1e-3 and no flags; the network learns.

# %%
good_report = inspect(make("he"), (X[:256], y[:256]), "cross_entropy", lr=0.05,
                      out=str(args.out / "health_he_init.png"), title="He init")
print(good_report)
good = make("he")
h_good = train(good)
print("He init:    train loss per epoch", [round(v, 3) for v in h_good["train_loss"]])
print("            dev accuracy        ", [round(v, 3) for v in h_good["dev_accuracy"]])
g_first = good_report.param("0.weight")
results.add("He init: |grad| / |W| of the first layer", None, g_first.grad_norm / g_first.weight_norm)
results.add("He init: activation std, last hidden layer", None, good_report.layer("11").std)
results.add("He init: flags", None, "; ".join(good_report.flags) or "none")
results.add("He init: dev accuracy after training", None, h_good["dev_accuracy"][-1], pct=True)

# %% [markdown]
# ## Over training: the HealthMonitor callback
#
# `Trainer(callbacks=[HealthMonitor()])` adds per-epoch columns (`grad_rms/<param>`,
# `update_ratio/<param>` measured from the optimizer's real step, `act_std/<layer>`,
# `dead/<layer>`) to the History, so `history.csv` holds them and a plot shows them over
# the epochs.

# %%
if _common.pyplot() is not None:
    plot_health_history(h_bad, str(args.out / "health_history_small_init.png"), "small init")
    plot_health_history(h_good, str(args.out / "health_history_he_init.png"), "He init")
results["small_init"] = {"train_loss": h_bad["train_loss"], "dev_accuracy": h_bad["dev_accuracy"],
                         "flags": report.flags, "grad_rms": {p.name: p.grad_rms for p in report.params}}
results["he_init"] = {"train_loss": h_good["train_loss"], "dev_accuracy": h_good["dev_accuracy"],
                      "flags": good_report.flags, "grad_rms": {p.name: p.grad_rms for p in good_report.params}}
results["history_columns"] = h_good.columns()

# %%
results.finish()
