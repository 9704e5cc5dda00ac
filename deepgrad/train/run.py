"""Run identity and ownership: what a run is, so that its records never lie.

A *run config* is a flat-ish JSON dict describing one training run completely: the
recipe, the seed, learning rate, epochs, batch size, the data (sizes and a fingerprint
of the arrays) and the code version. Its *identity* is a stable hash of that dict
without ``epochs`` (:data:`NOT_IDENTITY`): a run extended with more epochs is the same
run; any other difference makes it another run. ``Trainer.fit(run_config=...)`` stores
the config in every checkpoint and refuses to resume a checkpoint of another run
(:class:`RunConfigMismatch`, listing the differences) unless ``force_resume=True``, in
which case the run's record (``trainer.run_record``, ``metrics.json["run"]``) says so.

A :class:`DirLock` (a ``.deepgrad.lock`` file holding the owner's pid, host and process
start time) stops two live runs from sharing an output or checkpoint directory; the lock
of a run that was killed (its process is gone) is detected and taken over.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from typing import Any

import numpy as np

#: config keys that do not change a run's identity (a run extended with more epochs is the same run)
NOT_IDENTITY = ("epochs",)
LOCK_NAME = ".deepgrad.lock"


class RunConfigMismatch(ValueError):
    """A checkpoint belongs to a run with another configuration."""

    def __init__(self, message, differences=()):
        super().__init__(message)
        self.differences = list(differences)


class RunDiverged(FloatingPointError):
    """A run stopped because its loss became NaN/inf or exploded (``deepgrad run`` exit status 3)."""

    exit_status = 3


class RunLockedError(RuntimeError):
    """A directory is in use by another live run."""


# ----- identity ----------------------------------------------------------------------------------
def code_version() -> str:
    from .. import __version__

    return str(__version__)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def run_config(recipe: str, config: dict, seed, **extra) -> dict:
    """The full config of a run: ``recipe``, ``seed``, ``code_version`` and every entry of ``config``."""
    cfg = {"recipe": recipe, "seed": seed, "code_version": code_version()}
    cfg.update(config)
    cfg.update(extra)
    return _jsonable(cfg)


def identity(config: dict) -> dict:
    return {k: v for k, v in _jsonable(config).items() if k not in NOT_IDENTITY}


def config_hash(config: dict) -> str:
    """A stable hash of the run's identity (the config without ``epochs``): 16 hex digits."""
    text = json.dumps(identity(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def config_diff(old: dict, new: dict, ignore=NOT_IDENTITY) -> list[str]:
    """The differences between two run configs, one string per key: ``"seed: 0 -> 3"``."""
    a, b = _flat(_jsonable(old)), _flat(_jsonable(new))
    out = []
    for k in sorted(set(a) | set(b)):
        if k.split(".")[0] in ignore:
            continue
        if k not in a:
            out.append(f"{k}: (absent) -> {b[k]!r}")
        elif k not in b:
            out.append(f"{k}: {a[k]!r} -> (absent)")
        elif a[k] != b[k]:
            out.append(f"{k}: {a[k]!r} -> {b[k]!r}")
    return out


def data_fingerprint(data) -> dict:
    """Shapes, dtypes and a SHA-256 of the arrays of a ``TensorDataset`` (or a loader over one)."""
    ds = getattr(data, "dataset", data)
    arrays = getattr(ds, "arrays", None) or getattr(ds, "tensors", None)
    if arrays is None:
        return {"type": type(ds).__name__, "examples": len(ds) if hasattr(ds, "__len__") else None}
    h = hashlib.sha256()
    shapes = []
    for a in arrays:
        a = np.ascontiguousarray(np.asarray(getattr(a, "data", a)))
        shapes.append([list(a.shape), a.dtype.str])
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.reshape(-1).view(np.uint8))  # type: ignore[arg-type]  # ndarray is a buffer; NumPy's stubs say so only for Python >= 3.12
    return {"examples": len(ds), "arrays": shapes, "sha256": h.hexdigest()[:16]}


# ----- locks ---------------------------------------------------------------------------------------
def _start_time(pid: int):
    """The process's start time (clock ticks since boot) on Linux; None elsewhere / when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode(errors="replace")
        return int(stat.rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int, start_time=None) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            if f.read().decode(errors="replace").rpartition(")")[2].split()[0] in ("Z", "X"):
                return False  # killed, not yet reaped by its parent
    except (OSError, IndexError):
        pass
    if start_time is not None:
        now = _start_time(pid)
        if now is not None and now != start_time:
            return False  # the pid was reused by another process
    return True


_HELD: dict[str, int] = {}  # lock paths this process holds -> depth (re-entrant within a process)


class DirLock:
    """An exclusive lock on a run directory: ``with DirLock(d, what="--checkpoint-dir"): ...``.

    Raises :class:`RunLockedError` naming the directory and the owner when another live
    process holds it. The lock of a dead process (killed run) is taken over. Re-entrant
    within one process.
    """

    def __init__(self, directory, what: str = "directory"):
        self.directory = os.path.abspath(os.fspath(directory))
        self.path = os.path.join(self.directory, LOCK_NAME)
        self.what = what
        self.took_over: dict | None = None  # the stale owner's record, when we took the lock over

    def _mine(self) -> dict:
        return {"pid": os.getpid(), "host": socket.gethostname(), "start_time": _start_time(os.getpid()),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    def _read(self):
        try:
            with open(self.path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def acquire(self) -> DirLock:
        if _HELD.get(self.path):
            _HELD[self.path] += 1
            return self
        os.makedirs(self.directory, exist_ok=True)
        mine = self._mine()
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._read()
                if owner is None:  # being written right now, or damaged: look again
                    time.sleep(0.05)
                    owner = self._read()
                if owner is not None and not self._stale(owner):
                    raise RunLockedError(
                        f"{self.what} {self.directory}: in use by another run (pid {owner.get('pid')} on "
                        f"{owner.get('host')}, since {owner.get('created', '?')}); wait for it, choose another "
                        f"directory, or delete {self.path} if that run is dead"
                    ) from None
                if self._read() != owner:
                    continue  # someone else took it over meanwhile: look again
                self.took_over = owner or {"damaged": True}
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(mine, f)
            _HELD[self.path] = 1
            return self
        raise RunLockedError(f"{self.what} {self.directory}: could not take the lock {self.path}")

    @staticmethod
    def _stale(owner: dict) -> bool:
        if owner.get("host") not in (None, socket.gethostname()):
            return False  # another machine: we cannot tell
        try:
            pid_field: Any = owner.get("pid")  # anything a damaged file holds: int() raises below
            pid = int(pid_field)
        except (TypeError, ValueError):
            return True
        if pid == os.getpid():
            return True  # ours, left behind by an earlier run in this process that did not release it
        return not _alive(pid, owner.get("start_time"))

    def release(self) -> None:
        depth = _HELD.get(self.path, 0)
        if depth > 1:
            _HELD[self.path] = depth - 1
            return
        _HELD.pop(self.path, None)
        if depth:
            owner = self._read()
            if owner is not None and owner.get("pid") == os.getpid():
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
