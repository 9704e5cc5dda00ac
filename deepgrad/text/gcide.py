"""The GNU Collaborative International Dictionary of English (GCIDE), as dictd ships it.

Debian's ``dict-gcide`` installs two files in ``/usr/share/dictd``: ``gcide.dict.dz``, the
entries one after another (dictzip, which any gzip reader reads), and ``gcide.index``, one
line per headword: ``headword TAB offset TAB length``, offset and length in bytes of the
uncompressed text, written as base-64 numbers (digits ``A-Z a-z 0-9 + /``, most
significant first). Entries look like::

    Dog \\Dog\\ (d[add]g), n. [AS. docga; akin to D. dog]
       1. (Zool.) A quadruped of the genus {Canis}, esp. the
          domestic dog ({Canis familiaris}).
          [1913 Webster]

:func:`clean_entry` keeps the running text (headword and definitions) and drops
pronunciations (``\\...\\``), bracketed etymologies and source tags (``[...]``) and the
braces of cross-references. :func:`find_gcide` looks in ``$DEEPGRAD_GCIDE``,
``$DEEPGRAD_DATA/gcide``, ``~/.cache/deepgrad/gcide`` and ``/usr/share/dictd``.
"""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

SYSTEM_DIR = "/usr/share/dictd"
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUE = {c: i for i, c in enumerate(_B64)}


def b64_number(s: str) -> int:
    """dictd's base-64 number: ``"C" -> 2``, ``"BA" -> 64``."""
    n = 0
    for c in s:
        if c not in _B64_VALUE:
            raise ValueError(f"{s!r} is not a dictd base-64 number (bad digit {c!r})")
        n = n * 64 + _B64_VALUE[c]
    return n


def read_index(path) -> list[tuple[str, int, int]]:
    """``(headword, offset, length)`` for each line of a dictd ``.index`` file."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for k, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                raise ValueError(f"{path}:{k}: expected 'headword<TAB>offset<TAB>length', got {line[:60]!r}")
            out.append((parts[0], b64_number(parts[1]), b64_number(parts[2])))
    return out


def find_gcide(path=None) -> tuple[Path, Path]:
    """``(gcide.dict.dz or gcide.dict, gcide.index)``; ``FileNotFoundError`` saying where we looked."""
    candidates = [path] if path else []
    if not path:
        if os.environ.get("DEEPGRAD_GCIDE"):
            candidates.append(os.environ["DEEPGRAD_GCIDE"])
        if os.environ.get("DEEPGRAD_DATA"):
            candidates.append(os.path.join(os.environ["DEEPGRAD_DATA"], "gcide"))
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        candidates += [os.path.join(cache, "deepgrad", "gcide"), SYSTEM_DIR]
    for c in candidates:
        d = Path(c)
        for name in ("gcide.dict.dz", "gcide.dict"):
            if (d / name).is_file() and (d / "gcide.index").is_file():
                return d / name, d / "gcide.index"
    raise FileNotFoundError(
        "GCIDE (gcide.dict.dz and gcide.index) not found in " + ", ".join(map(str, candidates))
        + "; install it with `apt-get install dict-gcide` (or bash scripts/get-data.sh), "
        "or point DEEPGRAD_GCIDE at a directory holding them")


def read_entries(path=None):
    """Yield ``(headword, raw entry text)`` for each distinct entry, in file order (the
    database's own ``00-database-*`` entries are skipped)."""
    data_path, index_path = find_gcide(path)
    index = read_index(index_path)
    opener = gzip.open if data_path.suffix == ".dz" else open
    with opener(data_path, "rb") as f:
        data = f.read()
    seen = set()
    for head, off, length in sorted(index, key=lambda r: r[1]):
        if head.startswith("00-") or off in seen:
            continue
        if off + length > len(data):
            raise ValueError(f"{index_path}: entry {head!r} ends at byte {off + length}, past the end of {data_path}")
        seen.add(off)
        yield head, data[off:off + length].decode("utf-8", errors="replace")


_PRON = re.compile(r"\\[^\\\n]*\\")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_BRACES = re.compile(r"[{}]")
_SPACES = re.compile(r"\s+")


def clean_entry(text: str) -> str:
    """The running text of an entry: pronunciations, etymologies and source tags removed,
    cross-reference braces dropped, whitespace collapsed."""
    text = _PRON.sub(" ", text)
    for _ in range(3):  # nested brackets: [AS. docga [?]] -> ''
        text = _BRACKETS.sub(" ", text)
    text = _BRACES.sub("", text)
    return _SPACES.sub(" ", text).strip()


def gcide_documents(path=None, limit: int | None = None) -> list[str]:
    """One cleaned text per dictionary entry (at most ``limit``), for a corpus."""
    docs = []
    for _, raw in read_entries(path):
        docs.append(clean_entry(raw))
        if limit is not None and len(docs) >= limit:
            break
    return docs
