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
# # Course 4, week 4: face recognition with the triplet loss (on Fashion-MNIST)
#
# FaceNet maps a face to a 128-number encoding on the unit sphere, trained so that two
# pictures of the same person are close and pictures of different people far apart:
# the **triplet loss** `max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0)` with
# alpha = 0.2. **Verification** ("is this the person they claim to be?") thresholds the
# distance to their database picture (the course uses 0.7); **recognition** ("who is
# this?") takes the nearest database entry, from a single picture per person (one-shot).
#
# There are no face photographs here, so the "identities" are Fashion-MNIST's clothing
# classes: the network is trained on classes 0-6 (T-shirt, trouser, pullover, dress,
# coat, sandal, shirt) and then asked about classes it has **never seen** (sneaker, bag,
# ankle boot), as FaceNet is asked about people who were not in its training set.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import optim
from deepgrad.data.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from deepgrad.vision import verification as V

args = _common.parse_args("c4w4_face_recognition", "Siamese embeddings and the triplet loss on Fashion-MNIST.",
                          steps=(int, 800, "training steps (default 800)"))
dg.manual_seed(args.seed)
results = _common.Results(args)
steps = 12 if args.quick else args.steps
MARGIN = 0.2

# %% [markdown]
# ## 1. The triplet loss, with semi-hard negatives chosen inside each batch
#
# Random triplets are mostly too easy (the loss is already 0) and teach nothing. FaceNet
# picks them online: each batch holds several images of several classes; for every
# anchor-positive pair the negative is the closest one that is still farther than the
# positive (**semi-hard**), so the loss is positive but not dominated by outliers.

# %%
rng = np.random.default_rng(0)
emb = V.l2_normalize(dg.tensor(rng.standard_normal((6, 4))))
labels = np.array([0, 0, 1, 1, 2, 2])
loss, stats = V.triplet_loss(emb, labels, MARGIN)
a, p, n = V.semi_hard_triplets(V.pairwise_sq_distances(emb).data, labels)
print(f"6 random unit vectors, 3 classes: {len(a)} anchor-positive pairs, loss {float(loss.data):.4f}, "
      f"{stats['semi_hard']:.0%} with a semi-hard negative")
results.add("triplet loss margin alpha", 0.2, MARGIN)

# %% [markdown]
# ## 2. Data: seen identities for training, unseen ones for the test

# %%
X, y = load_fashion_mnist("train")
Xt, yt = load_fashion_mnist("test")
X, Xt = (X - 0.2860) / 0.3530, (Xt - 0.2860) / 0.3530
seen, unseen = np.arange(7), np.array([7, 8, 9])
train_mask = np.isin(y, seen)
dev_idx = np.flatnonzero(train_mask)[-2100:]  # held out of training, to choose the threshold
train_mask[dev_idx] = False
Xtr, ytr = X[train_mask], y[train_mask]
if args.quick:
    Xt, yt = Xt[:1000], yt[:1000]
Xu, yu = Xt[np.isin(yt, unseen)], yt[np.isin(yt, unseen)]
Xs, ys = Xt[np.isin(yt, seen)], yt[np.isin(yt, seen)]
print(f"train {len(ytr)} images of classes 0-6; dev {len(dev_idx)}; test: {len(ys)} seen, {len(yu)} unseen")

# %% [markdown]
# ## 3. Training the encoder
#
# Two conv-ReLU-pool stages, a hidden layer and a 64-number output, L2-normalized (the
# course's encodings have 128 numbers). Batches of 7 classes x 12 images.

# %%
model = V.EmbeddingNet(dim=64, widths=(16, 32), hidden=128)
opt = optim.Adam(model.parameters(), lr=2e-3)
sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=2e-5)
losses = []
for step, idx in enumerate(V.pk_batches(ytr, 7, 12, steps, np.random.default_rng(args.seed)), 1):
    loss, _ = V.triplet_loss(model(dg.tensor(Xtr[idx])), ytr[idx], MARGIN)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    losses.append(float(loss.data))
    if step % 200 == 0:
        print(f"step {step}: loss {np.mean(losses[-200:]):.4f}")
results["losses"] = losses

# %% [markdown]
# ## 4. Verification: a threshold on the distance, chosen on dev pairs

# %%
pr = np.random.default_rng(1)
dev_pairs, seen_pairs, unseen_pairs = (V.make_pairs(lab, 2000 if not args.quick else 300, pr)
                                       for lab in (y[dev_idx], ys, yu))
e_dev, e_s, e_u = V.embed(model, X[dev_idx]), V.embed(model, Xs), V.embed(model, Xu)
dist = lambda e, pairs: ((e[pairs[0]] - e[pairs[1]]) ** 2).sum(1)  # noqa: E731
thr, dev_acc = V.best_threshold(dist(e_dev, dev_pairs), dev_pairs[2])
acc_s = float(np.mean((dist(e_s, seen_pairs) <= thr) == seen_pairs[2]))
acc_u = float(np.mean((dist(e_u, unseen_pairs) <= thr) == unseen_pairs[2]))
print(f"threshold (squared distance) {thr:.3f}: dev {dev_acc:.4f}, test seen {acc_s:.4f}, test unseen {acc_u:.4f}")
results.add("verification threshold (distance)", 0.7, round(float(np.sqrt(thr)), 3),
            note="ours: chosen on dev pairs; course: fixed, on its own encoder")
results.add("verification accuracy, test pairs of seen classes", None, acc_s, pct=True)
results.add("verification accuracy, test pairs of unseen classes", None, acc_u, pct=True)

# %% [markdown]
# ## 5. Recognition from one picture per identity (the course's `who_is_it`)

# %%
database = {FASHION_MNIST_CLASSES[c]: e_u[np.flatnonzero(yu == c)[0]] for c in unseen}
names = list(database)
refs = np.stack([database[n] for n in names])
for q in np.flatnonzero(yu == 9)[1:4]:
    d = ((refs - e_u[q]) ** 2).sum(1)
    print(f"query (true: {FASHION_MNIST_CLASSES[yu[q]]}): it's {names[int(d.argmin())]}, distance {np.sqrt(d.min()):.3f}")
one_shot = V.one_shot_accuracy(e_u, yu, 300 if not args.quick else 30, np.random.default_rng(2))
print(f"one-shot identification among the 3 unseen classes: {one_shot:.4f} (chance 0.333)")
results.add("one-shot identification, 3 unseen classes", None, one_shot, pct=True, note="chance 33%")

plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for pairs, e, name in ((seen_pairs, e_s, "seen classes 0-6"), (unseen_pairs, e_u, "unseen classes 7-9")):
        fpr, tpr, auc = V.roc_curve(dist(e, pairs), pairs[2])
        axes[0].plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    axes[0].plot([0, 1], [0, 1], ":", color="gray")
    axes[0].set_xlabel("false positive rate")
    axes[0].set_ylabel("true positive rate")
    axes[0].set_title("verification ROC on test pairs", fontsize=9)
    axes[0].legend(loc="lower right")
    d_s = dist(e_s, seen_pairs)
    axes[1].hist(d_s[seen_pairs[2]], 50, alpha=0.6, label="same class")
    axes[1].hist(d_s[~seen_pairs[2]], 50, alpha=0.6, label="different classes")
    axes[1].axvline(thr, color="k", ls="--", label="threshold")
    axes[1].set_xlabel("squared distance")
    axes[1].set_title("test pairs of seen classes", fontsize=9)
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(args.out / "verification.png", dpi=100)
    plt.close(fig)
    print(f"picture: {args.out / 'verification.png'}")

# %%
results.finish()
