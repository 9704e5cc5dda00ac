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
# # Course 1, week 3: planar data classification with one hidden layer
#
# The "flower": 400 points in the plane, two classes arranged in petals. No straight
# line separates them, so logistic regression is barely better than a coin (the course
# gets 47%). One hidden layer of 4 tanh units draws curved boundaries and gets about
# 90%. The course then sweeps the hidden size from 1 to 50 units: small layers underfit,
# beyond a few units the gain stops.
#
# The network is `Linear(2, n_h) -> tanh -> Linear(n_h, 1) -> sigmoid`, built from
# deepgrad's layers; the course's `initialize_parameters` (small random weights,
# `randn * 0.01`, zero biases), its full-batch gradient descent (learning rate 1.2,
# 10,000 iterations) and its cross-entropy cost are kept. The sigmoid is folded into the
# loss (`binary_cross_entropy_with_logits`), which is the numerically safe way to write
# `sigmoid` + cross-entropy.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.data.datasets import make_flower

args = _common.parse_args("c1w3_planar", "Planar flower: logistic regression vs one hidden tanh layer.")
dg.manual_seed(args.seed)
results = _common.Results(args)

X_np, y = make_flower(n=400, seed=args.seed)  # X (400, 2), y (400,) in {0, 1}
Y_np = _common.column(y)  # (400, 1) targets for the sigmoid output
X, Y = dg.tensor(X_np), dg.tensor(Y_np)
print(f"X {X.shape}, Y {Y.shape}: {int(Y_np.sum())} points of class 1")


# %% [markdown]
# ## The model and its training loop
#
# `train` is the course's `nn_model`: initialise, then repeat forward, cost, backward,
# update. `opt.step()` is the course's `update_parameters` (`W -= lr * dW`).


# %%
def make_model(n_h):
    """``n_h`` = 0 gives logistic regression (no hidden layer)."""
    if n_h == 0:
        model = nn.Sequential(nn.Linear(2, 1))
    else:
        model = nn.Sequential(nn.Linear(2, n_h), nn.Tanh(), nn.Linear(n_h, 1))
    for layer in model:
        if isinstance(layer, nn.Linear):  # the course's initialize_parameters
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)
    return model


def train(model, X, Y, num_iterations=10000, learning_rate=1.2, print_cost=False):
    opt = optim.SGD(model.parameters(), lr=learning_rate)
    costs = []
    for i in range(num_iterations):
        cost = F.binary_cross_entropy_with_logits(model(X), Y)
        opt.zero_grad()
        cost.backward()
        opt.step()
        if i % 1000 == 0:
            costs.append(cost.item())
            if print_cost:
                print(f"cost after iteration {i}: {cost.item():.6f}")
    return costs


def predict(model, X):
    """Class labels (m,): 1 where the output probability exceeds 0.5 (logit > 0)."""
    with dg.no_grad():
        return (model(dg.tensor(X)).numpy() > 0).astype(np.float32).ravel()


# %% [markdown]
# ## Logistic regression (no hidden layer): the course gets 47%

# %%
iterations = 2000 if args.quick else 10000
logreg = make_model(0)
train(logreg, X, Y, iterations, learning_rate=1.2)
acc_logreg = _common.accuracy(predict(logreg, X_np), Y_np)
print(f"logistic regression accuracy: {acc_logreg:.1%}")
results.add("logistic regression (accuracy on the 400 points)", 0.47, acc_logreg, pct=True)

# %% [markdown]
# ## One hidden layer of 4 tanh units: the course gets 90%

# %%
net = make_model(4)
costs = train(net, X, Y, iterations, learning_rate=1.2, print_cost=not args.quick)
acc_net = _common.accuracy(predict(net, X_np), Y_np)
print(f"hidden layer of 4 tanh units: accuracy {acc_net:.1%}")
results.add(f"4 tanh hidden units, {iterations} iterations", 0.90, acc_net, pct=True)
results["costs_4_units"] = costs

# %% [markdown]
# ## Hidden-layer size sweep (the course: 5,000 iterations each)
#
# The course's figures: 1 unit 67.5%, 2 units 67.25%, 3 units 90.75%, 4 units 90.5%,
# 5 units 91.25%, 20 units 90%, 50 units 90.75%. Larger layers fit the training points
# slightly better but start to fit noise; regularization (course 2) is the remedy.

# %%
course_sweep = {1: 0.675, 2: 0.6725, 3: 0.9075, 4: 0.905, 5: 0.9125, 20: 0.90, 50: 0.9075}
sweep_iterations = 1000 if args.quick else 5000
sweep_models = {}
for n_h in course_sweep:
    m = make_model(n_h)
    train(m, X, Y, sweep_iterations, learning_rate=1.2)
    acc = _common.accuracy(predict(m, X_np), Y_np)
    sweep_models[n_h] = (m, acc)
    print(f"{n_h:>2} hidden units: accuracy {acc:.1%}")
    results.add(f"sweep: {n_h} hidden units", course_sweep[n_h], acc, pct=True)
results["sweep"] = {str(k): acc for k, (_, acc) in sweep_models.items()}

# %% [markdown]
# ## Decision boundaries

# %%
plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(3, 3, figsize=(10, 10))
    panels = [("logistic regression", logreg, acc_logreg), ("4 tanh units", net, acc_net)]
    panels += [(f"{n_h} hidden units", m, acc) for n_h, (m, acc) in sweep_models.items()]
    for ax, (title, m, acc) in zip(axes.ravel(), panels):
        _common.plot_decision_boundary(ax, lambda P, m=m: predict(m, P), X_np, Y_np, f"{title}: {acc:.1%}")
    fig.tight_layout()
    fig.savefig(args.out / "decision_boundaries.png", dpi=90)
    print(f"picture: {args.out / 'decision_boundaries.png'}")

# %%
results.finish()
