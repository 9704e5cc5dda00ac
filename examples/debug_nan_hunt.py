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
# # Diagnostics: where did the NaN come from?
#
# A training run prints `train_loss nan` and the model is ruined. The loss is the last op
# of a long graph; the NaN was born somewhere upstream, in the forward pass or in the
# backward pass, and every op after it only passed it on. `with deepgrad.detect_anomaly():`
# (or `Trainer(..., detect_anomaly=True)`) checks every op's output and every gradient as
# it is computed and stops at the **first** non-finite value, naming the op, the module
# that called it (its dotted path, e.g. `blocks.1.norm`), its inputs' shapes and value ranges.
#
# Two planted bugs of the kind that happen in real code:
#
# 1. a hand-written batch normalization without an epsilon: a ReLU unit that is off for
#    every example of a mini-batch has variance 0 there, and `(x - mean) / sqrt(var)` is
#    0 / 0 in the **forward** pass;
# 2. a "square-root features" layer `sqrt(relu(x))`: finite forward, but its derivative
#    `1 / (2 sqrt(x))` is infinite at 0, so the NaN appears in the **backward** pass.
#
# When the mode is off it costs one `is None` check per op (see
# `benchmarks/anomaly_overhead.py`).
#
# Run: `python examples/debug_nan_hunt.py [--quick] [--out DIR]`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.check import AnomalyError
from deepgrad.data.datasets import load_fashion_mnist
from deepgrad.recipes._common import normalize_fashion
from deepgrad.train import NaNGuard, Trainer

args = _common.parse_args("debug_nan_hunt", "Find the op and layer where a NaN first appears.")
results = _common.Results(args)
n_train, epochs = (2000, 2) if args.quick else (10000, 4)
X, y = load_fashion_mnist("train", flatten=True)
X, y = normalize_fashion(X[:n_train]), y[:n_train]


# %% [markdown]
# ## The model: two blocks of Linear -> ReLU -> a hand-written batch norm, then a classifier

# %%
class BatchNormByHand(nn.Module):
    """Normalize each feature over the mini-batch (course 2, week 3), written by hand."""

    def __init__(self, eps: float = 0.0):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        mu = x.mean(axis=0, keepdims=True)
        var = ((x - mu) ** 2).mean(axis=0, keepdims=True)
        return (x - mu) / dg.sqrt(var + self.eps)


class SqrtFeatures(nn.Module):
    def forward(self, x):
        return dg.sqrt(dg.relu(x))


class Block(nn.Module):
    def __init__(self, n_in, n_out, fixed, features):
        super().__init__()
        self.fc = nn.Linear(n_in, n_out)
        self.act = SqrtFeatures() if features == "sqrt" else nn.ReLU()
        self.norm = BatchNormByHand(eps=1e-5 if fixed else 0.0)

    def forward(self, x):
        return self.norm(self.act(self.fc(x)))


class Net(nn.Module):
    def __init__(self, fixed=False, features="relu", width=32):
        super().__init__()
        self.blocks = nn.ModuleList([Block(784, 64, fixed, "relu"), Block(64, width, fixed, features)])
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x)


def fit(model, detect, lr=0.1):
    dg.manual_seed(args.seed)
    tr = Trainer(model, optim.SGD(model.parameters(), lr=lr), "cross_entropy", seed=args.seed, batch_size=64,
                 progress=False, detect_anomaly=detect, callbacks=[NaNGuard()])
    return tr, tr.fit((X, y), epochs=epochs)


# %% [markdown]
# ## Bug 1: the run goes NaN. Without anomaly detection we only learn *that* it did
#
# After a few steps some ReLU unit of the first block is off for a whole mini-batch: its
# variance is 0. `NaNGuard` stops the run at the first NaN loss (and keeps the weights
# finite); it can say that the loss went NaN, not which op made the NaN, in which layer,
# nor whether the forward or the backward pass made it.

# %%
dg.manual_seed(args.seed)
guard = NaNGuard()
m0 = Net()
with np.errstate(all="ignore"):
    h = Trainer(m0, optim.SGD(m0.parameters(), lr=0.1), "cross_entropy", seed=args.seed, batch_size=64,
                progress=False, callbacks=[guard]).fit((X, y), epochs=epochs)
print("without detect_anomaly:", h.stop_reason, "| NaNGuard report:", guard.report)
results.add("bug 1, NaNGuard alone: stop reason", None, h.stop_reason)

# %% [markdown]
# ## With `Trainer(..., detect_anomaly=True)`: the op, the module, the inputs

# %%
dg.manual_seed(args.seed)
model = Net()
try:
    with np.errstate(all="ignore"):
        fit(model, detect=True)
    raise SystemExit("expected an AnomalyError")
except AnomalyError as e:
    err1 = e
print(err1)
results.add("bug 1: phase / op / module", None, f"{err1.phase} / {err1.op} / {err1.module} ({err1.module_type})")
results["bug1"] = {"phase": err1.phase, "op": err1.op, "module": err1.module, "module_type": err1.module_type,
                   "input_shapes": [list(s) if s is not None else None for s in err1.input_shapes],
                   "message": str(err1)}

# %% [markdown]
# The message names the first block's norm, `blocks.0.norm` (BatchNormByHand), and the op:
# the division, whose second input (the standard deviations, shape (1, 64)) has range
# [0, ...]: a zero standard deviation. The fix is the course's: an epsilon inside the square
# root, `sqrt(var + 1e-5)`.

# %%
dg.manual_seed(args.seed)
tr_fixed, h_fixed = fit(Net(fixed=True), detect=True)
print("with eps: train loss per epoch", [round(v, 4) for v in h_fixed["train_loss"]])
results.add("bug 1 fixed (eps = 1e-5): final train loss", None, h_fixed["train_loss"][-1])
results.add("bug 1 fixed: final train accuracy", None, h_fixed["train_accuracy"][-1], pct=True)

# %% [markdown]
# ## Bug 2: a NaN born in the backward pass
#
# `sqrt(relu(x))` is finite in the forward pass (ReLU's zeros give sqrt(0) = 0), so checking
# outputs (or the loss) finds nothing until the weights are already NaN. The anomaly mode
# also checks each gradient an op's backward hands to its inputs, and names the backward
# of `Sqrt` in `blocks.1.act`.

# %%
dg.manual_seed(args.seed)
x = dg.tensor(X[:64])
model = Net(fixed=True, features="sqrt")
try:
    with dg.detect_anomaly(), np.errstate(all="ignore"):
        loss = nn.functional.cross_entropy(model(x), dg.tensor(y[:64]))
        loss.backward()
    raise SystemExit("expected an AnomalyError")
except AnomalyError as e:
    err2 = e
print(err2)
results.add("bug 2: phase / op / module", None, f"{err2.phase} / {err2.op} / {err2.module} ({err2.module_type})")
results["bug2"] = {"phase": err2.phase, "op": err2.op, "module": err2.module, "module_type": err2.module_type,
                   "message": str(err2)}

# %%
results.finish()
