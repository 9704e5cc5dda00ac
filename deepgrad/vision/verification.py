"""Verification and one-shot recognition with a siamese embedding and the triplet loss
(course 4, week 4: face recognition, FaceNet).

A network ``f`` maps an image to a point on the unit sphere; two images show "the same
identity" when ``||f(a) - f(b)||^2`` is below a threshold. ``f`` is trained with the
triplet loss ``max(||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + alpha, 0)`` over triplets of
an anchor, a positive (same class) and a negative (another class), with **online
semi-hard mining** as in FaceNet: triplets are chosen inside each mini-batch, from the
embeddings just computed; for each anchor-positive pair the negative is the closest one
that is still farther than the positive (``d(A,P) < d(A,N)``, a "semi-hard" negative),
or, when there is none, the farthest negative (TensorFlow Addons' rule).
"""
from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..autograd import no_grad
from ..tensor import Tensor


def l2_normalize(x, axis: int = 1, eps: float = 1e-12):
    """``x / ||x||`` along ``axis`` (differentiable)."""
    return x / ops.sqrt((x * x).sum(axis=axis, keepdims=True) + eps)


class EmbeddingNet(nn.Module):
    """``(N, 1, 28, 28) -> (N, dim)`` unit vectors: two fused conv-ReLU-pool stages with batch
    norm (28 -> 14 -> 7), a hidden layer, a linear layer to ``dim``, L2 normalization."""

    def __init__(self, dim: int = 64, widths=(32, 64), hidden: int = 256, in_channels: int = 1, side: int = 28):
        super().__init__()
        layers, c = [], in_channels
        for w in widths:
            layers += [nn.Conv2dReLUMaxPool2d(c, w, 3, padding=1), nn.BatchNorm2d(w)]
            c = w
            side //= 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * side * side, hidden), nn.ReLU(),
                                  nn.Linear(hidden, dim))

    def forward(self, x):
        return l2_normalize(self.body(x))


def pairwise_sq_distances(e):
    """``(N, D) -> (N, N)`` squared Euclidean distances (differentiable; clipped at 0)."""
    sq = (e * e).sum(axis=1, keepdims=True)
    return ops.relu(sq + sq.T - 2 * (e @ e.T))


def semi_hard_triplets(d: np.ndarray, labels: np.ndarray):
    """Online semi-hard mining on a distance matrix ``(N, N)``: every anchor-positive pair
    ``(a, p)``, ``a != p``, same label, with its negative ``n``: the smallest ``d[a, n]`` that
    is greater than ``d[a, p]``, or, if no negative is farther than the positive, the
    farthest negative. Returns ``(a, p, n)`` index arrays (empty when no pair exists)."""
    labels = np.asarray(labels).reshape(-1)
    same = labels[:, None] == labels[None, :]
    a_idx, p_idx = np.nonzero(same & ~np.eye(len(labels), dtype=bool))
    if len(a_idx) == 0 or same.all():
        z = np.zeros(0, np.int64)
        return z, z, z
    dn = np.where(same, np.nan, d)  # distances to negatives only
    rows = dn[a_idx]  # (P, N)
    dap = d[a_idx, p_idx][:, None]
    outside = np.where(rows > dap, rows, np.inf)
    n_semi = np.argmin(outside, axis=1)
    has = np.isfinite(outside[np.arange(len(a_idx)), n_semi])
    n_far = np.nanargmax(rows, axis=1)
    n_idx = np.where(has, n_semi, n_far)
    return a_idx.astype(np.int64), p_idx.astype(np.int64), n_idx.astype(np.int64)


def triplet_loss(emb, labels, margin: float = 0.2):
    """Batch triplet loss with semi-hard mining: mean over all anchor-positive pairs of
    ``relu(d(a, p) - d(a, n) + margin)`` (squared distances). Returns ``(loss, stats)``,
    ``stats``: the fraction of triplets with positive loss and how many had a semi-hard negative."""
    d = pairwise_sq_distances(emb)
    a, p, n = semi_hard_triplets(d.data, labels)
    if len(a) == 0:
        raise ValueError("triplet_loss: the batch needs at least two examples of one class and one of another")
    per = ops.relu(d[a, p] - d[a, n] + margin)
    dd = d.data
    semi = np.mean(dd[a, n] > dd[a, p])
    return per.mean(), {"active": float(np.mean(per.data > 0)), "semi_hard": float(semi)}


