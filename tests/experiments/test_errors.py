"""Error analysis: confusion matrix, confident mistakes, the tagging spreadsheet and its ceilings."""
import csv
import json

import numpy as np
import pytest

from deepgrad.cli import main
from deepgrad.experiments.errors import analyze_errors, confusion_matrix, probabilities, tag_report


def test_planted_errors(tmp_path):
    y = np.array([0, 0, 1, 1, 2, 2, 2, 0])
    logits = np.full((8, 3), -5.0)
    pred = np.array([0, 1, 1, 2, 2, 2, 0, 0])  # errors at 1 (0->1), 3 (1->2), 6 (2->0)
    conf = [9, 1, 9, 3, 9, 9, 2, 9]
    logits[np.arange(8), pred] = conf
    images = np.random.default_rng(0).random((8, 28, 28))
    rep = analyze_errors(logits, y, images=images, class_names=["a", "b", "c"], out_dir=tmp_path, per_class=2,
                         tags=["blurry"], ids=np.arange(100, 108))
    assert rep["errors"] == 3 and rep["error_rate"] == pytest.approx(3 / 8)
    assert rep["confusion"] == confusion_matrix(y, pred, 3).tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 2]]
    with open(rep["files"]["csv"]) as f:
        rows = list(csv.DictReader(f))
    assert [r["index"] for r in rows] == ["103", "106", "101"]  # most confident mistake first
    assert rows[0]["true_name"] == "b" and rows[0]["predicted_name"] == "c" and rows[0]["blurry"] == ""
    assert (tmp_path / "confusion.png").stat().st_size > 5000 and (tmp_path / "mistakes.png").stat().st_size > 5000


def test_probabilities():
    p = probabilities(np.array([[0.0, 0.0], [10.0, -10.0]]))
    assert np.allclose(p.sum(1), 1) and p[0, 0] == pytest.approx(0.5) and p[1, 0] > 0.99
    b = probabilities(np.array([[0.0], [3.0]]))
    assert b.shape == (2, 2) and b[1, 1] == pytest.approx(1 / (1 + np.exp(-3)))


def _write(path, rows, tags):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "true", "true_name", "predicted", "predicted_name", "confidence", *tags])
        for i, marks in enumerate(rows):
            w.writerow([i, 0, "a", 1, "b", "0.9", *marks])


def test_tag_report_shares_and_ceilings(tmp_path):
    # the course's spreadsheet: 100 errors at 10% error; 5 dogs, 43 great cats, 61 blurry (overlapping)
    rows = [["x" if i < 5 else "", "1" if 5 <= i < 48 else "0", "yes" if i >= 39 else "no"] for i in range(100)]
    _write(tmp_path / "t.csv", rows, ["dog", "great_cat", "blurry"])
    rep = tag_report(tmp_path / "t.csv", error_rate=0.10)
    assert rep["errors"] == 100 and rep["untagged"] == 0
    assert rep["tags"]["dog"] == {"count": 5, "share": 0.05, "ceiling": pytest.approx(0.005),
                                  "error_if_fixed": pytest.approx(0.095)}
    assert rep["tags"]["great_cat"]["share"] == 0.43 and rep["tags"]["blurry"]["count"] == 61
    _write(tmp_path / "none.csv", [[]], [])
    with pytest.raises(ValueError, match="no tag columns"):
        tag_report(tmp_path / "none.csv")


def test_deepgrad_errors_on_a_recorded_run(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "planar", "--quick", "--out", str(tmp_path / "p"), "--store", store]) == 0
    capsys.readouterr()
    assert main(["errors", "-1", "--store", store, "--tags", "near_center", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["reproduces_record"] and rep["error_rate"] == pytest.approx(1 - rep["recorded_accuracy"])
    assert rep["examples"] == 60 and sum(sum(r) for r in rep["confusion"]) == 60
    path = rep["files"]["csv"]
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == rep["errors"] > 0
    for i, r in enumerate(rows):
        r["near_center"] = "x" if i % 2 == 0 else ""
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    assert main(["errors", "-1", "--store", store, "--tagged", path]) == 0
    out = capsys.readouterr().out
    k = (len(rows) + 1) // 2
    assert "near_center" in out and f"{100 * k / len(rows):.1f}%" in out
    assert main(["errors", "-1", "--store", store, "--tagged", str(tmp_path / "missing.csv")]) == 2
    assert capsys.readouterr().err.startswith("deepgrad errors: --tagged")
