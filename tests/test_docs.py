"""The documentation site (MkDocs, strict mode): builds without a warning, and maps every
course week that has an example.

mkdocs is in the ``test`` extra (pyproject.toml), so this test runs wherever the test
command's install ran; a broken link, a missing page or a bad anchor fails the build.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_mkdocs_builds_in_strict_mode(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"mkdocs build --strict failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert (tmp_path / "site" / "index.html").exists()
    assert (tmp_path / "site" / "c4-w2" / "index.html").exists()


def test_every_course_week_with_an_example_has_a_page():
    weeks = {(int(m.group(1)), int(m.group(2)))
             for p in (ROOT / "examples").glob("c[0-9]w[0-9]_*.py") if (m := re.match(r"c(\d)w(\d)_", p.name))}
    assert weeks, "no examples found"
    for c, w in sorted(weeks):
        page = DOCS / f"c{c}-w{w}.md"
        assert page.exists(), f"course {c}, week {w} has an example but no page {page.name}"
        first = page.read_text().splitlines()[0]
        assert first.startswith(f"# Course {c}, week {w}: "), (page.name, first)


def test_pages_name_real_files():
    """Every `path/file.py` a page names exists (a renamed file must not leave the map stale)."""
    missing = []
    for page in DOCS.glob("*.md"):
        for path in re.findall(r"`((?:deepgrad|examples|scripts|benchmarks)/[\w/]+\.py)", page.read_text()):
            if not (ROOT / path).exists():
                missing.append(f"{page.name}: {path}")
    assert not missing, missing
