"""Python's standard library as a text corpus: megabytes of real, structured text on every
machine that runs deepgrad (the character-level model of course 5 generates code from it)."""
from __future__ import annotations

import os
import sysconfig

import numpy as np

_SKIP = ("test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__")


def python_source_files(root: str | None = None) -> list[str]:
    """Paths of the ``.py`` files of the running interpreter's standard library (test
    suites and installed packages left out), sorted."""
    root = root or sysconfig.get_paths()["stdlib"]
    files = []
    for d, dirs, fs in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x not in _SKIP)
        files += [os.path.join(d, f) for f in sorted(fs) if f.endswith(".py")]
    if not files:
        raise FileNotFoundError(f"no Python source files found under {root}")
    return files


def python_sources(max_files: int | None = None, seed: int = 0, root: str | None = None) -> list[str]:
    """The text of ``max_files`` standard-library files drawn at random (``seed``), or of all."""
    files = python_source_files(root)
    rng = np.random.default_rng(seed)
    rng.shuffle(files)
    texts: list[str] = []
    for p in files:
        if max_files is not None and len(texts) >= max_files:
            break
        try:
            with open(p, encoding="utf-8") as f:
                texts.append(f.read())
        except (UnicodeDecodeError, OSError):
            continue
    return texts
