"""The run store: every run, in one SQLite file (course 3: compare runs, pick one, diagnose it).

One row per run in ``runs`` (recipe, full config, seed, code version, data splits, final
metrics, durations, parameter count, inference time, model file), one row per epoch in
``epochs`` (that epoch's logs: the learning curves). ``deepgrad run`` records every run
(``--store PATH``, else ``$DEEPGRAD_STORE``, else ``runs/runs.sqlite``);
``Trainer.fit`` records when given a :class:`~deepgrad.experiments.RunTracker`.

Several processes may write at once (runs finishing together, trials in parallel): the
database is in WAL mode (readers never block the writer), every connection waits up to
``timeout`` seconds for the write lock, and each write is one short ``BEGIN IMMEDIATE``
transaction, retried with back-off if SQLite still reports the database busy. Nothing is
written outside a transaction, so a record is either whole or absent.
"""
from __future__ import annotations

import json
import math
import os
import random
import socket
import sqlite3
import time
import uuid
from datetime import datetime, timezone

import numpy as np

#: the environment variable naming the store (``--store`` wins over it)
STORE_ENV = "DEEPGRAD_STORE"
DEFAULT_STORE = os.path.join("runs", "runs.sqlite")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    recipe TEXT,
    status TEXT NOT NULL DEFAULT 'running',
    status_message TEXT,
    source TEXT,
    created TEXT NOT NULL,
    finished TEXT,
    seed INTEGER,
    config_hash TEXT,
    code_version TEXT,
    config TEXT,
    splits TEXT,
    final TEXT,
    durations TEXT,
    params INTEGER,
    predict_ms REAL,
    model_path TEXT,
    out_dir TEXT,
    host TEXT,
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    epoch INTEGER NOT NULL,
    logs TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
);
CREATE INDEX IF NOT EXISTS runs_recipe ON runs(recipe);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_JSON_COLUMNS = ("config", "splits", "final", "durations")


class RunStoreError(RuntimeError):
    """The store cannot be opened or written (the message names the file)."""


class RunNotFound(KeyError):
    """No run (or more than one) matches the name given."""

    def __str__(self):
        return str(self.args[0]) if self.args else "run not found"


def store_path(path=None) -> str:
    """The store to use: ``path``, else ``$DEEPGRAD_STORE``, else ``runs/runs.sqlite``."""
    if path is not None and str(path).strip():
        return os.fspath(path)
    env = os.environ.get(STORE_ENV, "").strip()
    return env or DEFAULT_STORE


def _clean(v):
    """JSON-safe: numpy scalars to Python, non-finite floats to strings ('nan', 'inf')."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.ndarray):
        return _clean(v.tolist())
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def _dumps(v) -> str | None:
    return None if v is None else json.dumps(_clean(v), sort_keys=True)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id(recipe: str | None = None) -> str:
    """``<recipe>-<UTC time>-<6 hex>``: readable, sortable by time, unique across processes."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{recipe or 'run'}-{stamp}-{uuid.uuid4().hex[:6]}"


