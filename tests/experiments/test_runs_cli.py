"""`deepgrad run` records into the store; `deepgrad runs list|show|compare|best` and `doctor` read it."""
import json
import os

import pytest

from deepgrad.cli import main
from deepgrad.experiments import RunStore


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("runs")
    store = str(d / "s.sqlite")
    for i, lr in enumerate(("1.2", "0.3")):
        assert main(["run", "planar", "--quick", "--lr", lr, "--out", str(d / f"p{i}"), "--store", store]) == 0
    return d, store


def test_deepgrad_run_records_everything(two_runs):
    d, store = two_runs
    runs = RunStore(store).runs()
    assert [r["config"]["lr"] for r in runs] == [1.2, 0.3]
    r = RunStore(store).get("-1")
    metrics = json.loads((d / "p1" / "metrics.json").read_text())
    assert metrics["run_id"] == r["id"] and r["recipe"] == "planar" and r["source"] == "run" and r["seed"] == 0
    assert r["config_hash"] == metrics["config_hash"] and r["config"]["data_fingerprint"]["examples"] == 280
    assert r["final"]["test_accuracy"] == metrics["test_accuracy"] and r["final"]["dev_accuracy"] == metrics["dev_accuracy"]
    assert r["params"] == metrics["params"] == 2 * 4 + 4 + 4 + 1 and r["predict_ms"] == metrics["predict_ms"] > 0
    assert r["model_path"] == str(d / "p1" / "model.safetensors") and os.path.exists(r["model_path"])
    assert len(r["epochs"]) == 300 and r["durations"]["wall_s"] == metrics["wall_time_s"]
    assert r["code_version"] and r["status"] == "ok"


def test_store_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_STORE", str(tmp_path / "env" / "e.sqlite"))
    assert main(["run", "planar", "--quick", "--epochs", "5", "--out", str(tmp_path / "o")]) == 0
    assert RunStore(tmp_path / "env" / "e.sqlite").count() == (1, 5)


