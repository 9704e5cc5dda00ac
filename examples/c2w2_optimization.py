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
# # Course 2, week 2: optimization methods
#
# A 3-layer ReLU network (`2 -> 5 -> 2 -> 1`, He initialization) on the "moons", trained
# with mini-batches of 64 for 5,000 epochs by three optimizers:
#
# * **mini-batch gradient descent**: `W -= lr * dW` (course: 79.7% at lr 0.0007);
# * **momentum**: `v = beta v + (1 - beta) dW; W -= lr * v`, beta = 0.9 (course: 79.7%);
# * **Adam**: momentum and RMSprop together, with bias correction (course: 94%).
#
# At the course's small learning rate only Adam gets far in 5,000 epochs. With a larger
# rate and **learning-rate decay** (`lr = lr0 / (1 + decay_rate * floor(epoch / 1000))`,
# the course's `schedule_lr_decay`, here `optim.lr_scheduler.InverseTimeDecay(...,
# staircase=True)`) all three reach about 94%.
#
# In PyTorch's (and deepgrad's) `SGD`, momentum is `v = beta v + g` without the `(1 - beta)`;
# `dampening=beta` gives the course's form exactly (after the first step).
#
# A last section draws each optimizer's path on a 2-D loss surface.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.data.datasets import make_moons

args = _common.parse_args("c2w2_optimization", "Mini-batch GD vs momentum vs Adam on moons, with and without LR decay.", seed=3)
results = _common.Results(args)

# The course: sklearn's make_moons(n_samples=300, noise=0.2) with seed 3.
X_train, y = make_moons(n=300, noise=0.2, seed=args.seed)
y_train = _common.column(y)
print(f"train {X_train.shape}")


# %% [markdown]
# ## Model, optimizers, training loop


# %%
def make_model():
    model = nn.Sequential(nn.Linear(2, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU(), nn.Linear(2, 1))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.he_normal_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


def make_optimizer(name, params, lr):
    if name == "gd":
        return optim.SGD(params, lr=lr)
    if name == "momentum":
        return optim.SGD(params, lr=lr, momentum=0.9, dampening=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    raise ValueError(name)


def train(opt_name, lr, num_epochs, decay=False, seed=0):
    dg.manual_seed(seed)
    model = make_model()
    opt = make_optimizer(opt_name, model.parameters(), lr)
    schedule = optim.lr_scheduler.InverseTimeDecay(opt, decay_rate=1.0, time_interval=1000, staircase=True) if decay else None
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=64, shuffle=True, seed=seed)
    costs = []
    for epoch in range(num_epochs):
        total = 0.0
        for xb, yb in loader:  # a new random split into mini-batches each epoch
            cost = F.binary_cross_entropy_with_logits(model(xb), yb)
            opt.zero_grad()
            cost.backward()
            opt.step()
            total += cost.item() * len(xb)
        if schedule is not None:
            schedule.step()
        if epoch % 100 == 0:
            costs.append(total / len(X_train))
    with dg.no_grad():
        pred = (model(dg.tensor(X_train)).numpy() > 0).astype(np.float32)
    return model, costs, _common.accuracy(pred, y_train)


# %% [markdown]
# ## Without decay (course's learning rate 0.0007), then with decay
#
# The accuracies are on the training set, as in the course.

# %%
epochs = 300 if args.quick else 5000
runs = {
    ("gd", 0.0007, False): 0.717, ("momentum", 0.0007, False): 0.717, ("adam", 0.0007, False): 0.943,
    ("gd", 0.1, True): 0.947, ("momentum", 0.1, True): 0.943, ("adam", 0.01, True): 0.94,
}
trained = {}
for (name, lr, decay), course_acc in runs.items():
    model, costs, acc = train(name, lr, epochs, decay, seed=args.seed)
    label = f"{name}, lr {lr:g}" + (", with decay" if decay else "")
    trained[label] = (model, costs, acc)
    print(f"{label:<28} final cost {costs[-1]:.4f}  accuracy {acc:.1%}")
    results.add(f"{label} ({epochs} epochs)", course_acc, acc, pct=True)
    results[f"costs {label}"] = costs

# %% [markdown]
# ## Each optimizer's path on a 2-D loss surface
#
# `J(w) = 0.01 w0^2 + w1^2` is a long narrow valley, the lecture's picture. Gradient
# descent cannot take a learning rate above 1 (the steep direction would diverge), so it
# crawls along the valley floor. Momentum accumulates the small, consistent gradient
# along the floor while the oscillations across it cancel (here PyTorch's form,
# `v = 0.9 v + g`, whose steps along the floor grow to 10x the gradient step). RMSprop
# and Adam divide each step by the recent gradient size, so both directions move at a
# similar speed. The optimizers work on any tensor, here a single `Parameter` of shape (2,).


# %%
def valley(w):
    return 0.01 * w[0] * w[0] + w[1] * w[1]


def path(make_opt, steps=60, start=(-9.0, 1.5)):
    w = nn.Parameter(np.array(start, dtype=np.float32))
    opt = make_opt([w])
    points = [w.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        valley(w).backward()
        opt.step()
        points.append(w.numpy().copy())
    return np.array(points)


paths = {
    "gradient descent (lr 0.9)": path(lambda p: optim.SGD(p, lr=0.9)),
    "momentum 0.9 (lr 0.3)": path(lambda p: optim.SGD(p, lr=0.3, momentum=0.9)),
    "RMSprop (lr 0.1)": path(lambda p: optim.RMSprop(p, lr=0.1)),
    "Adam (lr 0.5)": path(lambda p: optim.Adam(p, lr=0.5)),
}
for name, pts in paths.items():
    final = float(valley(dg.tensor(pts[-1])).item())
    print(f"{name:<28} J after 60 steps: {final:.3g}")
    results.add(f"valley J(w) after 60 steps: {name}", None, final)
results["paths"] = {k: v.tolist() for k, v in paths.items()}

plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    a, b = np.meshgrid(np.linspace(-10, 3, 200), np.linspace(-2.5, 2.5, 200))
    axes[0].contour(a, b, 0.01 * a**2 + b**2, levels=np.geomspace(0.005, 6, 14), cmap="Greys", linewidths=0.6)
    for name, pts in paths.items():
        axes[0].plot(pts[:, 0], pts[:, 1], ".-", markersize=3, linewidth=1, label=name)
    axes[0].plot([0], [0], "k*", markersize=10)
    axes[0].set_title("60 steps on J(w) = 0.01 w0^2 + w1^2")
    axes[0].legend(fontsize=8)
    for label, (_, costs, acc) in trained.items():
        axes[1].plot(np.arange(len(costs)) * 100, costs, label=f"{label}: {acc:.1%}")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("cost")
    axes[1].set_title("moons: training cost")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out / "optimizers.png", dpi=100)

    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    for ax, (label, (model, _, acc)) in zip(axes.ravel(), trained.items()):
        def predict(P, m=model):
            with dg.no_grad():
                return (m(dg.tensor(P)).numpy() > 0).astype(np.float32).ravel()
        _common.plot_decision_boundary(ax, predict, X_train, y_train, f"{label}: {acc:.1%}")
    fig.tight_layout()
    fig.savefig(args.out / "decision_boundaries.png", dpi=90)
    print(f"pictures: {args.out / 'optimizers.png'}, {args.out / 'decision_boundaries.png'}")

# %%
results.finish()
