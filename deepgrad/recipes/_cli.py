"""``deepgrad run`` and ``deepgrad list``: the recipes from the command line.

Every flag is checked before any work (before data is loaded, before the first epoch):
numbers in range, the output and checkpoint directories creatable and writable, not
locked by another live run, and only flags the recipe takes (each recipe module
declares them in ``FLAGS``; see :mod:`deepgrad.recipes`). A bad flag is one line on
stderr naming the flag and the cause, exit status 2.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

#: flags every recipe takes (output and run plumbing)
COMMON_FLAGS = ("out", "quick")
#: flags a recipe takes when it declares no ``FLAGS``
DEFAULT_FLAGS = ("epochs", "seed", "lr", "batch_size")
#: flags that only make sense with ``--checkpoint-dir``
CHECKPOINT_FLAGS = ("force_resume", "checkpoint_every_steps")
#: the tracking bridges of the common fit options: taken by every recipe that trains through them
#: (``fit_options``, as ``--checkpoint-dir``)
FIT_FLAGS = ("tensorboard", "mlflow")
#: the per-recipe flags, as ``dest`` -> the flag spelled on the command line
RECIPE_FLAGS = {"epochs": "--epochs", "seed": "--seed", "lr": "--lr", "batch_size": "--batch-size",
                "source": "--source", "checkpoint_dir": "--checkpoint-dir",
                "force_resume": "--force-resume", "checkpoint_every_steps": "--checkpoint-every-steps",
                "content": "--content", "style": "--style", "corpus": "--corpus", "vectors": "--vectors",
                "config": "--config", "lm_corpus": "--lm-corpus", "tensorboard": "--tensorboard", "mlflow": "--mlflow"}


def _int_at_least(low: int):
    def parse(text):
        try:
            v = int(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {v}")
        return v

    parse.__name__ = f"int>={low}"
    return parse


def _learning_rate(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {v}")
    return v


def add_parser(sub) -> None:
    r = sub.add_parser("run", help="run a recipe (a complete, repeatable experiment)")
    r.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    r.add_argument("--list", action="store_true", help="list the recipes and exit")
    r.add_argument("--epochs", type=_int_at_least(1), default=None, help="number of epochs (default: the recipe's)")
    r.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="random seed, >= 0 (default 0): same seed, same run")
    r.add_argument("--out", default=None, help="output directory (default runs/<recipe>-<timestamp>)")
    r.add_argument("--quick", action="store_true", help="a small, fast version (smoke test, CI)")
    r.add_argument("--batch-size", dest="batch_size", type=_int_at_least(1), default=None, help="mini-batch size")
    r.add_argument("--lr", type=_learning_rate, default=None, help="learning rate (finite, > 0)")
    r.add_argument("--source", default=None, choices=("digits-pipeline", "raw"),
                   help="transfer-digits: pretraining images, through the digits' 8x8 pipeline (default) or raw")
    r.add_argument("--checkpoint-dir", dest="checkpoint_dir", default=None,
                   help="save resumable checkpoints there and resume from them (recipes that support it); "
                        "a checkpoint of a run with another configuration is refused")
    r.add_argument("--checkpoint-every-steps", dest="checkpoint_every_steps", type=_int_at_least(1), default=None,
                   help="with --checkpoint-dir: also checkpoint every N optimizer steps (long epochs)")
    r.add_argument("--force-resume", dest="force_resume", action="store_true", default=None,
                   help="with --checkpoint-dir: resume even if the checkpoint's configuration differs "
                        "(metrics.json then records the differences)")
    r.add_argument("--tensorboard", default=None, metavar="DIR",
                   help="also write TensorBoard event files (per-epoch scalars, weight and gradient histograms) "
                        "in DIR/<run folder name>: tensorboard --logdir DIR (needs deepgrad[tensorboard])")
    r.add_argument("--mlflow", default=None, metavar="URI",
                   help="also log the run to MLflow at URI (file:./mlruns, sqlite:///mlflow.db, http://host:5000), "
                        "in an experiment named after the recipe (needs deepgrad[mlflow])")
    r.add_argument("--lm-corpus", dest="lm_corpus", default=None, choices=("names", "words", "python"),
                   help="char-lm: names (default) or words from the English word list, or Python's standard library")
    r.add_argument("--content", default=None, help="style-transfer: content image (file, or china/flower/waves)")
    r.add_argument("--style", default=None, help="style-transfer: style image (file, or china/flower/waves)")
    r.add_argument("--config", default=None,
                   help="a JSON file of configuration overrides (keys of the recipe's defaults; e.g. the best "
                        "configuration `deepgrad tune` wrote); a flag given on the command line wins")
    r.add_argument("--store", default=None,
                   help="record the run in this run store (SQLite; default $DEEPGRAD_STORE, else runs/runs.sqlite)")
    r.add_argument("--corpus", default=None, choices=("wordnet", "wordnet+gcide"),
                   help="word2vec, glove: WordNet's glosses (default) or with the GCIDE dictionary added")
    r.add_argument("--vectors", default=None,
                   help="gloss-topic: word vectors in word2vec text format (default: PPMI-SVD)")
    sub.add_parser("list", help="same as `run --list`")


def _list(out) -> None:
    from . import describe, names

    width = max(len(n) for n in names())
    for name in names():
        print(f"  {name:<{width}}  {describe(name)}", file=out)


def recipe_flags(module) -> tuple[str, ...]:
    """The flags (``dest`` names) a recipe module takes: its ``FLAGS``, else :data:`DEFAULT_FLAGS`."""
    return tuple(getattr(module, "FLAGS", DEFAULT_FLAGS))


def check_flags(recipe: str, module, args) -> None:
    """Refuse a flag the recipe does not use, and run-plumbing flags without ``--checkpoint-dir``."""
    from ..errors import CLIError

    takes = set(recipe_flags(module)) | set(COMMON_FLAGS)
    if "checkpoint_dir" in takes:
        takes |= set(CHECKPOINT_FLAGS) | set(FIT_FLAGS)
    for dest, flag in RECIPE_FLAGS.items():
        if getattr(args, dest, None) is None:
            continue
        if dest not in takes:
            accepted = " ".join(RECIPE_FLAGS[d] for d in RECIPE_FLAGS if d in takes)
            raise CLIError(f"{flag} is not used by recipe {recipe!r} "
                           f"(it takes: {accepted or 'no options'} --out --quick)")
        if dest in CHECKPOINT_FLAGS and getattr(args, "checkpoint_dir", None) is None:
            raise CLIError(f"{flag} needs --checkpoint-dir")


def read_config(path: str) -> dict:
    """The JSON object of ``--config FILE``; a missing or malformed file is one line naming it."""
    import json

    from ..errors import CLIError

    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise CLIError(f"--config {path}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise CLIError(f"--config {path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise CLIError(f"--config {path}: expected a JSON object of settings, got {type(data).__name__}")
    return data


def check_config(recipe: str, module, path: str | None, overrides: dict | None = None) -> dict:
    """The configuration overrides of a run: ``--config FILE`` and then ``overrides`` (set by
    ``deepgrad tune``), each key one of the recipe's ``DEFAULTS`` (not the ``quick_*`` ones)
    with a value of the default's kind. An unknown key or a wrong kind is one line."""
    from ..errors import CLIError

    merged = {**(read_config(path) if path else {}), **(overrides or {})}
    if not merged:
        return {}
    where = f"--config {path}" if path else "configuration override"
    defaults = {k: v for k, v in getattr(module, "DEFAULTS", {}).items() if not k.startswith("quick")}
    if "config" not in recipe_flags(module):
        raise CLIError(f"{where}: recipe {recipe!r} takes no configuration overrides")
    for key, value in merged.items():
        if key not in defaults:
            raise CLIError(f"{where}: unknown key {key!r} for recipe {recipe!r} (known: {', '.join(sorted(defaults))})")
        d = defaults[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if isinstance(d, bool):
            ok = isinstance(value, bool)
        elif isinstance(d, int):
            ok = number and float(value).is_integer()
            value = int(value) if ok else value
        elif isinstance(d, float):
            ok = number and math.isfinite(value)
        elif isinstance(d, (list, tuple)):
            ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
        else:
            ok = isinstance(value, type(d))
        if not ok:
            raise CLIError(f"{where}: {key} = {value!r} is not like the default {d!r}")
        merged[key] = value
    return merged


def check_writable(flag: str, path: str) -> str:
    """Create ``path`` (a directory) if needed and check that files can be written in it."""
    import tempfile

    from ..errors import CLIError

    path = os.fspath(path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"{flag} {path}: exists and is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".deepgrad-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CLIError(f"{flag} {path}: not writable ({e.strerror or e})") from None
    return path


def run(args) -> int:
    from datetime import datetime, timezone

    from .. import recipes
    from ..errors import CLIError

    if args.command == "list" or args.list:
        print("recipes:")
        _list(sys.stdout)
        return 0
    if not args.recipe:
        print("deepgrad run: name a recipe; known recipes:", file=sys.stderr)
        _list(sys.stderr)
        return 2
    if args.recipe not in recipes.RECIPES:
        print(f"deepgrad run: unknown recipe {args.recipe!r}; known recipes:", file=sys.stderr)
        _list(sys.stderr)
        return 2
    module = recipes.get(args.recipe)
    args.prog = f"deepgrad run {args.recipe}"
    for flag, value in (("--out", args.out), ("--checkpoint-dir", args.checkpoint_dir)):
        if value is not None and not value.strip():
            raise CLIError(f"{flag}: empty path")
    check_flags(args.recipe, module, args)
    args.config_overrides = check_config(args.recipe, module, getattr(args, "config", None),
                                         getattr(args, "config_overrides", None))
    if args.lr == 0:
        print(f"deepgrad run {args.recipe}: warning: --lr 0: the weights will not change", file=sys.stderr)
    if not args.out:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        base = os.path.join("runs", f"{args.recipe}-{stamp}")
        args.out, n = base, 1
        while os.path.exists(args.out):  # two runs started in the same second get two directories
            n += 1
            args.out = f"{base}-{n}"
    _check_bridges(args)
    check_writable("--out", args.out)
    if args.checkpoint_dir is not None:
        check_writable("--checkpoint-dir", args.checkpoint_dir)
    args.store = _check_store(args.store)
    from ..train.run import DirLock, RunLockedError
    from ._common import set_aside_previous

    locks = [DirLock(args.out, "--out")]
    if args.checkpoint_dir is not None:
        locks.append(DirLock(args.checkpoint_dir, "--checkpoint-dir"))
    held = []
    try:
        for lock in locks:
            try:
                held.append(lock.acquire())
            except RunLockedError as e:
                raise CLIError(str(e)) from e
        previous = set_aside_previous(args.out)
        if previous:
            print(f"deepgrad run {args.recipe}: the earlier run's files in {args.out} were moved to {previous}",
                  file=sys.stderr)
        clock = _Clock()
        metrics = module.run(args)  # errors (e.g. missing data: the message says where we looked) -> one line
        _stamp_timing(args.out, metrics, clock, getattr(args, "argv", None))
    finally:
        for lock in reversed(held):
            lock.release()
    if isinstance(metrics, dict) and "run_id" not in metrics:  # a recipe without Trainer.fit plumbing
        _record_summary(args, metrics)
    status = (metrics or {}).get("status") if isinstance(metrics, dict) else None
    if status in ("nan", "diverged"):
        from ..train.run import RunDiverged

        raise RunDiverged(f"{metrics.get('status_message')} (record: "
                        f"{os.path.join(args.out, 'metrics.json')})")
    return 0



class _Clock:
    """Wall time, this process's CPU time and the load average at the start of a run."""

    def __init__(self):
        import time

        self.wall, self.cpu, self.load = time.perf_counter(), time.process_time(), _loadavg()


def _loadavg():
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def blas_threads() -> str:
    """The BLAS thread setting the run saw (the environment variable that sets it, or ``default``)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var):
            return os.environ[var]
    return "default"


def _stamp_timing(out: str, metrics, clock: _Clock, argv=None) -> None:
    """Add ``timing`` to the run's ``metrics.json``: wall and CPU seconds, BLAS threads, load average.

    CPU time (user + system, this process) is the figure that a busy machine does not
    inflate much: with one BLAS thread it is close to the wall time on an idle core, which
    is why the README's recipe times quote it beside the wall time.
    """
    import json
    import time

    from ..serialization import atomic_write_bytes

    timing = {"wall_s": round(time.perf_counter() - clock.wall, 2), "cpu_s": round(time.process_time() - clock.cpu, 2),
              "blas_threads": blas_threads(), "cores": os.cpu_count(), "load_average_start": clock.load,
              "load_average_end": _loadavg(), "argv": list(sys.argv[1:] if argv is None else argv)}
    if isinstance(metrics, dict):
        metrics["timing"] = timing
    path = os.path.join(out, "metrics.json")
    try:
        with open(path) as f:
            saved = json.load(f)
    except (OSError, ValueError):
        return
    saved["timing"] = timing
    atomic_write_bytes(path, (json.dumps(saved, indent=2) + "\n").encode())


def _check_bridges(args) -> None:
    """``--tensorboard DIR`` and ``--mlflow URI`` checked before any work: the library installed,
    the folder (or a ``file:`` store's folder) writable."""
    from ..errors import CLIError

    for flag, dest in (("--tensorboard", "tensorboard"), ("--mlflow", "mlflow")):
        value = getattr(args, dest, None)
        if value is None:
            continue
        if not value.strip():
            raise CLIError(f"{flag}: empty {'path' if dest == 'tensorboard' else 'URI'}")
        from ..experiments import bridges

        module = "tensorboardX" if dest == "tensorboard" else "mlflow"
        import importlib.util

        if importlib.util.find_spec(module) is None:
            raise CLIError(f"{flag} needs {module}: {bridges.EXTRAS[dest]}")
        if dest == "tensorboard":
            check_writable(flag, value)
        elif bridges.is_file_uri(value):
            check_writable(flag, bridges.file_store_path(value))


def _check_store(path):
    """``--store`` (or ``$DEEPGRAD_STORE``, or the default) opened once before any work: a bad path is one line."""
    from ..errors import CLIError
    from ..experiments.store import RunStore, RunStoreError, store_path

    path = store_path(path)
    try:
        RunStore(path).close()
    except RunStoreError as e:
        raise CLIError(f"--store: {e}") from None
    return path


def _record_summary(args, metrics: dict) -> None:
    """Record a recipe's run that did not go through ``fit_options`` (its metrics only)."""
    from ..experiments.store import RunStore, RunStoreError

    final = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
             and k not in ("seed",)}
    try:
        with RunStore(args.store) as store:
            store.record(recipe=args.recipe, config=metrics.get("config"), seed=metrics.get("seed"), final=final,
                         status=metrics.get("status", "ok"), out_dir=args.out, source="run",
                         durations={"wall_s": metrics.get("wall_time_s")})
    except RunStoreError as e:
        print(f"deepgrad run {args.recipe}: warning: the run is not recorded in the run store: {e}", file=sys.stderr)
