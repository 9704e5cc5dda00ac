"""BLEU (course 5, week 3): how close a machine translation is to one or more references.

For each n = 1..max_n the *modified n-gram precision* p_n counts the hypothesis' n-grams,
each clipped to the most times it occurs in any one reference, over all its n-grams; the
*brevity penalty* punishes hypotheses shorter than the reference:

    BP   = 1 if c > r else exp(1 - r / c)      (c: hypothesis length, r: the closest
                                                 reference length, the shorter on a tie)
    BLEU = BP * exp( (1/max_n) * sum_n log p_n )

``corpus_bleu`` sums the clipped counts, totals and lengths over all sentences before
dividing (not an average of sentence scores). Scores are in [0, 1]; sacrebleu reports
the same number times 100 (``sacrebleu.metrics.BLEU(tokenize="none")`` on the
space-joined tokens gives ``100 * corpus_bleu(...)``, for every ``smooth_method``).

Smoothing (for short sentences, where some p_n is 0 and BLEU would be 0), sacrebleu's
methods: ``"none"``; ``"floor"`` (a zero count becomes ``smooth_value``, default 0.1);
``"add-k"`` (k = ``smooth_value``, default 1, added to the counts and totals of n >= 2);
``"exp"`` (the k-th zero precision becomes 1 / (2^k * total)). A hypothesis that matches
no n-gram at all scores 0 whatever the smoothing. ``effective_order``
averages only over the orders the hypothesis is long enough to have.

Token lists in, e.g. ``sentence_bleu("the cat sat".split(), ["the cat sat down".split()])``.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

_SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _as_reference_list(references, what: str) -> list:
    """A list of references (each a token list); a single token list is one reference."""
    if isinstance(references, str):
        raise TypeError(f"{what}: references must be token lists (e.g. 'a b'.split()), got a string")
    refs = list(references)
    if refs and isinstance(refs[0], str):
        return [refs]
    for r in refs:
        if isinstance(r, str):
            raise TypeError(f"{what}: each reference must be a token list, got a string {r!r}")
    if not refs:
        raise ValueError(f"{what}: need at least one reference")
    return [list(r) for r in refs]


def _stats(hyp: Sequence[str], refs: list, max_n: int):
    """(clipped matches per n, totals per n, hypothesis length, closest reference length)."""
    hyp = list(hyp)
    c = len(hyp)
    r = min((len(ref) for ref in refs), key=lambda n: (abs(n - c), n))
    matches, totals = [0] * max_n, [0] * max_n
    for n in range(1, max_n + 1):
        h = _ngrams(hyp, n)
        if not h:
            continue
        best: Counter = Counter()
        for ref in refs:
            best |= _ngrams(ref, n)  # the most times each n-gram occurs in one reference
        matches[n - 1] = sum(min(k, best[g]) for g, k in h.items())
        totals[n - 1] = max(c - n + 1, 0)
    return matches, totals, c, r


def _score(matches, totals, c, r, max_n, smooth_method, smooth_value, effective_order) -> float:
    if smooth_method not in _SMOOTH_DEFAULTS:
        raise ValueError(f"bleu: smooth_method must be one of {sorted(_SMOOTH_DEFAULTS)}, got {smooth_method!r}")
    if smooth_value is None:
        smooth_value = _SMOOTH_DEFAULTS[smooth_method]
    if not any(matches):
        return 0.0  # no n-gram of any order matches: 0 whatever the smoothing (as sacrebleu)
    matches, totals = list(matches), list(totals)
    logs, order, exp_k = [], max_n, 1.0
    for n in range(1, max_n + 1):
        if smooth_method == "add-k" and n > 1:
            matches[n - 1] += smooth_value
            totals[n - 1] += smooth_value
        if totals[n - 1] == 0:
            break  # too short for n-grams of this order
        if effective_order:
            order = n
        if matches[n - 1] == 0:
            if smooth_method == "exp":
                exp_k *= 2
                p = 1.0 / (exp_k * totals[n - 1])
            elif smooth_method == "floor":
                p = smooth_value / totals[n - 1]
            else:
                return 0.0
        else:
            p = matches[n - 1] / totals[n - 1]
        logs.append(math.log(p))
    if len(logs) < order or c == 0:
        return 0.0  # an order with no n-gram at all: BLEU is 0 (unless effective_order)
    bp = 1.0 if c > r else math.exp(1.0 - r / c)
    return bp * math.exp(sum(logs[:order]) / order)


def sentence_bleu(hypothesis: Sequence[str], references, max_n: int = 4, smooth_method: str = "none",
                  smooth_value: float | None = None, effective_order: bool = False) -> float:
    """BLEU in [0, 1] of one hypothesis (a token list) against its references (a list of
    token lists, or one token list). See the module docstring for the smoothing options."""
    if isinstance(hypothesis, str):
        raise TypeError("sentence_bleu: hypothesis must be a token list (e.g. 'a b'.split()), got a string")
    if max_n < 1:
        raise ValueError(f"sentence_bleu: max_n must be >= 1, got {max_n}")
    refs = _as_reference_list(references, "sentence_bleu")
    matches, totals, c, r = _stats(hypothesis, refs, max_n)
    return _score(matches, totals, c, r, max_n, smooth_method, smooth_value, effective_order)


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence, max_n: int = 4,
                smooth_method: str = "none", smooth_value: float | None = None,
                effective_order: bool = False) -> float:
    """Corpus BLEU in [0, 1]: ``hypotheses[i]`` (a token list) against ``references[i]``
    (a list of token lists, or one token list); counts are summed over the corpus first."""
    hyps = list(hypotheses)
    refs = list(references)
    if len(hyps) != len(refs):
        raise ValueError(f"corpus_bleu: {len(hyps)} hypotheses but {len(refs)} reference sets")
    if max_n < 1:
        raise ValueError(f"corpus_bleu: max_n must be >= 1, got {max_n}")
    matches, totals, c, r = [0] * max_n, [0] * max_n, 0, 0
    for i, (h, rs) in enumerate(zip(hyps, refs)):
        if isinstance(h, str):
            raise TypeError(f"corpus_bleu: hypothesis {i} must be a token list, got a string")
        m, t, ci, ri = _stats(h, _as_reference_list(rs, "corpus_bleu"), max_n)
        matches = [a + b for a, b in zip(matches, m)]
        totals = [a + b for a, b in zip(totals, t)]
        c, r = c + ci, r + ri
    return _score(matches, totals, c, r, max_n, smooth_method, smooth_value, effective_order)
