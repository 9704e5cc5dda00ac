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
With ``fit(..., run_config=cfg)`` the checkpoint also holds the run's configuration, and a
checkpoint of a run with another configuration is refused (:mod:`deepgrad.train.run`); the
checkpoint directory is locked while ``fit`` runs.

Seams, as in Keras: override :meth:`Trainer.train_step` / :meth:`Trainer.eval_step`.
"""
from __future__ import annotations

import inspect
import math
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
from .callbacks import Callback, Checkpointing, NaNGuard, ProgressBar
from .checkpoint import FILENAME, apply_checkpoint, load_checkpoint, save_checkpoint
from .history import History
from .metrics import StreamingMetric, get_metric, make_streaming, to_labels
from .run import DirLock, RunConfigMismatch, config_diff, config_hash, data_fingerprint

_LOSSES = {
    "cross_entropy": "cross_entropy",
    "bce_with_logits": "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits",
    "mse": "mse_loss",
}
#: losses of regression (their outputs are not class scores): no accuracy by default
REGRESSION_LOSSES = ("mse", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")


def _loss_from_name(name):
    from .. import ops

    if name not in _LOSSES:
        raise ValueError(f"Trainer: unknown loss {name!r}; known: {sorted(_LOSSES)} (or pass a callable)")
    return getattr(ops, _LOSSES[name])


def default_metrics(loss_fn) -> tuple:
    """The metrics a loss implies: none for a regression loss (``"mse"``, ``mse_loss``, ...),
    ``("accuracy",)`` otherwise (classification: cross-entropy, binary cross-entropy, a callable)."""
    name = loss_fn if isinstance(loss_fn, str) else getattr(loss_fn, "__name__", "")
    return () if name in REGRESSION_LOSSES else ("accuracy",)


def _scalar(loss) -> float:
    return float(np.asarray(getattr(loss, "data", loss)).reshape(()))


def _count(name: str, value, low: int, where: str = "Trainer") -> int:
    """``value`` as an int >= ``low``; a clear TypeError / ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{where}: {name} must be a whole number, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{where}: {name} must be at least {low}, got {value}")
    return int(value)


def _needs_metric(scheduler) -> bool:
    """Whether ``scheduler.step`` takes a monitored value (its own interface says so: a
    ``needs_metric`` attribute, else a required positional parameter of ``step``)."""
    flag = getattr(scheduler, "needs_metric", None)
    if flag is not None:
        return bool(flag)
    try:
        params = inspect.signature(scheduler.step).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


