"""Training checkpoints: everything needed to resume a run exactly where it stopped.

A checkpoint is one safetensors file (see :mod:`deepgrad.serialization`): model
parameters and buffers, optimizer state arrays and any other arrays as tensors; the
rest — optimizer/scheduler scalars, the library RNG state, the DataLoader's shuffle
state, epoch, step, the History so far — as JSON in the file's metadata, where each
array is referenced by its tensor name. No pickle. Writes are atomic (temporary file
in the same directory, fsync, ``os.replace``, fsync of the directory), so a run killed
at any moment — even with SIGKILL in the middle of a write — leaves the previous
checkpoint intact.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict

import numpy as np

from .. import random as dg_random
from ..serialization import ModelFileError, load_tensors, save_tensors

FORMAT = "deepgrad-checkpoint"
FORMAT_VERSION = 1
FILENAME = "checkpoint.safetensors"


# ----- nested state <-> (JSON tree, arrays) -------------------------------------------------
def flatten_state(obj, prefix: str, arrays: dict):
    """JSON-able tree for ``obj`` with every ndarray moved into ``arrays`` under a path name.

    Dict keys keep their type (int keys of an optimizer's per-parameter state come back
    as ints), tuples stay tuples and NumPy scalars keep their dtype.
    """
    if hasattr(obj, "data") and isinstance(obj.data, np.ndarray) and not isinstance(obj, np.ndarray):
        obj = obj.data  # a Tensor
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return {"__array__": prefix}
    if isinstance(obj, np.generic):
        arrays[prefix] = np.asarray(obj)
        return {"__scalar__": prefix}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"checkpoint: cannot store dict key {k!r} at {prefix!r}")
            items.append([k, flatten_state(v, f"{prefix}/{k}", arrays)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten_state(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, f"{prefix}/{i}", arrays) for i, v in enumerate(obj)]
    raise TypeError(f"checkpoint: cannot store {type(obj).__name__} at {prefix!r} (arrays, numbers, strings, lists, dicts only)")


def unflatten_state(tree, arrays: dict):
    if isinstance(tree, list):
        return [unflatten_state(v, arrays) for v in tree]
    if isinstance(tree, dict):
        if "__array__" in tree:
            return arrays[tree["__array__"]]  # load_tensors' arrays are private copies already
        if "__scalar__" in tree:
            return arrays[tree["__scalar__"]][()]
        if "__tuple__" in tree:
            return tuple(unflatten_state(v, arrays) for v in tree["__tuple__"])
        if "__dict__" in tree:
            return {k: unflatten_state(v, arrays) for k, v in tree["__dict__"]}
        raise ModelFileError(f"checkpoint: unknown entry {tree!r}")
    return tree


# ----- save / load ----------------------------------------------------------------------------
def save_checkpoint(path, model, optimizer=None, scheduler=None, loader=None, epoch: int = 0, step: int = 0,
                    history=None, extra: dict | None = None, rng_state=None) -> None:
    """Atomically write a resumable training state to ``path``.

    ``epoch``: number of completed epochs; ``step``: optimizer steps taken so far;
    ``extra``: any further state (nested dicts/lists of numbers, strings and arrays).
    """
    arrays: dict = OrderedDict()
    state = {
        "model": flatten_state(dict(model.state_dict()), "model", arrays),
        "optimizer": flatten_state(optimizer.state_dict(), "optimizer", arrays) if optimizer is not None else None,
        "scheduler": flatten_state(scheduler.state_dict(), "scheduler", arrays) if scheduler is not None and hasattr(scheduler, "state_dict") else None,
        "loader": flatten_state(loader.state_dict(), "loader", arrays) if loader is not None and hasattr(loader, "state_dict") else None,
        "rng": flatten_state(rng_state if rng_state is not None else dg_random.get_state(), "rng", arrays),
        "epoch": int(epoch),
        "step": int(step),
        "history": history.to_dict() if hasattr(history, "to_dict") else history,
        "extra": flatten_state(extra or {}, "extra", arrays),
    }
    save_tensors(path, arrays, {"format": FORMAT, "format_version": str(FORMAT_VERSION), "state": json.dumps(state)})


def load_checkpoint(path) -> dict:
    """Read a checkpoint: a dict with model, optimizer, scheduler, loader, rng, epoch, step, history, extra."""
    path = os.fspath(path)
    tensors, meta = load_tensors(path, verify=True)
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a deepgrad checkpoint (format {meta.get('format')!r})")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelFileError(f"{path}: checkpoint format {meta['format_version']} is newer than supported ({FORMAT_VERSION})")
    state = json.loads(meta["state"])
    out = {k: unflatten_state(v, tensors) if k not in ("epoch", "step", "history") else v for k, v in state.items()}
    return out


def restore_checkpoint(path, model, optimizer=None, scheduler=None, loader=None, restore_rng: bool = True) -> dict:
    """Load ``path`` into the given objects (and the library RNG); returns the checkpoint dict."""
    return apply_checkpoint(load_checkpoint(path), model, optimizer, scheduler, loader, restore_rng)


def apply_checkpoint(ck: dict, model, optimizer=None, scheduler=None, loader=None, restore_rng: bool = True) -> dict:
    """Put a checkpoint read by :func:`load_checkpoint` into the given objects (and the library RNG)."""
    model.load_state_dict(ck["model"], strict=True)
    if optimizer is not None and ck.get("optimizer") is not None:
        optimizer.load_state_dict(ck["optimizer"])
    if scheduler is not None and ck.get("scheduler") is not None:
        scheduler.load_state_dict(ck["scheduler"])
    if loader is not None and ck.get("loader") is not None and hasattr(loader, "load_state_dict"):
        loader.load_state_dict(ck["loader"])
    if restore_rng and ck.get("rng") is not None:
        dg_random.set_state(ck["rng"])
    return ck

