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
# # Course 2, week 3: hyperparameter tuning (log scale, random rather than grid, coarse to fine)
#
# The lecture gives three pieces of advice for searching hyperparameters:
#
# 1. **Use the appropriate scale.** A learning rate between 1e-4 and 1 sampled uniformly
#    puts 90% of the samples between 0.1 and 1; sample `r` uniformly in [-4, 0] and use
#    `10**r` instead. For a momentum term β between 0.9 and 0.999, sample 1 - β on a log
#    scale (the result is sensitive to β near 1).
# 2. **Try random values, not a grid.** You do not know in advance which hyperparameter
#    matters; with a 5 x 5 grid over the learning rate α and Adam's ε, you try only 5
#    values of α (the one that matters) in 25 runs, while 25 random points try 25.
# 3. **Coarse to fine.** After a coarse random search, zoom in on the region of the best
#    points and sample more densely there.
#
# Each is measured here with `deepgrad.tune` (its `sample`, `narrow` and `best_params`, on
# Optuna's random sampler), on a small, fast variant of `deepgrad run fashion-mlp`: the
# same network family (`fashion-mlp`'s `build_model`: linear, batch norm, ReLU) with one
# hidden layer, trained with Adam for a few epochs on 5,000 Fashion-MNIST training images and
# scored on 2,000 held-out dev images. Every trial uses the same weight initialization
# (the same seed), so trials differ by their hyperparameters only. The full-size study,
# `deepgrad tune fashion-mlp --trials 20`, is in docs/tune.md.
#
# The course printed no figures for this lesson: the "course" column is empty.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np
import optuna

import deepgrad as dg
from deepgrad import optim
from deepgrad.data import split_indices
from deepgrad.recipes._common import normalize_fashion
from deepgrad.recipes.fashion_mlp import build_model
from deepgrad.train import Trainer
from deepgrad.tune.space import narrow, sample
from deepgrad.tune.study import best_params

args = _common.parse_args(
    "c2w3_tuning",
    "The course's tuning advice measured: log scale, random beats grid, coarse to fine.",
    grid=(int, None, "values per axis of the grid (default 5; 3 with --quick): grid^2 trials, as many random"),
    trials=(int, None, "trials per coarse-to-fine stage (default 12; 4 with --quick)"),
)
results = _common.Results(args)
GRID = args.grid or (3 if args.quick else 5)
STAGE = args.trials or (4 if args.quick else 12)
N_TRAIN, N_DEV, EPOCHS = (1500, 1000, 1) if args.quick else (5000, 2000, 2)
optuna.logging.set_verbosity(optuna.logging.WARNING)
plt = _common.pyplot()


