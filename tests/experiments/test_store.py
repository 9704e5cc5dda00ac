"""The run store: records, the tracker, concurrency (8 processes writing at once lose nothing)."""
import json
import multiprocessing as mp
import os
import sqlite3

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.experiments import RunNotFound, RunStore, RunStoreError, RunTracker, run_value, store_path
from deepgrad.train import Trainer


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def test_record_and_read_back(tmp_path):
    s = RunStore(tmp_path / "s.sqlite")
    rid = s.record(recipe="r", config={"lr": 0.1, "hidden": [3, 2]}, seed=3, final={"dev_accuracy": 0.8},
                   epochs=[{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": float("nan")}],
                   splits={"train": {"examples": 10}}, params=42, predict_ms=0.5, model_path=tmp_path / "m.st")
    run = s.get(rid)
    assert run["config"] == {"lr": 0.1, "hidden": [3, 2]} and run["seed"] == 3 and run["params"] == 42
    assert run["final"]["dev_accuracy"] == 0.8 and run["splits"]["train"]["examples"] == 10
    assert [e["epoch"] for e in run["epochs"]] == [1, 2] and run["epochs"][1]["train_loss"] == "nan"
    assert run["model_path"] == str(tmp_path / "m.st") and run["config_hash"]
    assert s.resolve(rid[:-2]) == rid and s.resolve("-1") == rid and s.resolve("latest") == rid
    assert run_value(run, "lr") == 0.1 and run_value(run, "dev_error") == pytest.approx(0.2)
    with pytest.raises(RunNotFound, match="no run 'zzz'"):
        s.get("zzz")
    assert sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPGRAD_STORE", str(tmp_path / "env.sqlite"))
    assert store_path(None) == str(tmp_path / "env.sqlite")
    assert store_path(tmp_path / "flag.sqlite") == str(tmp_path / "flag.sqlite")
    monkeypatch.delenv("DEEPGRAD_STORE")
    assert store_path(None) == os.path.join("runs", "runs.sqlite")


def test_bad_store_is_one_clear_error(tmp_path):
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunStoreError, match="junk.sqlite"):
        RunStore(tmp_path / "junk.sqlite")
    with pytest.raises(RunStoreError, match="is a directory"):
        RunStore(tmp_path)


def test_tracker_records_a_fit(tmp_path):
    X, y = _data()
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    tracker = RunTracker(tmp_path / "s.sqlite", recipe="toy", config={"lr": 0.05}, seed=0)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.05), batch_size=16, callbacks=[tracker])
    trainer.fit((X, y), dev=(X[:16], y[:16]), epochs=3)
    run = RunStore(tmp_path / "s.sqlite").get(tracker.run_id)
    assert run["recipe"] == "toy" and run["status"] == "ok" and run["source"] == "fit"
    assert run["params"] == 4 * 8 + 8 + 8 * 2 + 2
    assert run["predict_ms"] is not None and run["predict_ms"] > 0
    assert [e["epoch"] for e in run["epochs"]] == [1, 2, 3]
    assert run["final"]["dev_accuracy"] == trainer.history.last()["dev_accuracy"]
    assert run["epochs"][0]["train_loss"] == pytest.approx(trainer.history.rows[0]["train_loss"])
    assert run["splits"] == {"train": {"examples": 64}} and run["durations"]["train_s"] >= 0


def test_tracker_with_run_config_keeps_the_identity(tmp_path):
    from deepgrad.train.run import run_config

    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 2))
    tracker = RunTracker(tmp_path / "s.sqlite")
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=32, callbacks=[tracker], seed=1)
    trainer.fit((X, y), epochs=1, run_config=run_config("ident", {"lr": 0.1}, 1))
    run = RunStore(tmp_path / "s.sqlite").get("-1")
    assert run["recipe"] == "ident" and run["seed"] == 1
    assert run["config_hash"] == trainer.run_record["config_hash"]
    assert run["config"]["data_fingerprint"]["examples"] == 64


def test_an_unwritable_store_does_not_stop_training(tmp_path, capsys):
    X, y = _data()
    bad = tmp_path / "junk.sqlite"
    bad.write_bytes(b"x" * 4096)
    model = nn.Sequential(nn.Linear(4, 2))
    tracker = RunTracker(bad)
    h = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=32, callbacks=[tracker]).fit((X, y), epochs=2)
    assert len(h) == 2 and tracker.run_id is None and "junk.sqlite" in tracker.error
    assert "not recorded in the run store" in capsys.readouterr().err


