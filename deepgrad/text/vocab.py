"""``Vocab``: the mapping between tokens (characters or words) and integer ids (course 5, week 1).

The course's dinosaur-name model has a vocabulary of 27 characters (a-z and "\\n", which
ends a name); a word-level model maps each word to an id and every rare or unseen word
to one unknown token. Built from text with a minimum count and an optional size cap;
ids are assigned to the special tokens first, then by decreasing count (ties in
alphabetical order), so the same text always gives the same ids. Saved as JSON.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter

import numpy as np

_WORD_RE = re.compile(r"\w+|[^\w\s]")

LEVELS = ("char", "word")


def tokenize(text: str, level: str = "char", lower: bool = False) -> list[str]:
    """``list(text)`` for characters; words and punctuation marks for ``level="word"``."""
    if lower:
        text = text.lower()
    if level == "char":
        return list(text)
    if level == "word":
        return _WORD_RE.findall(text)
    raise ValueError(f"tokenize: level must be one of {LEVELS}, got {level!r}")


class Vocab:
    """Tokens <-> ids. ``vocab[token]`` is an id, ``vocab.itos[i]`` the token of id i.

    ``unk_token`` (default ``"<unk>"``, None to refuse unknown tokens) receives every
    token not in the vocabulary. ``counts`` holds how often each token was seen when the
    vocabulary was built (0 for special tokens).
    """

    def __init__(self, tokens, level: str = "char", unk_token: str | None = "<unk>", counts=None, lower: bool = False):
        if level not in LEVELS:
            raise ValueError(f"Vocab: level must be one of {LEVELS}, got {level!r}")
        self.level, self.lower, self.unk_token = level, bool(lower), unk_token
        self.itos: list[str] = []
        self.stoi: dict[str, int] = {}
        for t in ([unk_token] if unk_token is not None else []) + list(tokens):
            if t not in self.stoi:
                self.stoi[t] = len(self.itos)
                self.itos.append(t)
        self.counts = np.zeros(len(self.itos), dtype=np.int64)
        if counts is not None:
            for t, c in dict(counts).items():
                if t in self.stoi:
                    self.counts[self.stoi[t]] = int(c)

    # ----- building ------------------------------------------------------------------
    @classmethod
    def build(cls, texts, level: str = "char", min_count: int = 1, max_size: int | None = None,
              unk_token: str | None = "<unk>", specials=(), lower: bool = False) -> Vocab:
        """From an iterable of strings (or one string): tokens seen at least ``min_count``
        times, at most ``max_size`` of them (the most frequent), after ``specials``."""
        if isinstance(texts, str):
            texts = [texts]
        counter: Counter = Counter()
        for t in texts:
            counter.update(tokenize(t, level, lower))
        keep = sorted((t for t, c in counter.items() if c >= min_count and t not in specials and t != unk_token),
                      key=lambda t: (-counter[t], t))
        if max_size is not None:
            keep = keep[:max(0, max_size - len(specials) - (unk_token is not None))]
        if not keep and not specials:
            raise ValueError(f"Vocab.build: no token occurs at least {min_count} times")
        return cls(list(specials) + keep, level=level, unk_token=unk_token, counts=counter, lower=lower)

    # ----- lookups -------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is None:
            if self.unk_token is None:
                raise KeyError(f"Vocab: token {token!r} is not in the vocabulary (and there is no unknown token)")
            return self.stoi[self.unk_token]
        return i

    @property
    def unk_index(self):
        return None if self.unk_token is None else self.stoi[self.unk_token]

    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level, self.lower)

    def encode(self, text) -> np.ndarray:
        """A string (tokenized at this vocabulary's level) or a list of tokens -> int64 ids."""
        tokens = self.tokenize(text) if isinstance(text, str) else text
        return np.fromiter((self[t] for t in tokens), dtype=np.int64, count=len(tokens))

    def decode(self, ids) -> str:
        """ids -> text (characters joined as they are, words with spaces)."""
        ids = np.asarray(getattr(ids, "data", ids)).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            raise IndexError(f"Vocab.decode: id {int(ids.max() if ids.max() >= len(self) else ids.min())} "
                             f"is out of range for a vocabulary of {len(self)}")
        sep = "" if self.level == "char" else " "
        return sep.join(self.itos[i] for i in ids.tolist())

    # ----- files ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"format": "deepgrad.vocab", "version": 1, "level": self.level, "lower": self.lower,
                "unk_token": self.unk_token, "tokens": self.itos, "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        if not isinstance(d, dict) or d.get("format") != "deepgrad.vocab":
            raise ValueError("Vocab: not a deepgrad vocabulary (missing format 'deepgrad.vocab')")
        tokens, unk = d["tokens"], d.get("unk_token")
        if unk is not None and (not tokens or tokens[0] != unk):
            raise ValueError("Vocab: damaged file (the unknown token must have id 0)")
        rest = tokens[1:] if unk is not None else tokens
        v = cls(rest, level=d["level"], unk_token=unk, lower=d.get("lower", False))
        if len(v) != len(tokens):
            raise ValueError("Vocab: damaged file (repeated tokens)")
        counts = d.get("counts")
        if counts is not None:
            v.counts = np.asarray(counts, dtype=np.int64)
        return v

    def save(self, path) -> None:
        """Write the vocabulary as JSON (atomically: readers see the old file or the new one)."""
        from ..serialization import atomic_write_bytes

        atomic_write_bytes(path, (json.dumps(self.to_dict(), ensure_ascii=False) + "\n").encode("utf-8"))

    @classmethod
    def load(cls, path) -> Vocab:
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        return f"Vocab({len(self)} {self.level} tokens: {head}{', ...' if len(self) > 8 else ''})"
