"""What a study leaves: a results table, slice and parallel-coordinate plots, the best configuration."""
from __future__ import annotations

import json
import math
import os
from typing import Any


def _rows(study):
    rows = []
    for t in study.trials:
        rows.append({"trial": t.number, "stage": t.user_attrs.get("stage", ""), "state": t.state.name.lower(),
                     "dev_accuracy": t.value, "params": dict(t.params), "run_id": t.user_attrs.get("run_id"),
                     "epochs": t.user_attrs.get("epochs_run")})
    return rows


def results_table(study, limit: int | None = None) -> str:
    """The trials, best first (finished ones by dev accuracy, then pruned and failed ones)."""
    rows = _rows(study)
    rows.sort(key=lambda r: (r["dev_accuracy"] is None or not math.isfinite(r["dev_accuracy"]),
                             -(r["dev_accuracy"] or 0.0) if r["dev_accuracy"] is not None else 0.0, r["trial"]))
    if limit:
        rows = rows[:limit]
    names = sorted({k for r in rows for k in r["params"]})

    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    header = ["trial", "stage", "state", "dev_acc", "epochs", *names, "run"]
    table = [header]
    for r in rows:
        acc = r["dev_accuracy"]
        table.append([str(r["trial"]), r["stage"], r["state"],
                      f"{acc:.4f}" if acc is not None and math.isfinite(acc) else "-", cell(r["epochs"]),
                      *(cell(r["params"].get(n)) for n in names), cell(r["run_id"])])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table)


def best_trial(study):
    """The finished trial with the highest dev accuracy, or None."""
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None
            and math.isfinite(t.value)]
    return max(done, key=lambda t: t.value) if done else None


def write_best_config(study, path: str, epochs=None) -> dict | None:
    """The best trial's configuration overrides as JSON (``deepgrad run RECIPE --config FILE``);
    with ``epochs`` (the trials' ``--epochs``) the file sets the epochs too."""
    from ..serialization import atomic_write_bytes

    best = best_trial(study)
    if best is None:
        return None
    config = dict(best.user_attrs.get("config") or {})
    if epochs:
        config["epochs"] = int(epochs)
    atomic_write_bytes(path, (json.dumps(config, indent=2) + "\n").encode())
    return config


def write_plots(study, out: str) -> list[str]:
    """``slice.png`` (dev accuracy against each parameter, log axes for log parameters) and
    ``parallel.png`` (every finished trial as a line across the parameters), with Optuna's
    matplotlib plots; needs at least two finished trials. Returns the files written."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    from optuna.visualization import matplotlib as ovm

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(done) < 2:
        return []
    written = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's matplotlib plots are marked experimental
        for name, plot in (("slice", _slice), ("parallel", ovm.plot_parallel_coordinate)):
            ax = plot(study, target_name="dev accuracy")
            first = ax.flat[0] if hasattr(ax, "flat") else ax
            fig: Any = first.figure
            title = f"{study.study_name}: {len(done)} finished trials"
            if name == "parallel":
                fig.set_size_inches(10, 5)
                first.set_title(title + " (parallel coordinates)")
                fig.tight_layout()
            else:
                fig.suptitle(title)
            path = os.path.join(out, f"{name}.png")
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return written


def _slice(study, target_name="dev accuracy"):
    """Dev accuracy against each parameter (one panel each; log axis for a log-scale parameter),
    the finished trials coloured by trial number (coarse: circles, fine stage: triangles)."""
    import matplotlib.pyplot as plt
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None]
    names = sorted({k for t in done for k in t.params})
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols + 1, 3.2 * rows + 0.6), sharey=True, squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    last = len(study.trials) - 1 or 1
    for ax, name in zip(axes.flat, names):
        for stage, marker in (("coarse", "o"), ("fine", "^")):
            ts = [t for t in done if name in t.params and t.user_attrs.get("stage", "coarse") == stage]
            if not ts:
                continue
            sc = ax.scatter([t.params[name] for t in ts], [t.value for t in ts], c=[t.number for t in ts],
                            cmap="viridis", vmin=0, vmax=last, marker=marker, edgecolors="k", linewidths=0.4,
                            label=stage)
        dist = done[-1].distributions.get(name) if done else None
        if dist is not None and getattr(dist, "log", False):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel(target_name)
    if any(t.user_attrs.get("stage") == "fine" for t in done):
        axes[0][0].legend(fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.9, 0.92))
    cax = fig.add_axes((0.91, 0.15, 0.015, 0.7))
    fig.colorbar(sc, cax=cax, label="trial")
    return axes