def _writer(path, worker, runs, epochs, barrier):
    store = RunStore(path)
    barrier.wait()
    for i in range(runs):
        if i % 2:  # half through the tracker's path (many small transactions), half in one transaction
            rid = store.start_run(recipe=f"w{worker}", config={"worker": worker, "i": i}, seed=i)
            for e in range(1, epochs + 1):
                store.log_epoch(rid, e, {"epoch": e, "train_loss": 1.0 / e, "worker": worker})
            store.update_run(rid, status="ok", final={"dev_accuracy": worker / 10 + i / 1000})
        else:
            store.record(recipe=f"w{worker}", config={"worker": worker, "i": i}, seed=i,
                         final={"dev_accuracy": worker / 10 + i / 1000},
                         epochs=[{"epoch": e, "train_loss": 1.0 / e} for e in range(1, epochs + 1)])
    store.close()


def test_eight_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "c.sqlite")
    RunStore(path).close()
    procs, runs, epochs = 8, 25, 4
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(procs)
    ps = [ctx.Process(target=_writer, args=(path, w, runs, epochs, barrier)) for w in range(procs)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(120)
    assert [p.exitcode for p in ps] == [0] * procs
    s = RunStore(path)
    assert s.count() == (procs * runs, procs * runs * epochs)
    got = s.runs()
    assert len({r["id"] for r in got}) == procs * runs
    assert all(r["status"] == "ok" and len(s.epochs(r["id"])) == epochs for r in got)
    pairs = sorted((r["config"]["worker"], r["config"]["i"]) for r in got)
    assert pairs == [(w, i) for w in range(procs) for i in range(runs)]


def _deepgrad_run(argv, barrier):
    import matplotlib

    matplotlib.use("Agg")
    from deepgrad.cli import main

    barrier.wait()
    os._exit(main(argv))


@pytest.mark.slow
def test_eight_deepgrad_runs_finishing_together_are_all_recorded(tmp_path):
    """The real path (deepgrad.cli.main -> recipe -> RunTracker -> finish): 8 processes (forked, so
    that they start together without paying for imports) run `deepgrad run planar` into one store."""
    import matplotlib.pyplot  # noqa: F401 - imported once, before the fork

    store = str(tmp_path / "s.sqlite")
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_deepgrad_run, args=(["run", "planar", "--quick", "--epochs", "40", "--seed", str(i),
                                                       "--out", str(tmp_path / f"p{i}"), "--store", store], barrier))
             for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
    assert [p.exitcode for p in procs] == [0] * 8
    s = RunStore(store)
    assert s.count() == (8, 8 * 40)
    for i in range(8):
        run_id = json.loads((tmp_path / f"p{i}" / "metrics.json").read_text())["run_id"]
        r = s.get(run_id)
        assert r["seed"] == i and r["status"] == "ok" and len(r["epochs"]) == 40 and r["final"]["test_accuracy"] > 0


def test_a_killed_run_reads_as_interrupted(tmp_path):
    import subprocess
    import sys

    s = RunStore(tmp_path / "s.sqlite")
    live = s.start_run(recipe="r")
    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()
    dead = s.start_run(recipe="r")
    s._write(lambda c: c.execute("UPDATE runs SET pid=? WHERE id=?", (dead_proc.pid, dead)))
    assert s.get(live)["status"] == "running"  # this process is alive
    r = s.get(dead)
    assert r["status"] == "interrupted" and str(dead_proc.pid) in r["status_message"]


def test_each_fit_is_its_own_run(tmp_path):
    X, y = _data()
    model = nn.Sequential(nn.Linear(4, 2))
    tracker = RunTracker(tmp_path / "s.sqlite", recipe="twice")
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=32, callbacks=[tracker])
    trainer.fit((X, y), epochs=2)
    first = tracker.run_id
    trainer.fit((X, y), epochs=3)
    s = RunStore(tmp_path / "s.sqlite")
    assert tracker.run_id != first and s.count() == (2, 5)
    assert len(s.get(first)["epochs"]) == 2 and len(s.get(tracker.run_id)["epochs"]) == 3


def test_a_resumed_fit_continues_its_record(tmp_path):
    X, y = _data()
    store = RunStore(tmp_path / "s.sqlite")
    model = nn.Sequential(nn.Linear(4, 2))
    tracker = RunTracker(store, recipe="resume")
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=32, callbacks=[tracker])
    trainer.fit((X, y), epochs=2, checkpoint_dir=tmp_path / "ck")
    trainer.fit((X, y), epochs=4, checkpoint_dir=tmp_path / "ck")
    assert store.count() == (1, 4) and [e["epoch"] for e in store.get(tracker.run_id)["epochs"]] == [1, 2, 3, 4]
