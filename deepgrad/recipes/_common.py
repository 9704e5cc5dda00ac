"""What every recipe run writes: ``metrics.json``, ``history.csv``, the model, plots."""
from __future__ import annotations

import json
import os
import platform
import time
from datetime import datetime, timezone

import numpy as np

#: mean and standard deviation of the Fashion-MNIST training images scaled to [0, 1]
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def normalize_fashion(x):
    """Standardize images in [0, 1] with Fashion-MNIST's statistics (what every Fashion-MNIST
    recipe, and a body pretrained by one, expects as input); float32 stays float32."""
    return (x - np.float32(FASHION_MEAN)) / np.float32(FASHION_STD)


def fit_options(args, recipe: str, config: dict, seed) -> dict:
    """The run plumbing of ``Trainer.fit`` for a recipe run: ``trainer.fit(..., **fit_options(args, recipe, cfg, seed))``.

    The checkpoint directory and step interval (``--checkpoint-dir``,
    ``--checkpoint-every-steps``), ``--force-resume``, the run's identity (the recipe's
    ``cfg`` with the seed and code version: :func:`deepgrad.train.run.run_config`; a
    checkpoint of another configuration is refused), a :class:`~deepgrad.train.DivergenceGuard`,
    and the tracking bridges ``--tensorboard DIR`` and ``--mlflow URI`` (:func:`bridges`).
    """
    from ..train import DivergenceGuard
    from ..train.run import run_config

    return {"checkpoint_dir": getattr(args, "checkpoint_dir", None),
            "checkpoint_every": getattr(args, "checkpoint_every_steps", None),
            "force_resume": bool(getattr(args, "force_resume", False)),
            "run_config": run_config(recipe, config, seed),
            "callbacks": [DivergenceGuard()] + _tracker(args, recipe) + bridges(args, recipe)
            + list(getattr(args, "extra_callbacks", None) or [])}


def bridges(args, recipe: str) -> list:
    """TensorBoard and MLflow loggers for a recipe run (:mod:`deepgrad.experiments.bridges`):
    ``--tensorboard DIR`` writes ``DIR/<run>`` (the run's ``--out`` folder name, so that
    ``tensorboard --logdir DIR`` shows every run), ``--mlflow URI`` logs to the experiment named
    after the recipe; ``finish`` adds the test metrics, the model file and the plots."""
    out: list = []
    run = os.path.basename(os.path.normpath(getattr(args, "out", None) or recipe))
    if getattr(args, "tensorboard", None):
        from ..experiments.bridges import TensorBoardLogger

        out.append(TensorBoardLogger(os.path.join(args.tensorboard, run)))
    if getattr(args, "mlflow", None):
        from ..experiments.bridges import MLflowLogger

        out.append(MLflowLogger(args.mlflow, experiment=recipe, run_name=run, log_model=False,
                                tags={"deepgrad.recipe": recipe, "deepgrad.out": getattr(args, "out", None) or ""}))
    return out


def _tracker(args, recipe: str) -> list:
    """The run store's tracker for a recipe run (``--store``, ``$DEEPGRAD_STORE``, ``runs/runs.sqlite``)."""
    from ..experiments.store import store_path
    from ..experiments.tracker import RunTracker

    return [RunTracker(store_path(getattr(args, "store", None)), recipe=recipe, source="run",
                       out_dir=getattr(args, "out", None))]


def out_dir(args, recipe: str) -> str:
    """``args.out`` or ``runs/<recipe>-<UTC timestamp>``, created."""
    out = getattr(args, "out", None)
    if not out:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        out = os.path.join("runs", f"{recipe}-{stamp}")
    os.makedirs(out, exist_ok=True)
    return out


def setting(args, name: str, default):
    """A run setting: the flag when given, else the ``--config`` file's value, else ``default``."""
    v = getattr(args, name, None)
    if v is None:
        v = config_overrides(args).get(name)
    return default if v is None else v


def config_overrides(args) -> dict:
    """The configuration overrides of a run (``deepgrad run RECIPE --config FILE``, or set by
    ``deepgrad tune`` for a trial): keys of the recipe's ``DEFAULTS``, checked by the CLI."""
    return dict(getattr(args, "config_overrides", None) or {})


