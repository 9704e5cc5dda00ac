"""One optimizing metric, satisficing constraints (course 3, "Satisficing and optimizing metric").

    best_run(store, metric="dev_accuracy", constraints=["predict_ms<=5", "params<=1e6"])

picks, among the runs that meet EVERY constraint, the one with the best value of
``metric``, and says which runs each constraint ruled out. Values are looked up as in
:func:`deepgrad.experiments.store.run_value`: final metrics, then ``params``,
``predict_ms`` and the other columns, then config entries (``lr``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .store import RunStore, run_value

_OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
        "==": lambda a, b: a == b, "!=": lambda a, b: a != b}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>|=)\s*(\S.*?)\s*$")


@dataclass(frozen=True)
class Constraint:
    """``key op value``: e.g. ``predict_ms<=5``, ``params<=1e6``, ``recipe==fashion-mlp``."""

    key: str
    op: str
    value: object
    text: str

    @classmethod
    def parse(cls, text: str) -> Constraint:
        m = _CONSTRAINT.match(str(text))
        if not m:
            raise ValueError(f"constraint {text!r}: expected KEY OP VALUE with OP one of <= >= < > == != "
                             f"(e.g. \"predict_ms<=5\")")
        key, op, raw = m.groups()
        op = "==" if op == "=" else op
        value: float | str
        try:
            value = float(raw)
        except ValueError:
            if op not in ("==", "!="):
                raise ValueError(f"constraint {text!r}: {raw!r} is not a number") from None
            value = raw
        return cls(key, op, value, f"{key}{op}{raw}")

    def check(self, run: dict) -> tuple[bool, object]:
        """(met, the run's value); a run without the value does not meet it."""
        v = run_value(run, self.key)
        if v is None:
            return False, None
        if isinstance(self.value, float):
            try:
                v = float(v)
            except (TypeError, ValueError):
                return False, v
            if math.isnan(v):
                return False, v
        elif not isinstance(v, str):
            v = str(v)
        return bool(_OPS[self.op](v, self.value)), v


def metric_mode(metric: str) -> str:
    """``max`` for accuracies and scores, ``min`` for losses, errors, times and sizes."""
    low = metric.lower()
    if any(w in low for w in ("loss", "error", "_ms", "time", "params", "perplexity")) or low.endswith("_s"):
        return "min"
    return "max"


@dataclass
class Selection:
    """What :func:`best_run` found: ``best`` (a run dict or None), ``ruled_out`` (constraint -> [(run id, value)])."""

    metric: str
    mode: str
    best: dict | None
    candidates: list = field(default_factory=list)  # (run id, metric value) of the runs that meet every constraint
    ruled_out: dict = field(default_factory=dict)
    considered: int = 0

    def to_dict(self) -> dict:
        return {"metric": self.metric, "mode": self.mode, "considered": self.considered,
                "best": None if self.best is None else {"id": self.best["id"], "recipe": self.best["recipe"],
                                                        self.metric: run_value(self.best, self.metric)},
                "candidates": [{"id": i, self.metric: v} for i, v in self.candidates],
                "ruled_out": {k: [{"id": i, "value": v} for i, v in rows] for k, rows in self.ruled_out.items()}}

    def report(self) -> str:
        lines = [f"{self.considered} runs considered; metric {self.metric} ({self.mode})"]
        for name, rows in self.ruled_out.items():
            shown = ", ".join(f"{i} ({'missing' if v is None else _fmt(v)})" for i, v in rows[:8])
            more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
            lines.append(f"  {name}: ruled out {len(rows)}" + (f": {shown}{more}" if rows else ""))
        if self.best is None:
            lines.append("no run meets every constraint")
        else:
            lines.append(f"best: {self.best['id']}  {self.metric} = {_fmt(run_value(self.best, self.metric))}"
                         f"  ({len(self.candidates)} runs meet every constraint)")
        return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def best_run(runs, metric: str = "dev_accuracy", constraints=(), mode: str = "auto", recipe: str | None = None,
             statuses=("ok",)) -> Selection:
    """The best run by ``metric`` among ``runs`` (a :class:`RunStore`, a store path, or a list of
    run dicts) that meet every constraint (strings such as ``"predict_ms<=5"`` or
    :class:`Constraint`). Runs whose status is not in ``statuses`` (``None``: any) and runs
    without the metric are ruled out too, under ``status`` and ``has <metric>``."""
    if isinstance(runs, RunStore):
        runs = runs.runs()
    elif not isinstance(runs, (list, tuple)):
        with RunStore(runs) as store:
            runs = store.runs()
    cons = [c if isinstance(c, Constraint) else Constraint.parse(c) for c in constraints]
    mode = metric_mode(metric) if mode == "auto" else mode
    if mode not in ("min", "max"):
        raise ValueError(f"best_run: mode must be 'min', 'max' or 'auto', got {mode!r}")
    if recipe:
        runs = [r for r in runs if r.get("recipe") == recipe]
    ruled: dict[str, list] = {}
    if statuses is not None:
        ruled["status"] = []
    ruled[f"has {metric}"] = []
    for c in cons:
        ruled[c.text] = []
    ok = []
    for run in runs:
        out = False
        if statuses is not None and run.get("status") not in statuses:
            ruled["status"].append((run["id"], run.get("status")))
            out = True
        v = run_value(run, metric)
        try:
            v = float(v)
        except (TypeError, ValueError):
            v = None
        if v is None or math.isnan(v):
            ruled[f"has {metric}"].append((run["id"], None))
            out = True
        for c in cons:
            met, value = c.check(run)
            if not met:
                ruled[c.text].append((run["id"], value))
                out = True
        if not out:
            ok.append((run, v))
    ok.sort(key=lambda rv: rv[1], reverse=(mode == "max"))
    best = ok[0][0] if ok else None
    return Selection(metric, mode, best, [(r["id"], v) for r, v in ok], ruled, len(runs))
