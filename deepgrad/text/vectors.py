"""Operations on word vectors (course 5, week 2, "Operations on word vectors").

:class:`WordVectors` holds a vocabulary and one vector per word, reads and writes the
word2vec formats (the text format: a header ``"<count> <dim>"`` then one line per word,
``word v1 v2 ... vd``; the binary format: the same header, then each word, a space and
``dim`` little-endian float32s), the ones gensim's ``KeyedVectors.load_word2vec_format``
reads, and answers the course's questions:

* :func:`cosine_similarity` ``u.v / (|u| |v|)``; :meth:`WordVectors.most_similar`;
* analogies ``a : b :: c : ?`` (:meth:`WordVectors.analogy`, 3CosAdd: the word nearest to
  ``b - a + c`` on unit vectors, the three question words excluded);
* debiasing as in Bolukbasi et al. 2016, "Man is to computer programmer as woman is to
  homemaker?": :func:`bias_direction`, :func:`neutralize` (remove a gender-neutral
  word's projection on the bias direction) and :func:`equalize` (make a pair such as
  actor/actress symmetric around it, so every neutralized word is equidistant from both).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def cosine_similarity(u, v) -> float:
    """``u . v / (||u|| ||v||)``; 0 when either vector is zero."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
    if nu == 0 or nv == 0:
        return 0.0
    return float(u @ v / (nu * nv))


