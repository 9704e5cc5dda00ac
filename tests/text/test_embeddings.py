"""word2vec and GloVe: fused losses against finite differences and the composed ops, sparse
row updates against the dense gradient, the corpus plumbing, PPMI-SVD and the evaluation code."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.check import gradcheck
from deepgrad.text import corpus as C
from deepgrad.text.evaluation import analogy_questions, evaluate_analogies, evaluate_similarity, spearman
from deepgrad.text.glove import glove_loss, glove_loss_composed, train_glove, weighting
from deepgrad.text.ppmi import ppmi_matrix, ppmi_svd, randomized_svd
from deepgrad.text.sparse_rows import RowBatch, gather_rows, scatter_add_rows
from deepgrad.text.vectors import WordVectors
from deepgrad.text.word2vec import noise_table, sgns_loss, sgns_loss_composed, train_word2vec


def _t(a):
    return dg.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("B,K,D", [(1, 1, 1), (4, 3, 5), (7, 5, 2)])
def test_sgns_gradcheck_and_composed(B, K, D):
    rng = np.random.default_rng(B * 100 + K)
    u, vp, vn = (rng.standard_normal(s) for s in ((B, D), (B, D), (B, K, D)))
    report = gradcheck(lambda a, b, c: sgns_loss(a, b, c), _t(u), _t(vp), _t(vn))
    assert report.passed, report
    fused = [_t(u), _t(vp), _t(vn)]
    comp = [_t(u), _t(vp), _t(vn)]
    lf, lc = sgns_loss(*fused), sgns_loss_composed(*comp)
    assert lf.item() == pytest.approx(lc.item(), rel=1e-12)
    lf.backward()
    lc.backward()
    for a, b in zip(fused, comp):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-10, atol=1e-12)


def test_sgns_is_stable_for_large_scores_and_checks_shapes():
    u = _t([[30.0, 0.0]])
    loss = sgns_loss(u, _t([[-30.0, 0.0]]), _t([[[30.0, 0.0]]]))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(2 * 900, rel=1e-6)
    with pytest.raises(ValueError, match=r"v_neg \(B, K, D\)"):
        sgns_loss(_t(np.zeros((2, 3))), _t(np.zeros((2, 3))), _t(np.zeros((2, 3))))


@pytest.mark.parametrize("B,D", [(1, 1), (5, 3), (9, 4)])
def test_glove_gradcheck_and_composed(B, D):
    rng = np.random.default_rng(B)
    w, wc = rng.standard_normal((B, D)), rng.standard_normal((B, D))
    b, bc = rng.standard_normal(B), rng.standard_normal(B)
    x = rng.uniform(0.5, 200, B)
    log_x, f = np.log(x), weighting(x)
    report = gradcheck(lambda *t: glove_loss(*t, log_x, f), _t(w), _t(wc), _t(b), _t(bc))
    assert report.passed, report
    fused, comp = [_t(a) for a in (w, wc, b, bc)], [_t(a) for a in (w, wc, b, bc)]
    lf = glove_loss(*fused, log_x, f)
    lc = glove_loss_composed(*comp, dg.tensor(log_x), dg.tensor(f))
    assert lf.item() == pytest.approx(lc.item(), rel=1e-12)
    lf.backward()
    lc.backward()
    for a, c in zip(fused, comp):
        np.testing.assert_allclose(a.grad, c.grad, rtol=1e-10, atol=1e-12)


def test_glove_weighting():
    np.testing.assert_allclose(weighting(np.array([100.0, 200.0, 10.0])), [1.0, 1.0, 0.1 ** 0.75])


def test_gather_rows_and_row_batch_match_the_dense_gradient():
    rng = np.random.default_rng(0)
    W = rng.standard_normal((10, 3))
    idx = np.array([[1, 4, 1], [9, 1, 0]])
    assert gradcheck(lambda w: (gather_rows(w, idx) ** 2).sum(), _t(W)).passed
    # scatter-add with repeats equals np.add.at, on both code paths
    g = rng.standard_normal((6, 3))
    ref = np.zeros((10, 3))
    np.add.at(ref, idx.reshape(-1), g)
    np.testing.assert_allclose(scatter_add_rows(g, idx, 10), ref)
    import deepgrad.text.sparse_rows as sr
    saved, sr._sp = sr._sp, None
    try:
        np.testing.assert_allclose(scatter_add_rows(g, idx, 10), ref)
    finally:
        sr._sp = saved
    # RowBatch: the leaf's gradient is the non-zero part of the dense gradient of W[idx]
    dense = _t(W)
    (dense[idx] ** 3).sum().backward()
    rb = RowBatch(W.copy(), idx)
    (rb.lookup() ** 3).sum().backward()
    assert list(rb.unique) == [0, 1, 4, 9]
    np.testing.assert_allclose(rb.grad, dense.grad[rb.unique])
    assert np.all(np.delete(dense.grad, rb.unique, axis=0) == 0)
    before = rb.weight.copy()
    rb.sgd(0.1)
    np.testing.assert_allclose(rb.weight, before - 0.1 * dense.grad)  # untouched rows unchanged
    with pytest.raises(IndexError, match="out of range"):
        gather_rows(_t(W), np.array([10]))


def _toy_corpus():
    texts = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the mat and the log"] * 5
    return C.build_corpus(texts, min_count=1)


def test_corpus_windows_stay_inside_documents():
    c = C.build_corpus(["a b c", "d e"], min_count=1)
    assert c.words == ["a", "b", "c", "d", "e"] and list(c.docs) == [0, 0, 0, 1, 1]
    pairs = C.skipgram_pairs(c, window=5, rng=np.random.default_rng(0), subsample=None, shuffle=False)
    got = {(c.words[a], c.words[b]) for a, b in pairs}
    assert ("c", "d") not in got and ("d", "c") not in got and ("d", "e") in got and ("a", "c") in got
    r, col, v = C.cooccurrence(c, window=2)
    m = {(c.words[i], c.words[j]): x for i, j, x in zip(r, col, v)}
    assert m[("a", "b")] == 1.0 and m[("a", "c")] == 0.5 and m[("c", "a")] == 0.5 and ("c", "d") not in m
    assert C.tokenize("The dog's bark (Canis)!") == ["the", "dog", "s", "bark", "canis"]
    keep = C.keep_probabilities(np.array([1000, 1]), t=1e-2)
    assert keep[0] < 0.2 and keep[1] == 1.0


def test_noise_table_follows_unigram_to_the_three_quarters():
    counts = np.array([1000, 100, 10, 1])
    table = noise_table(counts, size=100_000)
    p = counts ** 0.75 / (counts ** 0.75).sum()
    np.testing.assert_allclose(np.bincount(table, minlength=4) / len(table), p, atol=1e-4)


def _two_topics(n=200, seed=0):
    # animals and vehicles share no context words: each topic has its own
    rng = np.random.default_rng(seed)
    topics = [(["cat", "dog", "cow"], ["eats", "sleeps", "food", "barn", "fur"]),
              (["car", "bus", "van"], ["drives", "road", "fuel", "wheel", "garage"])]
    texts = []
    for _ in range(n):
        words, ctx = topics[rng.integers(2)]
        texts.append(" ".join([rng.choice(ctx), rng.choice(words), rng.choice(ctx), rng.choice(ctx)]))
    return C.build_corpus(texts, min_count=1)


def test_word2vec_and_glove_learn_a_toy_corpus():
    c = _two_topics()
    wv, hist = train_word2vec(c, dim=8, window=2, negative=3, epochs=10, lr=0.05, batch_size=64, subsample=None,
                              log=None)
    assert hist[-1]["loss"] < hist[0]["loss"]
    gv, ghist = train_glove(c, dim=8, window=2, epochs=50, lr=0.1, x_max=5, batch_size=8, log=None)
    assert ghist[-1]["loss"] < 0.5 * ghist[0]["loss"]
    av, ahist = train_word2vec(c, dim=8, window=2, negative=3, epochs=10, lr=0.1, batch_size=64, subsample=None,
                               optimizer="adagrad", output="in+out", log=None)
    assert ahist[-1]["loss"] < ahist[0]["loss"]
    with pytest.raises(ValueError, match="optimizer"):
        train_word2vec(c, optimizer="adam", log=None)
    for vectors in (wv, gv, av):  # words used in the same contexts end up closer
        assert vectors.similarity("cat", "dog") > vectors.similarity("cat", "car") + 0.3
        assert vectors.similarity("bus", "van") > vectors.similarity("bus", "cow") + 0.3


def test_randomized_svd_and_ppmi():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 8)) @ rng.standard_normal((8, 40))
    U, s, Vt = randomized_svd(A, 5)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False)[:5], rtol=1e-8)
    # PPMI of a tiny count matrix, by hand (alpha = 1: no smoothing)
    rows, cols, vals = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1]), np.array([4.0, 1.0, 1.0, 4.0])
    M = ppmi_matrix(rows, cols, vals, 2, alpha=1.0).toarray()
    assert M[0, 0] == pytest.approx(np.log(4 * 10 / (5 * 5))) and M[0, 1] == 0.0
    wv = ppmi_svd(_toy_corpus(), dim=3, window=2)
    assert wv.vectors.shape == (len(_toy_corpus().words), 3)


def test_spearman_and_evaluations():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 1, 2]) == pytest.approx(1.0)  # ties
    wv = WordVectors(["man", "woman", "king", "queen", "apple"], np.array(
        [[0, -1, 1], [0, 1, 1], [2, -1, 1], [2, 1, 1], [5, 0, -3]], dtype=np.float32))
    pairs = [("man", "woman", 0.9), ("king", "queen", 0.8), ("man", "apple", 0.1), ("woman", "unicorn", 0.5)]
    res = evaluate_similarity(wv, pairs)
    assert res["pairs"] == 3 and res["spearman"] == pytest.approx(spearman(
        [wv.similarity("man", "woman"), wv.similarity("king", "queen"), wv.similarity("man", "apple")], [0.9, 0.8, 0.1]))
    qs = analogy_questions({"gender": [("man", "woman"), ("king", "queen")], "none": [("apple", "unicorn")]})
    assert qs["gender"] == [("man", "woman", "king", "queen"), ("king", "queen", "man", "woman")] and qs["none"] == []
    acc = evaluate_analogies(wv, qs)
    assert acc["gender"]["accuracy"] == 1.0 and acc["overall"]["questions"] == 2 and acc["none"]["accuracy"] is None