class RunStore:
    """A SQLite run store: ``RunStore("runs/runs.sqlite")`` (created, with its folder, on first use).

    Writing: :meth:`start_run`, :meth:`log_epoch`, :meth:`update_run` (or :meth:`record`
    for a finished run in one call). Reading: :meth:`runs`, :meth:`get`, :meth:`resolve`.
    """

    def __init__(self, path=None, timeout: float = 60.0, retries: int = 20):
        self.path = store_path(path)
        self.timeout, self.retries = float(timeout), int(retries)
        self._conn = None
        if os.path.isdir(self.path):
            raise RunStoreError(f"run store {self.path}: is a directory (give a file, e.g. {os.path.join(self.path, 'runs.sqlite')})")
        self._connect()

    # ----- connection -------------------------------------------------------------------------
    def _connect(self):
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise RunStoreError(f"run store {self.path}: cannot open ({e})") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone())
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")

            def make(c):
                c.executescript(_SCHEMA)
                c.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

            self._conn = conn
            self._write(make, script=True)
        except sqlite3.DatabaseError as e:
            conn.close()
            self._conn = None
            raise RunStoreError(f"run store {self.path}: not a deepgrad run store or damaged ({e})") from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _retry(self, fn):
        delay = 0.01
        for attempt in range(self.retries + 1):
            try:
                return fn()
            except sqlite3.OperationalError as e:
                busy = "locked" in str(e) or "busy" in str(e)
                if not busy or attempt == self.retries:
                    raise RunStoreError(f"run store {self.path}: {e}") from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)

    def _write(self, fn, script: bool = False):
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried while the database is busy."""
        conn = self._conn

        def attempt():
            if script:  # executescript commits on its own
                return fn(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return out

        return self._retry(attempt)

    def _read(self, sql, params=()):
        return self._retry(lambda: self._conn.execute(sql, params).fetchall())

    # ----- writing ----------------------------------------------------------------------------
    def start_run(self, recipe=None, config=None, seed=None, splits=None, source="fit", run_id=None,
                  out_dir=None, config_hash=None, code_version=None) -> str:
        """Add a run (status ``running``); returns its id."""
        run_id = run_id or new_run_id(recipe)
        if code_version is None:
            from ..train.run import code_version as cv

            code_version = cv()
        if config_hash is None and config is not None:
            from ..train.run import config_hash as ch

            config_hash = ch(config)
        row = (run_id, recipe, "running", source, _now(), seed, config_hash, code_version, _dumps(config),
               _dumps(splits), None if out_dir is None else os.path.abspath(out_dir), socket.gethostname(), os.getpid())
        self._write(lambda c: c.execute(
            "INSERT INTO runs (id, recipe, status, source, created, seed, config_hash, code_version, config, splits,"
            " out_dir, host, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row))
        return run_id

    def log_epoch(self, run_id: str, epoch: int, logs: dict) -> None:
        """Record one epoch's logs (a resumed or repeated epoch replaces the earlier row)."""
        self._write(lambda c: c.execute("INSERT OR REPLACE INTO epochs VALUES (?,?,?)",
                                        (run_id, int(epoch), _dumps(logs))))

    _UPDATABLE = ("recipe", "status", "status_message", "finished", "seed", "config_hash", "code_version", "config",
                  "splits", "final", "durations", "params", "predict_ms", "model_path", "out_dir")

    def update_run(self, run_id: str, **fields) -> None:
        """Set columns of a run (``final=``, ``status=``, ``params=``, ...); dict ``final`` and
        ``durations`` are merged into what is there."""
        bad = set(fields) - set(self._UPDATABLE)
        if bad:
            raise ValueError(f"RunStore.update_run: unknown field(s) {sorted(bad)}")

        def go(c):
            if "final" in fields or "durations" in fields:
                row = c.execute("SELECT final, durations FROM runs WHERE id=?", (run_id,)).fetchone()
                if row is None:
                    raise RunNotFound(f"run {run_id!r} is not in {self.path}")
                for key, old in zip(("final", "durations"), row):
                    if fields.get(key) is not None and old:
                        fields[key] = {**json.loads(old), **fields[key]}
            cols, vals = [], []
            for k, v in fields.items():
                if k in ("model_path", "out_dir") and v is not None:
                    v = os.path.abspath(v)
                cols.append(f"{k}=?")
                vals.append(_dumps(v) if k in _JSON_COLUMNS else _clean(v))
            if cols:
                cur = c.execute(f"UPDATE runs SET {', '.join(cols)} WHERE id=?", (*vals, run_id))
                if cur.rowcount == 0:
                    raise RunNotFound(f"run {run_id!r} is not in {self.path}")

        self._write(go)

    def record(self, recipe=None, config=None, seed=None, final=None, epochs=(), splits=None, status="ok",
               status_message=None, durations=None, params=None, predict_ms=None, model_path=None, out_dir=None,
               source="run", run_id=None) -> str:
        """Record a finished run in ONE transaction (the run and all its epochs, or nothing); returns its id."""
        from ..train.run import code_version, config_hash

        run_id = run_id or new_run_id(recipe)
        row = (run_id, recipe, status, status_message, source, _now(), _now(), seed,
               config_hash(config) if config is not None else None, code_version(), _dumps(config), _dumps(splits),
               _dumps(final), _dumps(durations), params, predict_ms,
               None if model_path is None else os.path.abspath(model_path),
               None if out_dir is None else os.path.abspath(out_dir), socket.gethostname(), os.getpid())

        def go(c):
            c.execute("INSERT INTO runs (id, recipe, status, status_message, source, created, finished, seed, config_hash,"
                      " code_version, config, splits, final, durations, params, predict_ms, model_path, out_dir, host, pid)"
                      " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            c.executemany("INSERT INTO epochs VALUES (?,?,?)",
                          [(run_id, int(e.get("epoch", i + 1)), _dumps(e)) for i, e in enumerate(epochs)])

        self._write(go)
        return run_id

    def delete(self, run_id: str) -> None:
        self._write(lambda c: (c.execute("DELETE FROM epochs WHERE run_id=?", (run_id,)),
                               c.execute("DELETE FROM runs WHERE id=?", (run_id,))))

    # ----- reading ----------------------------------------------------------------------------
    _COLUMNS = ("id", "recipe", "status", "status_message", "source", "created", "finished", "seed", "config_hash",
                "code_version", "config", "splits", "final", "durations", "params", "predict_ms", "model_path",
                "out_dir", "host", "pid")

    def _row(self, values) -> dict:
        d = dict(zip(self._COLUMNS, values))
        for k in _JSON_COLUMNS:
            d[k] = json.loads(d[k]) if d[k] else ({} if k != "splits" else None)
        if d["status"] == "running" and d["host"] == socket.gethostname() and d["pid"] is not None:
            from ..train.run import _alive

            if not _alive(int(d["pid"])):  # killed before it could say so: never shown as running
                d["status"] = "interrupted"
                d["status_message"] = f"its process (pid {d['pid']}) ended before the run finished"
        return d

    def runs(self, recipe: str | None = None, status: str | None = None) -> list[dict]:
        """All runs (oldest first), each a dict of the columns (config, final, ... decoded)."""
        sql, params, where = f"SELECT {', '.join(self._COLUMNS)} FROM runs", [], []
        if recipe:
            where.append("recipe=?")
            params.append(recipe)
        if status:
            where.append("status=?")
            params.append(status)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created, id"
        return [self._row(r) for r in self._read(sql, params)]

    def count(self) -> tuple[int, int]:
        """(runs, epoch rows) in the store."""
        return (self._read("SELECT COUNT(*) FROM runs")[0][0], self._read("SELECT COUNT(*) FROM epochs")[0][0])

    def epochs(self, run_id: str) -> list[dict]:
        rows = self._read("SELECT logs FROM epochs WHERE run_id=? ORDER BY epoch", (run_id,))
        return [json.loads(r[0]) for r in rows]

    def resolve(self, name: str) -> str:
        """A run's id from its id, a unique prefix (else a unique part) of it, its output directory or ``-1``/``latest``
        (the last run, ``-2`` the one before, ...)."""
        name = os.fspath(name)
        ids = [r[0] for r in self._read("SELECT id FROM runs ORDER BY created, id")]
        if not ids:
            raise RunNotFound(f"no runs in {self.path}")
        if name == "latest":
            name = "-1"
        if name.lstrip("-").isdigit() and name.startswith("-"):
            k = int(name)
            if k == 0:
                raise RunNotFound(f"run {name}: -1 is the last run, -2 the one before, ...")
            if -k > len(ids):
                raise RunNotFound(f"run {name}: the store {self.path} holds only {len(ids)} runs")
            return ids[k]
        if name in ids:
            return name
        if os.path.isdir(name):
            rows = self._read("SELECT id FROM runs WHERE out_dir=? ORDER BY created DESC", (os.path.abspath(name),))
            if rows:
                return rows[0][0]
        hits = [i for i in ids if i.startswith(name)] or [i for i in ids if name in i]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise RunNotFound(f"run {name!r} is ambiguous in {self.path}: {', '.join(hits[:5])}"
                              f"{' ...' if len(hits) > 5 else ''}")
        raise RunNotFound(f"no run {name!r} in {self.path} (see `deepgrad runs list`)")

    def get(self, name: str) -> dict:
        """One run (by id, prefix, out directory or -1), with its ``epochs`` (list of per-epoch logs)."""
        run_id = self.resolve(name)
        rows = self._read(f"SELECT {', '.join(self._COLUMNS)} FROM runs WHERE id=?", (run_id,))
        run = self._row(rows[0])
        run["epochs"] = self.epochs(run_id)
        return run


def run_value(run: dict, key: str):
    """A run's value for ``key``: a final metric (``dev_accuracy``), a column (``params``,
    ``predict_ms``, ``seed``, ``recipe``) or a config entry (``lr``, ``config.lr``); None if absent.
    ``*_error`` falls back to ``1 - *_accuracy``."""
    final = run.get("final") or {}
    if key in final:
        return final[key]
    if key in run and key not in ("final", "config", "epochs", "splits", "durations"):
        return run[key]
    durations = run.get("durations") or {}
    if key in durations:
        return durations[key]
    config = run.get("config") or {}
    if key.startswith("config."):
        key = key[len("config."):]
    if key in config:
        return config[key]
    if key.endswith("_error"):
        acc = final.get(key[: -len("_error")] + "_accuracy")
        if isinstance(acc, (int, float)):
            return 1.0 - acc
    return None
