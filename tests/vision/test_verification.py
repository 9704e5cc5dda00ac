"""Triplet loss with semi-hard mining, thresholds, ROC and one-shot identification, against loops."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
from deepgrad.check import gradcheck
from deepgrad.vision import verification as V


def ref_mining(d, labels):
    out = []
    n = len(labels)
    for a in range(n):
        for p in range(n):
            if a == p or labels[a] != labels[p]:
                continue
            negs = [k for k in range(n) if labels[k] != labels[a]]
            if not negs:
                continue
            farther = [k for k in negs if d[a, k] > d[a, p]]
            if farther:
                best = min(farther, key=lambda k: (d[a, k], k))
            else:
                best = max(negs, key=lambda k: (d[a, k], -k))
            out.append((a, p, best))
    return out


@given(st.lists(st.integers(0, 2), min_size=2, max_size=9), st.integers(0, 10**6))
def test_semi_hard_mining_matches_loops(labels, seed):
    labels = np.array(labels)
    e = np.random.default_rng(seed).standard_normal((len(labels), 3))
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    a, p, n = V.semi_hard_triplets(d, labels)
    ref = ref_mining(d, labels)
    if len(set(labels.tolist())) == 1:
        assert len(a) == 0
    else:
        assert list(zip(a.tolist(), p.tolist(), n.tolist())) == ref


def test_triplet_loss_value_and_gradients():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 2, 2])
    x = dg.tensor(rng.standard_normal((6, 4)), requires_grad=True)  # float64
    loss, stats = V.triplet_loss(V.l2_normalize(x), labels, margin=0.2)
    e = x.data / np.linalg.norm(x.data, axis=1, keepdims=True)
    d = ((e[:, None] - e[None]) ** 2).sum(-1)
    want = np.mean([max(d[a, p] - d[a, n] + 0.2, 0) for a, p, n in ref_mining(d, labels)])
    assert float(loss.data) == pytest.approx(want, rel=1e-10)
    rep = gradcheck(lambda t: V.triplet_loss(V.l2_normalize(t), labels, 0.2)[0], x)
    assert rep.passed, rep
    with pytest.raises(ValueError, match="at least two examples"):
        V.triplet_loss(V.l2_normalize(x), np.arange(6))


def test_pairwise_sq_distances():
    e = np.random.default_rng(1).standard_normal((5, 3))
    got = V.pairwise_sq_distances(dg.tensor(e)).data
    np.testing.assert_allclose(got, ((e[:, None] - e[None]) ** 2).sum(-1), atol=1e-12)


@given(st.lists(st.tuples(st.sampled_from([0.1, 0.5, 0.5, 0.9, 1.3, 2.0]), st.booleans()), min_size=1, max_size=30))
def test_best_threshold_is_best(pairs):
    dist = np.array([p[0] for p in pairs])
    same = np.array([p[1] for p in pairs])
    thr, acc = V.best_threshold(dist, same)
    assert acc == pytest.approx(np.mean((dist <= thr) == same))
    # no threshold does better (candidates: every distance, and below all)
    for t in np.r_[dist, dist.min() - 1]:
        assert np.mean((dist <= t) == same) <= acc + 1e-12


def test_roc_and_one_shot():
    dist = np.array([0.1, 0.2, 0.3, 0.4])
    same = np.array([True, False, True, False])
    fpr, tpr, auc = V.roc_curve(dist, same)
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 0.5, 1, 1])
    assert auc == pytest.approx(0.75)
    # perfectly separated embeddings: one-shot is always right
    labels = np.repeat([0, 1, 2], 10)
    emb = np.eye(3)[labels] + 0.01 * np.random.default_rng(0).standard_normal((30, 3))
    assert V.one_shot_accuracy(emb, labels, 20, np.random.default_rng(0), 10) == 1.0
    i, j, s = V.make_pairs(labels, 50, np.random.default_rng(0))
    assert s.sum() == 25 and np.all((labels[i] == labels[j]) == s) and np.all(i != j)


@pytest.mark.slow
def test_fashion_triplet_quick(tmp_path):
    import json
    import types

    from deepgrad import recipes

    from . import needs_fashion

    if needs_fashion.args[0]:
        pytest.skip("Fashion-MNIST is not installed")
    args = types.SimpleNamespace(recipe="fashion-triplet", quick=True, seed=0, out=str(tmp_path), epochs=None,
                                 lr=None, batch_size=None)
    m = recipes.get("fashion-triplet").run(args)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["config"]["quick"] is True and (tmp_path / "roc.png").stat().st_size > 5000
    # 15 steps already beat chance (0.5 for balanced pairs, 1/3 for 3-way one-shot) clearly
    assert m["dev_verification_accuracy"] > 0.65 and m["test_unseen_one_shot_accuracy"] > 0.45
