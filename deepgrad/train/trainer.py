"""``Trainer``: the training loop of courses 1-2, written once.

For each epoch: for each mini-batch — forward, loss, backward, optimizer step (and an
LR-schedule step when it runs per step); then the dev set is evaluated, the schedule
steps, a row goes into the ``History`` and callbacks run (progress, early stopping,
checkpoints, NaN guard, loggers).

With ``fit(..., checkpoint_dir=d)`` the complete state — weights, optimizer and
schedule state, the library RNG and layers' own generators, the DataLoader's shuffle
position, epoch, step, the epoch's running sums, callbacks' state, History —
is saved atomically every epoch (and every ``checkpoint_every`` steps); a later
``fit(..., checkpoint_dir=d)`` (``resume=True``) picks up exactly there, so a run killed
with SIGKILL finishes with the same weights, bit for bit, as one never interrupted.
"""
from __future__ import annotations

import inspect
import os
import time

import numpy as np

from .. import random as dg_random
from ..autograd import no_grad
from ..check.anomaly import set_detect_anomaly
from ..data.dataloader import DataLoader
from ..data.dataset import Dataset, TensorDataset
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor
from .callbacks import Callback, Checkpointing, ProgressBar
from .checkpoint import FILENAME, restore_checkpoint, save_checkpoint
from .history import History
from .metrics import get_metric, to_labels

_LOSSES = {
    "cross_entropy": "cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
    "mse": "mse_loss",
}


def _loss_from_name(name):
    from .. import ops

    if name not in _LOSSES:
        raise ValueError(f"Trainer: unknown loss {name!r}; known: {sorted(_LOSSES)} (or pass a callable)")
    return getattr(ops, _LOSSES[name])


