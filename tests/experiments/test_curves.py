"""deepgrad curves: train and dev error against the training-set size, each point a recorded run."""
import json

import pytest

from deepgrad.cli import main
from deepgrad.experiments import RunStore


@pytest.mark.slow
def test_curves_planar_matches_the_recipe_at_full_size(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "planar", "--quick", "--out", str(tmp_path / "p"), "--store", store]) == 0
    recipe_run = RunStore(store).get("-1")
    capsys.readouterr()
    out = tmp_path / "c"
    assert main(["curves", "planar", "--quick", "--sizes", "0.25,1", "--out", str(out), "--store", store, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    small, full = rep["points"]
    assert (small["fraction"], small["examples"], full["examples"]) == (0.25, 70, 280)
    # the full-size point trains the recipe's model on the recipe's data: the same numbers
    assert full["train_error"] == pytest.approx(1 - recipe_run["final"]["train_accuracy"])
    assert full["dev_error"] == pytest.approx(1 - recipe_run["final"]["dev_accuracy"])
    assert small["train_error"] < full["train_error"]  # a small set is easier to fit ...
    assert small["dev_error"] > full["dev_error"]  # ... and generalizes worse
    assert (out / "curves.png").stat().st_size > 10_000 and (out / "curves.json").exists()
    for p in rep["points"]:
        r = RunStore(store).get(p["run_id"])
        assert r["source"] == "curves" and r["config"]["train_fraction"] == p["fraction"]
        assert r["final"]["dev_accuracy"] == pytest.approx(1 - p["dev_error"]) and len(r["epochs"]) == 300


@pytest.mark.parametrize("argv, msg", [(["--sizes", "0.5,2"], "--sizes"), (["--sizes", "a"], "--sizes"),
                                       (["--epochs", "0"], "--epochs")])
def test_curves_bad_flags(argv, msg, tmp_path, capsys):
    assert main(["curves", "planar", "--store", str(tmp_path / "s.sqlite"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"deepgrad curves planar: {msg}") and len(err.splitlines()) == 1
    assert main(["curves", "nope", "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "not supported" in capsys.readouterr().err
