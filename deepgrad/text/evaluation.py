"""Evaluating word vectors against WordNet itself: similarity and analogy sets derived from it.

**Similarity.** Pairs of nouns, each scored by WordNet's Wu-Palmer similarity (the maximum
over the two words' noun senses, over the hypernym graph read from ``data.noun``). Half
the pairs are *near* (the second word is found by walking from the first word's most
frequent sense up one or two hypernyms and down one or two hyponyms), half are *random*
nouns, so the set spans the whole range of similarity. The score of a model is Spearman's
rank correlation between its cosine similarities and WordNet's.

**Analogies.** Four relations whose pairs WordNet states explicitly, each question
``a : b :: c : d`` built from two pairs of one relation (all ordered pairs of pairs, at
most ``max_per_relation`` sampled):

* ``capital-country``: instances of *national capital* (``@i``) and the country they are
  part of (part holonym ``#p``), e.g. paris : france;
* ``country-adjective``: relational adjectives (pertainym ``\\``) of a country, e.g.
  france : french;
* ``adjective-adverb``: adverbs derived from an adjective (pertainym ``\\`` in
  ``data.adv``, word to word), e.g. quick : quickly;
* ``verb-agent``: derivationally related (``+``) verb and ``noun.person`` noun, kept when
  the noun ends in *-er* or *-or* (the agent suffix), e.g. teach : teacher.

Only words in the model's vocabulary (single tokens) are used; a model is scored by
3CosAdd accuracy over the whole vocabulary, the three question words excluded.
"""
from __future__ import annotations

import numpy as np

from .vectors import WordVectors
from .wordnet import WordNet


def spearman(x, y) -> float:
    """Spearman's rank correlation (average ranks for ties)."""
    def ranks(a):
        a = np.asarray(a, dtype=np.float64)
        order = np.argsort(a, kind="mergesort")
        r = np.empty(len(a))
        r[order] = np.arange(len(a))
        _, inv, cnt = np.unique(a, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=r)
        return sums[inv] / cnt[inv]
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    d = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / d) if d > 0 else 0.0


def _single(lemma: str) -> str | None:
    w = lemma.lower()
    return w if w.isalpha() and w.isascii() else None


# ----- similarity -----------------------------------------------------------------------
def similarity_pairs(wn: WordNet, vocab, n: int = 1000, seed: int = 0, measure: str = "wup"):
    """``[(word1, word2, wordnet_similarity), ...]``: ``n`` noun pairs, half near, half random
    (see the module docstring), from the nouns in ``vocab`` (an iterable of words, e.g. the
    corpus's words above a frequency)."""
    rng = np.random.default_rng(seed)
    vocab = set(vocab)
    nouns = sorted(w for w in vocab if wn.lemma_synsets(w, "n"))
    if len(nouns) < 2:
        raise ValueError("similarity_pairs: fewer than two WordNet nouns in the vocabulary")
    out: list[tuple] = []
    seen: set = set()
    down = ("~", "~i")
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        a = nouns[rng.integers(len(nouns))]
        if len(out) % 2 == 0:  # near: up 1-2 hypernyms, down 1-2 hyponyms
            s = wn.lemma_synsets(a, "n")[0]
            for _ in range(rng.integers(1, 3)):
                hs = wn.hypernyms(s)
                if not hs:
                    break
                s = hs[rng.integers(len(hs))]
            for _ in range(rng.integers(1, 3)):
                kids = [wn.synsets[p.key] for p in s.pointers if p.symbol in down and p.key in wn.synsets]
                if not kids:
                    break
                s = kids[rng.integers(len(kids))]
            cands = [w for w in (_single(x) for x in s.words) if w and w in vocab and w != a]
            if not cands:
                continue
            b = cands[rng.integers(len(cands))]
        else:
            b = nouns[rng.integers(len(nouns))]
        key = tuple(sorted((a, b)))
        if a == b or key in seen:
            continue
        seen.add(key)
        out.append((a, b, wn.word_similarity(a, b, measure)))
    return out


def evaluate_similarity(wv: WordVectors, pairs) -> dict:
    """Spearman correlation of cosine similarity with the pairs' WordNet similarity."""
    kept = [(a, b, s) for a, b, s in pairs if a in wv and b in wv]
    if len(kept) < 3:
        return {"spearman": float("nan"), "pairs": len(kept), "of": len(pairs)}
    cos = [wv.similarity(a, b) for a, b, _ in kept]
    return {"spearman": spearman(cos, [s for _, _, s in kept]), "pairs": len(kept), "of": len(pairs)}


# ----- analogies ------------------------------------------------------------------------
def _ancestor_keys(wn: WordNet, s):
    return set(wn.ancestors(s))