def test_bad_store_flag_is_one_line_before_any_work(tmp_path, capsys):
    (tmp_path / "f").write_text("a file")
    assert main(["run", "planar", "--quick", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "f" / "x.sqlite")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepgrad run planar: --store") and len(err.splitlines()) == 1
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_runs_list_show_compare(two_runs, capsys):
    d, store = two_runs
    assert main(["runs", "list", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "2 runs in" in out and out.count("planar-") == 2
    assert main(["runs", "list", "--store", store, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 2 and listed[0]["final"]["dev_accuracy"] > 0.5
    assert main(["runs", "show", listed[0]["id"][:-3], "--store", store, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == listed[0]["id"] and len(shown["epochs"]) == 300
    assert main(["runs", "show", str(d / "p1"), "--store", store]) == 0
    assert listed[1]["id"] in capsys.readouterr().out
    png = d / "cmp.png"
    assert main(["runs", "compare", "-1", "-2", "--store", store, "--plot", str(png), "--json"]) == 0
    cmp = json.loads(capsys.readouterr().out)
    assert cmp["config_differences"] == {"lr": [0.3, 1.2]} and cmp["curve"] == "dev_accuracy"
    assert png.stat().st_size > 10_000 and cmp["plot"] == str(png)
    assert main(["runs", "compare", "-1", "-2", "--store", store, "--plot", str(png)]) == 0
    assert "config.lr" in capsys.readouterr().out


def test_runs_errors_are_one_line(two_runs, tmp_path, capsys):
    _, store = two_runs
    for argv in (["runs", "show", "nope", "--store", store], ["runs", "list", "--store", str(tmp_path / "none.sqlite")],
                 ["runs", "best", "--constraint", "params<=many", "--store", store], ["runs", "compare", "-1", "--store", store],
                 ["runs", "show", "-9", "--store", store]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("deepgrad runs"), err


def test_runs_best_and_constraints(two_runs, capsys):
    _, store = two_runs
    runs = RunStore(store).runs()
    best = max(runs, key=lambda r: (r["final"]["dev_accuracy"], -runs.index(r)))
    assert main(["runs", "best", "--metric", "dev_accuracy", "--constraint", "predict_ms<=5",
                 "--constraint", "params<=1e6", "--store", store, "--json"]) == 0
    sel = json.loads(capsys.readouterr().out)
    assert sel["best"]["dev_accuracy"] == best["final"]["dev_accuracy"]
    assert sel["ruled_out"]["predict_ms<=5"] == [] and sel["ruled_out"]["params<=1e6"] == []
    # a constraint that only the lr=1.2 run meets
    assert main(["runs", "best", "--constraint", "lr>=1", "--store", store, "--json"]) == 0
    sel = json.loads(capsys.readouterr().out)
    assert sel["best"]["id"] == runs[0]["id"] and [r["id"] for r in sel["ruled_out"]["lr>=1"]] == [runs[1]["id"]]
    assert main(["runs", "best", "--constraint", "params<=10", "--store", store]) == 1
    out = capsys.readouterr().out
    assert "params<=10: ruled out 2" in out and "no run meets every constraint" in out


def test_doctor_on_a_run(two_runs, capsys):
    d, store = two_runs
    assert main(["doctor", "-1", "--human-error", "0.0", "--store", store, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    r = RunStore(store).get("-1")
    assert rep["errors"]["train"] == pytest.approx(1 - r["final"]["train_accuracy"])
    assert rep["components"]["avoidable_bias"] == pytest.approx(1 - r["final"]["train_accuracy"])
    assert rep["primary"] in ("avoidable_bias", "variance", "dev_overfitting") and rep["remedies"]
    assert os.path.getsize(rep["plot"]) > 10_000 and rep["plot"] == str(d / "p1" / "doctor.png")


def test_a_diverged_run_is_recorded_as_such(tmp_path, capsys):
    store = str(tmp_path / "s.sqlite")
    assert main(["run", "planar", "--epochs", "30", "--lr", "1000", "--out", str(tmp_path / "d"), "--store", store]) == 3
    r = RunStore(store).get("-1")
    assert r["status"] == "diverged" and "diverged" in r["status_message"] and r["epochs"]
    capsys.readouterr()
    assert main(["runs", "best", "--store", store, "--json"]) == 1  # a failed run is never the best
    assert [x["id"] for x in json.loads(capsys.readouterr().out)["ruled_out"]["status"]] == [r["id"]]


def test_a_recipe_without_fit_plumbing_is_recorded_from_its_metrics(tmp_path):
    import argparse

    from deepgrad.recipes._cli import _record_summary

    args = argparse.Namespace(recipe="transfer-digits", out=str(tmp_path), store=str(tmp_path / "s.sqlite"))
    _record_summary(args, {"recipe": "transfer-digits", "seed": 0, "wins": 7, "pairs": 9, "wall_time_s": 1.5,
                           "config": {"source": "raw"}, "transfer_beats_scratch": True})
    r = RunStore(args.store).get("-1")
    assert r["recipe"] == "transfer-digits" and r["final"] == {"wins": 7, "pairs": 9, "wall_time_s": 1.5}
    assert r["config"] == {"source": "raw"} and r["status"] == "ok" and r["out_dir"] == str(tmp_path)


def test_doctor_from_errors_given_as_flags(tmp_path, capsys):
    png = tmp_path / "d.png"
    assert main(["doctor", "--human-error", "0", "--train-error", "0.01", "--train-dev-error", "0.015",
                 "--dev-error", "0.10", "--plot", str(png), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["primary"] == "data_mismatch" and rep["run"] is None and png.exists()
    assert main(["doctor"]) == 2
    assert "name a RUN" in capsys.readouterr().err
    assert main(["doctor", "--dev-error", "-0.1"]) == 2
    assert capsys.readouterr().err.startswith("deepgrad doctor: --dev-error")


def test_doctor_flags_complete_a_run(two_runs, capsys):
    _, store = two_runs
    assert main(["doctor", "-1", "--store", store, "--train-dev-error", "0.0", "--human-error", "0.0",
                 "--plot", str(two_runs[0] / "d.png"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["errors"]["train_dev"] == 0.0 and rep["components"]["data_mismatch"] == pytest.approx(rep["errors"]["dev"])


def test_a_default_run_folder_names_its_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "planar", "--quick", "--epochs", "3", "--store", "s.sqlite"]) == 0
    (folder,) = [d for d in os.listdir(tmp_path / "runs")]
    r = RunStore("s.sqlite").get(folder)  # the folder's name is a prefix of the run's id
    assert r["id"].startswith(folder + "-") and r["out_dir"] == str(tmp_path / "runs" / folder)
