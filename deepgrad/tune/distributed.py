"""Trials on many machines: a study in a server database (PostgreSQL), its trials run by Dask workers.

    deepgrad tune RECIPE --trials N --storage postgresql://USER:PASS@HOST/DB --dask tcp://SCHEDULER:8786
    deepgrad tune RECIPE --trials N --storage postgresql://... --workers 4      # a local cluster

The client creates (or loads) the study once, then submits one Dask task per requested trial:
a *slot*. A task loads the study on its worker and runs exactly one trial (the usual
``deepgrad run`` of the recipe, recorded in the worker's run store), so N slots give N
trials. A slot is idempotent: its trial carries the run's batch id and the slot number, and a
slot that finds its trial already finished returns it instead of running another.

When a worker dies mid-trial, the scheduler runs its slot again on another worker. The new
attempt marks the dead attempt's trial ``FAIL`` (it is superseded: its worker is gone) and
runs the slot again, with the same sampler seed, so a random sampler tries the same point.
Finished trials are in the database as soon as they finish, so none is lost. Every worker's
trials also send Optuna heartbeats: a trial left ``RUNNING`` by a client that died with its
workers is marked ``FAIL`` by the next trial of the study once its heartbeat is stale.
"""
from __future__ import annotations

import io
import math
import os
import sys
import time
import uuid
import warnings

#: seconds between a running trial's heartbeats, and since the last one before it counts as dead
HEARTBEAT_INTERVAL = 20
GRACE_PERIOD = 60


def _dask():
    from ..errors import CLIError

    try:
        import distributed
    except ImportError:
        raise CLIError("--dask/--workers need Dask: pip install 'deepgrad[dist]' (or pip install 'dask[distributed]')"
                       ) from None
    return distributed


def storage_url(url: str) -> str:
    """``postgresql://...`` with the PostgreSQL driver that is installed named in it
    (``postgresql+psycopg2://`` or ``postgresql+psycopg://``): SQLAlchemy 2.0 reads a bare
    ``postgresql://`` as psycopg2, 2.1 as psycopg 3, and only one of them may be installed.
    Any other URL is returned as given."""
    import importlib.util

    from ..errors import CLIError

    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres"):
        return url
    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    raise CLIError(f"--storage {shown_url(url)}: no PostgreSQL driver is installed: pip install 'deepgrad[dist]' "
                   "(or pip install psycopg2-binary)")


def shown_url(url: str) -> str:
    """The storage URL with its password hidden (for messages)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy parses: shown as given
        return url


def check_scheduler(address: str, timeout: float = 10.0) -> str:
    """``tcp://HOST:PORT`` (or ``HOST:PORT``), checked by opening a connection: one line if it fails."""
    import socket

    from ..errors import CLIError

    addr = address.strip()
    rest = addr.split("://", 1)[1] if "://" in addr else addr
    scheme = addr.split("://", 1)[0] if "://" in addr else "tcp"
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if scheme != "tcp" or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise CLIError(f"--dask {address}: expected a scheduler address tcp://HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise CLIError(f"--dask {address}: cannot reach the scheduler ({e.strerror or type(e).__name__})") from None
    return f"tcp://{host}:{port}" if ":" not in host else f"tcp://[{host}]:{port}"


_STORAGES: dict = {}  # one RDBStorage (one connection pool) per URL and heartbeat setting in a process


def _storage(url: str, heartbeat: bool = True, heartbeat_interval: int = HEARTBEAT_INTERVAL,
             grace_period: int = GRACE_PERIOD):
    from .study import _optuna

    optuna = _optuna()
    key = (url, heartbeat_interval, grace_period) if heartbeat else (url,)
    if key not in _STORAGES:
        if not heartbeat:
            _STORAGES[key] = optuna.storages.RDBStorage(url)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                _STORAGES[key] = optuna.storages.RDBStorage(url, heartbeat_interval=heartbeat_interval,
                                                            grace_period=grace_period)
    return _STORAGES[key]


def _load_study(storage, name: str, sampler=None, pruner=None, attempts: int = 20):
    """``optuna.load_study``, retried briefly (a database that another process is still setting up)."""
    from .study import _optuna

    optuna = _optuna()
    for attempt in range(attempts):
        try:
            return optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        except KeyError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.25 * (attempt + 1))
    raise AssertionError("unreachable")


