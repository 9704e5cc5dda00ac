"""A word corpus as integer arrays: tokens, vocabulary, windows, co-occurrence counts.

Documents (WordNet glosses, dictionary entries) become one ``int32`` array of word ids
(``Corpus.tokens``) and a parallel array of document ids (``Corpus.docs``); a context
window never crosses a document boundary. Everything after tokenizing is vectorized
NumPy: the skip-gram pairs of an epoch (:func:`skipgram_pairs`, with word2vec's
subsampling of frequent words and its dynamic window) and the distance-weighted
co-occurrence counts GloVe and PPMI start from (:func:`cooccurrence`).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

_WORD = re.compile(r"[a-z]+")


def tokenize(text: str) -> list[str]:
    """Lowercase runs of letters: ``"The dog's bark (Canis)"`` -> ``the dog s bark canis``."""
    return _WORD.findall(text.lower())


@dataclass
class Corpus:
    """``words`` (most frequent first), their ``counts`` in the corpus, ``tokens`` (word ids,
    out-of-vocabulary words dropped) and ``docs`` (the document of each token)."""

    words: list[str]
    counts: np.ndarray
    tokens: np.ndarray
    docs: np.ndarray

    @property
    def index(self) -> dict[str, int]:
        if not hasattr(self, "_index"):
            self._index = {w: i for i, w in enumerate(self.words)}
        return self._index

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def vocab_size(self) -> int:
        return len(self.words)


def build_corpus(texts, min_count: int = 5, max_words: int | None = None) -> Corpus:
    """Tokenize ``texts``, keep words seen at least ``min_count`` times (the ``max_words``
    most frequent), and encode. Ties in frequency are broken alphabetically (deterministic)."""
    tokenized = [tokenize(t) for t in texts]
    counter = Counter(w for doc in tokenized for w in doc)
    vocab = sorted((w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w))
    if max_words is not None:
        vocab = vocab[:max_words]
    if not vocab:
        raise ValueError(f"build_corpus: no word occurs {min_count} times or more")
    index = {w: i for i, w in enumerate(vocab)}
    ids, doc_ids = [], []
    for d, doc in enumerate(tokenized):
        enc = [index[w] for w in doc if w in index]
        ids.extend(enc)
        doc_ids.extend([d] * len(enc))
    counts = np.array([counter[w] for w in vocab], dtype=np.int64)
    return Corpus(vocab, counts, np.asarray(ids, dtype=np.int32), np.asarray(doc_ids, dtype=np.int32))


def keep_probabilities(counts: np.ndarray, t: float = 1e-4) -> np.ndarray:
    """word2vec's subsampling: a token of a word of frequency ``f`` is kept with probability
    ``(sqrt(f / t) + 1) t / f`` (capped at 1), so very frequent words are mostly dropped."""
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / t) + 1) * t / f)


def skipgram_pairs(corpus: Corpus, window: int, rng: np.random.Generator, subsample: float | None = 1e-4,
                   shuffle: bool = True) -> np.ndarray:
    """One epoch of ``(center, context)`` pairs ``(n, 2)`` int32.

    Frequent words are subsampled first (``subsample=None`` keeps every token); each kept
    token then draws its window size uniformly from ``1..window`` (word2vec's dynamic window,
    which weights near contexts more) and pairs with the tokens that close on both sides,
    within its document."""
    tok, doc = corpus.tokens, corpus.docs
    if subsample:
        keep = rng.random(len(tok)) < keep_probabilities(corpus.counts, subsample)[tok]
        tok, doc = tok[keep], doc[keep]
    reach = rng.integers(1, window + 1, size=len(tok))
    parts = []
    for d in range(1, window + 1):
        same = doc[:-d] == doc[d:]
        fwd = same & (reach[:-d] >= d)   # center i, context i + d
        bwd = same & (reach[d:] >= d)    # center i + d, context i
        parts.append(np.stack([tok[:-d][fwd], tok[d:][fwd]], axis=1))
        parts.append(np.stack([tok[d:][bwd], tok[:-d][bwd]], axis=1))
    pairs = np.concatenate(parts) if parts else np.empty((0, 2), np.int32)
    if shuffle:
        pairs = pairs[rng.permutation(len(pairs))]
    return pairs.astype(np.int32, copy=False)


def cooccurrence(corpus: Corpus, window: int, weighting: str = "harmonic"):
    """Symmetric co-occurrence counts within ``window`` tokens of the same document, as
    ``(rows, cols, values)`` (each pair ``(i, j)`` once, ``values`` float64).

    ``weighting="harmonic"`` adds ``1/d`` for a pair ``d`` tokens apart (GloVe's counts);
    ``"uniform"`` adds 1 (plain window counts)."""
    if weighting not in ("harmonic", "uniform"):
        raise ValueError(f"cooccurrence: weighting must be 'harmonic' or 'uniform', got {weighting!r}")
    V = np.int64(corpus.vocab_size)
    tok, doc = corpus.tokens.astype(np.int64), corpus.docs
    keys, vals = [], []
    for d in range(1, window + 1):
        same = doc[:-d] == doc[d:]
        a, b = tok[:-d][same], tok[d:][same]
        w = 1.0 / d if weighting == "harmonic" else 1.0
        k = np.concatenate([a * V + b, b * V + a])
        u, c = np.unique(k, return_counts=True)
        keys.append(u)
        vals.append(c * w)
    k, inv = np.unique(np.concatenate(keys), return_inverse=True)  # one merge of the per-offset counts
    v = np.bincount(inv, weights=np.concatenate(vals))
    return (k // V).astype(np.int32), (k % V).astype(np.int32), v.astype(np.float64)
