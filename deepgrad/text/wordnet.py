"""WordNet's database files, read directly: synsets, their words, gloss and lexical category.

WordNet 3.0 ships as plain text (``wndb(5WN)``): ``data.{noun,verb,adj,adv}`` hold one
synset per line::

    offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] p_cnt [ptr ...] [frames] | gloss

``lex_filenum`` (two decimal digits) names the lexicographer file, the synset's lexical
category (45 of them: ``noun.animal``, ``noun.food``, ``verb.motion``, ...; see
:data:`LEXNAMES`); ``w_cnt`` is two hex digits, ``lex_id`` one hex digit, ``p_cnt`` three
decimal digits; each pointer is ``symbol offset pos source/target`` (``@`` hypernym, ``@i``
instance hypernym, ``!`` antonym, ``\\`` pertainym, ``+`` derivationally related, ...). The
gloss is a definition followed by quoted examples. ``index.<pos>`` lists each lemma's
synsets in order of frequency (the first is the most common sense).

The files come from Debian's ``wordnet-base`` (``/usr/share/wordnet``); :func:`find_wordnet`
also looks in ``$DEEPGRAD_WORDNET``, ``$DEEPGRAD_DATA/wordnet`` and ``~/.cache/deepgrad/wordnet``.

The noun hypernym graph (``@`` and ``@i`` pointers, one root: ``entity``) gives WordNet's
own similarities: :meth:`WordNet.path_similarity` and :meth:`WordNet.wup_similarity`
(Wu & Palmer 1994, computed as NLTK does), used to evaluate word vectors.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

#: the 45 lexicographer files, indexed by ``lex_filenum`` (lexnames(5WN))
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)
#: data file suffix for each part of speech (satellite adjectives ``s`` live in data.adj)
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
HYPERNYM_SYMBOLS = ("@", "@i")
SYSTEM_DIR = "/usr/share/wordnet"
_MARKER = re.compile(r"\((?:a|p|ip)\)$")  # adjective syntactic markers: big(a), galore(ip)


class Pointer(NamedTuple):
    """``symbol`` (``@``, ``!``, ...), target synset ``offset`` and ``pos``; ``source``/``target``
    word numbers (1-based; 0 and 0 for a semantic pointer between whole synsets)."""

    symbol: str
    offset: int
    pos: str
    source: int
    target: int

    @property
    def key(self) -> tuple[str, int]:
        return (_file_pos(self.pos), self.offset)


@dataclass
class Synset:
    """One line of a data file. ``words`` keep WordNet's spelling (``physical_entity``,
    ``France``); ``lexname`` is the lexical category; ``gloss`` the full gloss text."""

    offset: int
    pos: str
    lexname: str
    words: tuple[str, ...]
    pointers: tuple[Pointer, ...] = ()
    gloss: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """``(file pos, offset)``: unique across the four data files (``s`` counts as ``a``)."""
        return (_file_pos(self.pos), self.offset)

    @property
    def definition(self) -> str:
        """The gloss without its quoted examples."""
        return _split_gloss(self.gloss)[0]

    @property
    def examples(self) -> list[str]:
        """The gloss's quoted example sentences."""
        return _split_gloss(self.gloss)[1]

    def lemmas(self) -> list[str]:
        """The words lowercased, with spaces for underscores (``physical entity``)."""
        return [w.replace("_", " ").lower() for w in self.words]

    def __repr__(self) -> str:
        return f"Synset({self.words[0]}.{self.pos}.{self.offset:08d}, {self.lexname})"


def _file_pos(pos: str) -> str:
    return "a" if pos == "s" else pos


def _split_gloss(gloss: str) -> tuple[str, list[str]]:
    examples = re.findall(r'"([^"]*)"', gloss)
    definition = gloss.split('"', 1)[0].strip().rstrip(";").strip()
    return definition, examples


