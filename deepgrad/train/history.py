"""``History``: what ``Trainer.fit`` measured, one row per epoch (the learning curves)."""
from __future__ import annotations

import csv
import io
import json
import math


class History:
    """Per-epoch logs: ``history.rows`` is a list of dicts, ``history["dev_loss"]`` a column.

    Also records why training stopped (``stop_reason``), e.g. early stopping or a NaN.
    """

    def __init__(self, rows=None, stop_reason: str | None = None, initial_loss: float | None = None):
        self.rows: list[dict] = [dict(r) for r in (rows or [])]
        self.stop_reason = stop_reason
        self.initial_loss = initial_loss  # the loss of the run's first batch (the untrained model)
        self.run: dict | None = None  # the run's record (identity, resumes), set by Trainer.fit(run_config=...)

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    @property
    def epochs(self) -> list[int]:
        return [r["epoch"] for r in self.rows]

    @property
    def history(self) -> dict[str, list]:
        keys = self.columns()
        return {k: [r.get(k) for r in self.rows] for k in keys}

    def columns(self) -> list[str]:
        keys: list[str] = []
        for r in self.rows:
            for k in r:
                if k not in keys:
                    keys.append(k)
        return keys

    def __getitem__(self, key: str) -> list:
        return [r.get(key) for r in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def last(self) -> dict:
        return dict(self.rows[-1]) if self.rows else {}

    def best(self, key: str = "dev_loss", mode: str = "min") -> dict:
        rows = [r for r in self.rows if r.get(key) is not None and not math.isnan(r[key])]
        if not rows:
            return {}
        pick = min if mode == "min" else max
        return dict(pick(rows, key=lambda r: r[key]))

    def to_dict(self) -> dict:
        return {"rows": self.rows, "stop_reason": self.stop_reason, "initial_loss": self.initial_loss}

    @classmethod
    def from_dict(cls, d: dict) -> History:
        return cls(d.get("rows", []), d.get("stop_reason"), d.get("initial_loss"))

    def to_csv(self, path=None) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns(), lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            w.writerow(r)
        text = buf.getvalue()
        if path is not None:
            with open(path, "w", newline="") as f:
                f.write(text)
        return text

    def status(self, no_learning: float = 0.01) -> dict:
        """What became of the run: ``{"status": ..., "message": ...}`` with status

        ``"nan"`` (NaNGuard stopped it), ``"diverged"`` (:class:`~deepgrad.train.DivergenceGuard`
        stopped it), ``"did_not_learn"`` (its last epoch's training loss is not ``no_learning``
        (1%) below the loss of its first batch, or did not move at all from its first epoch
        to its last), ``"stopped"`` (stopped early for another reason)
        or ``"ok"``.
        """
        reason = self.stop_reason or ""
        if reason.startswith("NaNGuard"):
            return {"status": "nan", "message": reason}
        if reason.startswith("diverged"):
            return {"status": "diverged", "message": reason}
        last = self.rows[-1].get("train_loss") if self.rows else None
        start = self.initial_loss
        first = self.rows[0].get("train_loss") if self.rows else None
        flat = (len(self.rows) >= 2 and first is not None and last is not None and math.isfinite(first)
                and abs(last - first) <= 1e-4 * abs(first))  # the loss did not move at all
        if last is not None and (flat or start is not None and math.isfinite(start) and last >= start * (1 - no_learning)):
            start = first if start is None else start
            return {"status": "did_not_learn",
                    "message": f"did not learn: training loss {last:.4g} after {len(self.rows)} epochs, "
                               f"{start:.4g} at the start"}
        if reason:
            return {"status": "stopped", "message": reason}
        return {"status": "ok", "message": ""}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns()}, stop_reason={self.stop_reason!r})"
