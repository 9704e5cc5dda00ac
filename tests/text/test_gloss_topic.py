"""Text classification over pretrained vectors (Emojify V1/V2) and the three text recipes."""
from __future__ import annotations

import json

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import optim
from deepgrad.text.classifiers import AveragedEmbeddingClassifier, LSTMClassifier, embedding_table, encode


def test_encode_pads_drops_unknown_words_and_cuts():
    index = {"the": 0, "dog": 1, "barks": 2}
    ids, lens = encode(["The dog barks", "unknown words only", "the the the the the"], index, max_len=4)
    assert ids.tolist() == [[1, 2, 3, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
    assert lens.tolist() == [3, 1, 4]
    t = embedding_table(np.ones((3, 2)))
    assert t.shape == (4, 2) and np.all(t[0] == 0) and t.dtype == np.float32


def test_averaged_classifier_is_the_mean_and_only_the_head_learns():
    table = embedding_table(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]))
    m = AveragedEmbeddingClassifier(table, 3)
    ids, lens = np.array([[1, 3, 0]]), np.array([2])
    out = m(ids, lens)
    expect = np.array([1.5, 1.0]) @ m.linear.weight.data.T + m.linear.bias.data
    np.testing.assert_allclose(out.data[0], expect, rtol=1e-5, atol=1e-6)
    F.cross_entropy(out, dg.tensor(np.array([1]))).backward()
    assert m.embedding.weight.grad is None and m.linear.weight.grad is not None


def _order_task(n=400, seed=0):
    # the label is which of two words comes first: the average cannot see it, an LSTM can
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    ids = np.zeros((n, 6), dtype=np.int64)
    for k in range(n):
        filler = rng.integers(3, 6, 4)
        pair = [1, 2] if y[k] == 0 else [2, 1]
        ids[k] = np.r_[filler[:2], pair[0], filler[2], pair[1], filler[3]]
    return ids, np.full(n, 6), y


def test_lstm_reads_word_order_the_average_cannot():
    rng = np.random.default_rng(0)
    table = embedding_table(rng.standard_normal((5, 8)).astype(np.float32))
    ids, lens, y = _order_task()
    accs = {}
    for name, model in (("avg", AveragedEmbeddingClassifier(table, 2)),
                        ("lstm", LSTMClassifier(table, 2, hidden=16, num_layers=1, dropout=0.0))):
        dg.manual_seed(0)
        opt = optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.02)
        for _ in range(60):
            opt.zero_grad()
            F.cross_entropy(model(ids, lens), dg.tensor(y)).backward()
            opt.step()
        model.eval()
        with dg.no_grad():
            accs[name] = float((model(ids, lens).data.argmax(1) == y).mean())
    assert accs["lstm"] > 0.95 and accs["avg"] < 0.7, accs


def test_lstm_classifier_ignores_padding():
    rng = np.random.default_rng(1)
    m = LSTMClassifier(embedding_table(rng.standard_normal((6, 4)).astype(np.float32)), 3, hidden=5, num_layers=2)
    m.eval()
    with dg.no_grad():
        a = m(np.array([[1, 2, 3, 0, 0]]), np.array([3])).data
        b = m(np.array([[1, 2, 3, 5, 4]]), np.array([3])).data
        c = m(np.array([[1, 2, 3]]), np.array([3])).data
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6)


def _need_wordnet():
    from deepgrad.text.wordnet import find_wordnet

    try:
        find_wordnet()
    except FileNotFoundError:
        pytest.skip("WordNet not installed (apt-get install wordnet-base)")


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["word2vec", "glove", "gloss-topic"])
def test_text_recipes_run_quick(recipe, tmp_path):
    _need_wordnet()
    from deepgrad.cli import main

    assert main(["run", recipe, "--quick", "--out", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "metrics.json").read_text())
    assert m["recipe"] == recipe and m["config"]["quick"] is True
    assert (tmp_path / "history.csv").read_text().count("\n") >= 2
    if recipe == "gloss-topic":
        assert m["majority_test_accuracy"] < m["v1_test_accuracy"]  # --quick: 3,000 glosses, V1 already learns
        assert 0 <= m["v2_test_accuracy"] <= 1 and len(m["confusion_matrix_v2"]) == m["classes"]
        pytest.importorskip("matplotlib")
        assert (tmp_path / "confusion.png").stat().st_size > 1000
    else:
        from deepgrad.text.vectors import WordVectors

        wv = WordVectors.load_word2vec_format(tmp_path / "vectors.txt")
        assert wv.dim == m["config"]["dim"] and len(wv) > 1000
        assert np.isfinite(wv.vectors).all()
        for key in ("similarity_spearman", "analogy_accuracy"):
            assert key in m and key in m["ppmi_svd"]
        assert -1 <= m["similarity_spearman"] <= 1
