"""BLEU: hand-computed cases, and equality with sacrebleu (tokenize="none", every smoothing
method, several references) on random token sequences; sacrebleu's 0-100 is ours times 100."""
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad.text import corpus_bleu, sentence_bleu


def test_hand_computed():
    hyp = "the the the the the the the".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    # the classic modified-precision example: unigram precision 2/7, no bigram at all -> 0
    assert sentence_bleu(hyp, refs, max_n=1) == pytest.approx(2 / 7)
    assert sentence_bleu(hyp, refs) == 0.0
    # identical -> 1; a shorter exact prefix -> the brevity penalty alone
    ref = "a b c d e f g h".split()
    assert sentence_bleu(ref, [ref]) == pytest.approx(1.0)
    assert sentence_bleu(ref[:6], ref) == pytest.approx(math.exp(1 - 8 / 6))
    # one wrong token among five: p = 4/5, 2/4, 0/3, 0/2 -> 0 without smoothing
    h = "a b x d e".split()
    assert sentence_bleu(h, ["a b c d e".split()]) == 0.0
    # "exp" smoothing: the k-th zero precision becomes 1 / (2^k * total): 1/(2*3), 1/(4*2)
    expect = math.exp((math.log(4 / 5) + math.log(2 / 4) + math.log(1 / 6) + math.log(1 / 8)) / 4)
    assert sentence_bleu(h, ["a b c d e".split()], smooth_method="exp") == pytest.approx(expect)


def test_corpus_sums_counts_not_scores():
    hyps = ["a b c d".split(), "e f g h i j".split()]
    refs = [["a b c d".split()], ["e f g h i k".split()]]
    # matches 9/10, 7/8, 5/6, 3/4 over the corpus
    expect = math.exp((math.log(9 / 10) + math.log(7 / 8) + math.log(5 / 6) + math.log(3 / 4)) / 4)
    assert corpus_bleu(hyps, refs) == pytest.approx(expect)
    assert corpus_bleu(hyps, refs) != pytest.approx(sum(sentence_bleu(h, r) for h, r in zip(hyps, refs)) / 2)


def test_errors():
    with pytest.raises(TypeError, match="token list"):
        sentence_bleu("a b c", ["a b c".split()])
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        corpus_bleu([["a"], ["b"]], [[["a"]]])
    with pytest.raises(ValueError, match="smooth_method"):
        sentence_bleu(["a"], [["a"]], smooth_method="laplace")


VOCAB = list("abcde")
sent = st.lists(st.sampled_from(VOCAB), min_size=1, max_size=20)


@settings(max_examples=150, deadline=None)
@given(data=st.lists(st.tuples(sent, st.lists(sent, min_size=2, max_size=2)), min_size=1, max_size=4),
       n_refs=st.integers(1, 2),
       smooth=st.sampled_from([("none", None), ("exp", None), ("floor", None), ("floor", 0.3), ("add-k", None),
                               ("add-k", 2.0)]),
       effective_order=st.booleans())
def test_equals_sacrebleu(data, n_refs, smooth, effective_order):
    metrics = pytest.importorskip("sacrebleu.metrics")
    method, value = smooth
    hyps = [h for h, _ in data]
    refs = [rs[:n_refs] for _, rs in data]
    bleu = metrics.BLEU(tokenize="none", smooth_method=method, smooth_value=value, effective_order=effective_order)
    streams = [[" ".join(rs[j]) for rs in refs] for j in range(n_refs)]
    expect = bleu.corpus_score([" ".join(h) for h in hyps], streams).score / 100
    got = corpus_bleu(hyps, refs, smooth_method=method, smooth_value=value, effective_order=effective_order)
    assert got == pytest.approx(expect, rel=1e-9, abs=1e-12)
    # one sentence: sentence_bleu equals sacrebleu's sentence score with the same settings
    s_expect = bleu.sentence_score(" ".join(hyps[0]), [" ".join(r) for r in refs[0]]).score / 100
    s_got = sentence_bleu(hyps[0], refs[0], smooth_method=method, smooth_value=value,
                          effective_order=effective_order)
    assert s_got == pytest.approx(s_expect, rel=1e-9, abs=1e-12)


#: real outputs: the eight wrong test sentences of the `dates-words` default run (seed 0; its errors.txt),
#: each with its reference, and two it got right
REAL = [
    ("the nineteenth of may nineteen seventy eight", "the nineteenth of may nineteen eighty seven"),
    ("the fourth of august nineteen sixty seven", "the fourth of august nineteen seventy six"),
    ("the thirtieth of september twenty thirty four", "the thirtieth of september twenty forty three"),
    ("the twenty first of march twenty twelve", "the twenty first of march twenty twenty one"),
    ("the eighteenth of january two thousand four", "the eighteenth of january twenty forty"),
    ("the tenth of june twenty ten", "the tenth of june two thousand one"),
    ("the twenty seventh of april nineteen fifty seven", "the twenty seventh of april nineteen seventy five"),
    ("the sixth of september twenty twelve", "the sixth of september twenty twenty one"),
    ("the third of may nineteen seventy nine", "the third of may nineteen seventy nine"),
    ("the first of january two thousand", "the first of january two thousand"),
]


@pytest.mark.parametrize("smooth", ["none", "exp", "floor", "add-k"])
def test_equals_sacrebleu_on_real_outputs(smooth):
    metrics = pytest.importorskip("sacrebleu.metrics")
    bleu = metrics.BLEU(tokenize="none", smooth_method=smooth)
    hyps, refs = [h for h, _ in REAL], [r for _, r in REAL]
    got = corpus_bleu([h.split() for h in hyps], [[r.split()] for r in refs], smooth_method=smooth)
    assert got == pytest.approx(bleu.corpus_score(hyps, [refs]).score / 100, rel=1e-9)
    assert 0.5 < got < 1.0  # partial credit: most n-grams of the wrong sentences are right
    for h, r in REAL:
        s = sentence_bleu(h.split(), [r.split()], smooth_method=smooth)
        assert s == pytest.approx(bleu.sentence_score(h, [r]).score / 100, rel=1e-9, abs=1e-12), (h, r)
