"""A recipe's search space: sampling it with an Optuna trial, and narrowing it (coarse to fine).

A space is a dict ``name -> {"low": a, "high": b, "log": bool, "int": bool}``. ``log``
samples uniformly in log(value) (a learning rate, or ``1 - beta`` for a momentum term:
the course's "use the appropriate scale"); ``int`` samples whole numbers.
"""
from __future__ import annotations

import math


def sample(trial, space: dict) -> dict:
    """One point of ``space``, drawn by ``trial`` (an ``optuna.Trial``)."""
    params = {}
    for name, d in space.items():
        low, high, log = d["low"], d["high"], bool(d.get("log", False))
        if d.get("int", False):
            params[name] = trial.suggest_int(name, int(low), int(high), log=log)
        else:
            params[name] = trial.suggest_float(name, float(low), float(high), log=log)
    return params


def narrow(space: dict, best: list[dict], margin: float = 0.5) -> dict:
    """The space narrowed around the parameters ``best`` (the best trials' params): for each
    parameter, the range the best trials span, widened by ``margin`` of that span on each side
    (in log units for a log parameter; at least a factor of 2 / 10% of the range when the best
    trials agree), clipped to the original range."""
    if not best:
        return dict(space)
    out = {}
    for name, d in space.items():
        values = [p[name] for p in best if name in p]
        if not values:
            out[name] = dict(d)
            continue
        log, is_int = bool(d.get("log", False)), bool(d.get("int", False))
        f = math.log if log else (lambda v: v)
        g = math.exp if log else (lambda v: v)
        lo, hi = f(min(values)), f(max(values))
        span = hi - lo
        pad = max(span * margin, math.log(2.0) if log else 0.1 * (f(d["high"]) - f(d["low"])))
        new_lo, new_hi = max(g(lo - pad), d["low"]), min(g(hi + pad), d["high"])
        if is_int:
            new_lo, new_hi = int(math.floor(new_lo)), int(math.ceil(new_hi))
            new_lo, new_hi = max(new_lo, int(d["low"])), min(new_hi, int(d["high"]))
        out[name] = {**d, "low": new_lo, "high": new_hi}
    return out