def parse_data_line(line: str) -> Synset:
    """One synset line of ``data.<pos>`` -> :class:`Synset`. Raises ``ValueError`` naming the
    problem on a malformed line."""
    head, sep, gloss = line.partition(" | ")
    if not sep:
        head, gloss = line.rstrip("\n").rstrip(), ""
    f = head.split()
    try:
        offset, lex_filenum, ss_type = int(f[0]), int(f[1]), f[2]
        w_cnt = int(f[3], 16)
        words = tuple(f[4:4 + 2 * w_cnt:2])
        if ss_type in "as":
            words = tuple(_MARKER.sub("", w) for w in words)
        k = 4 + 2 * w_cnt
        p_cnt = int(f[k])
        pointers = []
        for j in range(p_cnt):
            sym, off, pos, st = f[k + 1 + 4 * j: k + 5 + 4 * j]
            pointers.append(Pointer(sym, int(off), pos, int(st[:2], 16), int(st[2:], 16)))
    except (IndexError, ValueError) as e:
        raise ValueError(f"not a WordNet data line ({e}): {line[:80]!r}") from None
    if ss_type not in "nvasr" or len(ss_type) != 1:
        raise ValueError(f"unknown synset type {ss_type!r} in {line[:80]!r}")
    if not 0 <= lex_filenum < len(LEXNAMES):
        raise ValueError(f"lex_filenum {lex_filenum} out of range in {line[:80]!r}")
    return Synset(offset, ss_type, LEXNAMES[lex_filenum], words, tuple(pointers), gloss.strip())


def read_data_file(path) -> list[Synset]:
    """Every synset of one ``data.<pos>`` file (the license header, lines starting with two
    spaces, is skipped)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or not line.strip():
                continue
            out.append(parse_data_line(line))
    return out


def read_index_file(path) -> dict[str, list[int]]:
    """``index.<pos>``: lemma (lowercase, underscores) -> its synset offsets, most frequent
    sense first."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or not line.strip():
                continue
            f_ = line.split()
            try:
                synset_cnt, p_cnt = int(f_[2]), int(f_[3])
                offs = f_[4 + p_cnt + 2:]
                out[f_[0]] = [int(o) for o in offs[:synset_cnt]]
            except (IndexError, ValueError) as e:
                raise ValueError(f"not a WordNet index line ({e}): {line[:80]!r}") from None
    return out


def find_wordnet(path=None) -> Path:
    """The directory holding ``data.noun`` etc.; ``FileNotFoundError`` saying where we looked."""
    tried = []
    candidates = [path] if path else []
    if not path:
        if os.environ.get("DEEPGRAD_WORDNET"):
            candidates.append(os.environ["DEEPGRAD_WORDNET"])
        if os.environ.get("DEEPGRAD_DATA"):
            candidates.append(os.path.join(os.environ["DEEPGRAD_DATA"], "wordnet"))
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        candidates += [os.path.join(cache, "deepgrad", "wordnet"), SYSTEM_DIR]
    for c in candidates:
        p = Path(c)
        tried.append(str(p))
        if (p / "data.noun").is_file():
            return p
    raise FileNotFoundError(
        "WordNet's data files (data.noun, ...) not found in " + ", ".join(tried)
        + "; install them with `apt-get install wordnet-base` (or bash scripts/get-data.sh), "
        "or point DEEPGRAD_WORDNET at a directory holding them")


