"""The study: trials of a recipe run through the normal ``deepgrad run`` path, in an Optuna study
kept in SQLite (or any ``--storage`` URL), so that running the command again resumes it."""
from __future__ import annotations

import json
import math
import os
import sys
import time

from ..train.callbacks import Callback
from .space import narrow, sample

#: how many intermediate values a trial reports to the pruner at most (each is a storage write)
REPORTS_PER_TRIAL = 25


def _optuna():
    from ..errors import CLIError

    try:
        import optuna
    except ImportError:
        raise CLIError("deepgrad tune needs Optuna: pip install 'deepgrad[tune]' (or pip install optuna)") from None
    return optuna


class TrialPruning(Callback):
    """Reports the per-epoch dev metric of a ``Trainer.fit`` run to an Optuna trial and stops the
    run (``stop_reason`` ``"pruned"``) when the trial's pruner says so. The run ends normally (it
    is evaluated and recorded); the study then marks the trial pruned."""

    order = 50  # after the guards, before the run store's tracker

    def __init__(self, trial, monitor: str = "dev_accuracy", reports: int = REPORTS_PER_TRIAL):
        self.trial, self.monitor, self.reports = trial, monitor, reports
        self.every, self.epochs = 1, 1
        self.pruned_at = None

    def on_train_begin(self, logs):
        self.epochs = int((logs or {}).get("epochs") or 1)
        self.every = max(1, math.ceil(self.epochs / max(1, self.reports)))

    def on_epoch_end(self, epoch, logs):  # epoch: 1, 2, ... (the step reported to the pruner)
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)) or epoch % self.every:
            return
        self.trial.report(float(value), int(epoch))
        if epoch < self.epochs and self.trial.should_prune():  # after the last epoch there is nothing to save
            self.pruned_at = int(epoch)
            self.trainer.stop_training = True
            self.trainer.stop_reason = "pruned"


def default_storage(recipe: str) -> str:
    """``sqlite:///runs/tune-<recipe>.sqlite`` (the folder is created)."""
    os.makedirs("runs", exist_ok=True)
    return f"sqlite:///{os.path.join('runs', f'tune-{recipe}.sqlite')}"


def default_study_name(recipe: str, epochs=None, quick: bool = False) -> str:
    """One study per recipe and trial length: trials of different lengths are not comparable."""
    return recipe + (f"-epochs{epochs}" if epochs else "") + ("-quick" if quick else "")


def _sampler(optuna, kind: str, seed: int):
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    from ..errors import CLIError

    raise CLIError(f"--sampler: expected random or tpe, got {kind!r}")


def best_params(study, k: int | None = None) -> list[dict]:
    """The params of the ``k`` best finished trials (default: the best tenth of them, at least 2)."""
    optuna = _optuna()
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    done.sort(key=lambda t: t.value, reverse=True)
    if k is None:
        k = max(2, math.ceil(len(done) / 10))
    return [t.params for t in done[:k]]


