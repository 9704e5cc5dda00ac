import csv
import json
import os
import subprocess
import sys

import pytest

from deepgrad import cli, recipes
from deepgrad.data.datasets import fashion_mnist


def test_list(capsys):
    assert cli.main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("fashion-mlp", "planar"):
        assert name in out
    assert "Fashion-MNIST" in out


def test_unknown_recipe_lists_known_ones(capsys):
    assert cli.main(["run", "no-such-recipe"]) == 2
    err = capsys.readouterr().err
    assert "unknown recipe 'no-such-recipe'" in err
    for name in recipes.names():
        assert name in err


def test_registry_entries_import_and_have_run():
    for name in recipes.names():
        mod = recipes.get(name)
        assert callable(mod.run) and recipes.describe(name)
    with pytest.raises(KeyError, match="known recipes"):
        recipes.get("nope")


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "deepgrad.cli", "run", "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "planar" in proc.stdout


def test_missing_data_gives_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DEEPGRAD_NO_DOWNLOAD", "1")
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    assert cli.main(["run", "fashion-mlp", "--quick", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err and str(tmp_path / "system") in err


def _check_run_dir(out, recipe, epochs):
    m = json.loads((out / "metrics.json").read_text())
    assert m["recipe"] == recipe and m["epochs"] == epochs and m["seed"] == 0
    for k in ("test_accuracy", "train_accuracy", "dev_accuracy", "train_loss", "dev_loss", "wall_time_s", "config"):
        assert k in m
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert len(rows) == epochs and {"train_loss", "dev_accuracy"} <= set(rows[0])
    assert (out / "model.safetensors").exists()
    return m


@pytest.mark.slow
def test_planar_recipe_small(tmp_path):
    from deepgrad.serialization import load_model

    out = tmp_path / "planar"
    assert cli.main(["run", "planar", "--epochs", "400", "--out", str(out)]) == 0
    m = _check_run_dir(out, "planar", 400)
    assert m["train_accuracy"] > 0.8 and m["test_accuracy"] > 0.75  # logistic regression: ~0.5
    model = load_model(out / "model.safetensors")
    assert model[0].out_features == 4
    pytest.importorskip("matplotlib")
    assert (out / "curves_loss.png").exists() and (out / "curves_accuracy.png").exists()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(fashion_mnist.SYSTEM_DIR, "train-images-idx3-ubyte.gz"))
                    and not os.environ.get("DEEPGRAD_DATA"), reason="Fashion-MNIST not installed")
def test_fashion_mlp_quick(tmp_path):
    out = tmp_path / "fm"
    assert cli.main(["run", "fashion-mlp", "--quick", "--out", str(out)]) == 0
    m = _check_run_dir(out, "fashion-mlp", 2)
    assert m["test_accuracy"] > 0.75


@pytest.mark.slow
def test_same_seed_same_run(tmp_path):
    from deepgrad.serialization import load_weights

    for name in ("a", "b"):
        assert cli.main(["run", "planar", "--epochs", "60", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    ma, mb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    for k in ("test_accuracy", "train_loss", "dev_loss"):
        assert ma[k] == mb[k]
    wa, wb = (load_weights(None, tmp_path / n / "model.safetensors") for n in ("a", "b"))
    for k in wa:
        assert (wa[k] == wb[k]).all()
