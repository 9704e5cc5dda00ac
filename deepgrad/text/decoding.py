"""Greedy and beam search (course 5, week 3) for any step-wise decoder.

A decoder is given as a function ``step(token, state) -> (log_probs, new_state)``:
``token`` the last token (an int; first the start token ``bos``), ``state`` whatever the
decoder carries (an RNN's hidden state, the tokens so far, ...; never modified, only
passed back), ``log_probs`` a 1-D array of log P(next token) over the vocabulary.

Scores use the course's length normalization with exponent alpha:

    score(y) = 1 / T_y^alpha * sum_t log P(y_t | x, y_<t)

where T_y counts the generated tokens (the end token ``eos`` included): alpha = 0 is the
plain log-probability (which favours short outputs), alpha = 1 the per-token average.

``beam_search`` keeps, at every step, the ``beam_width`` best expansions by cumulative
log-probability; an expansion that ends in ``eos`` is finished and leaves the beam; the
search stops when no beam is left or after ``max_len`` tokens. The candidates are then
ranked by the normalized score. Width 1 is greedy search. The greedy hypothesis is
always among the ranked candidates, so the best beam never scores below greedy's (beam
search alone cannot promise that: a prefix greedy would extend may be pruned).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[int, Any], "tuple[np.ndarray, Any]"]


def normalized_score(log_prob: float, length: int, alpha: float) -> float:
    """``log_prob / length**alpha`` (the course's length normalization)."""
    return float(log_prob) / (max(int(length), 1) ** float(alpha))


def _log_probs(step, token, state, where):
    lp, new_state = step(token, state)
    lp = np.asarray(getattr(lp, "data", lp), dtype=np.float64)
    if lp.ndim != 1 or lp.size == 0:
        raise ValueError(f"{where}: step must return 1-D log-probabilities over the vocabulary, got shape {lp.shape}")
    return lp, new_state


def _check(max_len, alpha, where):
    if max_len < 1:
        raise ValueError(f"{where}: max_len must be >= 1, got {max_len}")
    if alpha < 0:
        raise ValueError(f"{where}: alpha must be >= 0, got {alpha}")


def greedy_search(step: Step, state: Any, bos: int, eos: int, max_len: int, alpha: float = 0.7):
    """The most probable next token at every step, until ``eos`` or ``max_len`` tokens.

    Returns ``(tokens, score)``: the generated tokens (``eos`` included if reached, ``bos``
    not) and their length-normalized log-probability."""
    _check(max_len, alpha, "greedy_search")
    tokens, total, token = [], 0.0, int(bos)
    for _ in range(int(max_len)):
        lp, state = _log_probs(step, token, state, "greedy_search")
        token = int(np.argmax(lp))
        total += float(lp[token])
        tokens.append(token)
        if token == eos:
            break
    return tokens, normalized_score(total, len(tokens), alpha)


def beam_search(step: Step, state: Any, bos: int, eos: int, max_len: int, beam_width: int = 3, alpha: float = 0.7):
    """Beam search with ``beam_width`` beams; returns the candidates as a list of
    ``(tokens, score)``, best (highest normalized score) first; see the module docstring."""
    _check(max_len, alpha, "beam_search")
    if beam_width < 1:
        raise ValueError(f"beam_search: beam_width must be >= 1, got {beam_width}")
    live: list[tuple[list[int], float, int, Any]] = [([], 0.0, int(bos), state)]  # (tokens, cumulative log-prob, last token, decoder state)
    finished: list[tuple[list[int], float]] = []
    for _ in range(int(max_len)):
        if not live:
            break
        cands = []
        for tokens, total, token, st in live:
            lp, new_st = _log_probs(step, token, st, "beam_search")
            k = min(beam_width, lp.size)
            best = np.argpartition(-lp, k - 1)[:k] if k < lp.size else np.arange(lp.size)
            for t in best:
                cands.append((total + float(lp[t]), tokens + [int(t)], new_st))
        cands.sort(key=lambda c: -c[0])  # stable: ties keep the earlier beam's, lower token first
        live = []
        for total, tokens, st in cands[:beam_width]:
            if tokens[-1] == eos:
                finished.append((tokens, total))
            else:
                live.append((tokens, total, tokens[-1], st))
    finished.extend((tokens, total) for tokens, total, _, _ in live)
    g_tokens, _ = greedy_search(step, state, bos, eos, max_len, alpha)
    ranked = {}
    for tokens, total in finished:
        ranked[tuple(tokens)] = normalized_score(total, len(tokens), alpha)
    if tuple(g_tokens) not in ranked:
        g_total = _sequence_log_prob(step, state, bos, g_tokens)
        ranked[tuple(g_tokens)] = normalized_score(g_total, len(g_tokens), alpha)
    out = sorted(ranked.items(), key=lambda kv: -kv[1])
    return [(list(t), s) for t, s in out]


def _sequence_log_prob(step, state, bos, tokens) -> float:
    total, token = 0.0, int(bos)
    for t in tokens:
        lp, state = _log_probs(step, token, state, "beam_search")
        total += float(lp[t])
        token = t
    return total
