"""Greedy and beam search on step-wise decoders whose every probability we know: width 1
is greedy, the best beam never scores below greedy, a wide enough beam finds the best
sequence an exhaustive search finds, and length normalization does what the course says."""
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad.text import beam_search, greedy_search
from deepgrad.text.decoding import normalized_score

BOS, EOS = 0, 1


def history_model(V, seed, eos_bias=0.0):
    """A decoder whose next-token distribution depends on the whole prefix (state = the
    tokens so far): log-softmax of logits drawn from a generator seeded by the prefix."""
    def step(token, state):
        prefix = state + (token,)
        rng = np.random.default_rng([seed, *prefix])
        logits = rng.standard_normal(V) * 2
        logits[EOS] += eos_bias
        logits[BOS] = -np.inf  # never generate the start token
        m = logits.max()
        return logits - m - np.log(np.exp(logits - m).sum()), prefix
    return step


def exhaustive(step, max_len, V, alpha):
    best = (None, -math.inf)
    for T in range(1, max_len + 1):
        for seq in itertools.product(range(1, V), repeat=T):
            if EOS in seq[:-1] or (T < max_len and seq[-1] != EOS):
                continue  # a sequence ends at its first EOS, or at max_len
            total, token, state = 0.0, BOS, ()
            for t in seq:
                lp, state = step(token, state)
                total += lp[t]
                token = t
            s = normalized_score(total, T, alpha)
            if s > best[1]:
                best = (list(seq), s)
    return best


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), V=st.integers(3, 6), max_len=st.integers(1, 6), alpha=st.sampled_from([0, 0.7, 1]),
       width=st.integers(2, 5))
def test_width_one_is_greedy_and_beams_never_lose(seed, V, max_len, alpha, width):
    step = history_model(V, seed)
    g_tokens, g_score = greedy_search(step, (), BOS, EOS, max_len, alpha)
    assert 1 <= len(g_tokens) <= max_len and (g_tokens[-1] == EOS or len(g_tokens) == max_len)
    b1 = beam_search(step, (), BOS, EOS, max_len, beam_width=1, alpha=alpha)
    assert b1[0][0] == g_tokens and b1[0][1] == pytest.approx(g_score, abs=1e-12)
    beams = beam_search(step, (), BOS, EOS, max_len, beam_width=width, alpha=alpha)
    assert beams[0][1] >= g_score - 1e-12
    scores = [s for _, s in beams]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alpha", [0.0, 0.7, 1.0])
def test_wide_beam_is_exhaustive(seed, alpha):
    V, max_len = 4, 4
    step = history_model(V, seed, eos_bias=-1.0)
    tokens, score = exhaustive(step, max_len, V, alpha)
    beams = beam_search(step, (), BOS, EOS, max_len, beam_width=(V - 1) ** max_len, alpha=alpha)
    assert beams[0][0] == tokens
    assert beams[0][1] == pytest.approx(score, abs=1e-12)


def test_beam_finds_what_greedy_misses():
    """A greedy trap: the likelier first token leads to a poor continuation."""
    table = {(): np.log([1e-9, 1e-9, 0.6, 0.4]),          # after BOS: 2 (0.6) or 3 (0.4)
             (2,): np.log([1e-9, 0.3, 0.35, 0.35]),       # after 2: end with 0.3 ...
             (3,): np.log([1e-9, 0.99, 0.005, 0.005])}    # after 3: end with 0.99

    def step(token, state):
        prefix = state + ((token,) if token != BOS else ())
        lp = table.get(prefix, np.log([1e-9, 1 - 3e-9, 1e-9, 1e-9]))
        return lp, prefix

    g, g_score = greedy_search(step, (), BOS, EOS, 3, alpha=1.0)
    b = beam_search(step, (), BOS, EOS, 3, beam_width=2, alpha=1.0)
    assert g[0] == 2 and b[0][0] == [3, EOS]
    assert b[0][1] > g_score


def test_length_normalization_favours_longer_with_alpha():
    # after BOS: end now (p=0.4) or say 2 (p=0.6) and then end surely (p~1)
    def step(token, state):
        if token == BOS:
            return np.log([1e-12, 0.4, 0.6]), state
        return np.log([1e-12, 1 - 2e-12, 1e-12]), state

    short = beam_search(step, None, BOS, EOS, 5, beam_width=2, alpha=0.0)
    assert short[0][0] == [2, EOS]  # log 0.6 > log 0.4: also the likelier here
    # a case where alpha changes the winner: a long, slightly less likely sequence
    def step2(token, state):
        n = len(state)
        if n == 0:
            return np.log([1e-12, 0.5, 0.5]), state + (token,)
        if state[-1] == 2 or token == 2:
            return np.log([1e-12, 0.45 if n >= 3 else 0.1, 0.55 if n >= 3 else 0.9]), state + (token,)
        return np.log([1e-12, 1 - 1e-12, 1e-12]), state + (token,)
    plain = beam_search(step2, (), BOS, EOS, 4, beam_width=4, alpha=0.0)[0][0]
    norm = beam_search(step2, (), BOS, EOS, 4, beam_width=4, alpha=1.0)[0][0]
    assert len(plain) < len(norm)


def test_errors():
    step = history_model(4, 0)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(step, (), BOS, EOS, 3, beam_width=0)
    with pytest.raises(ValueError, match="max_len"):
        greedy_search(step, (), BOS, EOS, 0)
    with pytest.raises(ValueError, match="1-D log-probabilities"):
        greedy_search(lambda t, s: (np.zeros((2, 2)), s), None, BOS, EOS, 3)
