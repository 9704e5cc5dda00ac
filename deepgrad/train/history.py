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

    def __init__(self, rows=None, stop_reason: str | None = None):
        self.rows: list[dict] = [dict(r) for r in (rows or [])]
        self.stop_reason = stop_reason

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
        return {"rows": self.rows, "stop_reason": self.stop_reason}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(d.get("rows", []), d.get("stop_reason"))

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

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, columns={self.columns()}, stop_reason={self.stop_reason!r})"