def draws(space, n, seed):
    """``n`` points of ``space`` drawn by deepgrad.tune's ``sample`` through Optuna's random sampler."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    out = []
    for _ in range(n):
        t = study.ask()
        out.append(sample(t, space))
        study.tell(t, 0.0)
    return out


# %% [markdown]
# ## 1. The appropriate scale
#
# 1,000 learning rates between 1e-4 and 1, drawn uniformly and log-uniformly (`"log": True`
# in a deepgrad search space), counted per decade; and 1,000 momentum terms β between 0.9
# and 0.999, drawn uniformly in β and log-uniformly in 1 - β, counting those above 0.99
# (an average over more than 100 steps: where β is most sensitive).

# %%
lin = np.array([p["lr"] for p in draws({"lr": {"low": 1e-4, "high": 1.0, "log": False}}, 1000, args.seed)])
log = np.array([p["lr"] for p in draws({"lr": {"low": 1e-4, "high": 1.0, "log": True}}, 1000, args.seed)])
decades = [(1e-4, 1e-3), (1e-3, 1e-2), (1e-2, 1e-1), (1e-1, 1.0)]


def per_decade(v):
    return [float(np.mean((v >= a) & (v < b if b < 1 else v <= b))) for a, b in decades]


share_lin, share_log = per_decade(lin), per_decade(log)
beta_lin = np.array([p["beta"] for p in draws({"beta": {"low": 0.9, "high": 0.999}}, 1000, args.seed)])
beta_log = 1 - np.array([p["omb"] for p in draws({"omb": {"low": 0.001, "high": 0.1, "log": True}}, 1000, args.seed)])
above_lin, above_log = float(np.mean(beta_lin > 0.99)), float(np.mean(beta_log > 0.99))
print("share of learning rates per decade   uniform   log-uniform")
for (a, b), u, g in zip(decades, share_lin, share_log):
    print(f"  [{a:g}, {b:g})".ljust(36) + f"{u:>8.1%}  {g:>11.1%}")
print(f"beta > 0.99: {above_lin:.1%} of uniform draws, {above_log:.1%} of draws of 1 - beta on a log scale")

# %% [markdown]
# ## 2. Random beats grid when one hyperparameter matters more
#
# The lecture's own example: the learning rate α (it matters) and Adam's ε (it hardly
# does), α in [1e-4, 0.3] and ε in [1e-10, 1e-6], both on a log scale. A 5 x 5 grid and 25
# random points each cost 25 training runs.

# %%
X_all, y_all = _common.load_fashion_mnist("train")
tr_idx, dev_idx = split_indices(y_all, (N_TRAIN, N_DEV), stratify=True, seed=args.seed)
train = (normalize_fashion(X_all[tr_idx].astype(np.float32) / 255.0), y_all[tr_idx])
dev = (normalize_fashion(X_all[dev_idx].astype(np.float32) / 255.0), y_all[dev_idx])
runs = []


def dev_accuracy(lr, eps=1e-8, units=64, one_minus_beta1=0.1, label=""):
    """Train the small fashion-mlp variant with these hyperparameters; its dev accuracy."""
    dg.manual_seed(args.seed)
    model = build_model((int(units),), 0.0)
    opt = optim.Adam(model.parameters(), lr=lr, betas=(1 - one_minus_beta1, 0.999), eps=eps)
    trainer = Trainer(model, opt, batch_size=128, progress=False, seed=args.seed)
    history = trainer.fit(train, epochs=EPOCHS)
    ok = history.status()["status"] == "ok"
    acc = trainer.evaluate(dev)["accuracy"] if ok else 0.0  # a diverged run scores nothing
    runs.append({"label": label, "lr": lr, "eps": eps, "units": int(units), "one_minus_beta1": one_minus_beta1,
                 "dev_accuracy": acc, "status": history.status()["status"]})
    return acc


space2 = {"lr": {"low": 1e-4, "high": 0.3, "log": True}, "eps": {"low": 1e-10, "high": 1e-6, "log": True}}
axis_lr = np.geomspace(1e-4, 0.3, GRID)
axis_eps = np.geomspace(1e-10, 1e-6, GRID)
grid = [{"lr": float(a), "eps": float(e)} for a in axis_lr for e in axis_eps]
rand = draws(space2, GRID * GRID, args.seed + 1)
grid_acc = [dev_accuracy(**p, label="grid") for p in grid]
rand_acc = [dev_accuracy(**p, label="random") for p in rand]
distinct_grid = len({round(p["lr"], 12) for p in grid})
distinct_rand = len({round(p["lr"], 12) for p in rand})
spread_eps = [max(a for p, a in zip(grid, grid_acc) if p["lr"] == lr) - min(a for p, a in zip(grid, grid_acc)
                                                                              if p["lr"] == lr) for lr in axis_lr]
best_grid, best_rand = max(grid_acc), max(rand_acc)
print(f"grid:   {len(grid)} runs, {distinct_grid} distinct learning rates, best dev accuracy {best_grid:.4f}")
print(f"random: {len(rand)} runs, {distinct_rand} distinct learning rates, best dev accuracy {best_rand:.4f}")
print(f"epsilon's effect: at a fixed learning rate the {GRID} values of eps move dev accuracy by at most "
      f"{max(spread_eps):.4f}")

# %% [markdown]
# ## 3. Coarse to fine
#
# A space of three hyperparameters (learning rate, 1 - β1, hidden units, all on log
# scales). Stage 1 draws points over the whole space; `deepgrad.tune`'s `narrow` then
# shrinks each range around the best trials of stage 1 (`best_params`: the best tenth, at
# least 2; their span widened by half on each side, at least x2 on a log scale), and stage
# 2 draws as many points there. As a control, the same number of extra points is drawn over
# the whole space: does zooming in beat simply searching longer?

# %%
space3 = {"lr": {"low": 1e-4, "high": 0.3, "log": True},
          "one_minus_beta1": {"low": 0.01, "high": 0.3, "log": True},
          "units": {"low": 16, "high": 256, "log": True, "int": True}}


def run_stage(study, space, n, label):
    out = []
    for _ in range(n):
        t = study.ask()
        p = sample(t, space)
        acc = dev_accuracy(**p, label=label)
        study.tell(t, acc)
        out.append((p, acc))
    return out


study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=args.seed + 2))
coarse = run_stage(study, space3, STAGE, "coarse")
fine_space = narrow(space3, best_params(study))
study.sampler = optuna.samplers.RandomSampler(seed=args.seed + 3)
fine = run_stage(study, fine_space, STAGE, "fine")
control_study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=args.seed + 3))
control = run_stage(control_study, space3, STAGE, "control")
best_coarse = max(a for _, a in coarse)
best_fine = max(a for _, a in fine)
best_control = max(a for _, a in control)
median_coarse = float(np.median([a for _, a in coarse]))
median_fine = float(np.median([a for _, a in fine]))
print("narrowed ranges: " + ", ".join(f"{k} [{v['low']:.3g}, {v['high']:.3g}]" for k, v in fine_space.items()))
print(f"stage 1 (coarse): best {best_coarse:.4f}, median {median_coarse:.4f}")
print(f"stage 2 (fine):   best {best_fine:.4f}, median {median_fine:.4f}")
print(f"control ({STAGE} more over the whole space): best {best_control:.4f}")

# %%
if plt is not None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    bins = np.geomspace(1e-4, 1, 17)
    axes[0].hist(lin, bins=bins, alpha=0.6, label="uniform in lr")
    axes[0].hist(log, bins=bins, alpha=0.6, label="uniform in log10(lr)")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("learning rate")
    axes[0].set_ylabel("samples (of 1,000)")
    axes[0].set_title("the appropriate scale")
    axes[0].legend(fontsize=8)
    axes[1].scatter([p["lr"] for p in grid], grid_acc, marker="s", s=40, label=f"{GRID}x{GRID} grid", alpha=0.7)
    axes[1].scatter([p["lr"] for p in rand], rand_acc, marker="o", s=25, label=f"{GRID * GRID} random", alpha=0.7)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("learning rate (eps varies too)")
    axes[1].set_ylabel("dev accuracy")
    axes[1].set_title(f"grid tries {distinct_grid} learning rates, random {distinct_rand}")
    axes[1].legend(fontsize=8)
    for pts, m, lab in ((coarse, "o", "stage 1: coarse"), (fine, "^", "stage 2: fine"), (control, "x", "control")):
        axes[2].scatter([p["lr"] for p, _ in pts], [a for _, a in pts], marker=m, s=30, label=lab, alpha=0.75)
    axes[2].axvspan(fine_space["lr"]["low"], fine_space["lr"]["high"], color="grey", alpha=0.15,
                    label="narrowed lr range")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("learning rate (1 - beta1 and units vary too)")
    axes[2].set_ylabel("dev accuracy")
    axes[2].set_title("coarse to fine")
    axes[2].legend(fontsize=8)
    for ax in axes[1:]:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out / "tuning.png", dpi=90)
    plt.close(fig)

# %%
for (a, b), u, g in zip(decades, share_lin, share_log):
    results.add(f"share of lr samples in [{a:g}, {b:g}): uniform", ours=u, pct=True,
                note=f"log-uniform: {100 * g:.1f}%")
results.add("share of beta samples above 0.99: uniform in beta", ours=above_lin, pct=True,
            note=f"1 - beta log-uniform: {100 * above_log:.1f}%")
results.add(f"grid {GRID}x{GRID}: distinct learning rates tried", ours=distinct_grid)
results.add(f"random {GRID * GRID}: distinct learning rates tried", ours=distinct_rand)
results.add(f"grid {GRID}x{GRID}: best dev accuracy", ours=best_grid, pct=True)
results.add(f"random {GRID * GRID}: best dev accuracy", ours=best_rand, pct=True)
results.add("eps (the unimportant one): largest effect at a fixed lr", ours=max(spread_eps), pct=True)
results.add(f"coarse stage ({STAGE} trials): best dev accuracy", ours=best_coarse, pct=True,
            note=f"median {100 * median_coarse:.1f}%")
results.add(f"fine stage ({STAGE} trials, narrowed ranges): best dev accuracy", ours=best_fine, pct=True,
            note=f"median {100 * median_fine:.1f}%")
results.add(f"control ({STAGE} more trials, whole space): best dev accuracy", ours=best_control, pct=True)
results["share_per_decade"] = {"uniform": share_lin, "log_uniform": share_log}
results["fine_space"] = fine_space
results["runs"] = runs
results["setup"] = {"train": N_TRAIN, "dev": N_DEV, "epochs": EPOCHS, "grid": GRID, "stage": STAGE}
results.finish()
