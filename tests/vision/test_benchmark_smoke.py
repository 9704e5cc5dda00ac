"""benchmarks/conv.py runs and reports what it promises (speed itself is never asserted)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "conv.py"


@pytest.mark.slow
def test_conv_benchmark_reports_times_ratios_and_memory(capsys):
    spec = importlib.util.spec_from_file_location("bench_conv", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    report = mod.main(["--steps", "1", "--warmup", "0", "--rounds", "1", "--models", "user_resnet,depthwise"])
    assert report["kernels"].startswith(("numba", "numpy"))  # which depthwise code ran is in the report
    row = report["models"]["user_resnet"]
    assert row["deepgrad_step_ms_median"] > 0 and row["deepgrad_peak_mib_tracemalloc"] > 0
    assert row["deepgrad_rss_growth_mib"] is not None and row["deepgrad_rss_growth_mib"] >= 0
    assert report["models"]["depthwise"]["deepgrad_step_ms_median"] > 0
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert row["ratio_median"] > 0 and row["torch_rss_growth_mib"] is not None
    assert '"ratio_median"' in capsys.readouterr().out  # the JSON went to stdout