class Trainer:
    """Train ``model`` with ``optimizer`` on ``loss_fn(output, target)``.

    Args:
        model: a ``deepgrad.nn.Module`` mapping a batch of inputs to outputs (logits).
        optimizer: a ``deepgrad.optim`` optimizer over ``model.parameters()``.
        loss_fn: callable ``(output, target) -> scalar Tensor`` or a name
            (``"cross_entropy"``, ``"bce_with_logits"``, ``"mse"``).
        metrics: names (``"accuracy"``, ``"f1"``, ...), ``StreamingMetric`` objects or callables
            ``(y_true, y_pred)``; computed from the labels the outputs predict (argmax, or
            logit > 0), batch by batch. ``"auto"`` (default): :func:`default_metrics` of the
            loss (accuracy for classification, none for a regression loss such as ``"mse"``).
        callbacks: ``Callback`` objects; a ``ProgressBar`` is added unless ``progress=False``.
        scheduler: an LR schedule with ``step()``; stepped every epoch, or every optimizer
            step with ``scheduler_interval="step"``. A schedule whose ``step`` takes a value
            (``ReduceLROnPlateau``) gets ``scheduler_monitor`` (default ``dev_loss``, else
            ``train_loss``) each epoch.
        seed: makes the run repeatable: seeds the library RNG (dropout) at the start of
            ``fit`` and the shuffling of loaders the trainer builds.
        batch_size: for data given as arrays / datasets (a ``DataLoader`` keeps its own).
        grad_clip: clip the global gradient norm to this value before each step.
        nan_guard: add a :class:`NaNGuard` (stop at the first NaN/inf, skip that step)
            unless one is among ``callbacks``. On by default.
        detect_anomaly: check every op's output and gradient during ``fit`` and stop at the
            first NaN/inf, naming the op and module (``deepgrad.detect_anomaly``).

    Seams (override in a subclass, as in Keras): :meth:`train_step` (one optimization
    step on a batch), :meth:`eval_step` (one batch of evaluation), :meth:`compute_loss`.
    """

    _ordered: list[Callback] | None  # the callbacks in call order while fit() runs

    def __init__(self, model, optimizer=None, loss_fn="cross_entropy", metrics="auto", callbacks=(),
                 scheduler=None, seed: int | None = None, batch_size: int = 64, eval_batch_size: int = 1024,
                 scheduler_interval: str = "epoch", grad_clip: float | None = None, progress: bool = True,
                 nan_guard: bool = True, scheduler_monitor: str = "dev_loss",
                 detect_anomaly: bool = False):
        self.model = model
        self.optimizer = optimizer
        self.loss_fn = _loss_from_name(loss_fn) if isinstance(loss_fn, str) else loss_fn
        self._loss_name = loss_fn if isinstance(loss_fn, str) else getattr(loss_fn, "__name__", None)
        if isinstance(metrics, str) and metrics == "auto":
            metrics = default_metrics(loss_fn)
        self._metric_specs = list(metrics or ())
        self.metrics = [(m.name, m) if isinstance(m, StreamingMetric) else get_metric(m) for m in self._metric_specs]
        self.scheduler = scheduler
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
        if scheduler is not None and not callable(getattr(scheduler, "step", None)):
            raise TypeError(f"Trainer: scheduler {type(scheduler).__name__} has no step() method")
        if scheduler is not None and scheduler_interval == "step" and _needs_metric(scheduler):
            raise ValueError(f"Trainer: {type(scheduler).__name__} steps on a monitored value; use scheduler_interval='epoch'")
        self.scheduler_interval = scheduler_interval
        self.scheduler_monitor = scheduler_monitor
        self.seed = seed if seed is None else _count("seed", seed, 0)
        self.batch_size = _count("batch_size", batch_size, 1)
        self.eval_batch_size = _count("eval_batch_size", eval_batch_size, 1)
        if grad_clip is not None and not (isinstance(grad_clip, (int, float, np.floating)) and math.isfinite(grad_clip)
                                          and grad_clip > 0):
            raise ValueError(f"Trainer: grad_clip must be a finite number > 0 (or None), got {grad_clip!r}")
        self.grad_clip = grad_clip
        self.detect_anomaly = detect_anomaly
        self.callbacks: list[Callback] = list(callbacks)
        if nan_guard and not any(isinstance(c, NaNGuard) for c in self.callbacks):
            self.callbacks.append(NaNGuard())
        if progress and not any(isinstance(c, ProgressBar) for c in self.callbacks):
            self.callbacks.append(ProgressBar())
        self.history = History()
        self.epoch = 0  # completed epochs
        self.step = 0  # optimizer steps taken
        self.stop_training = False
        self.stop_reason = None
        self.run_record: dict | None = None  # identity and resumes of the run (fit(run_config=...))
        self._loader = None
        self._acc = None  # running sums of the current epoch
        self._last_input = None
        self._schedule_epochs: int | None = None  # epochs the LR schedule was planned for (held beyond)

    # ----- data -----------------------------------------------------------------------------
    def _make_loader(self, data, shuffle: bool, batch_size=None, for_training=False):
        if isinstance(data, DataLoader):
            return data
        if isinstance(data, (str, bytes)) or isinstance(data, os.PathLike):
            raise TypeError(f"Trainer: got a file name {data!r} as data; load it first and give (X, y) arrays, "
                            "a Dataset or a DataLoader")
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

    def _new_streams(self):
        """Fresh streaming metrics for an epoch or an evaluation."""
        return [make_streaming(spec) for spec in self._metric_specs]

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
                 "module_generators": _module_generators(self.model),
                 "planned_epochs": self._schedule_epochs, "initial_loss": self.history.initial_loss}
        if self.run_record is not None:
            extra["run"] = self.run_record
        if mid_epoch and self._acc is not None:
            acc = self._acc
            extra["epoch_acc"] = {
                "loss_sum": acc["loss_sum"], "count": acc["count"], "t_elapsed": time.perf_counter() - acc["t0"],
                "metrics": [m.state_dict() for m in acc["streams"]],
            }
        save_checkpoint(path, self.model, self.optimizer, self.scheduler, self._loader,
                        epoch=self.epoch, step=self.step, history=self.history, extra=extra)

    def _check_run(self, ck: dict, path: str, run_config, force_resume: bool, epochs: int) -> None:
        """Refuse a checkpoint of another run (unless forced); write the run's record."""
        extra = ck.get("extra") or {}
        old = extra.get("run") or None
        old_config = (old or {}).get("config")
        diffs = []
        if run_config is not None or old_config is not None:
            if old_config is None:
                diffs = ["the checkpoint records no run configuration"]
            elif run_config is None:
                diffs = ["this fit was given no run configuration (run_config)"]
            else:
                diffs = config_diff(old_config, run_config)
        if diffs and not force_resume:
            raise RunConfigMismatch(
                f"{path}: a checkpoint of another run ({(old or {}).get('config_hash', 'no identity')}, "
                f"epoch {ck['epoch']}); this run differs: " + "; ".join(diffs)
                + ". Use another checkpoint directory, or force the resume (deepgrad run --force-resume, "
                "Trainer.fit(force_resume=True)) and the record says so", diffs)
        record = dict(old) if old else {}
        record["resumes"] = list(record.get("resumes") or [])
        planned = extra.get("planned_epochs") or ck["epoch"] or epochs
        entry = {"at_epoch": int(ck["epoch"]), "at_step": int(ck["step"]), "epochs": epochs,
                 "forced": bool(diffs), "differences": diffs}
        if epochs > planned:
            entry["schedule"] = (f"extended from {planned} to {epochs} epochs: the learning-rate schedule was "
                                 f"planned for {planned} epochs; it is held at its last value after epoch {planned}")
        record["resumes"].append(entry)
        if run_config is not None:
            record["config"], record["config_hash"] = run_config, config_hash(run_config)
        record.setdefault("planned_epochs", planned)
        self.run_record = record
        self._schedule_epochs = planned

    def _resume(self, ck: dict) -> dict | None:
        apply_checkpoint(ck, self.model, self.optimizer, self.scheduler, self._loader)
        self.epoch, self.step = int(ck["epoch"]), int(ck["step"])
        self.history = History.from_dict(ck["history"] or {})
        extra = ck.get("extra") or {}
        if self.history.initial_loss is None:
            self.history.initial_loss = extra.get("initial_loss")
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
            checkpoint_dir=None, resume: bool = True, checkpoint_every: int | None = None, callbacks=(),
            run_config: dict | None = None, force_resume: bool = False) -> History:
        """Train for ``epochs`` epochs in total (a resumed run does only the rest).

        ``train``/``dev``: a ``DataLoader``, a ``Dataset`` or a tuple ``(X, y)``.
        ``checkpoint_dir``: save the training state there every epoch (and every
        ``checkpoint_every`` steps); with ``resume`` continue from it when present. The
        directory is locked while ``fit`` runs (:class:`~deepgrad.train.run.DirLock`).
        ``callbacks``: more callbacks for this ``fit`` only.
        ``run_config``: the run's full configuration (:func:`deepgrad.train.run.run_config`),
        stored in the checkpoints with a fingerprint of the training data; a checkpoint of a
        run with another configuration is refused (:class:`RunConfigMismatch`) unless
        ``force_resume``. ``trainer.run_record`` says what happened (resumes, differences).
        More ``epochs`` than a checkpointed run planned extends it: the learning-rate schedule
        is not stepped past the epochs it was planned for (it holds its last value; no cosine
        wrap-around), and the record says so.
        Returns the ``History`` (one row per epoch: train/dev loss and metrics, lr, time).
        """
        epochs = _count("epochs", epochs, 0, "Trainer.fit")
        if batch_size is not None:
            batch_size = _count("batch_size", batch_size, 1, "Trainer.fit")
        if checkpoint_every is not None:
            checkpoint_every = _count("checkpoint_every", checkpoint_every, 1, "Trainer.fit")
        if self.optimizer is None:
            raise ValueError("Trainer.fit: no optimizer; pass optimizer=deepgrad.optim.Adam(model.parameters(), lr=...)")
        self._loader = loader = self._make_loader(train, shuffle, batch_size, for_training=True)
        if len(loader) == 0:
            raise ValueError(f"Trainer.fit: the training data has no batches ({len(loader.dataset)} examples)")
        dev_loader = self._make_loader(dev, False) if dev is not None else None
        if run_config is not None:
            run_config = {**run_config, "data_fingerprint": data_fingerprint(loader)}
        lock = DirLock(checkpoint_dir, "checkpoint directory").acquire() if checkpoint_dir is not None else None
        callbacks_before = list(self.callbacks)
        try:
            self.callbacks = self.callbacks + list(callbacks)
            if checkpoint_dir is not None and not any(isinstance(c, Checkpointing) for c in self.callbacks):
                self.callbacks.append(Checkpointing(checkpoint_dir, every_n_steps=checkpoint_every))
            for cb in self.callbacks:
                cb.set_trainer(self)
            self._ordered = sorted(self.callbacks, key=lambda c: getattr(c, "order", 0))

            self.stop_training, self.stop_reason = False, None
            resumed_acc = None
            ck_path = os.path.join(os.fspath(checkpoint_dir), FILENAME) if checkpoint_dir is not None else None
            if ck_path and resume and os.path.exists(ck_path):
                ck = load_checkpoint(ck_path)
                self._check_run(ck, ck_path, run_config, force_resume, epochs)
                resumed_acc = self._resume(ck)
                resumed = True
            else:
                resumed = False
                self.history, self.epoch, self.step = History(), 0, 0
                self._schedule_epochs = epochs
                self.run_record = None if run_config is None else {
                    "config": run_config, "config_hash": config_hash(run_config), "planned_epochs": epochs,
                    "resumes": []}
                if self.seed is not None:
                    dg_random.manual_seed(self.seed)
            self.history.run = self.run_record
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
                self.history.stop_reason = self.stop_reason
                self.history.run = self.run_record
                self._call("on_train_end", {"epochs_done": self.epoch, "stop_reason": self.stop_reason})
        finally:
            if self.detect_anomaly:
                set_detect_anomaly(False)
            self.callbacks = callbacks_before
            self._ordered = None
            if lock is not None:
                lock.release()
        return self.history

    def _schedule_active(self, epoch: int) -> bool:
        """Whether the LR schedule steps in ``epoch`` (1-based): not past the epochs it was planned for."""
        return self._schedule_epochs is None or epoch <= self._schedule_epochs

    # ----- seams --------------------------------------------------------------------------------
    @staticmethod
    def unpack(batch):
        """``(inputs, targets)`` of a batch; targets ``None`` for unlabelled batches."""
        if isinstance(batch, (tuple, list)):
            return batch[0], (batch[1] if len(batch) > 1 else None)
        return batch, None

    def compute_loss(self, output, target):
        """The loss of a batch (a scalar Tensor): ``loss_fn(output, target)``."""
        if target is None and self._loss_name in _LOSSES:
            raise ValueError(f"Trainer: the batches have no targets, and loss {self._loss_name!r} needs them; "
                             "give (X, y) or a loss_fn that takes (output, None)")
        return self.loss_fn(output, target)

    def after_backward(self, loss_value: float) -> bool:
        """Run the callbacks' ``on_after_backward`` (gradients ready, no step taken yet);
        False when one of them stopped training (NaNGuard): do not apply this step."""
        self._call("on_after_backward", self.step + 1, {"epoch": self.epoch + 1, "loss": loss_value})
        return not self.stop_training

    def train_step(self, batch) -> dict:
        """One optimization step on ``batch`` (override for custom steps, as Keras' ``train_step``).

        Returns logs: ``loss`` (float), ``output`` and ``target`` (for the metrics; target
        ``None`` for unlabelled batches), ``size`` (examples), and ``skipped=True`` when the
        update was not applied (a callback stopped training after the backward pass).
        The default: forward, :meth:`compute_loss`, ``zero_grad``, backward,
        :meth:`after_backward` (NaNGuard), gradient clipping, ``optimizer.step()``.
        """
        x, y = self.unpack(batch)
        out = self.model(x)
        loss = self.compute_loss(out, y)
        self.optimizer.zero_grad()
        loss.backward()
        loss_value = _scalar(loss)
        logs = {"loss": loss_value, "output": out, "target": y, "size": len(getattr(x, "data", x))}
        if not self.after_backward(loss_value):
            logs["skipped"] = True
            return logs
        if self.grad_clip is not None:
            clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], self.grad_clip)
        self.optimizer.step()
        return logs

    def eval_step(self, batch) -> dict:
        """One batch of evaluation (eval mode, no graph; override as Keras' ``test_step``).

        Returns ``loss`` (float, or None without a loss), ``output``, ``target``, ``size``.
        """
        x, y = self.unpack(batch)
        out = self.model(x)
        loss = _scalar(self.compute_loss(out, y)) if self.loss_fn is not None else None
        return {"loss": loss, "output": out, "target": y, "size": len(getattr(x, "data", x))}

    def _run_epoch(self, loader, dev_loader, epochs, steps_per_epoch, resumed_acc):
        epoch = self.epoch + 1
        self._acc = acc = {"loss_sum": 0.0, "count": 0, "streams": self._new_streams(), "t0": time.perf_counter()}
        if resumed_acc:
            acc.update(loss_sum=float(resumed_acc["loss_sum"]), count=int(resumed_acc["count"]))
            acc["t0"] -= float(resumed_acc["t_elapsed"])
            if "metrics" in resumed_acc:
                for m, st in zip(acc["streams"], resumed_acc["metrics"]):
                    m.load_state_dict(st)
            elif len(resumed_acc.get("y_true", ())):  # a checkpoint of format 1 before streaming metrics
                for m in acc["streams"]:
                    m.update(resumed_acc["y_true"], resumed_acc["y_pred"])
        self._call("on_epoch_begin", epoch, {"epoch": epoch, "steps_per_epoch": steps_per_epoch})
        self.model.train()
        schedule_steps = self.scheduler is not None and self.scheduler_interval == "step" and self._schedule_active(epoch)
        for batch in loader:
            step = self.step + 1
            self._call("on_batch_begin", step, {"epoch": epoch})
            self._last_input = self.unpack(batch)[0]
            out = self.train_step(batch)
            if out.get("skipped") or self.stop_training and "loss" not in out:
                break  # e.g. NaNGuard: this step was not applied
            if schedule_steps:
                self.scheduler.step()
            self.step = step
            loss_value, n, y = float(out["loss"]), int(out.get("size", 0)), out.get("target")
            if self.history.initial_loss is None and math.isfinite(loss_value) and self.epoch == 0:
                self.history.initial_loss = loss_value
            acc["loss_sum"] += loss_value * n
            acc["count"] += n
            if y is not None and acc["streams"]:
                yt, yp = _label_array(y, n), to_labels(getattr(out["output"], "data", out["output"]))
                for m in acc["streams"]:
                    m.update(yt, yp)
            self._call("on_batch_end", step, {"epoch": epoch, "loss": loss_value})
            if self.stop_training:
                break
        self._last_input = None
        if self.stop_training and acc["count"] == 0:
            self._acc = None
            return
        logs = {"epoch": epoch}
        logs["train_loss"] = acc["loss_sum"] / max(acc["count"], 1)
        for m in acc["streams"]:
            v = m.result()
            if not (isinstance(v, float) and math.isnan(v)):
                logs[f"train_{m.name}"] = float(v)
        if dev_loader is not None:
            for k, v in self.evaluate(dev_loader).items():
                logs[f"dev_{k}"] = v
        lr = self._lr()
        if lr is not None:
            logs["lr"] = lr
        logs["time"] = round(time.perf_counter() - acc["t0"], 4)
        self._acc = None
        self.epoch = epoch
        if self.scheduler is not None and self.scheduler_interval == "epoch" and self._schedule_active(epoch):
            self._step_scheduler(logs)
        self.history.append(logs)
        self._call("on_epoch_end", epoch, dict(logs))

    def _step_scheduler(self, logs):
        if _needs_metric(self.scheduler):
            key = self.scheduler_monitor if self.scheduler_monitor in logs else "train_loss"
            self.scheduler.step(logs.get(key))
        else:
            self.scheduler.step()

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
                    outs.append(np.asarray(self.model(self.unpack(batch)[0]).data))
        finally:
            self.model.train(was_training)
        return np.concatenate(outs) if outs else np.zeros(0, np.float32)

    def evaluate(self, data, batch_size: int | None = None) -> dict:
        """Mean loss and metrics over ``data`` (eval mode): ``{"loss": ..., "accuracy": ...}``.

        Batches without targets (inputs only) are accepted as in ``fit``: their loss is
        ``loss_fn(output, None)``, and they count for no metric.
        """
        if batch_size is not None:
            batch_size = _count("batch_size", batch_size, 1, "Trainer.evaluate")
        loader = self._make_loader(data, False, batch_size)
        was_training = self.model.training
        self.model.eval()
        loss_sum, count = 0.0, 0
        streams = self._new_streams()
        try:
            with no_grad():
                for batch in loader:
                    out = self.eval_step(batch)
                    n, y = int(out.get("size", 0)), out.get("target")
                    if out.get("loss") is not None:
                        loss_sum += float(out["loss"]) * n
                    count += n
                    if y is not None:
                        yt, yp = _label_array(y, n), to_labels(getattr(out["output"], "data", out["output"]))
                        for m in streams:
                            m.update(yt, yp)
        finally:
            self.model.train(was_training)
        res = {}
        if self.loss_fn is not None:
            res["loss"] = loss_sum / max(count, 1)
        for m in streams:
            v = m.result()
            if not (isinstance(v, float) and math.isnan(v)):
                res[m.name] = float(v)
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