def run_slot(spec: dict, slot: int, space: dict, sampler_seed: int) -> dict:
    """One Dask task: run one trial of the study (``spec``) for ``slot`` on this worker; return
    what the client reports. Safe to run again: a slot whose trial finished is not run twice."""
    from ..recipes import get
    from .study import _optuna, _sampler, _trial

    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    states = optuna.trial.TrialState
    storage = _storage(spec["storage"], heartbeat_interval=spec["heartbeat_interval"],
                       grace_period=spec["grace_period"])
    pruner = optuna.pruners.MedianPruner(n_startup_trials=spec["n_startup_trials"],
                                         n_warmup_steps=spec["n_warmup_steps"])
    study = _load_study(storage, spec["study_name"], sampler=_sampler(optuna, spec["sampler"], sampler_seed),
                        pruner=pruner)
    mine = [t for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("batch") == spec["batch"] and t.user_attrs.get("slot") == slot]
    for t in mine:
        if t.state.is_finished() and not t.user_attrs.get("superseded"):
            return _summary(t, f"tune {spec['recipe']}: trial {t.number} (slot {slot}) had finished already", True)
    retry_of = None
    for t in mine:  # an earlier attempt of this slot whose worker died: superseded, marked failed
        if t.state == states.RUNNING:
            retry_of = t.number
            try:
                storage.set_trial_user_attr(t._trial_id, "superseded", True)
                storage.set_trial_state_values(t._trial_id, state=states.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # failed meanwhile by a stale-heartbeat check
    module = get(spec["recipe"])
    log = io.StringIO()
    numbers: list[int] = []
    errors: list[str] = []

    def objective(trial):
        numbers.append(trial.number)
        trial.set_user_attr("batch", spec["batch"])
        trial.set_user_attr("slot", slot)
        trial.set_user_attr("host", _host())
        if retry_of is not None:
            trial.set_user_attr("retry_of", retry_of)
        try:
            return _trial(trial, spec["recipe"], module, spec["stage"], space, spec["epochs"], spec["quick"],
                          spec["out"], spec["seed"], spec["store"], log)
        except optuna.TrialPruned:
            raise
        except (Exception, SystemExit) as e:  # recorded as the trial's failure (CLIError is a SystemExit)
            errors.append(f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}")
            raise RuntimeError(errors[-1]) from None

    # catch: a trial that raises is recorded as failed (its error in the line) and the slot is done
    study.optimize(objective, n_trials=1, catch=(Exception,))
    found = [t for t in study.get_trials(deepcopy=False) if numbers and t.number == numbers[-1]]
    if not found:
        raise RuntimeError(f"slot {slot}: no trial ran")
    trial = found[0]
    line = log.getvalue().strip()
    if not line:  # the trial raised before writing its line
        line = f"tune {spec['recipe']}: trial {trial.number} [{spec['stage']}] failed" + (
            f": {errors[-1]}" if errors else "")
    if retry_of is not None:
        line += f"  (slot {slot} again: trial {retry_of}'s worker died)"
    return _summary(trial, line, False)


def _host() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _summary(trial, line: str, again: bool) -> dict:
    return {"number": trial.number, "state": trial.state.name, "value": trial.value, "line": line, "again": again}


def run_distributed(recipe: str, trials: int, *, dask: str | None = None, workers: int | None = None,
                    sampler: str = "random", coarse_to_fine: bool = False, epochs=None, quick: bool = False,
                    storage: str, out: str | None = None, seed: int = 0, store: str | None = None,
                    study_name: str | None = None, n_startup_trials: int = 5, n_warmup_steps: int = 1,
                    enqueue: list[dict] | None = None, heartbeat_interval: int = HEARTBEAT_INTERVAL,
                    grace_period: int = GRACE_PERIOD, client=None, log=None):
    """Run ``trials`` more trials of ``recipe`` on Dask workers and return the ``optuna.Study``.

    The workers: ``client`` (a ``distributed.Client``), else the scheduler at ``dask``
    (``tcp://HOST:PORT``), else a local cluster of ``workers`` processes of one thread each.
    ``storage`` must be a database every worker reaches (PostgreSQL). ``out`` and ``store``
    are paths on the workers (a relative one is relative to each worker's working directory).
    The other arguments are :func:`~deepgrad.tune.study.run_study`'s."""
    from .. import recipes
    from ..errors import CLIError
    from .space import narrow
    from .study import _optuna, best_params, default_study_name

    optuna = _optuna()
    distributed = _dask()
    log = log or sys.stdout
    storage = storage_url(storage)
    module = recipes.get(recipe)
    space = getattr(module, "SEARCH_SPACE", None)
    if not space or not hasattr(module, "search_config"):
        tunable = [n for n in recipes.names() if getattr(recipes.get(n), "SEARCH_SPACE", None)]
        raise CLIError(f"recipe {recipe!r} declares no search space (tunable: {', '.join(tunable)})")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = study_name or default_study_name(recipe, epochs, quick)
    out = out or os.path.join("runs", f"tune-{name}")
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
    # the study is created here, once, before any worker loads it (two workers creating it at once collide)
    db = _storage(storage, heartbeat=False)
    study = optuna.create_study(study_name=name, storage=db, direction="maximize", load_if_exists=True, pruner=pruner)
    for key, value in {"recipe": recipe, "epochs": epochs, "quick": quick, "seed": seed}.items():
        study.set_user_attr(key, value)
    for params in enqueue or []:
        study.enqueue_trial(params)
    spec = {"recipe": recipe, "study_name": name, "storage": storage, "sampler": sampler, "epochs": epochs,
            "quick": quick, "out": out, "seed": seed, "store": store, "n_startup_trials": n_startup_trials,
            "n_warmup_steps": n_warmup_steps, "heartbeat_interval": heartbeat_interval,
            "grace_period": grace_period, "batch": uuid.uuid4().hex[:12]}

    own = []  # what this call starts, closed at the end
    if client is None:
        if dask is not None:
            try:
                client = distributed.Client(dask, timeout=30)
            except (OSError, TimeoutError, ValueError) as e:
                first = (str(e).strip().splitlines() or [""])[0]
                raise CLIError(f"--dask {dask}: cannot connect to a Dask scheduler ({type(e).__name__}: {first})"
                               ) from None
        else:
            cluster = distributed.LocalCluster(n_workers=workers or 1, threads_per_worker=1, processes=True,
                                               dashboard_address=None)
            own.append(cluster)
            client = distributed.Client(cluster)
        own.insert(0, client)
    try:
        stages = [("coarse", space, trials)]
        if coarse_to_fine:
            half = math.ceil(trials / 2)
            stages = [("coarse", space, half), ("fine", None, trials - half)]
        from ..train.progress import Progress

        n_workers = len(client.scheduler_info().get("workers", {}))
        print(f"tune {recipe}: study {name} in {shown_url(storage)}, {trials} trials on {n_workers} Dask worker"
              + ("s" if n_workers != 1 else "") + f" ({client.scheduler.address})"
              + ("; no worker is connected yet: the trials wait for one" if not n_workers else ""), file=log)
        bar = Progress(total=trials, desc=f"tune {recipe}", unit="trial")
        out_log = bar.writer(log)
        slot = 0
        for stage, stage_space, n in stages:
            if n <= 0:
                continue
            if stage_space is None:
                study = optuna.load_study(study_name=name, storage=db)
                stage_space = narrow(space, best_params(study))
                print(f"tune {recipe}: fine stage, ranges narrowed around the best trials: "
                      + ", ".join(f"{k} [{v['low']:.4g}, {v['high']:.4g}]" if isinstance(v["low"], float)
                                  else f"{k} [{v['low']}, {v['high']}]" for k, v in stage_space.items()),
                      file=out_log)
            base = seed + len(optuna.load_study(study_name=name, storage=db).trials)
            futures = [client.submit(run_slot, {**spec, "stage": stage}, slot + i, stage_space, base + i,
                                     key=f"deepgrad-tune-{spec['batch']}-{slot + i}", pure=False, retries=2)
                       for i in range(n)]
            slot += n
            failed: list[str] = []
            for future in distributed.as_completed(futures):
                try:
                    line = future.result()["line"]
                except Exception as e:  # noqa: BLE001 - the slot's task itself failed (its workers died, ...)
                    failed.append(f"{type(e).__name__}: {' '.join(str(e).split())[:300]}")
                    line = f"tune {recipe}: a trial's task failed on the workers ({failed[-1]})"
                print(line, file=out_log)
                study = optuna.load_study(study_name=name, storage=db)
                bar.update(status=_best(study))
            if failed and len(failed) == n:  # nothing ran: the workers cannot run deepgrad's tasks
                where = (f"--dask {dask}" if dask is not None else f"--workers {workers}" if workers is not None
                         else "the Dask workers")
                raise CLIError(f"{where}: no trial ran on the workers ({failed[0]}); is this deepgrad, with its "
                               "'dist' extra, installed where the scheduler and every worker run?")
            if failed:
                print(f"tune {recipe}: {len(failed)} of {n} trials' tasks failed on the workers", file=out_log)
        bar.close()
    finally:
        for thing in own:
            thing.close()
    return optuna.load_study(study_name=name, storage=db)


def _best(study) -> str:
    from .study import _best_so_far

    return _best_so_far(study)
