"""``deepgrad tune RECIPE --trials N``: hyperparameter search over the recipe's search space."""
from __future__ import annotations

import os
import sys


def add_parser(sub) -> None:
    from ..recipes._cli import _int_at_least

    p = sub.add_parser("tune", help="search a recipe's hyperparameters with Optuna (resumable)")
    p.add_argument("recipe", help="a recipe that declares a search space (e.g. fashion-mlp, planar)")
    p.add_argument("--trials", type=_int_at_least(1), required=True, help="how many more trials to run")
    p.add_argument("--sampler", choices=("random", "tpe"), default="random",
                   help="random sampling (the course's advice; default) or Optuna's TPE")
    p.add_argument("--coarse-to-fine", dest="coarse_to_fine", action="store_true",
                   help="run half the trials over the whole space, then half in ranges narrowed around the best")
    p.add_argument("--epochs", type=_int_at_least(1), default=None, help="epochs of every trial (default: the recipe's)")
    p.add_argument("--quick", action="store_true", help="every trial is the recipe's --quick run")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL (default sqlite:///runs/tune-RECIPE.sqlite); the study resumes from it")
    p.add_argument("--out", default=None, help="folder for the trials' runs, the plots and best-config.json "
                                               "(default runs/tune-STUDY)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="the recipe's seed in every trial, and the sampler's")
    p.add_argument("--store", default=None, help="the run store the trials are recorded in (default: the usual one)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--dask", metavar="tcp://HOST:PORT", default=None,
                       help="run the trials on the workers of this Dask scheduler (needs a --storage every worker "
                            "reaches, e.g. postgresql://...)")
    where.add_argument("--workers", metavar="N", type=_int_at_least(1), default=None,
                       help="run the trials on a local Dask cluster of N worker processes (one thread each)")


def run(args) -> int:
    from .. import recipes
    from ..errors import CLIError
    from ..recipes._cli import check_writable
    from .study import _optuna, default_study_name, run_study

    if args.recipe not in recipes.RECIPES:
        raise CLIError(f"unknown recipe {args.recipe!r} (known: {', '.join(recipes.names())})")
    args.prog = f"deepgrad tune {args.recipe}"
    optuna = _optuna()
    name = default_study_name(args.recipe, args.epochs, args.quick)
    out = check_writable("--out", args.out or os.path.join("runs", f"tune-{name}"))
    if args.storage is not None and not args.storage.strip():
        raise CLIError("--storage: empty URL")
    from ..recipes._cli import _check_store
    from .study import default_storage

    args.store = _check_store(args.store)  # the run store, opened once before any work
    from .distributed import storage_url

    given = args.storage or default_storage(args.recipe)
    storage = storage_url(given)
    dask_address = getattr(args, "dask", None)
    workers = getattr(args, "workers", None)
    if dask_address is not None:
        if storage.startswith("sqlite"):
            raise CLIError("--dask: the study needs a database every worker reaches (--storage postgresql://...), "
                           "not a SQLite file")
    try:  # the study's storage, opened before any work: a bad URL or file is one line
        # a database host that does not answer: libpq's connect_timeout, not the system's minutes
        kwargs = {"connect_args": {"connect_timeout": 10}} if storage.startswith("postgresql+") else {}
        optuna.storages.RDBStorage(storage, engine_kwargs=kwargs)
    except Exception as e:  # noqa: BLE001 - SQLAlchemy's and Optuna's errors, one line
        from .distributed import shown_url

        lines = str(e).strip().splitlines() or [""]
        raise CLIError(f"--storage {shown_url(given)}: cannot open ({type(e).__name__}: {lines[0]})") from None
    if dask_address is not None or workers is not None:
        from .distributed import _dask, check_scheduler, run_distributed

        _dask()
        if dask_address is not None:
            dask_address = check_scheduler(dask_address)
        study = run_distributed(args.recipe, args.trials, dask=dask_address, workers=workers, sampler=args.sampler,
                                coarse_to_fine=args.coarse_to_fine, epochs=args.epochs, quick=args.quick,
                                storage=storage, out=out, seed=args.seed, store=args.store)
    else:
        study = run_study(args.recipe, args.trials, sampler=args.sampler, coarse_to_fine=args.coarse_to_fine,
                          epochs=args.epochs, quick=args.quick, storage=storage, out=out, seed=args.seed,
                          store=args.store)
    from .report import best_trial, results_table, write_best_config, write_plots

    print(results_table(study))
    counts: dict[str, int] = {}
    for t in study.trials:
        counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
    print(f"study {study.study_name}: {len(study.trials)} trials (" + ", ".join(f"{v} {k}" for k, v in counts.items())
          + ")")
    config_path = os.path.join(out, "best-config.json")
    config = write_best_config(study, config_path, args.epochs)
    plots = write_plots(study, out)
    best = best_trial(study)
    if best is None:
        print("no trial finished: no best configuration", file=sys.stderr)
        return 1
    rerun = f"deepgrad run {args.recipe} --config {config_path}" + (" --quick" if args.quick else "")
    print(f"best: trial {best.number}, dev accuracy {best.value:.4f}, run {best.user_attrs.get('run_id')}: {config}")
    print(f"wrote {config_path}" + "".join(f", {p}" for p in plots) + f"\nrun it: {rerun}")
    return 0
