"""Language-model batching with truncated BPTT, the bigram baseline, sampling, and the
char-lm recipe."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.text import (
    BigramModel,
    LMBatches,
    RNNLanguageModel,
    Vocab,
    batchify,
    detach_state,
    evaluate_bits,
    sample,
    train_epoch,
)


def test_batchify_and_bptt_windows_continue_each_other():
    ids = np.arange(23)
    cols = batchify(ids, 3)
    assert cols.shape == (7, 3) and cols.dtype == np.int64
    assert cols[:, 1].tolist() == list(range(7, 14))  # column n continues column n-1
    b = LMBatches(ids, batch_size=3, bptt=4)
    pairs = list(b)
    assert len(pairs) == len(b) == 2
    assert [x.shape for x, _ in pairs] == [(4, 3), (2, 3)]
    for x, y in pairs:
        np.testing.assert_array_equal(y, x + 1)  # targets: the next token
    # the second window starts where the first one ended, in every column
    np.testing.assert_array_equal(pairs[1][0][0], pairs[0][0][-1] + 1)
    assert b.num_targets == 6 * 3
    with pytest.raises(ValueError, match="too short"):
        batchify(np.arange(3), 2)


def test_detach_state_cuts_the_graph():
    h = dg.tensor(np.ones((1, 2, 3)), requires_grad=True) * 2
    c = dg.tensor(np.ones((1, 2, 3)), requires_grad=True) * 3
    hd, cd = detach_state((h, c))
    assert not hd.requires_grad and hd.is_leaf and np.all(cd.data == 3)
    assert detach_state(None) is None


def test_state_carries_across_batches():
    """Two consecutive windows with the carried state give the same outputs as one long window."""
    dg.manual_seed(0)
    m = RNNLanguageModel(11, 4, 8, num_layers=2).eval()
    x = np.random.default_rng(0).integers(0, 11, (10, 3))
    full, _ = m(x)
    a, s = m(x[:6])
    b, _ = m(x[6:], detach_state(s))
    np.testing.assert_allclose(np.concatenate([a.data, b.data]), full.data, rtol=1e-5, atol=1e-6)


def test_bigram_counts_smoothing_and_bits():
    ids = np.array([0, 1, 0, 1, 0, 2])
    bg = BigramModel(3, alpha=0.0).fit(ids)
    assert bg.counts[0].tolist() == [0, 2, 1] and bg.counts[1].tolist() == [2, 0, 0]
    # p(1|0) = 2/3, p(0|1) = 1
    assert bg.bits([0, 1], [1, 0]) == pytest.approx(-(np.log2(2 / 3) + 0) / 2)
    bg.alpha = 1.0
    assert np.exp2(bg.log2_probs()).sum(axis=1) == pytest.approx(np.ones(3))


def test_lstm_learns_a_pattern_the_bigram_cannot():
    """'abcab...' with a random letter after each 'x': an LSTM that remembers two characters
    back beats the best bigram; truncated BPTT training with clipping gets it there."""
    rng = np.random.default_rng(0)
    parts = []
    for _ in range(600):
        w = rng.choice(["ab", "ba"])
        parts.append("x" + w + ("c" if w == "ab" else "d"))
    text = "".join(parts)
    v = Vocab.build(text, unk_token=None)
    ids = v.encode(text)
    split = int(0.8 * len(ids))
    tr, dev = LMBatches(ids[:split], 8, 16), LMBatches(ids[split:], 4, 16)
    bg = BigramModel(len(v)).fit(ids[:split])
    bg.choose_alpha(dev)
    dg.manual_seed(0)
    m = RNNLanguageModel(len(v), 8, 32)
    opt = optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(12):
        train_epoch(m, tr, opt, clip_norm=1.0, clip_value=5.0)
    lstm_bits, bigram_bits = evaluate_bits(m, dev), bg.bits_on(dev)
    # per 4 characters: 1 random bit ('a' or 'b' after 'x'); 'c'/'d' needs two characters back
    assert lstm_bits < 0.32 < bigram_bits
    out = sample(m, v, n=5, max_len=8, temperature=0.5, start="x", stop="x", rng=np.random.default_rng(0))
    assert all(s in ("abc", "bad") for s in out), out


def test_sampling_temperature_and_top_k():
    v = Vocab.build("abcdefgh\n", unk_token="<unk>")
    dg.manual_seed(1)
    m = RNNLanguageModel(len(v), 4, 8)
    rng = np.random.default_rng(0)
    greedy = sample(m, v, n=4, max_len=6, top_k=1, stop=None, rng=rng)
    assert len(set(greedy)) == 1 and len(greedy[0]) == 6  # top-1 is deterministic
    s = sample(m, v, n=50, max_len=5, temperature=3.0, stop=None, rng=rng)
    assert all("<unk>" not in t for t in s) and len(set(s)) > 40
    assert len(sample(m, v, n=3, max_len=4, prefix="ab", stop=None, rng=rng)[0]) == 6


def test_nonfinite_loss_is_reported():
    v = Vocab.build("abab", unk_token=None)
    m = RNNLanguageModel(len(v), 2, 4)
    m.head.bias.data[:] = np.nan
    with pytest.raises(FloatingPointError, match="loss became nan"):
        train_epoch(m, LMBatches(v.encode("abababababab"), 2, 3), optim.SGD(m.parameters(), lr=0.1))


@pytest.mark.slow
def test_char_lm_recipe_quick(tmp_path):
    import os

    from deepgrad import cli
    from deepgrad.text.words import WORDLIST_PATH

    if not os.path.exists(WORDLIST_PATH):
        pytest.skip("wamerican not installed")
    out = tmp_path / "run"
    assert cli.main(["run", "char-lm", "--quick", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["recipe"] == "char-lm" and m["epochs"] == 2
    for k in ("dev_bits_per_char", "test_bits_per_char", "bigram_dev_bits_per_char", "bigram_test_bits_per_char"):
        assert 0 < m[k] < 8
    assert m["vocab_size"] == 28
    assert (out / "samples.txt").read_text().count("# temperature") == 3
    assert Vocab.load(out / "vocab.json").itos[0] == "<unk>"
    assert (out / "history.csv").read_text().splitlines()[0].startswith("epoch,train_loss,dev_loss")
    model = dg.load_model(out / "model.safetensors")
    assert model.rnn.hidden_size == 32


@pytest.mark.slow
def test_char_lm_beats_the_bigram_on_names(tmp_path):
    """A small real run (600 names, hidden 32, 40 short epochs): the LSTM's test bits per
    character below the smoothed bigram's (3.63 vs 3.80 when written)."""
    from deepgrad import cli

    out = tmp_path / "run"
    assert cli.main(["run", "char-lm", "--quick", "--epochs", "40", "--lr", "0.01", "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["test_bits_per_char"] < m["bigram_test_bits_per_char"]


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["words", "python"])
def test_char_lm_recipe_other_corpora(corpus, tmp_path):
    from deepgrad import cli

    out = tmp_path / "run"
    assert cli.main(["run", "char-lm", "--quick", "--lm-corpus", corpus, "--out", str(out)]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["config"]["corpus"] == corpus and min(m["entries"].values()) >= 1
    assert 1.0 < m["bigram_test_bits_per_char"] < 6.0
