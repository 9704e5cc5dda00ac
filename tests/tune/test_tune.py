"""deepgrad tune: real Optuna studies over the planar recipe (short trials), in SQLite."""
from __future__ import annotations

import json
import math
import os

import pytest

optuna = pytest.importorskip("optuna", reason="deepgrad tune needs the optional extra 'tune' (optuna)")

from deepgrad.cli import main  # noqa: E402
from deepgrad.experiments.store import RunStore  # noqa: E402
from deepgrad.recipes import fashion_mlp, planar  # noqa: E402
from deepgrad.tune import narrow, run_study, sample  # noqa: E402
from deepgrad.tune.report import best_trial, results_table, write_best_config  # noqa: E402

EPOCHS = 20  # planar trials of 20 full-batch epochs: about a second each


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A study of 2 trials, then resumed with 2 more (a second run_study on the same storage)."""
    d = tmp_path_factory.mktemp("tune")
    kw = dict(epochs=EPOCHS, storage=f"sqlite:///{d / 'study.sqlite'}", out=str(d / "out"),
              store=str(d / "runs.sqlite"), seed=0, log=open(os.devnull, "w"))
    first = run_study("planar", 2, **kw)
    n_first = len(first.trials)
    study = run_study("planar", 2, **kw)
    return d, n_first, study


def test_resume_adds_trials_to_the_same_study(resumed):
    d, n_first, study = resumed
    assert n_first == 2
    assert len(study.trials) == 4
    assert [t.number for t in study.trials] == [0, 1, 2, 3]
    points = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(points) == 4, "a resumed study drew a point it had already tried"


def test_every_trial_is_a_run_in_the_run_store(resumed):
    d, _, study = resumed
    ids = [t.user_attrs["run_id"] for t in study.trials]
    assert all(ids) and len(set(ids)) == 4
    with RunStore(str(d / "runs.sqlite")) as store:
        for t in study.trials:
            run = store.get(t.user_attrs["run_id"])
            assert run["recipe"] == "planar"
            assert run["config"]["lr"] == pytest.approx(t.params["lr"])
            assert run["config"]["hidden"] == t.params["hidden"]
            assert run["config"]["epochs"] == EPOCHS


def test_best_config_round_trips_through_deepgrad_run(resumed, tmp_path, capsys):
    d, _, study = resumed
    best = best_trial(study)
    path = tmp_path / "best.json"
    config = write_best_config(study, str(path), epochs=EPOCHS)
    assert json.loads(path.read_text()) == config == {"lr": best.params["lr"], "hidden": best.params["hidden"],
                                                      "epochs": EPOCHS}
    out = tmp_path / "rerun"
    assert main(["run", "planar", "--config", str(path), "--out", str(out), "--store", str(tmp_path / "s.sqlite")]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["lr"] == best.params["lr"] and metrics["epochs"] == EPOCHS
    assert metrics["dev_accuracy"] == pytest.approx(best.value)  # the same run, reproduced
    table = results_table(study)
    assert table.splitlines()[1].split()[0] == str(best.number)  # best first


def test_config_file_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lr": 0.5, "momentum": 0.9}))
    assert main(["run", "planar", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown key 'momentum'" in err and "bad.json" in err
    bad.write_text(json.dumps({"hidden": "four"}))
    assert main(["run", "planar", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "hidden" in capsys.readouterr().err
    bad.write_text("{not json")
    assert main(["run", "planar", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["run", "planar", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err
    bad.write_text(json.dumps({"lr": 0.1}))
    assert main(["run", "fashion-lenet", "--config", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "--config is not used by recipe 'fashion-lenet'" in capsys.readouterr().err


def test_momentum_is_sampled_on_a_log_scale_of_one_minus_beta():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    configs = [fashion_mlp.search_config(sample(study.ask(), fashion_mlp.SEARCH_SPACE)) for _ in range(2000)]
    beta = [c["beta1"] for c in configs]
    assert min(beta) >= 0.7 - 1e-12 and max(beta) <= 0.99 + 1e-12
    # 1 - beta log-uniform on [0.01, 0.3]: P(beta > 0.9) = log(10)/log(30) = 0.68 (uniform in beta: 0.31)
    frac = sum(b > 0.9 for b in beta) / len(beta)
    assert abs(frac - math.log(10) / math.log(30)) < 0.04
    lrs = [c["lr"] for c in configs]  # log-uniform on [1e-4, 3e-2]: a third of the draws below 1e-3
    assert abs(sum(lr < 1e-3 for lr in lrs) / len(lrs) - math.log(10) / math.log(300)) < 0.04
    assert {c["batch_size"] for c in configs} == {32, 64, 128, 256, 512}
    assert {len(c["hidden"]) for c in configs} == {1, 2, 3}
    assert all(64 <= h <= 1024 and len(set(c["hidden"])) == 1 for c in configs for h in c["hidden"])


def test_narrow_keeps_the_best_region_inside_the_space():
    space = planar.SEARCH_SPACE
    fine = narrow(space, [{"lr": 0.5, "hidden": 6}, {"lr": 2.0, "hidden": 9}])
    assert space["lr"]["low"] <= fine["lr"]["low"] < 0.5 and 2.0 < fine["lr"]["high"] <= space["lr"]["high"]
    assert fine["lr"]["high"] / fine["lr"]["low"] < space["lr"]["high"] / space["lr"]["low"] / 10
    assert 1 <= fine["hidden"]["low"] <= 6 and 9 <= fine["hidden"]["high"] <= 20
    assert isinstance(fine["hidden"]["low"], int)
    same = narrow(space, [{"lr": 10.0, "hidden": 20}, {"lr": 10.0, "hidden": 20}])  # agreeing, at the edge
    assert same["lr"]["high"] == 10.0 and same["lr"]["low"] == pytest.approx(5.0)


def test_median_pruning_stops_a_planted_bad_trial(tmp_path):
    good = [{"lr": 1.2, "hidden": 4}, {"lr": 1.0, "hidden": 5}]
    bad = {"lr": 0.01, "hidden": 1}  # hardly learns in 20 epochs
    study = run_study("planar", 3, epochs=EPOCHS, storage=f"sqlite:///{tmp_path / 's.sqlite'}", out=str(tmp_path / "o"),
                      store=str(tmp_path / "runs.sqlite"), n_startup_trials=2, n_warmup_steps=1,
                      enqueue=good + [bad], log=open(os.devnull, "w"))
    states = [t.state for t in study.trials]
    assert states[:2] == [optuna.trial.TrialState.COMPLETE] * 2
    assert states[2] == optuna.trial.TrialState.PRUNED
    pruned = study.trials[2]
    assert pruned.params == bad and pruned.user_attrs["epochs_run"] < EPOCHS
    with RunStore(str(tmp_path / "runs.sqlite")) as store:  # the pruned run is recorded too, stopped early
        assert store.get(pruned.user_attrs["run_id"])["recipe"] == "planar"


@pytest.mark.slow
def test_cli_coarse_to_fine_writes_table_plots_and_config(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["tune", "planar", "--trials", "4", "--coarse-to-fine", "--epochs", str(EPOCHS), "--store", "runs.sqlite"]
    assert main(args) == 0
    out = tmp_path / "runs" / f"tune-planar-epochs{EPOCHS}"
    printed = capsys.readouterr().out
    assert "study planar-epochs20: 4 trials" in printed and "fine stage" in printed
    for f in ("best-config.json", "slice.png", "parallel.png"):
        assert (out / f).stat().st_size > 0
    study = optuna.load_study(study_name=f"planar-epochs{EPOCHS}", storage="sqlite:///runs/tune-planar.sqlite")
    stages = [t.user_attrs["stage"] for t in study.trials]
    assert stages == ["coarse", "coarse", "fine", "fine"]
    fine = narrow(planar.SEARCH_SPACE, [t.params for t in study.trials[:2] if t.value is not None])
    for t in study.trials[2:]:
        assert fine["lr"]["low"] <= t.params["lr"] <= fine["lr"]["high"]
    assert main(["tune", "planar", "--trials", "1", "--epochs", str(EPOCHS), "--store", "runs.sqlite"]) == 0
    assert "study planar-epochs20: 5 trials" in capsys.readouterr().out
    assert main(["tune", "planar", "--trials", "0"]) == 2


def test_tune_refuses_bad_input_in_one_line_before_any_trial(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cases = [(["planar", "--storage", "nonsense"], "--storage nonsense: cannot open"),
             (["planar", "--storage", f"sqlite:///{tmp_path}/no/such/dir/s.sqlite"], "cannot open"),
             (["fashion-lenet"], "declares no search space (tunable: fashion-mlp, planar"),
             (["nope"], "unknown recipe 'nope'"),
             (["planar", "--sampler", "grid"], "invalid choice: 'grid'")]
    for extra, message in cases:
        assert main(["tune", *extra, "--trials", "1", "--store", "runs.sqlite"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
    assert not list(tmp_path.glob("runs/tune-*/trial-*")), "a trial ran"


def test_pruning_callback_never_prunes_after_the_last_epoch():
    from types import SimpleNamespace

    from deepgrad.tune import TrialPruning

    study = optuna.create_study(direction="maximize",
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    first = study.ask()
    for epoch in (1, 2, 3):
        first.report(0.9, epoch)
    study.tell(first, 0.9)
    for stop_at, expect in ((1, 1), (3, None)):  # a bad epoch 1 is pruned; a bad last epoch is not
        cb = TrialPruning(study.ask())
        cb.set_trainer(SimpleNamespace(stop_training=False, stop_reason=None))  # the attributes Trainer has
        cb.on_train_begin({"epochs": 3})
        cb.on_epoch_end(stop_at, {"dev_accuracy": 0.1})
        assert cb.pruned_at == expect
        assert cb.trainer.stop_training is (expect is not None)


@pytest.mark.slow
def test_a_fashion_mlp_trial_runs_the_sampled_network(tmp_path):
    """One --quick trial of fashion-mlp: the run store records the configuration the sample made."""
    study = run_study("fashion-mlp", 1, epochs=1, quick=True, storage=f"sqlite:///{tmp_path / 's.sqlite'}",
                      out=str(tmp_path / "o"), store=str(tmp_path / "runs.sqlite"), log=open(os.devnull, "w"))
    (t,) = study.trials
    assert t.state == optuna.trial.TrialState.COMPLETE and 0.5 < t.value <= 1.0
    with RunStore(str(tmp_path / "runs.sqlite")) as store:
        run = store.get(t.user_attrs["run_id"])
    p, cfg = t.params, run["config"]
    assert cfg["beta1"] == pytest.approx(1 - p["one_minus_beta1"])
    assert cfg["hidden"] == [p["units"]] * p["layers"] and cfg["batch_size"] == 2 ** p["log2_batch_size"]
    assert cfg["quick"] is True and cfg["epochs"] == 1
    assert run["params"] > p["units"] * 784  # the sampled width was built
