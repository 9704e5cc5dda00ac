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
# # Course 1, week 4: deep neural network for image classification
#
# The same small two-class image task as week 2 (209 training images; here Fashion-MNIST
# shirt vs T-shirt/top in place of cat/non-cat), now with hidden layers:
#
# * a **2-layer** network `LINEAR -> RELU -> LINEAR -> SIGMOID` with 7 hidden units, weights
#   `randn * 0.01` (the course gets 72% test accuracy);
# * an **L-layer** network `[LINEAR -> RELU] x (L-1) -> LINEAR -> SIGMOID` with sizes
#   `[n_x, 20, 7, 5, 1]`, weights `randn / sqrt(n_prev)` (the course gets 80%).
#
# Both are trained with full-batch gradient descent, learning rate 0.0075, 2,500
# iterations, as in the course. The course writes `L_model_forward`, `L_model_backward`
# and `update_parameters` by hand; here `nn.Sequential` is the forward, `loss.backward()`
# the backward and `optim.SGD.step()` the update.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import math

import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
import _common

args = _common.parse_args(
    "c1w4_deep_network",
    "2-layer vs L-layer network on a small two-class Fashion-MNIST task.",
    pos=(int, 6, "positive class (default 6 = shirt)"),
    neg=(int, 0, "negative class (default 0 = T-shirt/top)"),
)
dg.manual_seed(args.seed)
results = _common.Results(args)
CLASSES = _common.class_names()

n_test = 200 if args.quick else 1000
X_train, y_train, X_test, y_test = _common.fashion_binary(args.pos, args.neg, 209, n_test, seed=args.seed)
print(f"task: {CLASSES[args.pos]} vs {CLASSES[args.neg]}; "
      f"X_train {X_train.shape}, X_test {X_test.shape}")


# %% [markdown]
# ## Building the networks
#
# `deep_model(layer_dims, scale)` is the course's `initialize_parameters_deep` plus the
# forward pass: one `Linear` per layer, ReLU between them. The output layer returns the
# logit; the sigmoid sits inside the loss.


# %%
def deep_model(layer_dims, weight_scale):
    """``layer_dims`` = [n_x, n_h1, ..., 1]; ``weight_scale(n_prev)`` gives the std of layer weights."""
    layers = []
    for n_prev, n in zip(layer_dims[:-1], layer_dims[1:]):
        lin = nn.Linear(n_prev, n)
        nn.init.normal_(lin.weight, std=weight_scale(n_prev))
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.ReLU()]
    return nn.Sequential(*layers[:-1])  # no ReLU after the output layer


def train(model, X, Y, learning_rate=0.0075, num_iterations=2500, print_cost=False):
    X, Y = dg.tensor(X), dg.tensor(Y)
    opt = optim.SGD(model.parameters(), lr=learning_rate)
    costs = []
    for i in range(num_iterations):
        cost = F.binary_cross_entropy_with_logits(model(X), Y)
        opt.zero_grad()
        cost.backward()
        opt.step()
        if i % 100 == 0:
            costs.append(cost.item())
            if print_cost and i % 500 == 0:
                print(f"cost after iteration {i}: {cost.item():.6f}")
    return costs


def predict(model, X):
    with dg.no_grad():
        return (model(dg.tensor(X)).numpy() > 0).astype(np.float32)


# %% [markdown]
# ## The 2-layer network (the course: 72% test accuracy)

# %%
iterations = 300 if args.quick else 2500
n_x = X_train.shape[1]
two_layer = deep_model([n_x, 7, 1], weight_scale=lambda n_prev: 0.01)
costs_2 = train(two_layer, X_train, y_train, num_iterations=iterations, print_cost=not args.quick)
train_2 = _common.accuracy(predict(two_layer, X_train), y_train)
test_2 = _common.accuracy(predict(two_layer, X_test), y_test)
print(f"2-layer: train {train_2:.1%}, test {test_2:.1%}")

# %% [markdown]
# ## The 4-layer network (the course: 80% test accuracy)
#
# With `randn * 0.01` in every layer the signal would shrink by ~100x per layer and the
# deep network would not train; scaling by `1 / sqrt(n_prev)` keeps the activations'
# variance roughly constant (course 2 makes this precise as Xavier/He initialization).

# %%
layers_dims = [n_x, 20, 7, 5, 1]
deep = deep_model(layers_dims, weight_scale=lambda n_prev: 1 / math.sqrt(n_prev))
costs_L = train(deep, X_train, y_train, num_iterations=iterations, print_cost=not args.quick)
train_L = _common.accuracy(predict(deep, X_train), y_train)
test_L = _common.accuracy(predict(deep, X_test), y_test)
print(f"{len(layers_dims) - 1}-layer: train {train_L:.1%}, test {test_L:.1%}")

results.add("2-layer: train accuracy", 1.00, train_2, pct=True)
results.add("2-layer: test accuracy", 0.72, test_2, pct=True)
results.add("4-layer: train accuracy", 0.986, train_L, pct=True)
results.add("4-layer: test accuracy", 0.80, test_L, pct=True)
results["costs_2_layer"] = costs_2
results["costs_4_layer"] = costs_L

# %% [markdown]
# ## Learning curves and a few test images the 4-layer network gets wrong

# %%
plt = _common.pyplot()
if plt is not None:
    fig = plt.figure(figsize=(11, 4))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(np.arange(len(costs_2)) * 100, costs_2, label="2-layer")
    ax.plot(np.arange(len(costs_L)) * 100, costs_L, label="4-layer")
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    ax.legend()
    wrong = np.flatnonzero(predict(deep, X_test).ravel() != y_test.ravel())[:8]
    for k, i in enumerate(wrong):
        a = fig.add_subplot(2, 8, 5 + k + (k // 4) * 4)
        a.imshow(X_test[i].reshape(28, 28), cmap="gray")
        true = CLASSES[args.pos if y_test[i, 0] else args.neg]
        a.set_title(f"true: {true}", fontsize=7)
        a.axis("off")
    fig.tight_layout()
    fig.savefig(args.out / "deep_network.png", dpi=100)
    print(f"picture: {args.out / 'deep_network.png'}")

# %%
results.finish()