def _unit(m: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(m, axis=-1, keepdims=True)
    return m / np.where(n == 0, 1, n)


class WordVectors:
    """``words`` (list of str, no whitespace inside a word) and ``vectors`` ``(len(words), dim)``."""

    def __init__(self, words, vectors):
        words = list(words)
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"WordVectors: {len(words)} words but vectors of shape {vectors.shape}")
        bad = [w for w in words if not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(f"WordVectors: words must be non-empty and contain no whitespace, got {bad[:3]!r}")
        self.words = words
        self.vectors = vectors
        self.index = {w: i for i, w in enumerate(words)}
        if len(self.index) != len(words):
            raise ValueError("WordVectors: repeated words")
        self._unit = None

    # ----- lookup ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        try:
            return self.vectors[self.index[word]]
        except KeyError:
            raise KeyError(f"word {word!r} not in the vocabulary ({len(self)} words)") from None

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    @property
    def unit(self) -> np.ndarray:
        """The vectors scaled to length 1 (float32, cached)."""
        if self._unit is None:
            self._unit = _unit(self.vectors.astype(np.float32))
        return self._unit

    def similarity(self, w1: str, w2: str) -> float:
        return cosine_similarity(self[w1], self[w2])

    def most_similar(self, query, topn: int = 10, exclude=()) -> list[tuple[str, float]]:
        """The ``topn`` words of highest cosine similarity to ``query`` (a word or a vector)."""
        if isinstance(query, str):
            exclude = set(exclude) | {query}
            query = self[query]
        q = _unit(np.asarray(query, dtype=np.float32))
        sims = self.unit @ q
        for w in exclude:
            if w in self.index:
                sims[self.index[w]] = -np.inf
        k = min(topn, len(self) - 1)
        top = np.argpartition(-sims, k)[:k] if k < len(self) else np.arange(len(self))
        top = top[np.argsort(-sims[top])]
        return [(self.words[i], float(sims[i])) for i in top if np.isfinite(sims[i])][:topn]

    def analogy(self, a: str, b: str, c: str, topn: int = 1):
        """``a : b :: c : ?``: the word(s) nearest to ``b - a + c`` (unit vectors), excluding
        ``a``, ``b`` and ``c``. With ``topn=1`` the word, else ``[(word, similarity), ...]``."""
        u = self.unit
        target = u[self.index[b]] - u[self.index[a]] + u[self.index[c]] if all(
            w in self for w in (a, b, c)) else None
        if target is None:
            missing = [w for w in (a, b, c) if w not in self]
            raise KeyError(f"analogy: {missing} not in the vocabulary")
        best = self.most_similar(target, topn=topn, exclude=(a, b, c))
        return best[0][0] if topn == 1 else best

    def analogy_batch(self, questions: np.ndarray, chunk: int = 512) -> np.ndarray:
        """Answers (word indices) to ``questions`` ``(n, 3)`` of word indices ``a, b, c``."""
        q = np.asarray(questions, dtype=np.int64)
        u = self.unit
        out = np.empty(len(q), dtype=np.int64)
        for s in range(0, len(q), chunk):
            a, b, c = q[s:s + chunk].T
            sims = (u[b] - u[a] + u[c]) @ u.T
            rows = np.arange(len(a))
            for col in (a, b, c):
                sims[rows, col] = -np.inf
            out[s:s + chunk] = sims.argmax(axis=1)
        return out

    def subset(self, words) -> WordVectors:
        keep = [w for w in words if w in self.index]
        return WordVectors(keep, self.vectors[[self.index[w] for w in keep]])

    def copy(self) -> WordVectors:
        return WordVectors(list(self.words), self.vectors.copy())

    # ----- files -------------------------------------------------------------------------
    def save_word2vec_format(self, path, binary: bool = False) -> None:
        """Write the word2vec text (or binary) format, atomically (a temporary file renamed)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        v = np.ascontiguousarray(self.vectors, dtype=np.float32)
        with open(tmp, "wb") as f:
            f.write(f"{len(self)} {self.dim}\n".encode())
            if binary:
                for w, row in zip(self.words, v):
                    f.write(w.encode() + b" " + row.astype("<f4").tobytes() + b"\n")
            else:
                for w, row in zip(self.words, v):
                    f.write((w + " " + " ".join(f"{x:.6g}" for x in row) + "\n").encode())
        os.replace(tmp, path)

    @classmethod
    def load_word2vec_format(cls, path, binary: bool = False) -> WordVectors:
        """Read what :meth:`save_word2vec_format` (or gensim, or the original word2vec) wrote."""
        with open(path, "rb") as f:
            header = f.readline().split()
            try:
                n, dim = int(header[0]), int(header[1])
            except (IndexError, ValueError):
                raise ValueError(f"{path}: the first line must be '<count> <dim>', got {header!r}") from None
            words, vecs = [], np.empty((n, dim), dtype=np.float32)
            for i in range(n):
                if binary:
                    word = bytearray()
                    while True:
                        ch = f.read(1)
                        if not ch:
                            raise ValueError(f"{path}: ends after {i} of {n} words")
                        if ch == b" ":
                            break
                        if ch != b"\n":
                            word += ch
                    buf = f.read(4 * dim)
                    if len(buf) != 4 * dim:
                        raise ValueError(f"{path}: word {i} ({word.decode(errors='replace')!r}) is cut short")
                    words.append(word.decode())
                    vecs[i] = np.frombuffer(buf, dtype="<f4")
                else:
                    parts = f.readline().decode().rstrip("\n").rstrip().split(" ")
                    if len(parts) != dim + 1:
                        raise ValueError(f"{path}: line {i + 2} has {len(parts) - 1} numbers, expected {dim}")
                    words.append(parts[0])
                    vecs[i] = np.asarray(parts[1:], dtype=np.float32)
        return cls(words, vecs)


# ----- debiasing (Bolukbasi et al. 2016) ------------------------------------------------
def bias_direction(wv: WordVectors, pairs, method: str = "pca") -> np.ndarray:
    """A unit vector along the bias, from definitional ``pairs`` like ``[("woman", "man"), ...]``.

    ``"difference"``: the mean of ``e_a - e_b`` (the course takes ``e_woman - e_man``);
    ``"pca"``: Bolukbasi's first principal component of the pairs' centred vectors (the sign
    chosen to agree with the mean difference). Vectors are taken at unit length."""
    pairs = [(a, b) for a, b in pairs if a in wv and b in wv]
    if not pairs:
        raise ValueError("bias_direction: none of the pairs is in the vocabulary")
    ea = wv.unit[[wv.index[a] for a, _ in pairs]].astype(np.float64)
    eb = wv.unit[[wv.index[b] for _, b in pairs]].astype(np.float64)
    diff = (ea - eb).mean(axis=0)
    if method == "difference":
        g = diff
    elif method == "pca":
        mid = (ea + eb) / 2
        centred = np.concatenate([ea - mid, eb - mid])
        g = np.linalg.svd(centred, full_matrices=False)[2][0]
        g = g if g @ diff >= 0 else -g
    else:
        raise ValueError(f"bias_direction: method must be 'pca' or 'difference', got {method!r}")
    return g / np.linalg.norm(g)


def neutralize(e, g) -> np.ndarray:
    """``e`` minus its projection on the bias axis ``g``: ``e - (e.g / ||g||^2) g``."""
    e, g = np.asarray(e, dtype=np.float64), np.asarray(g, dtype=np.float64)
    return e - (e @ g) / (g @ g) * g


def equalize(e1, e2, g) -> tuple[np.ndarray, np.ndarray]:
    """Make the pair ``(e1, e2)`` differ only along ``g``, symmetrically (Bolukbasi's equalize).

    On unit vectors: ``mu = (e1 + e2) / 2``, ``mu_orth = mu - proj_g(mu)``; each word becomes
    ``mu_orth + sqrt(1 - ||mu_orth||^2) * (proj_g(e_i) - proj_g(mu)) / ||proj_g(e_i) - proj_g(mu)||``.
    Both results have length 1, the same component ``mu_orth`` off the axis and opposite
    components on it, so any vector orthogonal to ``g`` (a neutralized word) has the same
    dot product and cosine with both. (The course's notebook divides by
    ``||e_i - mu_orth - mu_B||`` instead, which leaves the lengths slightly off 1.)"""
    g = np.asarray(g, dtype=np.float64)
    e1, e2 = _unit(np.asarray(e1, dtype=np.float64)), _unit(np.asarray(e2, dtype=np.float64))
    gg = g @ g
    mu = (e1 + e2) / 2
    mu_b = (mu @ g) / gg * g
    mu_orth = mu - mu_b
    scale = np.sqrt(max(1.0 - mu_orth @ mu_orth, 0.0))
    out = []
    for e in (e1, e2):
        d = (e @ g) / gg * g - mu_b
        nd = np.linalg.norm(d)
        if nd == 0:
            raise ValueError("equalize: the two words have the same projection on the bias axis")
        out.append(mu_orth + scale * d / nd)
    return out[0], out[1]


def hard_debias(wv: WordVectors, g, neutral_words, equalize_pairs) -> WordVectors:
    """A copy of ``wv`` (at unit length) with ``neutral_words`` neutralized and
    ``equalize_pairs`` equalized along ``g``; words not in the vocabulary are skipped."""
    out = WordVectors(list(wv.words), wv.unit.astype(np.float64))
    for w in neutral_words:
        if w in out:
            out.vectors[out.index[w]] = neutralize(out.vectors[out.index[w]], g)
    for a, b in equalize_pairs:
        if a in out and b in out:
            ia, ib = out.index[a], out.index[b]
            out.vectors[ia], out.vectors[ib] = equalize(out.vectors[ia], out.vectors[ib], g)
    out._unit = None
    return out
