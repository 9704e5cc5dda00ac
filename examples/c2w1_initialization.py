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
# # Course 2, week 1: initialization
#
# The same 3-layer ReLU network (`2 -> 10 -> 5 -> 1`), the same data (two concentric
# circles) and the same training (full-batch gradient descent, learning rate 0.01,
# 15,000 iterations); only the initial weights change:
#
# * **zeros**: every unit of a layer computes the same thing and gets the same gradient,
#   so symmetry is never broken: the network is no better than a constant (course: 50%);
# * **large random** (`randn * 10`): symmetry is broken, but the output saturates the
#   sigmoid, the loss starts huge and learning is slow (course: 83% train, 86% test);
# * **He** (`randn * sqrt(2 / n_prev)`, `nn.init.he_normal_`): keeps the variance of ReLU
#   activations constant from layer to layer (course: 99% train, 96% test).

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.data.datasets import make_circles

args = _common.parse_args("c2w1_initialization", "Zeros vs large random vs He initialization on circles.")
dg.manual_seed(args.seed)
results = _common.Results(args)

# The course: sklearn's make_circles(n_samples=300, noise=0.05) for training, 100 for test.
X_train, y = make_circles(n=300, noise=0.05, factor=0.8, seed=args.seed)
y_train = _common.column(y)
X_test, y = make_circles(n=100, noise=0.05, factor=0.8, seed=args.seed + 1000)
y_test = _common.column(y)
print(f"train {X_train.shape}, test {X_test.shape}")


# %% [markdown]
# ## The three initializations, as functions of a weight tensor


# %%
def init_zeros(w):
    nn.init.zeros_(w)


def init_large_random(w):
    nn.init.normal_(w, std=10.0)


def init_he(w):
    nn.init.he_normal_(w)  # std = sqrt(2 / fan_in)


def make_model(init_weight):
    model = nn.Sequential(nn.Linear(2, 10), nn.ReLU(), nn.Linear(10, 5), nn.ReLU(), nn.Linear(5, 1))
    for layer in model:
        if isinstance(layer, nn.Linear):
            init_weight(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def train(model, X, Y, learning_rate=0.01, num_iterations=15000):
    X, Y = dg.tensor(X), dg.tensor(Y)
    opt = optim.SGD(model.parameters(), lr=learning_rate)
    costs = []
    for i in range(num_iterations):
        cost = F.binary_cross_entropy_with_logits(model(X), Y)
        opt.zero_grad()
        cost.backward()
        opt.step()
        if i % 1000 == 0:
            costs.append(cost.item())
    return costs


def predict(model, X):
    with dg.no_grad():
        return (model(dg.tensor(X)).numpy() > 0).astype(np.float32).ravel()


# %% [markdown]
# ## Train one network per initialization

# %%
iterations = 5000 if args.quick else 15000
course = {"zeros": (0.50, 0.50), "large random (x10)": (0.83, 0.86), "He": (0.9933, 0.96)}
inits = {"zeros": init_zeros, "large random (x10)": init_large_random, "He": init_he}
models = {}
for name, init_fn in inits.items():
    model = make_model(init_fn)
    costs = train(model, X_train, y_train, num_iterations=iterations)
    tr = _common.accuracy(predict(model, X_train), y_train)
    te = _common.accuracy(predict(model, X_test), y_test)
    models[name] = (model, tr, te)
    print(f"{name:<20} cost {costs[0]:9.4f} -> {costs[-1]:.4f}   train {tr:.1%}  test {te:.1%}")
    results.add(f"{name}: train accuracy", course[name][0], tr, pct=True)
    results.add(f"{name}: test accuracy", course[name][1], te, pct=True)
    results[f"costs {name}"] = costs

# %% [markdown]
# ## Decision boundaries

# %%
_common.plot_boundaries(models, predict, X_train, y_train, args.out / "initialization.png",
                        lambda n, tr, te: f"{n}: train {tr:.0%}, test {te:.0%}")

# %%
results.finish()
