"""deepgrad tune on Dask workers sharing a study in PostgreSQL: a real server started here on
loopback (initdb into a temporary folder, pg_ctl start on a free port, as an unprivileged user
when the tests run as root) and real Dask clusters of two worker processes. Nothing is mocked."""
from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

import pytest

optuna = pytest.importorskip("optuna", reason="deepgrad tune needs the optional extra 'tune' (optuna)")
distributed = pytest.importorskip("distributed", reason="deepgrad tune --dask/--workers need the extra 'dist' "
                                                        "(dask[distributed])")

from deepgrad.cli import main  # noqa: E402
from deepgrad.experiments.store import RunStore  # noqa: E402
from deepgrad.recipes import planar  # noqa: E402
from deepgrad.tune import narrow  # noqa: E402
from deepgrad.tune.distributed import run_distributed, storage_url  # noqa: E402

EPOCHS = 20  # planar trials of 20 full-batch epochs: well under a second each
SLOW_EPOCHS = 1000  # planar trials of a few seconds on a busy 2-core machine: long enough to kill a worker in the middle of one


def _pg_bindir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(found)
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(dirs[-1]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unprivileged_user() -> str:
    """PostgreSQL refuses to run as root: the Debian package's ``postgres`` user, else one made here."""
    for name in ("postgres", "deepgrad-pg"):
        if subprocess.run(["id", "-u", name], capture_output=True).returncode == 0:
            return name
    if subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "deepgrad-pg"],
                      capture_output=True).returncode != 0:
        pytest.skip("running as root and cannot create an unprivileged user for PostgreSQL (useradd failed)")
    return "deepgrad-pg"


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server on 127.0.0.1 in a temporary folder; yields its URL (trust authentication)."""
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are absent: apt-get install postgresql")
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is absent: pip install 'deepgrad[dist]'")
    root = tempfile.mkdtemp(prefix="deepgrad-pg-")  # in /tmp, not under pytest's private (0700) folders
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        user = _unprivileged_user()
        shutil.chown(root, user)
        prefix = ["runuser", "-u", user, "--"]
    data, port = os.path.join(root, "data"), _free_port()

    def pg(*argv, check=True):
        return subprocess.run(prefix + [os.path.join(bindir, argv[0]), *argv[1:]], capture_output=True, text=True,
                              check=check, timeout=120)

    try:
        pg("initdb", "-D", data, "-U", "deepgrad", "--auth=trust", "-E", "UTF8", "--no-sync")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off " \
               "-c full_page_writes=off -c max_connections=100"
        pg("pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(root, "server.log"), "-w", "-t", "60", "start")
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {e.cmd[len(prefix)]}: {(e.stderr or e.stdout).strip()[-500:]}")
    try:
        yield f"postgresql://deepgrad@127.0.0.1:{port}/postgres"  # the driver is named by storage_url
    finally:
        pg("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    """A Dask cluster of two worker processes of one thread each, and a client of it."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield client


def _finished(study):
    return [t for t in study.trials if t.state.is_finished() and not t.user_attrs.get("superseded")]


def _store_runs(path):
    with RunStore(path) as store:
        return {r["id"]: r for r in store.runs(recipe="planar")}