def plot_history(history, path: str, title: str = "") -> list[str]:
    """Loss and accuracy curves as PNGs (when matplotlib is installed); returns the files written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    epochs = history["epoch"]
    for kind in ("loss", "accuracy"):
        cols = [c for c in history.columns() if c.endswith(kind) and c.startswith(("train_", "dev_"))]
        if not cols:
            continue
        fig, ax = plt.subplots(figsize=(6, 4))
        for c in cols:
            ax.plot(epochs, history[c], marker="o" if len(epochs) <= 50 else None, ms=3, label=c.replace("_", " "))
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind)
        ax.set_title(f"{title} {kind}".strip())
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        p = f"{path}_{kind}.png"
        fig.savefig(p, dpi=100)
        plt.close(fig)
        written.append(p)
    return written


def finish(out: str, recipe: str, model, history, results: dict, config: dict, seed, t0: float) -> dict:
    """Write the run's files and return the metrics dict."""
    from ..serialization import atomic_write_bytes, save_model

    status = history.status() if hasattr(history, "status") else {"status": "ok", "message": ""}
    run = getattr(history, "run", None)
    metrics = {
        "recipe": recipe,
        "seed": seed,
        "epochs": len(history),
        "status": status["status"],
        "status_message": status["message"],
        **{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in results.items()},
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "stop_reason": history.stop_reason,
        "config": config,
        "run": run,
        "config_hash": (run or {}).get("config_hash"),
        "platform": {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()},
        "files": {},
    }
    from ..experiments.tracker import count_parameters

    tracker = getattr(history, "tracker", None)
    metrics["params"] = count_parameters(model)
    if tracker is not None:
        metrics["predict_ms"], metrics["run_id"] = tracker.predict_ms, tracker.run_id
    model_path = os.path.join(out, "model.safetensors")
    save_model(model, model_path, metadata={"recipe": recipe, "test_accuracy": results.get("test_accuracy")})
    history.to_csv(os.path.join(out, "history.csv"))
    plots = plot_history(history, os.path.join(out, "curves"), recipe)
    metrics["files"] = {"model": "model.safetensors", "history": "history.csv",
                        "plots": [os.path.basename(p) for p in plots]}
    atomic_write_bytes(os.path.join(out, "metrics.json"), (json.dumps(metrics, indent=2, default=_json_default) + "\n").encode())
    final = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
             and k not in ("seed", "epochs", "params", "predict_ms")}
    loggers = getattr(history, "bridges", None) or []
    if loggers:  # --tensorboard, --mlflow: test metrics and files
        files = [model_path, os.path.join(out, "history.csv"), os.path.join(out, "metrics.json"), *plots]
        numbers = {k: v for k, v in {**final, "params": metrics["params"], "predict_ms": metrics.get("predict_ms")}.items()
                   if k not in history.columns()}  # the epochs' numbers are there already
        for bridge in loggers:
            bridge.complete(final=numbers, files=files, status=status["status"])
    if tracker is not None:  # the run store: test metrics, the model file and the folder, known only now
        splits = {k[: -len("_examples")]: {"examples": v} for k, v in config.items() if k.endswith("_examples")}
        tracker.complete(final=final, model_path=model_path, out_dir=out, durations={"wall_s": metrics["wall_time_s"]},
                         splits=config.get("splits") or splits or None)
    if status["status"] != "ok":
        import sys

        print(f"{recipe}: {status['message']}", file=sys.stderr)
    return metrics


def _json_default(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return repr(v)


#: the files a recipe run writes in ``--out`` (a new run moves an earlier run's aside)
RUN_FILES = ("metrics.json", "history.csv", "model.safetensors", "curves_loss.png", "curves_accuracy.png")


def set_aside_previous(out: str) -> str | None:
    """Move an earlier run's files in ``out`` (metrics.json, history.csv, ...) into
    ``out/previous-<UTC timestamp>/`` so that the directory only ever holds one run's record
    (a resumed run rebuilds its history from the checkpoint). Returns that folder, or None."""
    present = [f for f in RUN_FILES if os.path.exists(os.path.join(out, f))]
    if not present:
        return None
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    dest = os.path.join(out, f"previous-{stamp}")
    os.makedirs(dest)
    for f in present:
        os.replace(os.path.join(out, f), os.path.join(dest, f))
    return dest


def train_epoch(history, epoch: int, order, batch_size: int, loss_of, opt, clip=None, after_step=None):
    """One epoch of a recipe's own training loop: for each mini-batch of the index array
    ``order``, ``loss_of(idx)``, backward, optional gradient clipping (``clip=(params,
    max_norm)``), the optimizer's step and ``after_step()`` (e.g. a per-step scheduler).
    The first loss is kept as ``history.initial_loss``. A loss that is not finite stops the
    run before its backward: ``history.stop_reason`` names the epoch and batch, and the
    function returns None; otherwise the list of the batches' losses."""
    import numpy as np

    from ..nn.utils import clip_grad_norm_

    clip_params = list(clip[0]) if clip is not None else []  # a generator would be spent after one step
    losses: list[float] = []
    for i in range(0, len(order), batch_size):
        loss = loss_of(order[i:i + batch_size])
        v = float(loss.data)
        if not np.isfinite(v):
            history.stop_reason = f"NaNGuard: training loss {v} at epoch {epoch}, batch {i // batch_size}"
            return None
        if history.initial_loss is None:
            history.initial_loss = v
        opt.zero_grad()
        loss.backward()
        if clip is not None:
            clip_grad_norm_(clip_params, clip[1])
        opt.step()
        if after_step is not None:
            after_step()
        losses.append(v)
    return losses