def _scalar(loss) -> float:
    return float(np.asarray(getattr(loss, "data", loss)).reshape(()))


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(output, target)``.

    Args:
        model: a ``deepgrad.nn.Module`` mapping a batch of inputs to outputs (logits).
        optimizer: a ``deepgrad.optim`` optimizer over ``model.parameters()``.
        loss_fn: callable ``(output, target) -> scalar Tensor`` or a name
            (``"cross_entropy"``, ``"bce_with_logits"``, ``"mse"``).
        metrics: names (``"accuracy"``, ``"f1"``, ...) or callables ``(y_true, y_pred)``;
            computed from the labels the outputs predict (argmax, or logit > 0).
        callbacks: ``Callback`` objects; a ``ProgressBar`` is added unless ``progress=False``.
        scheduler: an LR schedule with ``step()``; stepped every epoch, or every optimizer
            step with ``scheduler_interval="step"``.
        seed: makes the run repeatable: seeds the library RNG (dropout) at the start of
            ``fit`` and the shuffling of loaders the trainer builds.
        batch_size: for data given as arrays / datasets (a ``DataLoader`` keeps its own).
        grad_clip: clip the global gradient norm to this value before each step.
        detect_anomaly: check every op's output and gradient during ``fit`` and stop at the
            first NaN/inf, naming the op and module (``deepgrad.detect_anomaly``).
    """

    def __init__(self, model, optimizer=None, loss_fn="cross_entropy", metrics=("accuracy",), callbacks=(),
                 scheduler=None, seed: int | None = None, batch_size: int = 64, eval_batch_size: int = 1024,
                 scheduler_interval: str = "epoch", grad_clip: float | None = None, progress: bool = True,
                 detect_anomaly: bool = False):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = _loss_from_name(loss_fn) if isinstance(loss_fn, str) else loss_fn
        self.metrics = [get_metric(m) for m in (metrics or ())]
        self.scheduler = scheduler
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        self.scheduler_interval = scheduler_interval
        self.seed = seed
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.grad_clip = grad_clip
        self.detect_anomaly = detect_anomaly
        self.callbacks: list[Callback] = list(callbacks)
        if progress and not any(isinstance(c, ProgressBar) for c in self.callbacks):
            self.callbacks.append(ProgressBar())
        self.history = History()
        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps taken
        self.stop_training = False
        self.stop_reason = None
        self._loader = None
        self._acc = None  # running sums of the current epoch
        self._last_input = None

    # ----- data -----------------------------------------------------------------------------
    def _make_loader(self, data, shuffle: bool, batch_size=None, for_training=False):
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, (tuple, list)):
            data = TensorDataset(*data)
        elif isinstance(data, (np.ndarray, Tensor)):
            data = TensorDataset(data)
        if not isinstance(data, Dataset) and not hasattr(data, "__getitem__"):
            raise TypeError(f"Trainer: cannot make batches from {type(data).__name__}; give a DataLoader, Dataset or (X, y) arrays")
        bs = batch_size or (self.batch_size if for_training else self.eval_batch_size)
        seed = None
        if shuffle:
            seed = int(np.random.SeedSequence(self.seed).generate_state(1)[0]) if self.seed is not None else None
        return DataLoader(data, batch_size=bs, shuffle=shuffle, seed=seed)

    # ----- callbacks ------------------------------------------------------------------------
    def _call(self, hook: str, *args):
        ordered = getattr(self, "_ordered", None)
        if ordered is None or len(ordered) != len(self.callbacks):
            ordered = self._ordered = sorted(self.callbacks, key=lambda c: getattr(c, "order", 0))
        for cb in ordered:
            getattr(cb, hook)(*args)

    def _lr(self):
        opt = self.optimizer
        groups = getattr(opt, "param_groups", None)
        if groups:
            return float(groups[0]["lr"])
        lr = getattr(opt, "lr", None)
        return float(lr) if lr is not None else None

    # ----- checkpoints ------------------------------------------------------------------------
    def _callback_states(self) -> dict:
        return {f"{i}:{type(cb).__name__}": cb.state_dict() for i, cb in enumerate(self.callbacks)}

    def save_checkpoint(self, path, mid_epoch: bool = False) -> None:
        """Write the complete training state to ``path`` (atomic)."""
        extra = {"callbacks": self._callback_states(), "stop_reason": self.stop_reason,
                 "module_generators": _module_generators(self.model)}
        if mid_epoch and self._acc is not None:
            acc = self._acc
            extra["epoch_acc"] = {
                "loss_sum": acc["loss_sum"], "count": acc["count"], "t_elapsed": time.perf_counter() - acc["t0"],
                "y_true": np.concatenate(acc["y_true"]) if acc["y_true"] else np.zeros(0, np.int64),
                "y_pred": np.concatenate(acc["y_pred"]) if acc["y_pred"] else np.zeros(0, np.int64),
            }
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, self._loader,
                        epoch=self.epoch, step=self.step, history=self.history, extra=extra)

    def _resume(self, path) -> dict | None:
        ck = restore_checkpoint(path, self.model, self.optimizer, self.scheduler, self._loader)
        self.epoch, self.step = int(ck["epoch"]), int(ck["step"])
        self.history = History.from_dict(ck["history"] or {})
        extra = ck.get("extra") or {}
        states = extra.get("callbacks", {})
        for i, cb in enumerate(self.callbacks):
            key = f"{i}:{type(cb).__name__}"
            if key in states and states[key]:
                cb.load_state_dict(states[key])
        self.stop_reason = extra.get("stop_reason")
        modules = dict(self.model.named_modules())
        for name, state in (extra.get("module_generators") or {}).items():
            m = modules.get("" if name == "<model>" else name)
            g = None if m is None else m.__dict__.get("generator")
            if isinstance(g, np.random.Generator):
                g.bit_generator.state = state
        return extra.get("epoch_acc")

    # ----- the loop -----------------------------------------------------------------------------
    def fit(self, train, dev=None, epochs: int = 1, batch_size: int | None = None, shuffle: bool = True,
            checkpoint_dir=None, resume: bool = True, checkpoint_every: int | None = None) -> History:
        """Train for ``epochs`` epochs in total (a resumed run does only the rest).

        ``train``/``dev``: a ``DataLoader``, a ``Dataset`` or a tuple ``(X, y)``.
        ``checkpoint_dir``: save the training state there every epoch (and every
        ``checkpoint_every`` steps); with ``resume`` continue from it when present.
        Returns the ``History`` (one row per epoch: train/dev loss and metrics, lr, time).
        """
        if self.optimizer is None:
            raise ValueError("Trainer.fit: no optimizer; pass optimizer=deepgrad.optim.Adam(model.parameters(), lr=...)")
        self._loader = loader = self._make_loader(train, shuffle, batch_size, for_training=True)
        dev_loader = self._make_loader(dev, False) if dev is not None else None
        callbacks_before = list(self.callbacks)
        if checkpoint_dir is not None and not any(isinstance(c, Checkpointing) for c in self.callbacks):
            self.callbacks.append(Checkpointing(checkpoint_dir, every_n_steps=checkpoint_every))
        for cb in self.callbacks:
            cb.set_trainer(self)
        self._ordered = sorted(self.callbacks, key=lambda c: getattr(c, "order", 0))

        self.stop_training, self.stop_reason = False, None
        resumed_acc = None
        ck_path = os.path.join(os.fspath(checkpoint_dir), FILENAME) if checkpoint_dir is not None else None
        if ck_path and resume and os.path.exists(ck_path):
            resumed_acc = self._resume(ck_path)
            resumed = True
        else:
            resumed = False
            self.history, self.epoch, self.step = History(), 0, 0
            if self.seed is not None:
                dg_random.manual_seed(self.seed)
        steps_per_epoch = len(loader)
        if self.detect_anomaly:
            set_detect_anomaly(True)
        self._call("on_train_begin", {"epochs": epochs, "steps_per_epoch": steps_per_epoch,
                                      "resumed": resumed, "start_epoch": self.epoch + 1})
        try:
            if self.stop_reason and resumed:
                self.stop_training = True  # the checkpointed run had already stopped
            while self.epoch < epochs and not self.stop_training:
                self._run_epoch(loader, dev_loader, epochs, steps_per_epoch, resumed_acc)
                resumed_acc = None
        finally:
            if self.detect_anomaly:
                set_detect_anomaly(False)
            self.history.stop_reason = self.stop_reason
            self._call("on_train_end", {"epochs_done": self.epoch, "stop_reason": self.stop_reason})
            self.callbacks = callbacks_before
            self._ordered = None
        return self.history

    def _run_epoch(self, loader, dev_loader, epochs, steps_per_epoch, resumed_acc):
        epoch = self.epoch + 1
        self._acc = acc = {"loss_sum": 0.0, "count": 0, "y_true": [], "y_pred": [], "t0": time.perf_counter()}
        if resumed_acc:
            acc.update(loss_sum=float(resumed_acc["loss_sum"]), count=int(resumed_acc["count"]),
                       y_true=[resumed_acc["y_true"]], y_pred=[resumed_acc["y_pred"]])
            acc["t0"] -= float(resumed_acc["t_elapsed"])
        self._call("on_epoch_begin", epoch, {"epoch": epoch, "steps_per_epoch": steps_per_epoch})
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        for batch in loader:
            x, y = batch[0], batch[1] if len(batch) > 1 else None
            step = self.step + 1
            self._call("on_batch_begin", step, {"epoch": epoch})
            self._last_input = x
            out = self.model(x)
            loss = self.loss_fn(out, y)
            self.optimizer.zero_grad()
            loss.backward()
            loss_value = _scalar(loss)
            logs = {"epoch": epoch, "loss": loss_value}
            self._call("on_after_backward", step, logs)
            if self.stop_training:
                break  # e.g. NaNGuard: do not apply this step
            if self.grad_clip is not None:
                clip_grad_norm_(params, self.grad_clip)
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_interval == "step":
                self.scheduler.step()
            self.step = step
            n = len(getattr(x, "data", x))
            acc["loss_sum"] += loss_value * n
            acc["count"] += n
            if y is not None and self.metrics:
                acc["y_true"].append(_label_array(y, n))
                acc["y_pred"].append(to_labels(out.data))
            self._call("on_batch_end", step, logs)
            if self.stop_training:
                break
        self._last_input = None
        if self.stop_training and acc["count"] == 0:
            self._acc = None
            return
        logs = {"epoch": epoch}
        logs["train_loss"] = acc["loss_sum"] / max(acc["count"], 1)
        if acc["y_true"]:
            yt, yp = np.concatenate(acc["y_true"]), np.concatenate(acc["y_pred"])
            for name, fn in self.metrics:
                logs[f"train_{name}"] = float(fn(yt, yp))
        if dev_loader is not None:
            for k, v in self.evaluate(dev_loader).items():
                logs[f"dev_{k}"] = v
        lr = self._lr()
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = round(time.perf_counter() - acc["t0"], 4)
        self._acc = None
        self.epoch = epoch
        if self.scheduler is not None and self.scheduler_interval == "epoch":
            _step_scheduler(self.scheduler, logs)
        self.history.append(logs)
        self._call("on_epoch_end", epoch, dict(logs))

    # ----- evaluation -------------------------------------------------------------------------
    def predict(self, data, batch_size: int | None = None) -> np.ndarray:
        """Model outputs (eval mode, no graph) for inputs ``X``, a Dataset or a DataLoader, stacked."""
        loader = self._make_loader(data, False, batch_size)
        was_training = self.model.training
        self.model.eval()
        outs = []
        try:
            with no_grad():
                for batch in loader:
                    outs.append(np.asarray(self.model(batch[0]).data))
        finally:
            self.model.train(was_training)
        return np.concatenate(outs) if outs else np.zeros(0, np.float32)

    def evaluate(self, data, batch_size: int | None = None) -> dict:
        """Mean loss and metrics over ``data`` (eval mode): ``{"loss": ..., "accuracy": ...}``."""
        loader = self._make_loader(data, False, batch_size)
        was_training = self.model.training
        self.model.eval()
        loss_sum, count, yt, yp = 0.0, 0, [], []
        try:
            with no_grad():
                for batch in loader:
                    x, y = batch[0], batch[1]
                    out = self.model(x)
                    n = len(getattr(x, "data", x))
                    if self.loss_fn is not None:
                        loss_sum += _scalar(self.loss_fn(out, y)) * n
                    count += n
                    yt.append(_label_array(y, n))
                    yp.append(to_labels(out.data))
        finally:
            self.model.train(was_training)
        res = {"loss": loss_sum / max(count, 1)}
        if yt:
            t, p = np.concatenate(yt), np.concatenate(yp)
            for name, fn in self.metrics:
                res[name] = float(fn(t, p))
        return res


def _module_generators(model) -> dict:
    """States of layers' own random generators (e.g. ``Dropout(generator=...)``), by layer name."""
    out = {}
    for name, m in model.named_modules():
        g = m.__dict__.get("generator")
        if isinstance(g, np.random.Generator):
            out[name or "<model>"] = g.bit_generator.state
    return out


def _label_array(y, n: int) -> np.ndarray:
    """Targets as int64 class labels ``(N,)``: ``(N, 1)`` binary targets are flattened,
    one-hot / probability targets ``(N, C)`` become their argmax."""
    ya = np.asarray(getattr(y, "data", y))
    if ya.ndim == 2 and ya.shape[1] > 1:
        return ya.argmax(axis=1).astype(np.int64)
    return (ya.reshape(n, -1)[:, 0] if ya.ndim > 1 else ya).astype(np.int64)


def _step_scheduler(scheduler, logs):
    params = inspect.signature(scheduler.step).parameters
    needs_metric = getattr(scheduler, "needs_metric", False) or type(scheduler).__name__ == "ReduceLROnPlateau"
    if needs_metric and params:
        scheduler.step(logs.get("dev_loss", logs.get("train_loss")))
    else:
        scheduler.step()

