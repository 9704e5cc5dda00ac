"""The README's recipe table is generated from default runs' summaries, and every run
records its timing (wall, CPU, threads, load) in metrics.json."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from deepgrad import recipes
from deepgrad.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _table():
    spec = importlib.util.spec_from_file_location("recipe_table", ROOT / "scripts" / "recipe_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_readme_recipe_table_is_generated_from_the_result_files():
    t = _table()
    text = (ROOT / "README.md").read_text()
    assert text.count(t.BEGIN) == 1 and text.count(t.END) == 1
    assert t.render(text) == text, "run: python scripts/recipe_table.py write"


def test_every_recipe_has_headline_figures_and_a_default_run():
    t = _table()
    names = set(recipes.RECIPES)
    assert names <= set(t.HEADLINE), f"no HEADLINE for {sorted(names - set(t.HEADLINE))}"
    have = {s["recipe"] for s in t.load()}
    missing = sorted(names - have)
    assert not missing, f"no results/recipes/<recipe>.json (a default run's summary) for {missing}"
    for s in t.load():
        assert s["status"] in (None, "ok"), s["recipe"]
        assert s["timing"]["blas_threads"] == "1", s["recipe"]
        assert s["timing"]["cpu_s"] <= 35 * 60, f"{s['recipe']}: default takes {s['timing']['cpu_s']:.0f} s of CPU"
        shown = [s["figures"].get(k) for k, _, _ in t.HEADLINE[s["recipe"]]]
        assert all(v is not None for v in shown), s


def test_a_run_records_its_timing_and_collect_refuses_a_quick_run(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    assert main(["run", "planar", "--quick", "--out", str(out), "--store", str(tmp_path / "s.sqlite")]) == 0
    m = json.loads((out / "metrics.json").read_text())
    timing = m["timing"]
    assert timing["wall_s"] > 0 and timing["cpu_s"] > 0
    assert timing["argv"][:2] == ["run", "planar"] and "--quick" in timing["argv"]
    assert set(timing) >= {"wall_s", "cpu_s", "blas_threads", "cores", "load_average_start", "load_average_end"}
    t = _table()
    monkeypatch.setattr(t, "RESULTS", tmp_path / "results")
    assert t.main(["collect", str(out / "metrics.json")]) == 0
    assert "not a default run" in capsys.readouterr().err
    assert not (tmp_path / "results" / "planar.json").exists()


def test_summary_keeps_the_headline_figures_and_no_paths():
    t = _table()
    m = {"recipe": "planar", "seed": 0, "epochs": 3, "status": "ok", "config_hash": "x", "test_accuracy": 0.9,
         "dev_accuracy": 0.8, "files": {"model": "/somewhere"},
         "timing": {"wall_s": 2.0, "cpu_s": 1.5, "blas_threads": "1", "argv": ["run", "planar"]}}
    s = t.summarize(m)
    assert s["figures"] == {"test_accuracy": 0.9, "dev_accuracy": 0.8}
    assert "argv" not in s["timing"] and "files" not in s
    assert "test 90.00%; dev 80.00%" in t.row(s) and "0.0 min" in t.row(s)


def test_collect_refuses_a_run_with_other_flags(tmp_path, monkeypatch, capsys):
    t = _table()
    monkeypatch.setattr(t, "RESULTS", tmp_path / "results")
    f = tmp_path / "metrics.json"
    f.write_text(json.dumps({"recipe": "planar", "status": "ok", "config": {},
                             "timing": {"wall_s": 1, "cpu_s": 1, "blas_threads": "1",
                                        "argv": ["run", "planar", "--epochs", "5", "--out", "x"]}}))
    t.main(["collect", str(f)])
    assert "--epochs" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        (tmp_path / "results" / "planar.json").read_text()