def run_study(recipe: str, trials: int, sampler: str = "random", coarse_to_fine: bool = False, epochs=None,
              quick: bool = False, storage: str | None = None, out: str | None = None, seed: int = 0,
              store: str | None = None, study_name: str | None = None, n_startup_trials: int = 5,
              n_warmup_steps: int = 1, enqueue: list[dict] | None = None, log=None):
    """Run ``trials`` more trials of ``recipe`` in its study and return the ``optuna.Study``.

    ``coarse_to_fine``: the first half of the trials sample the recipe's whole ``SEARCH_SPACE``,
    the second half a space narrowed around the best finished trials (:func:`narrow`).
    ``enqueue``: params to try first (e.g. a known configuration). Each trial is a recipe run in
    ``out/trial-NNNN`` recorded in the run store ``store``, with the recipe's seed ``seed``
    (the sampler's seed is ``seed`` plus the number of trials already in the study, so a resumed
    study draws new points)."""
    optuna = _optuna()
    from .. import recipes

    log = log or sys.stdout

    module = recipes.get(recipe)
    space = getattr(module, "SEARCH_SPACE", None)
    if not space or not hasattr(module, "search_config"):
        from ..errors import CLIError

        tunable = [n for n in recipes.names() if getattr(recipes.get(n), "SEARCH_SPACE", None)]
        raise CLIError(f"recipe {recipe!r} declares no search space (tunable: {', '.join(tunable)})")
    storage = storage or default_storage(recipe)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps)
    name = study_name or default_study_name(recipe, epochs, quick)
    out = out or os.path.join("runs", f"tune-{name}")
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                pruner=pruner)
    for key, value in {"recipe": recipe, "epochs": epochs, "quick": quick, "seed": seed}.items():
        study.set_user_attr(key, value)
    for params in enqueue or []:
        study.enqueue_trial(params)

    def objective(trial, stage, stage_space):
        return _trial(trial, recipe, module, stage, stage_space, epochs, quick, out, seed, store, log)

    stages = [("coarse", space, trials)]
    if coarse_to_fine:
        first = math.ceil(trials / 2)
        stages = [("coarse", space, first), ("fine", None, trials - first)]
    from ..train.progress import Progress

    bar = Progress(total=trials, desc=f"tune {recipe}", unit="trial")  # a bar on a terminal, else a line per trial
    log, progress = bar.writer(log), [lambda st, tr: bar.update(status=_best_so_far(st))]
    for stage, stage_space, n in stages:
        if n <= 0:
            continue
        if stage_space is None:
            stage_space = narrow(space, best_params(study))
            print(f"tune {recipe}: fine stage, ranges narrowed around the best trials: "
                  + ", ".join(f"{k} [{_fmt(v['low'])}, {_fmt(v['high'])}]" for k, v in stage_space.items()), file=log)
        study.sampler = _sampler(optuna, sampler, seed + len(study.trials))
        study.optimize(lambda t, s=stage, sp=stage_space: objective(t, s, sp), n_trials=n, catch=(),
                       callbacks=progress)
    bar.close()
    return study


def _best_so_far(study) -> str:
    values = [t.value for t in study.trials if t.state.name == "COMPLETE" and t.value is not None
              and math.isfinite(t.value)]
    return f"best dev accuracy {max(values):.4f}" if values else ""


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _trial(trial, recipe, module, stage, space, epochs, quick, out, seed, store, log):
    optuna = _optuna()
    from ..cli import _parser
    from ..recipes import _cli
    from ..train.run import RunDiverged

    params = sample(trial, space)
    overrides = module.search_config(params)
    trial.set_user_attr("stage", stage)
    trial.set_user_attr("config", overrides)
    trial_out = os.path.join(out, f"trial-{trial.number:04d}")
    argv = ["run", recipe, "--out", trial_out, "--seed", str(seed)]
    argv += ["--epochs", str(epochs)] if epochs else []
    argv += ["--quick"] if quick else []
    argv += ["--store", store] if store else []
    args = _parser().parse_args(argv)
    args.config_overrides = overrides
    pruning = TrialPruning(trial)
    args.extra_callbacks = [pruning]
    t0 = time.perf_counter()
    status = "ok"
    try:
        _cli.run(args)
    except RunDiverged:
        status = "diverged"
    with open(os.path.join(trial_out, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    trial.set_user_attr("run_id", metrics.get("run_id"))
    trial.set_user_attr("out", trial_out)
    trial.set_user_attr("epochs_run", metrics.get("epochs"))
    value = metrics.get("dev_accuracy")
    shown = " ".join(f"{k}={_fmt(v)}" for k, v in params.items())
    secs = time.perf_counter() - t0
    if pruning.pruned_at is not None:
        print(f"tune {recipe}: trial {trial.number} [{stage}] pruned after epoch {pruning.pruned_at}  {shown}  "
              f"({secs:.1f} s)", file=log)
        raise optuna.TrialPruned(f"pruned after epoch {pruning.pruned_at}")
    if status != "ok" or value is None or not math.isfinite(value):
        print(f"tune {recipe}: trial {trial.number} [{stage}] {status}  {shown}  ({secs:.1f} s)", file=log)
        return float("nan")  # Optuna records the trial as failed
    print(f"tune {recipe}: trial {trial.number} [{stage}] dev accuracy {value:.4f}  {shown}  ({secs:.1f} s)", file=log)
    return float(value)