class WordNet:
    """The synsets of the data files found in ``path`` (see :func:`find_wordnet`).

    ``wn.synsets``: ``{(pos, offset): Synset}`` (``pos`` in ``n v a r``);
    ``wn.lemma_synsets(word, "n")``: the word's synsets, most frequent sense first.
    """

    def __init__(self, path=None, pos: str = "nvar"):
        self.path = find_wordnet(path)
        self.synsets: dict[tuple[str, int], Synset] = {}
        self._index: dict[str, dict[str, list[int]]] = {}
        for p in pos:
            name = POS_FILES[p]
            data = self.path / f"data.{name}"
            if not data.is_file():
                raise FileNotFoundError(f"{data} not found (WordNet directory {self.path})")
            for s in read_data_file(data):
                self.synsets[s.key] = s
            index = self.path / f"index.{name}"
            self._index[p] = read_index_file(index) if index.is_file() else self._index_from_data(p)
        self._depth: dict[tuple[str, int], int] = {}

    def _index_from_data(self, pos: str) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for (p, off), s in self.synsets.items():
            if p == pos:
                for w in s.words:
                    out.setdefault(w.lower(), []).append(off)
        return out

    def __len__(self) -> int:
        return len(self.synsets)

    def __iter__(self):
        return iter(self.synsets.values())

    def lemma_synsets(self, word: str, pos: str = "n") -> list[Synset]:
        offs = self._index.get(pos, {}).get(word.lower().replace(" ", "_"), [])
        return [self.synsets[(pos, o)] for o in offs if (pos, o) in self.synsets]

    def lemmas(self, pos: str = "n") -> list[str]:
        return sorted(self._index.get(pos, {}))

    # ----- the hypernym graph ------------------------------------------------------------
    def hypernyms(self, s: Synset) -> list[Synset]:
        """Direct hypernyms (``@``) and instance hypernyms (``@i``)."""
        return [self.synsets[p.key] for p in s.pointers if p.symbol in HYPERNYM_SYMBOLS and p.key in self.synsets]

    def ancestors(self, s: Synset) -> dict[tuple[str, int], int]:
        """Every hypernym reachable from ``s`` (``s`` included) -> shortest distance in edges."""
        dist = {s.key: 0}
        frontier = [s]
        while frontier:
            nxt = []
            for t in frontier:
                d = dist[t.key] + 1
                for h in self.hypernyms(t):
                    if h.key not in dist:
                        dist[h.key] = d
                        nxt.append(h)
            frontier = nxt
        return dist

    def max_depth(self, s: Synset) -> int:
        """Length of the longest hypernym path from ``s`` to a root (0 for a root)."""
        if s.key in self._depth:
            return self._depth[s.key]
        stack, order = [s], []
        while stack:  # iterative post-order over the hypernym DAG
            t = stack.pop()
            if t.key in self._depth:
                continue
            hs = self.hypernyms(t)
            pending = [h for h in hs if h.key not in self._depth]
            if pending:
                order.append(t)
                stack.append(t)
                stack.extend(pending)
                if len(order) > 10 * len(self.synsets) + 10:
                    raise ValueError("hypernym graph has a cycle")
                continue
            self._depth[t.key] = 1 + max((self._depth[h.key] for h in hs), default=-1)
        return self._depth[s.key]

    def _common(self, a: Synset, b: Synset):
        da, db = self.ancestors(a), self.ancestors(b)
        return da, db, [k for k in da if k in db]

    def path_similarity(self, a: Synset, b: Synset) -> float:
        """``1 / (1 + shortest path length)`` through a common hypernym (0 if none)."""
        da, db, common = self._common(a, b)
        if not common:
            return 0.0
        return 1.0 / (1 + min(da[k] + db[k] for k in common))

    def wup_similarity(self, a: Synset, b: Synset) -> float:
        """Wu-Palmer: ``2 d(lcs) / (len(a, lcs) + len(b, lcs) + 2 d(lcs))``, with ``lcs`` the
        deepest common hypernym and ``d`` its depth + 1 (NLTK's definition). In (0, 1]."""
        da, db, common = self._common(a, b)
        if not common:
            return 0.0
        lcs = max(common, key=lambda k: (self.max_depth(self.synsets[k]), -(da[k] + db[k])))
        depth = self.max_depth(self.synsets[lcs]) + 1
        return 2.0 * depth / (da[lcs] + db[lcs] + 2 * depth)

    def word_similarity(self, w1: str, w2: str, measure: str = "wup", pos: str = "n") -> float | None:
        """Similarity of two words: the maximum over their synsets' pairs (Resnik 1995);
        ``None`` if either word has no synset of ``pos``."""
        s1, s2 = self.lemma_synsets(w1, pos), self.lemma_synsets(w2, pos)
        if not s1 or not s2:
            return None
        fn = {"wup": self.wup_similarity, "path": self.path_similarity}[measure]
        return max(fn(a, b) for a in s1 for b in s2)


def gloss_documents(wn: WordNet, with_words: bool = True) -> list[str]:
    """One text per synset, for a corpus: its words (``physical entity``), then the gloss
    (definition and examples). Putting the headwords in front lets each word share a window
    with its own definition."""
    docs = []
    for s in wn:
        text = s.gloss.replace('"', " ")
        if with_words:
            text = " ".join(s.lemmas()) + " : " + text
        docs.append(text)
    return docs
