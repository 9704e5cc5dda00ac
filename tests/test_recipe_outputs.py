"""What every recipe owes its user: its own line in ``deepgrad run --list``, a default sized
for this machine, and the files the CLI promises (metrics.json, history.csv, plots)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from deepgrad import recipes

FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def test_each_recipe_has_its_own_description():
    lines = {name: recipes.describe(name) for name in recipes.names()}
    assert all(lines.values()), lines
    assert len(set(lines.values())) == len(lines), f"recipes share a --list line: {lines}"
    assert "LeNet-5" in lines["fashion-lenet"] and "ResNet" not in lines["fashion-lenet"]
    assert "ResNet" in lines["fashion-resnet"] and "LeNet" not in lines["fashion-resnet"]


def test_fashion_resnet_default_is_the_short_configuration():
    from deepgrad.recipes.fashion_cnn import DEFAULTS

    # 10 epochs fit about 30 minutes on 2 cores; --epochs 20 is the longer run (README: Results of the recipes)
    assert DEFAULTS["fashion-resnet"]["epochs"] == 10
    assert "--epochs 20" in recipes.describe("fashion-resnet")


@pytest.mark.slow
def test_transfer_digits_writes_history_plots_and_reports_progress(tmp_path, capsys):
    pytest.importorskip("sklearn")
    if not FASHION.exists():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    args = SimpleNamespace(recipe="transfer-digits", quick=True, seed=0, out=str(tmp_path), epochs=None, lr=None,
                           batch_size=None, source=None, checkpoint_dir=None)
    metrics = recipes.get("transfer-digits").run(args)
    out = capsys.readouterr().out
    # progress: it says what it is doing before each long step, and one line per (labels, seed) cell
    assert "pretraining on Fashion-MNIST" in out and "scratch vs transfer on the digits" in out
    assert out.count("labels/class, seed") == 2  # --quick: 10 and 50 labels per class, one seed
    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written["files"] == metrics["files"]
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert len(rows) == 1 and float(rows[0]["train_loss"]) > 0  # --quick: one pretraining epoch
    pytest.importorskip("matplotlib")
    for name in ("curves_loss.png", "transfer.png"):
        assert name in metrics["files"]["plots"] and (tmp_path / name).stat().st_size > 1000, name
