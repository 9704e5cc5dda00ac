"""benchmarks/mlp.py, rnn.py, transformer.py and seq2seq.py run, with tiny settings, and report
what they promise: each contender timed alone in fresh subprocesses, and the ratios (speed
itself is never asserted). benchmarks/conv.py has its own test (tests/vision/test_benchmark_smoke.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _run(script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    return json.loads(text[text.index("{"):])


def _torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_mlp_benchmark():
    r = _run("mlp.py", "--steps", "2", "--repeats", "2", "--rounds", "1")
    assert r["timing"].startswith("each contender alone")
    assert r["ms_per_step"]["deepgrad"] > 0 and r["ms_per_step"]["numpy_by_hand"] > 0
    if _torch():
        assert r["ratio_vs_torch_default"] > 0 and r["ratio_vs_torch_foreach"] > 0


@pytest.mark.slow
def test_rnn_benchmark():
    r = _run("rnn.py", "--steps", "2", "--warmup", "1", "--repeats", "1", "--cells", "gru")
    row = r["cells"]["gru"]
    assert r["timing"].startswith("each library alone")
    assert row["deepgrad_step_ms"]["median"] > 0 and row["deepgrad_rss_growth_mib"] is not None
    if _torch():
        assert row["ratio_median"] > 0 and row["torch_rss_growth_mib"] is not None


@pytest.mark.slow
@pytest.mark.parametrize("script", ["transformer.py", "seq2seq.py"])
def test_transformer_and_seq2seq_benchmarks(script):
    r = _run(script, "--steps", "1", "--repeats", "1")
    assert r["timing"].startswith("each library alone")
    assert r["ms_per_step"]["deepgrad"] > 0
    if _torch():
        assert r["ratio_vs_torch"] > 0
