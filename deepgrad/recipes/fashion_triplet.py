"""Fashion-MNIST "face recognition": a siamese embedding trained with the triplet loss and semi-hard mining (course 4, week 4).

The course's FaceNet exercise with clothes for faces: classes 0-6 (T-shirt, trouser,
pullover, dress, coat, sandal, shirt) are the identities seen in training; classes 7-9
(sneaker, bag, ankle boot) are never seen. An embedding network (two fused
conv-ReLU-pool stages 16-32 with batch norm, fc 128, fc 64, L2 normalization) is trained
with the triplet loss (margin alpha = 0.2, squared distances, as in the course) on
batches of 7 classes x 12 images, with online semi-hard negative mining, by Adam with a
cosine schedule. Verification ("same class or not?") thresholds the squared distance
between two embeddings; the threshold is chosen on dev pairs (held out of the training
split) and applied to test pairs (the test split): of classes 0-6 (verification
accuracy, target >= 85%) and of the unseen classes 7-9. One-shot identification on the
unseen classes: one reference image per class, each query named by its nearest reference.
Writes the ROC curves (seen and unseen classes) with the chosen threshold marked.

Measured (seed 0, one BLAS thread): test verification accuracy **90.6%** on seen classes
(threshold d^2 <= 1.224 from dev, 91.4% there; AUC 0.963); unseen classes: 65.2%
verification (AUC 0.723), 66.1% one-shot 3-way identification (chance 33%); 759 s on the
2-core machine shared with ~20 other processes.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

#: the ``deepgrad run`` flags this recipe takes (see deepgrad.recipes)
FLAGS = ("epochs", "seed", "lr")

DEFAULTS: dict[str, Any] = {"steps": 1500, "classes_per_batch": 7, "per_class": 12, "lr": 2e-3, "margin": 0.2, "dim": 64,
            "widths": [16, 32], "hidden": 128, "dev_per_class": 300, "pairs": 4000, "one_shot_trials": 500,
            "seen": [0, 1, 2, 3, 4, 5, 6], "unseen": [7, 8, 9], "eval_every": 250}
QUICK: dict[str, Any] = {"steps": 15, "dev_per_class": 30, "pairs": 300, "one_shot_trials": 30, "eval_every": 15, "test_limit": 1000}


def run(args) -> dict:
    import deepgrad as dg

    from .. import optim
    from ..data.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
    from ..tensor import Tensor
    from ..train.history import History
    from ..vision import verification as V
    from ._common import normalize_fashion, out_dir, setting
    from .shapes_common import finish_run, pyplot

    t0 = time.perf_counter()
    recipe = "fashion-triplet"
    quick = bool(getattr(args, "quick", False))
    seed = setting(args, "seed", 0)
    cfg = {**DEFAULTS, **(QUICK if quick else {}), "quick": quick}
    cfg.update(lr=setting(args, "lr", cfg["lr"]))
    if getattr(args, "epochs", None):  # --epochs N: N x 100 training steps
        cfg["steps"] = int(args.epochs) * 100
    out = out_dir(args, recipe)
    rng = np.random.default_rng(seed)

    X, y = load_fashion_mnist("train")
    Xt, yt = load_fashion_mnist("test")
    X, Xt = normalize_fashion(X), normalize_fashion(Xt)
    seen, unseen = np.array(cfg["seen"]), np.array(cfg["unseen"])
    # dev: a stratified slice of the training split's seen classes, held out of training
    dev_idx = np.concatenate([rng.choice(np.flatnonzero(y == c), cfg["dev_per_class"], replace=False) for c in seen])
    train_mask = np.isin(y, seen)
    train_mask[dev_idx] = False
    Xtr, ytr = X[train_mask], y[train_mask]
    Xdev, ydev = X[dev_idx], y[dev_idx]
    if quick:
        Xt, yt = Xt[: cfg["test_limit"]], yt[: cfg["test_limit"]]
    ts, tu = np.isin(yt, seen), np.isin(yt, unseen)
    Xs, ys, Xu, yu = Xt[ts], yt[ts], Xt[tu], yt[tu]
    cfg.update(train_examples=int(len(ytr)), dev_examples=int(len(ydev)), test_seen=int(len(ys)),
               test_unseen=int(len(yu)))

    dg.manual_seed(seed)
    model = V.EmbeddingNet(cfg["dim"], cfg["widths"], cfg["hidden"])
    opt = optim.Adam(model.parameters(), lr=cfg["lr"])
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg["steps"], eta_min=cfg["lr"] * 0.01)
    batches = V.pk_batches(ytr, cfg["classes_per_batch"], cfg["per_class"], cfg["steps"], rng)
    pair_rng = np.random.default_rng(seed + 1)
    dev_pairs = V.make_pairs(ydev, cfg["pairs"], pair_rng)
    seen_pairs = V.make_pairs(ys, cfg["pairs"], pair_rng)
    unseen_pairs = V.make_pairs(yu, cfg["pairs"], pair_rng)

    def pair_dist(emb, pairs):
        i, j, _ = pairs
        return ((emb[i] - emb[j]) ** 2).sum(1)

    history = History()
    sums: dict[str, float] = {}
    n, t_block = 0, time.perf_counter()
    for step, idx in enumerate(batches, 1):
        model.train()
        loss, stats = V.triplet_loss(model(Tensor._wrap(Xtr[idx])), ytr[idx], cfg["margin"])
        v = float(loss.data)
        if not np.isfinite(v):
            raise FloatingPointError(f"{recipe}: loss is {v} at step {step}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        for k, val in {"loss": v, **stats}.items():
            sums[k] = sums.get(k, 0.0) + val
        n += 1
        if step % cfg["eval_every"] == 0 or step == len(batches):
            d = pair_dist(V.embed(model, Xdev), dev_pairs)
            thr, acc = V.best_threshold(d, dev_pairs[2])
            row = {"epoch": len(history) + 1, "step": step, **{f"train_{k}": s / n for k, s in sums.items()},
                   "dev_accuracy": acc, "dev_threshold": thr, "time": round(time.perf_counter() - t_block, 3)}
            history.append(row)
            print(f"{recipe} step {step}/{len(batches)}  train loss {row['train_loss']:.4f}  "
                  f"active {row['train_active']:.2f}  dev verification {acc:.4f} at d^2 <= {thr:.3f}  "
                  f"({row['time']:.1f} s)", flush=True)
            sums, n, t_block = {}, 0, time.perf_counter()

    d_dev = pair_dist(V.embed(model, Xdev), dev_pairs)
    thr, dev_acc = V.best_threshold(d_dev, dev_pairs[2])
    e_s, e_u = V.embed(model, Xs), V.embed(model, Xu)
    d_s, d_u = pair_dist(e_s, seen_pairs), pair_dist(e_u, unseen_pairs)
    acc_s = float(np.mean((d_s <= thr) == seen_pairs[2]))
    acc_u = float(np.mean((d_u <= thr) == unseen_pairs[2]))
    fpr_s, tpr_s, auc_s = V.roc_curve(d_s, seen_pairs[2])
    fpr_u, tpr_u, auc_u = V.roc_curve(d_u, unseen_pairs[2])
    one_shot = V.one_shot_accuracy(e_u, yu, cfg["one_shot_trials"], np.random.default_rng(seed + 2))
    results = {"test_verification_accuracy": acc_s, "test_unseen_verification_accuracy": acc_u,
               "dev_verification_accuracy": dev_acc, "threshold": thr, "test_auc": auc_s, "test_unseen_auc": auc_u,
               "test_unseen_one_shot_accuracy": one_shot, "one_shot_chance": 1 / len(unseen),
               "train_time_s": round(sum(r["time"] for r in history.rows), 1)}

    pictures = []
    plt = pyplot()
    if plt is not None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.6))
        ax = axes[0]
        for fpr, tpr, auc, name, d, pairs in ((fpr_s, tpr_s, auc_s, "seen classes 0-6", d_s, seen_pairs),
                                              (fpr_u, tpr_u, auc_u, "unseen classes 7-9", d_u, unseen_pairs)):
            line, = ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
            same = pairs[2]
            ax.plot(np.mean(d[~same] <= thr), np.mean(d[same] <= thr), "o", color=line.get_color())
        ax.plot([0, 1], [0, 1], ":", color="gray")
        ax.set_xlabel("false positive rate (different pairs called same)")
        ax.set_ylabel("true positive rate (same pairs called same)")
        ax.set_title(f"test ROC; dots: dev threshold d^2 <= {thr:.2f}\nverification {acc_s:.3f} seen, "
                     f"{acc_u:.3f} unseen; one-shot (3-way) {one_shot:.3f}", fontsize=9)
        ax.legend(loc="lower right")
        ax.grid(alpha=0.3)
        ax = axes[1]
        bins = np.linspace(0, 4, 60)
        ax.hist(d_s[seen_pairs[2]], bins, alpha=0.6, label="same class (seen)")
        ax.hist(d_s[~seen_pairs[2]], bins, alpha=0.6, label="different classes (seen)")
        ax.axvline(thr, color="k", ls="--", label="threshold")
        ax.set_xlabel("squared distance between embeddings")
        ax.set_title("distances of test pairs", fontsize=9)
        ax.legend()
        fig.suptitle(f"{recipe}: Fashion-MNIST classes as identities ({', '.join(FASHION_MNIST_CLASSES[c] for c in unseen)}"
                     " never seen in training)", fontsize=9)
        fig.tight_layout()
        p = f"{out}/roc.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        pictures.append(p)
    metrics = finish_run(out, recipe, model, history, results, cfg, seed, t0, pictures)
    print(f"{recipe}: test verification accuracy {acc_s:.4f} (seen classes), {acc_u:.4f} (unseen 7-9), "
          f"threshold d^2 <= {thr:.3f} from dev ({dev_acc:.4f}); one-shot 3-way on unseen {one_shot:.4f}  "
          f"({metrics['wall_time_s']:.1f} s)  -> {out}")
    return metrics