def analogy_pairs(wn: WordNet, vocab=None) -> dict[str, list[tuple[str, str]]]:
    """The four relations' word pairs (see the module docstring), restricted to ``vocab`` if
    given. Each first word appears once per relation (its first pair in file order)."""
    vocab = set(vocab) if vocab is not None else None
    syn = wn.synsets

    def ok(*ws):
        return all(w is not None and (vocab is None or w in vocab) for w in ws)

    rel: dict[str, list[tuple[str, str]]] = {k: [] for k in
                                             ("capital-country", "country-adjective", "adjective-adverb", "verb-agent")}
    capitals = {s.key for w in ("national_capital",) for s in wn.lemma_synsets(w, "n")}
    # "country, state, land": the territory (noun.location) and the body politic (noun.group)
    country_roots = {s.key for s in wn.lemma_synsets("country", "n") if "state" in s.words}
    country_memo: dict = {}

    def is_country(s):
        if s.key not in country_memo:
            instance = any(p.symbol == "@i" for p in s.pointers)  # a named country, not a kind of region
            country_memo[s.key] = instance and bool(country_roots & _ancestor_keys(wn, s))
        return country_memo[s.key]

    for s in list(syn.values()):
        if s.pos == "n" and any(p.symbol == "@i" and p.key in capitals for p in s.pointers):
            for p in s.pointers:
                if p.symbol == "#p" and p.key in syn and is_country(syn[p.key]):
                    a, b = _single(s.words[0]), _single(syn[p.key].words[0])
                    if a is not None and b is not None and ok(a, b) and a != b:
                        rel["capital-country"].append((a, b))
        elif s.pos in "as":
            for p in s.pointers:
                if p.symbol == "\\" and p.pos == "n" and p.key in syn and is_country(syn[p.key]):
                    t = syn[p.key]
                    a = _single(t.words[p.target - 1] if p.target else t.words[0])
                    b = _single(s.words[p.source - 1] if p.source else s.words[0])
                    if a is not None and b is not None and ok(a, b):
                        rel["country-adjective"].append((a, b))
        elif s.pos == "r":
            for p in s.pointers:
                if p.symbol == "\\" and p.source and p.target and p.key in syn:
                    a = _single(syn[p.key].words[p.target - 1])
                    b = _single(s.words[p.source - 1])
                    if a is not None and b is not None and ok(a, b) and a != b:
                        rel["adjective-adverb"].append((a, b))
        elif s.pos == "v":
            for p in s.pointers:
                if p.symbol == "+" and p.pos == "n" and p.source and p.target and p.key in syn:
                    t = syn[p.key]
                    if t.lexname != "noun.person":
                        continue
                    a, b = _single(s.words[p.source - 1]), _single(t.words[p.target - 1])
                    if a is not None and b is not None and ok(a, b) and b.endswith(("er", "or")) and a != b:
                        rel["verb-agent"].append((a, b))
    out = {}
    for k, pairs in rel.items():
        firsts, seconds, kept = set(), set(), []
        for a, b in pairs:
            if a not in firsts and b not in seconds:
                firsts.add(a)
                seconds.add(b)
                kept.append((a, b))
        out[k] = kept
    return out


def analogy_questions(pairs: dict[str, list[tuple[str, str]]], max_per_relation: int = 1000, seed: int = 0):
    """``{relation: [(a, b, c, d), ...]}``: ``a : b :: c : d`` from two distinct pairs."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, ps in pairs.items():
        qs = [(a, b, c, d) for i, (a, b) in enumerate(ps) for j, (c, d) in enumerate(ps) if i != j]
        if len(qs) > max_per_relation:
            qs = [qs[i] for i in sorted(rng.choice(len(qs), max_per_relation, replace=False))]
        out[k] = qs
    return out


def evaluate_analogies(wv: WordVectors, questions: dict) -> dict:
    """3CosAdd accuracy per relation and overall (questions with a word outside ``wv`` are
    dropped and counted)."""
    res: dict[str, dict] = {}
    right, total = 0, 0
    for k, qs in questions.items():
        kept = [q for q in qs if all(w in wv for w in q)]
        if not kept:
            res[k] = {"accuracy": None, "questions": 0}
            continue
        ids = np.array([[wv.index[w] for w in q] for q in kept])
        got = wv.analogy_batch(ids[:, :3])
        n_right = int((got == ids[:, 3]).sum())
        res[k] = {"accuracy": n_right / len(kept), "questions": len(kept)}
        right += n_right
        total += len(kept)
    res["overall"] = {"accuracy": right / total if total else None, "questions": total}
    return res


def nearest_neighbours(wv: WordVectors, words, k: int = 5) -> dict[str, list[str]]:
    return {w: [x for x, _ in wv.most_similar(w, topn=k)] for w in words if w in wv}