def test_cli_n_trials_on_two_workers_are_recorded_once_each(postgres, tmp_path, capsys, monkeypatch):
    """The command itself: --workers 2 starts a local cluster; 4 trials requested (2 coarse, then 2
    in the narrowed ranges), 4 recorded, each once, in the study and in the run store."""
    monkeypatch.chdir(tmp_path)
    n = 4
    argv = ["tune", "planar", "--trials", str(n), "--epochs", str(EPOCHS), "--storage", postgres, "--workers", "2",
            "--store", "runs.sqlite", "--coarse-to-fine"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"{n} trials on 2 Dask workers" in printed and f"study planar-epochs{EPOCHS}: {n} trials" in printed
    study = optuna.load_study(study_name=f"planar-epochs{EPOCHS}", storage=storage_url(postgres))
    assert len(study.trials) == n and len(_finished(study)) == n
    assert sorted(t.number for t in study.trials) == list(range(n))
    assert sorted(t.user_attrs["slot"] for t in study.trials) == list(range(n)), "a slot ran twice or not at all"
    assert len({t.user_attrs["host"] for t in study.trials}) == 2, "the trials did not run on both workers"
    by_slot = sorted(study.trials, key=lambda t: t.user_attrs["slot"])
    assert [t.user_attrs["stage"] for t in by_slot] == ["coarse", "coarse", "fine", "fine"]
    fine = narrow(planar.SEARCH_SPACE, [t.params for t in by_slot[:2] if t.value is not None])
    for t in by_slot[2:]:
        assert fine["lr"]["low"] <= t.params["lr"] <= fine["lr"]["high"]
        assert fine["hidden"]["low"] <= t.params["hidden"] <= fine["hidden"]["high"]
    runs = _store_runs(str(tmp_path / "runs.sqlite"))
    ids = [t.user_attrs["run_id"] for t in study.trials]
    assert len(set(ids)) == n and set(ids) == set(runs), "the run store and the study disagree"
    for t in study.trials:
        run = runs[t.user_attrs["run_id"]]
        assert run["status"] != "running" and run["config"]["epochs"] == EPOCHS  # ok, pruned, did_not_learn
        assert run["config"]["lr"] == pytest.approx(t.params["lr"]) and run["config"]["hidden"] == t.params["hidden"]
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert run["final"]["dev_accuracy"] == pytest.approx(t.value)
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == n, "two workers drew the same point"
    assert (tmp_path / "runs" / f"tune-planar-epochs{EPOCHS}" / "best-config.json").exists()


def test_a_worker_killed_mid_trial_loses_no_finished_trial(postgres, cluster, tmp_path):
    """SIGKILL the worker process running a trial once another trial has finished: the finished
    trials stay, the killed one is marked failed, its slot runs again and the study completes N."""
    n, store, name = 3, str(tmp_path / "runs.sqlite"), "planar-kill"
    worker_pids = set(cluster.run(os.getpid).values())
    assert len(worker_pids) == 2
    result: dict = {}

    def tune():
        try:
            result["study"] = run_distributed("planar", n, epochs=SLOW_EPOCHS, storage=postgres, study_name=name,
                                              out=str(tmp_path / "out"), store=store, client=cluster,
                                              log=open(os.devnull, "w"))
        except BaseException as e:  # noqa: BLE001 - shown by the assertion below
            result["error"] = e

    thread = threading.Thread(target=tune, daemon=True)
    thread.start()
    killed, seen_done = None, False
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.05)
        if not os.path.exists(store):
            continue
        # the finished trials first, then the run store, then the kill at once: the run seen
        # running is still running when its process dies
        if seen_done:
            now = optuna.load_study(study_name=name, storage=storage_url(postgres))
            before = {t.number: (t.state, t.value) for t in now.trials if t.state.is_finished()}
        try:
            with sqlite3.connect(store, timeout=10) as db:
                done = db.execute("SELECT COUNT(*) FROM runs WHERE status = 'ok'").fetchone()[0]
                running = db.execute("SELECT id, pid FROM runs WHERE status = 'running' "
                                     "ORDER BY created DESC").fetchall()
        except sqlite3.OperationalError:  # the store is being created
            continue
        if seen_done and running:
            run_id, pid = running[0]
            assert pid in worker_pids and pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            killed = run_id
        seen_done = done >= 1
    assert killed is not None, "no trial was seen running after another had finished"
    thread.join(120)
    assert not thread.is_alive(), "the study did not complete after the worker was killed"
    assert "error" not in result, repr(result.get("error"))
    study = result["study"]
    finished = _finished(study)
    assert len(finished) == n and all(t.state == optuna.trial.TrialState.COMPLETE for t in finished)
    assert sorted(t.user_attrs["slot"] for t in finished) == list(range(n))
    for number, (state, value) in before.items():  # no finished trial lost or changed
        t = study.trials[number]
        assert t.state == state and t.value == value
    (dead,) = [t for t in study.trials if t.user_attrs.get("superseded")]
    assert dead.state == optuna.trial.TrialState.FAIL and dead.number not in before
    (again,) = [t for t in finished if t.user_attrs.get("retry_of") == dead.number]
    assert again.user_attrs["slot"] == dead.user_attrs["slot"]
    assert again.params == dead.params, "the slot run again did not retry the killed trial's point"
    assert len(study.trials) == n + 1
    runs = _store_runs(store)
    # never finished: 'running' as the worker left it, or 'interrupted' once the store saw its process gone
    assert runs[killed]["status"] in ("running", "interrupted"), "the killed run finished: not killed mid-trial"
    assert {t.user_attrs["run_id"] for t in finished} <= {i for i, r in runs.items() if r["status"] == "ok"}
    assert len(set(cluster.run(os.getpid))) == 2, "the nanny did not restart the killed worker"


def test_bad_scheduler_or_database_is_one_line(postgres, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dead = _free_port()
    base = ["tune", "planar", "--trials", "1", "--epochs", str(EPOCHS), "--store", "runs.sqlite"]
    cases = [(["--storage", postgres, "--dask", f"tcp://127.0.0.1:{dead}"], f"--dask tcp://127.0.0.1:{dead}: cannot "
              "reach the scheduler"),
             (["--storage", postgres, "--dask", "nonsense"], "--dask nonsense: expected a scheduler address"),
             (["--dask", "tcp://127.0.0.1:8786"], "--dask: the study needs a database every worker reaches"),
             (["--storage", f"postgresql://deepgrad:secret@127.0.0.1:{dead}/postgres", "--workers", "2"],
              f"--storage postgresql://deepgrad:***@127.0.0.1:{dead}/postgres: cannot open (OperationalError"),
             (["--storage", postgres, "--workers", "0"], "--workers"),
             (["--storage", postgres, "--workers", "2", "--dask", "tcp://127.0.0.1:8786"], "not allowed with")]
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and message in err, err
        assert "secret" not in err
    assert not list(tmp_path.glob("runs/tune-*/trial-*")), "a trial ran"


def test_storage_urls_name_the_installed_driver_and_hide_passwords():
    pytest.importorskip("psycopg2", reason="the PostgreSQL driver psycopg2 is absent: pip install 'deepgrad[dist]'")
    from deepgrad.tune.distributed import shown_url

    assert storage_url("postgresql://u:pw@db.example:5432/optuna") == "postgresql+psycopg2://u:pw@db.example:5432/optuna"
    assert storage_url("postgres://u@db/optuna") == "postgresql+psycopg2://u@db/optuna"
    for given in ("postgresql+psycopg://u@db/optuna", "sqlite:///runs/tune.sqlite", "mysql://u@db/optuna"):
        assert storage_url(given) == given
    assert shown_url("postgresql://u:pw@db/optuna") == "postgresql://u:***@db/optuna"
