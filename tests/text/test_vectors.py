"""Word-vector operations: cosine, neighbours, analogies, the word2vec formats, debiasing."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepgrad.text.vectors import WordVectors, bias_direction, cosine_similarity, equalize, hard_debias, neutralize


def toy() -> WordVectors:
    # axes: royalty, gender (+ female), person, fruit
    words = ["man", "woman", "king", "queen", "apple", "pear", "boy", "girl"]
    v = np.array([
        [0, -1, 1, 0], [0, 1, 1, 0], [2, -1, 1, 0], [2, 1, 1, 0],
        [0, 0, 0, 3], [0, 0.1, 0, 3], [0, -1, 1.3, 0], [0, 1, 1.3, 0],
    ], dtype=np.float32)
    return WordVectors(words, v)


def test_cosine_similarity():
    assert cosine_similarity([1, 0], [0, 2]) == 0.0
    assert cosine_similarity([1, 1], [2, 2]) == pytest.approx(1.0)
    assert cosine_similarity([1, 0], [-3, 0]) == pytest.approx(-1.0)
    assert cosine_similarity([0, 0], [1, 0]) == 0.0
    wv = toy()
    assert wv.similarity("apple", "pear") > 0.99 > wv.similarity("apple", "king")


def test_most_similar_and_analogy():
    wv = toy()
    assert wv.most_similar("apple", topn=1)[0][0] == "pear"
    assert "apple" not in [w for w, _ in wv.most_similar("apple", topn=7)]
    assert wv.analogy("man", "woman", "king") == "queen"
    assert wv.analogy("man", "king", "woman") == "queen"
    assert wv.analogy("boy", "girl", "man") == "woman"
    ids = np.array([[wv.index[a], wv.index[b], wv.index[c]] for a, b, c in
                    [("man", "woman", "king"), ("boy", "girl", "man"), ("woman", "man", "queen")]])
    got = [wv.words[i] for i in wv.analogy_batch(ids, chunk=2)]
    assert got == ["queen", "woman", "king"]
    with pytest.raises(KeyError, match="unicorn"):
        wv.analogy("man", "unicorn", "king")
    with pytest.raises(KeyError, match="not in the vocabulary"):
        wv["unicorn"]


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    rng = np.random.default_rng(0)
    wv = WordVectors(["the", "dog", "café", "x-ray"], rng.standard_normal((4, 7)).astype(np.float32))
    p = tmp_path / "v.txt"
    wv.save_word2vec_format(p, binary=binary)
    if not binary:
        lines = p.read_text().splitlines()
        assert lines[0] == "4 7" and lines[2].split(" ")[0] == "dog" and len(lines[2].split(" ")) == 8
    back = WordVectors.load_word2vec_format(p, binary=binary)
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, rtol=1e-5 if not binary else 0, atol=1e-6)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_reads_our_files(tmp_path, binary):
    gensim_models = pytest.importorskip("gensim.models")
    rng = np.random.default_rng(1)
    wv = WordVectors(["king", "queen", "apple", "naïve"], rng.standard_normal((4, 5)).astype(np.float32))
    p = tmp_path / "v.bin"
    wv.save_word2vec_format(p, binary=binary)
    kv = gensim_models.KeyedVectors.load_word2vec_format(str(p), binary=binary)
    assert list(kv.index_to_key) == wv.words
    np.testing.assert_allclose(kv["naïve"], wv["naïve"], rtol=1e-5, atol=1e-6)
    # and we read gensim's files
    q = tmp_path / "g.bin"
    kv.save_word2vec_format(str(q), binary=binary)
    back = WordVectors.load_word2vec_format(q, binary=binary)
    assert back.words == wv.words
    np.testing.assert_allclose(back.vectors, wv.vectors, rtol=1e-5, atol=1e-6)


def test_bad_files_are_named(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("two 3\n")
    with pytest.raises(ValueError, match="first line"):
        WordVectors.load_word2vec_format(p)
    p.write_text("1 3\nword 1 2\n")
    with pytest.raises(ValueError, match="line 2 has 2 numbers, expected 3"):
        WordVectors.load_word2vec_format(p)
    with pytest.raises(ValueError, match="whitespace"):
        WordVectors(["a b"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="2 words but vectors of shape"):
        WordVectors(["a", "b"], np.zeros((3, 2)))


vec = st.lists(st.floats(-3, 3), min_size=6, max_size=6).map(np.array)


@given(vec, vec)
def test_neutralize_removes_the_projection(e, g):
    if np.linalg.norm(g) < 1e-3:
        g = g + 1.0
    n = neutralize(e, g)
    assert abs(n @ g) / np.linalg.norm(g) < 1e-6
    # only the component along g changes
    np.testing.assert_allclose(n + (e @ g) / (g @ g) * g, e, atol=1e-9)


@given(vec, vec, vec, st.lists(vec, min_size=1, max_size=4))
def test_equalize_makes_pairs_symmetric_and_equidistant(e1, e2, g, others):
    if np.linalg.norm(g) < 1e-3:
        g = g + 1.0
    gu = g / np.linalg.norm(g)
    if np.linalg.norm(e1) < 1e-3 or np.linalg.norm(e2) < 1e-3:
        return
    if abs((e1 / np.linalg.norm(e1) - e2 / np.linalg.norm(e2)) @ gu) < 1e-3:
        return  # no difference along the axis: nothing to equalize (equalize raises)
    a, b = equalize(e1, e2, g)
    assert np.linalg.norm(a) == pytest.approx(1.0) and np.linalg.norm(b) == pytest.approx(1.0)
    assert a @ gu == pytest.approx(-(b @ gu), abs=1e-9)  # opposite along the bias axis
    np.testing.assert_allclose(a - (a @ gu) * gu, b - (b @ gu) * gu, atol=1e-9)  # same elsewhere
    for o in others:
        w = neutralize(o, g)
        assert abs(w @ a - w @ b) < 1e-9
        if np.linalg.norm(w) > 1e-6:
            assert cosine_similarity(w, a) == pytest.approx(cosine_similarity(w, b), abs=1e-9)


def test_hard_debias_on_toy_vectors():
    wv = WordVectors(["he", "she", "man", "woman", "doctor", "nurse", "king", "queen"], np.array([
        [1, -1, 0.2, 0], [1, 1, 0.1, 0], [1, -0.9, 0, 0.3], [1, 0.8, 0.1, 0.2],
        [0.2, -0.4, 1, 0], [0.1, 0.5, 1, 0.1], [0.5, -0.7, 0.2, 1], [0.6, 0.9, 0.1, 1]], dtype=np.float64))
    g = bias_direction(wv, [("she", "he"), ("woman", "man")])
    g_diff = bias_direction(wv, [("she", "he")], method="difference")
    assert g @ g_diff > 0.9 and np.linalg.norm(g) == pytest.approx(1.0)
    assert wv.unit[wv.index["nurse"]] @ g > 0.2 > -0.2 > wv.unit[wv.index["doctor"]] @ g  # biased before
    out = hard_debias(wv, g, ["doctor", "nurse"], [("king", "queen"), ("man", "woman")])
    for w in ("doctor", "nurse"):
        assert abs(out[w] @ g) < 1e-6
        assert out.similarity(w, "king") == pytest.approx(out.similarity(w, "queen"), abs=1e-9)
    assert wv.unit[wv.index["doctor"]] @ g != 0  # the original is untouched
    with pytest.raises(ValueError, match="method"):
        bias_direction(wv, [("she", "he")], method="mean")
