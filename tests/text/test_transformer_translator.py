"""The transformer translator (deepgrad.text.seq2seq), its batched greedy and beam decoding,
dates in words, and the dates-transformer / dates-words recipes."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.autograd import no_grad
from deepgrad.nn import functional as F
from deepgrad.text.dates import in_words
from deepgrad.text.decoding import beam_search, greedy_search
from deepgrad.text.seq2seq import TransformerTranslator, transformer_beam, transformer_greedy

BOS, EOS = 1, 2


def _model(seed=0, vin=9, vout=7, d=16):
    dg.manual_seed(seed)
    m = TransformerTranslator(vin, vout, d_model=d, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                              dim_feedforward=32, dropout=0.0, padding_idx=0)
    # larger output weights: peaky, distinct next-token distributions (beam search then differs from greedy)
    m.out.weight.data *= 4.0
    return m.eval()


def _step_fn(model, src, length):
    """The one-sequence step function of deepgrad.text.decoding for this model (the reference)."""
    memory, pad = model.encode(src[None], np.array([length]))

    def step(token, prefix):
        prefix = prefix + [token]
        with no_grad():
            z = model.decode(np.array([prefix]), memory, pad).data[0, -1].astype(np.float64)
        z = z - z.max()
        return z - np.log(np.exp(z).sum()), prefix

    return step


def _batch(seed=1, n=6, S=7, vin=9):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, S + 1, n)
    src = rng.integers(1, vin, (n, S))
    src[np.arange(S)[None, :] >= lengths[:, None]] = 0
    return src, lengths


def test_padding_does_not_change_the_translation():
    m = _model()
    src, lengths = _batch()
    tgt = np.array([[BOS, 3, 4, 5]] * len(src))
    with no_grad():
        a = m(src, lengths, tgt).data
        wide = np.concatenate([src, np.full((len(src), 3), 0)], axis=1)  # more padding: same outputs
        b = m(wide, lengths, tgt).data
        wide[:, src.shape[1]:] = 5  # whatever the padding holds
        c = m(wide, lengths, tgt).data
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a, c, atol=1e-5)


def test_look_ahead_mask_hides_later_target_tokens():
    m = _model()
    src, lengths = _batch(n=2)
    t1 = np.array([[BOS, 3, 4, 5], [BOS, 6, 3, 3]])
    t2 = t1.copy()
    t2[:, 2:] = [[6, 6], [4, 5]]
    with no_grad():
        a, b = m(src, lengths, t1).data, m(src, lengths, t2).data
    np.testing.assert_allclose(a[:, :2], b[:, :2], atol=1e-6)  # positions 0, 1 do not see tokens 2, 3
    assert np.abs(a[:, 2:] - b[:, 2:]).max() > 1e-3


def test_batched_greedy_equals_the_one_sequence_reference():
    m = _model()
    src, lengths = _batch()
    seqs, totals = transformer_greedy(m, src, lengths, BOS, EOS, max_len=6)
    for i in range(len(src)):
        ref, score = greedy_search(_step_fn(m, src[i], lengths[i]), [], BOS, EOS, 6, alpha=0.0)
        assert seqs[i] == ref
        assert totals[i] == pytest.approx(score, abs=1e-6)


@pytest.mark.parametrize("width,alpha", [(1, 0.7), (2, 0.0), (3, 0.7), (4, 1.0)])
def test_batched_beam_equals_the_one_sequence_reference(width, alpha):
    m = _model(seed=3)
    src, lengths = _batch(seed=4)
    best, scores = transformer_beam(m, src, lengths, BOS, EOS, max_len=5, beam_width=width, alpha=alpha)
    greedy, _ = transformer_greedy(m, src, lengths, BOS, EOS, max_len=5)
    differs = 0
    for i in range(len(src)):
        ranked = beam_search(_step_fn(m, src[i], lengths[i]), [], BOS, EOS, 5, beam_width=width, alpha=alpha)
        assert best[i] == ranked[0][0], (i, best[i], ranked[:3])
        assert scores[i] == pytest.approx(ranked[0][1], abs=1e-6)
        differs += best[i] != greedy[i]
    if width == 1:
        assert best == greedy
    if width >= 3:
        assert differs > 0  # the planted peaky model: beam search finds something greedy does not


def test_translator_learns_to_reverse_short_sequences():
    """A small copy-and-reverse task: the transformer learns it with teacher forcing, and greedy decoding reads it out."""
    dg.manual_seed(0)
    rng = np.random.default_rng(0)
    vin, n, L = 8, 512, 4
    src = rng.integers(1, vin, (n, L))
    lengths = np.full(n, L)
    out = src[:, ::-1] + 2  # target ids 3.. (0 pad, 1 bos, 2 eos)
    tin = np.concatenate([np.full((n, 1), BOS), out], 1)
    tout = np.concatenate([out, np.full((n, 1), EOS)], 1)
    m = TransformerTranslator(vin, vin + 3, d_model=32, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                              dim_feedforward=64, dropout=0.0, padding_idx=0)
    opt = optim.Adam(m.parameters(), lr=3e-3)
    for _epoch in range(40):
        for i in range(0, n, 64):
            loss = F.cross_entropy(m(src[i:i + 64], lengths[i:i + 64], tin[i:i + 64]).reshape(-1, vin + 3),
                                   tout[i:i + 64].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    seqs, _ = transformer_greedy(m, src[:64], lengths[:64], BOS, EOS, max_len=L + 1)
    exact = np.mean([s == list(o) + [EOS] for s, o in zip(seqs, out[:64].tolist())])
    assert exact > 0.9, exact


@pytest.mark.parametrize("iso,words", [
    ("1979-05-03", "the third of may nineteen seventy nine"),
    ("2019-03-07", "the seventh of march twenty nineteen"),
    ("2000-01-01", "the first of january two thousand"),
    ("2007-12-31", "the thirty first of december two thousand seven"),
    ("1950-11-22", "the twenty second of november nineteen fifty"),
    ("2012-08-12", "the twelfth of august twenty twelve"),
    ("1905-02-20", "the twentieth of february nineteen oh five"),
    ("1900-06-30", "the thirtieth of june nineteen hundred"),
])
def test_dates_in_words(iso, words):
    assert in_words(dt.date.fromisoformat(iso)) == words


def test_dates_in_words_are_one_to_one_over_the_window():
    days = [dt.date(1950, 1, 1) + dt.timedelta(days=i) for i in range((dt.date(2050, 1, 1) - dt.date(1950, 1, 1)).days)]
    texts = {in_words(d) for d in days}
    assert len(texts) == len(days)  # no two dates read the same
    assert {len(t.split()) for t in texts} == {6, 7, 8}


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["dates-transformer", "dates-words"])
def test_dates_transformer_recipes_quick(recipe, tmp_path):
    pytest.importorskip("babel")
    pytest.importorskip("faker")
    from deepgrad import cli

    out = tmp_path / "run"
    assert cli.main(["run", recipe, "--quick", "--out", str(out), "--store", str(tmp_path / "s.sqlite")]) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["recipe"] == recipe and m["epochs"] == 2 and m["config"]["quick"]
    assert m["config"]["target"] == ("iso" if recipe == "dates-transformer" else "words")
    for k in ("test_exact_match", "test_exact_match_beam", "test_bleu", "test_bleu_beam"):
        assert 0 <= m[k] <= 1, (k, m[k])
    assert m["params"] > 100_000 and m["train_seconds"] > 0
    lines = (out / "history.csv").read_text().splitlines()
    assert lines[0].startswith("epoch") and len(lines) == 3
    losses = [float(r.split(",")[1]) for r in lines[1:]]
    assert losses[1] < losses[0]  # it is learning
    assert (out / "attention.png").stat().st_size > 10_000
    errors = (out / "errors.txt").read_text().splitlines()
    assert len(errors) >= 1 + m["test_errors"]
