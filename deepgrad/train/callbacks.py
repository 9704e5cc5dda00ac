"""Callbacks: code that runs at fixed points of ``Trainer.fit`` (Keras/Lightning style).

Hooks, all optional (``epoch`` counts from 1, ``step`` is the global optimizer step,
counting from 1; ``logs`` is a dict of the latest numbers)::

    on_train_begin(logs)                on_train_end(logs)
    on_epoch_begin(epoch, logs)         on_epoch_end(epoch, logs)
    on_batch_begin(step, logs)          on_batch_end(step, logs)
    on_after_backward(step, logs)       # gradients ready, optimizer not yet stepped

A callback reaches the trainer as ``self.trainer`` and stops training by setting
``self.trainer.stop_training = True`` (with a reason in ``self.trainer.stop_reason``).
Callbacks with state that must survive a resume implement ``state_dict``/``load_state_dict``.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

import numpy as np


class Callback:
    order = 0  # callbacks run in increasing ``order`` (checkpointing last)

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs): ...
    def on_train_end(self, logs): ...
    def on_epoch_begin(self, epoch, logs): ...
    def on_epoch_end(self, epoch, logs): ...
    def on_batch_begin(self, step, logs): ...
    def on_batch_end(self, step, logs): ...
    def on_after_backward(self, step, logs): ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e4):
            return f"{v:.3e}"
        return f"{v:.4f}"
    return str(v)


def format_logs(logs: dict, keys=None) -> str:
    keys = keys or [k for k in logs if k not in ("epoch", "step")]
    return "  ".join(f"{k} {_fmt(logs[k])}" for k in keys if k in logs and logs[k] is not None)


class ProgressBar(Callback):
    """A tqdm bar of the mini-batches per epoch on a terminal; one plain line per epoch otherwise
    (CI logs, files, pipes: no carriage returns), and also when tqdm is not installed.

    ``stream``: where to write (default ``sys.stderr``); ``tty``: force bar (True) or line
    (False) mode. Bars are drawn with ``leave=None``: each epoch's bar stays on the screen,
    except under another bar (``deepgrad tune``'s bar of trials), where it goes when done.
    """

    def __init__(self, stream=None, tty: bool | None = None, refresh_every: int = 10):
        self.stream = stream
        self.tty = tty
        self.refresh_every = refresh_every
        self._bar = None
        self._t0 = time.perf_counter()

    def _out(self):
        return self.stream if self.stream is not None else sys.stderr

    def _use_bar(self) -> bool:
        from .progress import use_bar

        return use_bar(self._out(), self.tty)

    def on_train_begin(self, logs):
        self._use = self._use_bar()
        self._epochs = logs.get("epochs")

    def on_epoch_begin(self, epoch, logs):
        self._t0 = time.perf_counter()
        if self._use:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=logs.get("steps_per_epoch"), desc=f"epoch {epoch}/{self._epochs}",
                             file=self._out(), leave=None, dynamic_ncols=True)

    def on_batch_end(self, step, logs):
        if self._bar is not None:
            self._bar.update(1)
            if step % self.refresh_every == 0 and "loss" in logs:
                self._bar.set_postfix(loss=f"{logs['loss']:.4f}", refresh=False)

    def on_epoch_end(self, epoch, logs):
        keys = [k for k in logs if k not in ("epoch", "time")]
        text = format_logs(logs, keys)
        if self._bar is not None:
            self._bar.set_postfix_str(text)
            self._bar.close()
            self._bar = None
        else:
            print(f"epoch {epoch}/{self._epochs}  {text}  ({time.perf_counter() - self._t0:.1f} s)",
                  file=self._out(), flush=True)

    def on_train_end(self, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        reason = getattr(self.trainer, "stop_reason", None)
        if reason:
            print(f"stopped: {reason}", file=self._out(), flush=True)


def _mode_for(monitor: str, mode: str) -> str:
    if mode != "auto":
        return mode
    return "max" if any(s in monitor for s in ("acc", "f1", "precision", "recall")) else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (course 2).

    ``restore_best_weights``: put back the weights of the best epoch at the end.
    """

    def __init__(self, monitor: str = "dev_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = False):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = abs(min_delta)
        self.mode = _mode_for(monitor, mode)
        self.restore_best_weights = restore_best_weights
        self.best = None
        self.best_epoch = None
        self.wait = 0
        self._best_state = None

    def _improved(self, v) -> bool:
        return _improved(v, self.best, self.mode, self.min_delta)

    def on_epoch_end(self, epoch, logs):
        v = logs.get(self.monitor)
        if v is None:
            raise KeyError(f"EarlyStopping: no {self.monitor!r} in the logs (have {sorted(logs)}); pass dev data or change monitor")
        if isinstance(v, float) and math.isnan(v):
            return
        if self._improved(v):
            self.best, self.best_epoch, self.wait = float(v), epoch, 0
            if self.restore_best_weights:
                self._best_state = self.trainer.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.trainer.stop_training = True
                self.trainer.stop_reason = (
                    f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                    f"(best {self.best:.4f} at epoch {self.best_epoch})"
                )

    def on_train_end(self, logs):
        if self.restore_best_weights and self._best_state is not None:
            self.trainer.model.load_state_dict(self._best_state)

    def state_dict(self):
        d = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}
        if self._best_state is not None:
            d["best_state"] = dict(self._best_state)
        return d

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self._best_state = state.get("best_state")


class ModelCheckpoint(Callback):
    """Save the model (``deepgrad.serialization.save_model``) after epochs.

    ``path`` may contain ``{epoch}``. With ``save_best_only`` it is written only when
    ``monitor`` improves (course 3: keep the model that does best on the dev set).
    """

    order = 50

    def __init__(self, path, monitor: str = "dev_loss", save_best_only: bool = True, mode: str = "auto",
                 weights_only: bool = False):
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save_best_only = save_best_only
        self.mode = _mode_for(monitor, mode)
        self.weights_only = weights_only
        self.best = None
        self.saved: list[str] = []

    def on_train_begin(self, logs):
        check_writable_file(self.path.format(epoch=1), "ModelCheckpoint")

    def on_epoch_end(self, epoch, logs):
        from ..serialization import save_model, save_weights

        if self.save_best_only:
            v = logs.get(self.monitor)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return
            if not _improved(v, self.best, self.mode):
                return
            self.best = float(v)
        path = self.path.format(epoch=epoch)
        meta = {"epoch": epoch, **{k: v for k, v in logs.items() if isinstance(v, (int, float))}}
        (save_weights if self.weights_only else save_model)(self.trainer.model, path, metadata=meta)
        self.saved.append(path)

    def state_dict(self):
        return {"best": self.best, "saved": list(self.saved)}

    def load_state_dict(self, state):
        self.best = state["best"]
        self.saved = list(state["saved"])


class Checkpointing(Callback):
    """Write the full training state (``checkpoint.save_checkpoint``) to ``directory``.

    Every epoch, and every ``every_n_steps`` optimizer steps when given, so a run killed
    mid-epoch resumes from its last step checkpoint. ``Trainer.fit(checkpoint_dir=...)``
    installs one and resumes from it.
    """

    order = 100

    def __init__(self, directory, every_n_steps: int | None = None, every_n_epochs: int = 1):
        from .checkpoint import FILENAME

        self.directory = os.fspath(directory)
        self.path = os.path.join(self.directory, FILENAME)
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs

    def on_train_begin(self, logs):
        # A run killed while writing leaves its temporary file behind (the checkpoint
        # itself is intact); remove such leftovers of this checkpoint.
        prefix = "." + os.path.basename(self.path) + "."
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if name.startswith(prefix) and name.endswith(".tmp"):
                    try:
                        os.unlink(os.path.join(self.directory, name))
                    except OSError:
                        pass

    def on_batch_end(self, step, logs):
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.trainer.save_checkpoint(self.path, mid_epoch=True)

    def on_epoch_end(self, epoch, logs):
        if self.every_n_epochs and epoch % self.every_n_epochs == 0 or self.trainer.stop_training:
            self.trainer.save_checkpoint(self.path, mid_epoch=False)


class NaNGuard(Callback):
    """Stop at the first NaN/inf and say where it appeared (course 2: exploding gradients).

    After each backward pass it checks, in order: the loss; then each parameter's
    gradient in ``named_parameters()`` order. For a non-finite loss it also looks for
    the first non-finite parameter value, then re-runs the batch layer by layer
    (through the model's children) to name the first layer whose output is not finite.
    The optimizer step of that batch is skipped, so the weights stay finite.
    ``self.report`` holds ``{epoch, step, what, name, layer}``; with ``raise_error``
    a ``FloatingPointError`` is raised instead of stopping quietly.
    """

    order = -100

    def __init__(self, raise_error: bool = False):
        self.raise_error = raise_error
        self.report = None

    @staticmethod
    def _layer_of(model, param_name: str) -> str:
        modules = dict(model.named_modules())
        owner = param_name.rpartition(".")[0]
        return f"{owner or '<model>'} ({type(modules.get(owner, model)).__name__})"

    def on_after_backward(self, step, logs):
        t = self.trainer
        model = t.model
        loss = logs.get("loss")
        report = None
        if loss is not None and not math.isfinite(loss):
            report = {"what": "loss", "value": loss, "name": None, "layer": None}
            for name, p in model.named_parameters():
                if not np.isfinite(p.data).all():
                    report.update(name=name, layer=self._layer_of(model, name), found=f"parameter value '{name}' in layer")
                    break
            else:
                found = self._probe_layers(model, t._last_input)
                if found:
                    report.update(name=found, layer=found, found="layer output")
        else:
            for name, p in model.named_parameters():
                if p.grad is not None and not np.isfinite(p.grad).all():
                    report = {"what": "gradient", "value": None, "name": name,
                              "layer": self._layer_of(model, name), "found": "gradient"}
                    break
        if report is None:
            return
        report.update(epoch=logs.get("epoch"), step=step)
        if report["what"] == "loss":
            where = f"; first non-finite {report.get('found')}: {report['layer']}" if report["layer"] else ""
            msg = f"NaNGuard: loss is {loss} at epoch {report['epoch']}, step {step}{where}"
        else:
            msg = (f"NaNGuard: non-finite gradient at epoch {report['epoch']}, step {step}: "
                   f"first in parameter '{report['name']}' of layer {report['layer']} (loss {loss})")
        report["message"] = msg
        self.report = report
        t.stop_training = True
        t.stop_reason = msg
        if self.raise_error:
            raise FloatingPointError(msg)

    @staticmethod
    def _probe_layers(model, x):
        """Name of the first child whose output is non-finite (Sequential-like models)."""
        if x is None:
            return None
        from .. import random as dg_random
        from ..autograd import no_grad

        children = list(model.named_children()) if hasattr(model, "named_children") else []
        if not children:
            return None
        rng = dg_random.get_state()
        buffers = {n: np.array(b, copy=True) for n, b in model.named_buffers()}
        try:
            with no_grad():
                h = x
                for name, layer in children:
                    h = layer(h)
                    if not np.isfinite(getattr(h, "data", h)).all():
                        return f"{name} ({type(layer).__name__})"
        except Exception:  # noqa: BLE001 - children not applicable in sequence
            return None
        finally:
            dg_random.set_state(rng)
            if buffers:
                model.load_state_dict(buffers, strict=False)  # the probe's forward must not move the running stats
        return None


class DivergenceGuard(Callback):
    """Stop a run whose loss explodes: an epoch's mean training loss more than ``factor``
    (100: two orders of magnitude) times the loss of the run's first batch (the untrained
    model). ``trainer.stop_reason`` then starts with ``"diverged"`` (``History.status()``
    reports ``"diverged"``, ``deepgrad run`` exits non-zero). NaN and inf are NaNGuard's.
    """

    order = -90

    def __init__(self, factor: float = 100.0):
        if not (isinstance(factor, (int, float)) and math.isfinite(factor) and factor > 1):
            raise ValueError(f"DivergenceGuard: factor must be a finite number > 1, got {factor!r}")
        self.factor = float(factor)
        self.report = None

    def on_epoch_end(self, epoch, logs):
        start = self.trainer.history.initial_loss
        loss = logs.get("train_loss")
        if start is None or loss is None or not math.isfinite(loss):
            return
        if loss > self.factor * max(start, 1e-12):
            msg = (f"diverged: the training loss grew from {start:.4g} (first batch) to {loss:.4g} "
                   f"(epoch {epoch}), over {self.factor:g}x; lower the learning rate")
            self.report = {"epoch": epoch, "initial_loss": start, "loss": loss, "message": msg}
            self.trainer.stop_training = True
            self.trainer.stop_reason = msg


class CSVLogger(Callback):
    """Write the History as CSV after every epoch (whole file, atomically: resume-safe)."""

    order = 60

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_train_begin(self, logs):
        check_writable_file(self.path, "CSVLogger")

    def on_epoch_end(self, epoch, logs):
        from ..serialization import atomic_write_bytes

        atomic_write_bytes(self.path, self.trainer.history.to_csv().encode())


class JSONLogger(Callback):
    """Write the History as JSON lines (one object per epoch) after every epoch."""

    order = 60

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_train_begin(self, logs):
        check_writable_file(self.path, "JSONLogger")

    def on_epoch_end(self, epoch, logs):
        from ..serialization import atomic_write_bytes

        text = "".join(json.dumps(r) + "\n" for r in self.trainer.history.rows)
        atomic_write_bytes(self.path, text.encode())


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks):
        for name, fn in hooks.items():
            if not name.startswith("on_"):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            setattr(self, name, fn)


def check_writable_file(path: str, who: str) -> None:
    """Fail before the first epoch, not after it, when ``path`` cannot be written: its
    directory is created if needed and must accept a new file."""
    import tempfile

    directory = os.path.dirname(os.path.abspath(path))
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(21, "is a directory")
        os.makedirs(directory, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".deepgrad-write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OSError(e.errno, f"{who}: cannot write {path} ({e.strerror or e})") from None


def _improved(v, best, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``v`` beats ``best`` (None: nothing yet) by more than ``min_delta`` in ``mode``."""
    if best is None:
        return True
    return v < best - min_delta if mode == "min" else v > best + min_delta
