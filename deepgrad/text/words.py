"""The English word list (``/usr/share/dict/american-english``, Debian's ``wamerican``).

About 104,000 entries, one per line: ordinary words ("aardvark"), proper names of
people and places ("Aaron", "Abilene") and possessives ("Aaron's"). The character-level
language model of course 5 (the dinosaur-names exercise) trains on names or words from it.
"""
from __future__ import annotations

import os

WORDLIST_PATH = "/usr/share/dict/american-english"
KINDS = ("names", "words", "all")
_HOW = "install it with `apt-get install wamerican` (or scripts/get-data.sh)"


def read_words(kind: str = "words", path: str | None = None, lower: bool = True, ascii_only: bool = True,
               min_length: int = 1, max_length: int | None = None) -> list[str]:
    """Entries of the word list, in file order, without duplicates.

    ``kind``: ``"words"`` (all-lowercase entries: ordinary words), ``"names"``
    (capitalized entries: names of people and places, "Aaron"), or ``"all"``.
    Possessives ("Aaron's") and entries with other characters (digits, hyphens) are
    always left out; ``ascii_only`` also drops accented entries ("éclair"). ``lower``
    lowercases the result (the course's 27-character vocabulary).
    """
    if kind not in KINDS:
        raise ValueError(f"read_words: kind must be one of {KINDS}, got {kind!r}")
    path = path or WORDLIST_PATH
    if not os.path.exists(path):
        raise FileNotFoundError(f"English word list not found at {path}: {_HOW}")
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            w = line.strip()
            if not w or not w.isalpha() or (ascii_only and not w.isascii()):
                continue
            is_name = len(w) > 1 and w[0].isupper() and w[1:].islower()
            is_word = w.islower()
            if (kind == "names" and not is_name) or (kind == "words" and not is_word) or \
                    (kind == "all" and not (is_name or is_word)):
                continue
            if len(w) < min_length or (max_length is not None and len(w) > max_length):
                continue
            if lower:
                w = w.lower()
            if w not in seen:
                seen.add(w)
                out.append(w)
    return out