def pk_batches(labels: np.ndarray, classes_per_batch: int, per_class: int, steps: int, rng) -> list:
    """``steps`` batches of indices, each ``per_class`` examples of each of ``classes_per_batch``
    classes drawn at random (FaceNet-style batches: every anchor has positives in its batch)."""
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    cls = np.array(sorted(by_class))
    out = []
    for _ in range(steps):
        chosen = rng.choice(cls, size=min(classes_per_batch, len(cls)), replace=False)
        out.append(np.concatenate([rng.choice(by_class[c], per_class, replace=False) for c in chosen]))
    return out


def embed(model, images, batch_size: int = 500) -> np.ndarray:
    was = model.training
    model.eval()
    out = []
    with no_grad():
        for i in range(0, len(images), batch_size):
            out.append(model(Tensor._wrap(np.ascontiguousarray(images[i:i + batch_size]))).data)
    model.train(was)
    return np.concatenate(out)


def make_pairs(labels: np.ndarray, n_pairs: int, rng):
    """``n_pairs`` index pairs ``(i, j)``, half of the same class and half of different classes,
    and ``same`` (bool). No image is paired with itself."""
    labels = np.asarray(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in np.unique(labels)}
    cls = np.array(sorted(by_class))
    n_same = n_pairs // 2
    i, j = np.empty(n_pairs, np.int64), np.empty(n_pairs, np.int64)
    for k in range(n_pairs):
        if k < n_same:
            c = rng.choice(cls)
            i[k], j[k] = rng.choice(by_class[c], 2, replace=False)
        else:
            c1, c2 = rng.choice(cls, 2, replace=False)
            i[k], j[k] = rng.choice(by_class[c1]), rng.choice(by_class[c2])
    return i, j, np.arange(n_pairs) < n_same


def best_threshold(dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """The distance threshold (``same`` predicted when ``dist <= threshold``) with the highest
    accuracy on these pairs, and that accuracy; candidates are midpoints between consecutive
    distinct distances (and below / above all of them)."""
    order = np.argsort(dist, kind="stable")
    d, s = dist[order], same[order].astype(np.int64)
    # predicting "same" for the first k pairs: correct = same among them + different after them
    correct = np.r_[0, np.cumsum(s)] + (np.sum(1 - s) - np.r_[0, np.cumsum(1 - s)])
    # a threshold cannot split equal distances: only cut between different ones
    cuts = np.r_[True, d[1:] > d[:-1], True]
    correct = np.where(cuts, correct, -1)
    k = int(np.argmax(correct))
    if k == 0:
        thr = d[0] - 1e-6
    elif k == len(d):
        thr = d[-1] + 1e-6
    else:
        thr = (d[k - 1] + d[k]) / 2
    return float(thr), float(correct[k] / len(d))


def roc_curve(dist: np.ndarray, same: np.ndarray):
    """False- and true-positive rates as the threshold sweeps over the distances ("same" when
    ``dist <= threshold``), and the area under the curve."""
    order = np.argsort(dist, kind="stable")
    s = same[order].astype(np.float64)
    tpr = np.r_[0.0, np.cumsum(s) / max(s.sum(), 1)]
    fpr = np.r_[0.0, np.cumsum(1 - s) / max((1 - s).sum(), 1)]
    return fpr, tpr, float(np.trapezoid(tpr, fpr) if hasattr(np, "trapezoid") else np.trapz(tpr, fpr))  # type: ignore[attr-defined]  # reached only on NumPy < 2.0; newer stubs drop trapz


def one_shot_accuracy(emb: np.ndarray, labels: np.ndarray, trials: int, rng, queries_per_trial: int = 20) -> float:
    """One-shot identification: in each trial take ONE reference image of every class, then
    name each of ``queries_per_trial`` other images by its nearest reference. Mean accuracy."""
    labels = np.asarray(labels)
    cls = np.unique(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in cls}
    correct = total = 0
    for _ in range(trials):
        refs = np.array([rng.choice(by_class[c]) for c in cls])
        pool = np.setdiff1d(np.arange(len(labels)), refs)
        q = rng.choice(pool, queries_per_trial, replace=False)
        d = ((emb[q][:, None, :] - emb[refs][None, :, :]) ** 2).sum(-1)
        correct += int(np.sum(cls[d.argmin(1)] == labels[q]))
        total += len(q)
    return correct / total
