"""Run identity, safe resume, directory locks, divergence (issue 15, items 1 and 3)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import DivergenceGuard, History, Trainer
from deepgrad.train.run import (
    LOCK_NAME,
    DirLock,
    RunConfigMismatch,
    RunLockedError,
    config_diff,
    config_hash,
    run_config,
)


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def _trainer(lr=0.1, sched_epochs=None, step_sched=False, seed=0):
    dg.manual_seed(seed)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    opt = optim.SGD(m.parameters(), lr=lr)
    sched = None
    if sched_epochs:
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=sched_epochs * (6 if step_sched else 1))
    return Trainer(m, opt, scheduler=sched, scheduler_interval="step" if step_sched else "epoch", seed=seed,
                   batch_size=16, progress=False)


def test_config_hash_is_stable_and_ignores_epochs():
    a = run_config("r", {"lr": 0.1, "batch_size": 32, "epochs": 3}, 0)
    b = run_config("r", {"epochs": 9, "batch_size": 32, "lr": 0.1}, 0)
    assert config_hash(a) == config_hash(b) and len(config_hash(a)) == 16
    c = run_config("r", {"lr": 0.2, "batch_size": 32, "epochs": 3}, 1)
    assert config_hash(c) != config_hash(a)
    assert config_diff(a, c) == ["lr: 0.1 -> 0.2", "seed: 0 -> 1"]
    assert config_diff({"model": {"w": 1}}, {"model": {"w": 2}, "x": 1}) == ["model.w: 1 -> 2", "x: (absent) -> 1"]
    assert a["code_version"] == dg.__version__ and a["recipe"] == "r"


def test_resume_same_config_records_it(tmp_path):
    X, y = _data()
    cfg = {"recipe": "t", "lr": 0.1, "epochs": 2}
    tr = _trainer()
    tr.fit((X, y), epochs=2, checkpoint_dir=tmp_path, run_config=cfg)
    rec = tr.run_record
    assert rec["config"]["lr"] == 0.1 and rec["resumes"] == [] and rec["config"]["data_fingerprint"]["examples"] == 96
    tr2 = _trainer()
    h = tr2.fit((X, y), epochs=3, checkpoint_dir=tmp_path, run_config=dict(cfg, epochs=3))
    assert h.epochs == [1, 2, 3] and h.run is tr2.run_record
    r = tr2.run_record["resumes"]
    assert len(r) == 1 and r[0]["at_epoch"] == 2 and not r[0]["forced"] and "held" in r[0]["schedule"]
    assert tr2.run_record["config_hash"] == rec["config_hash"]


@pytest.mark.parametrize("change, named", [({"lr": 0.5}, "lr: 0.1 -> 0.5"), ({"seed": 3}, "seed: (absent) -> 3")])
def test_resume_other_config_refused_then_forced(tmp_path, change, named):
    X, y = _data()
    cfg = {"recipe": "t", "lr": 0.1}
    tr = _trainer()
    tr.fit((X, y), epochs=2, checkpoint_dir=tmp_path, run_config=cfg)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    w = {k: v.copy() for k, v in tr.model.state_dict().items()}
    tr2 = _trainer(seed=5)
    with pytest.raises(RunConfigMismatch, match="differs") as e:
        tr2.fit((X, y), epochs=3, checkpoint_dir=tmp_path, run_config={**cfg, **change})
    assert named in str(e.value) and e.value.differences == [named]
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    assert not os.path.exists(tmp_path / LOCK_NAME)  # released on the error
    tr3 = _trainer(seed=5)
    h = tr3.fit((X, y), epochs=3, checkpoint_dir=tmp_path, run_config={**cfg, **change}, force_resume=True)
    assert h.epochs == [1, 2, 3]
    r = tr3.run_record["resumes"][-1]
    assert r["forced"] and r["differences"] == [named]
    assert json.dumps(tr3.run_record)  # JSON-able for metrics.json
    _ = w


def test_other_training_data_is_another_run(tmp_path):
    X, y = _data()
    tr = _trainer()
    tr.fit((X, y), epochs=1, checkpoint_dir=tmp_path, run_config={"recipe": "t"})
    X2 = X.copy()
    X2[0, 0] += 1
    with pytest.raises(RunConfigMismatch, match="data_fingerprint.sha256"):
        _trainer().fit((X2, y), epochs=2, checkpoint_dir=tmp_path, run_config={"recipe": "t"})
    with pytest.raises(RunConfigMismatch, match="no run configuration"):
        _trainer().fit((X, y), epochs=2, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("step_sched", [False, True])
def test_extending_a_finished_run_holds_the_schedule(tmp_path, step_sched):
    X, y = _data()
    tr = _trainer(sched_epochs=3, step_sched=step_sched)
    h = tr.fit((X, y), epochs=3, checkpoint_dir=tmp_path)
    last = tr.optimizer.param_groups[0]["lr"]  # where the planned schedule ended (cosine: eta_min)
    assert last == pytest.approx(0.0)
    tr2 = _trainer(sched_epochs=6, step_sched=step_sched)  # a new schedule for 6 epochs: the checkpoint's wins
    h2 = tr2.fit((X, y), epochs=6, checkpoint_dir=tmp_path)
    assert h2["lr"][:3] == h["lr"] and h2["lr"][3:] == [last] * 3  # held, no wrap-around
    assert tr2.run_record is None or "held" in tr2.run_record["resumes"][-1]["schedule"]
    # a third extension still holds (the plan stays the first one's)
    h3 = _trainer(sched_epochs=3, step_sched=step_sched).fit((X, y), epochs=7, checkpoint_dir=tmp_path)
    assert h3["lr"][6] == last
    # the uninterrupted 3-epoch run and the extended one agree on the first three epochs
    ref = _trainer(sched_epochs=3, step_sched=step_sched).fit((X, y), epochs=3)
    assert ref["train_loss"] == h2["train_loss"][:3]


def test_dir_lock(tmp_path):
    d = tmp_path / "run"
    with DirLock(d, "--out") as lock:
        owner = json.loads((d / LOCK_NAME).read_text())
        assert owner["pid"] == os.getpid()
        with DirLock(d):  # re-entrant in one process
            pass
        assert (d / LOCK_NAME).exists()
        assert lock.took_over is None
    assert not (d / LOCK_NAME).exists()

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (d / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename}))
        with pytest.raises(RunLockedError, match=rf"--out .*in use by another run \(pid {sleeper.pid}"):
            DirLock(d, "--out").acquire()
    finally:
        sleeper.kill()
        sleeper.wait()
    if os.path.isdir("/proc"):  # Linux: a killed process not yet reaped is dead too
        zombie = subprocess.Popen([sys.executable, "-c", "pass"])
        import time

        for _ in range(100):  # exited but not reaped: a zombie, dead for the lock
            with open(f"/proc/{zombie.pid}/stat") as f:
                if f.read().rpartition(")")[2].split()[0] == "Z":
                    break
            time.sleep(0.05)
        (d / LOCK_NAME).write_text(json.dumps({"pid": zombie.pid, "host": os.uname().nodename}))
        DirLock(d).acquire().release()
        zombie.wait()
    (d / LOCK_NAME).write_text(json.dumps({"pid": sleeper.pid, "host": os.uname().nodename}))
    lock = DirLock(d).acquire()  # the owner is dead now: taken over
    assert lock.took_over["pid"] == sleeper.pid
    lock.release()

    # a reused pid (alive, but another process: its start time differs) is stale too
    (d / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename, "start_time": 1}))
    DirLock(d).acquire().release()
    # a lock from another machine cannot be checked: refused
    (d / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere.example"}))
    with pytest.raises(RunLockedError, match="elsewhere.example"):
        DirLock(d).acquire()
    (d / LOCK_NAME).write_text("{damaged")
    DirLock(d).acquire().release()


def test_fit_locks_its_checkpoint_dir(tmp_path):
    X, y = _data()
    seen = []
    from deepgrad.train import LambdaCallback

    tr = _trainer()
    tr.callbacks.append(LambdaCallback(on_epoch_end=lambda e, logs: seen.append((tmp_path / LOCK_NAME).exists())))
    tr.fit((X, y), epochs=2, checkpoint_dir=tmp_path)
    assert seen == [True, True] and not (tmp_path / LOCK_NAME).exists()


def test_divergence_guard_and_status():
    X, y = _data()
    tr = _trainer(lr=50.0)
    h = tr.fit((X, y), epochs=20, callbacks=[DivergenceGuard(factor=10)])
    assert h.status()["status"] == "diverged" and h.stop_reason.startswith("diverged") and len(h) < 20
    assert "first batch" in h.stop_reason
    h = _trainer(lr=0.0).fit((X, y), epochs=2)
    assert h.status()["status"] == "did_not_learn" and "did not learn" in h.status()["message"]
    h = _trainer(lr=0.5).fit((X, y), epochs=5)
    assert h.status() == {"status": "ok", "message": ""} and h.initial_loss > h["train_loss"][-1]
    assert History.from_dict(h.to_dict()).initial_loss == h.initial_loss
    assert History(stop_reason="NaNGuard: loss is nan").status()["status"] == "nan"
    with pytest.raises(ValueError, match="factor"):
        DivergenceGuard(factor=0.5)
