"""Bridges to the usual tracking tools: TensorBoard and MLflow, as ``Trainer`` callbacks.

    from deepgrad.experiments.bridges import MLflowLogger, TensorBoardLogger
    trainer = Trainer(model, opt, callbacks=[TensorBoardLogger("runs/tb/mlp"),
                                             MLflowLogger("file:./mlruns", experiment="mlp")])
    trainer.fit((X, y), dev=(Xd, yd), epochs=5)

Both are optional extras: ``pip install 'deepgrad[tensorboard]'`` (tensorboardX writes the
event files; TensorBoard, which reads them, comes with it) and ``pip install 'deepgrad[mlflow]'``
(mlflow-skinny, the MLflow client without a server). ``deepgrad run RECIPE --tensorboard DIR
--mlflow URI`` adds them to a recipe's run.

**TensorBoard** (``TensorBoardLogger(log_dir)``), Keras' layout, so that TensorBoard draws train
and dev on one chart: ``log_dir/train`` holds ``epoch_<metric>`` for every ``train_<metric>``
of the epoch's logs, and ``lr``; ``log_dir/dev`` holds ``epoch_<metric>`` for every
``dev_<metric>``; the step is the epoch. With ``histograms`` (default), ``log_dir/train``
also holds, per parameter and epoch, ``weights/<name>`` (the values after the epoch) and
``gradients/<name>`` (the gradient of the epoch's last mini-batch). The run's configuration
is a text summary ``config``. A resumed run (``fit(checkpoint_dir=...)``) purges what a killed
run had written after its checkpoint. View with ``tensorboard --logdir DIR``.

**MLflow** (``MLflowLogger(tracking_uri, experiment)``): one MLflow run per ``fit`` (continued
when ``fit`` resumes from a checkpoint: the MLflow run id is part of the checkpoint): the
run's configuration as params (nested keys joined with dots), every number of each epoch's
logs as a metric with ``step=epoch``, the model as an artifact ``model.safetensors`` (with
``log_model``), and the run's status at the end (``FINISHED``; ``FAILED`` for a run that
stopped on NaN or diverged). :meth:`MLflowLogger.complete` adds what is known after ``fit``
(``deepgrad run`` calls it): the final (test) metrics and files (the saved model, plots).
A ``file:`` URI is MLflow's file store (MLflow 3 keeps it in maintenance mode and asks for an
opt-in, ``MLFLOW_ALLOW_FILE_STORE``, which this logger sets for ``file:`` URIs);
``sqlite:///mlflow.db`` and ``http://host:5000`` work as well. MLflow's telemetry is turned
off (``MLFLOW_DISABLE_TELEMETRY``, ``DO_NOT_TRACK``) before MLflow is imported: nothing here
reaches the network unless the URI names a server.

As with the run store, a failure to write (a full disk, a server gone) never stops training:
it is printed once on stderr and kept in ``logger.error``. A missing library is an
``ImportError`` when the logger is made, before any training.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import sys
import tempfile
import time

import numpy as np

from ..train.callbacks import Callback

#: what to install for each bridge
EXTRAS = {"tensorboard": "pip install 'deepgrad[tensorboard]' (tensorboardX)",
          "mlflow": "pip install 'deepgrad[mlflow]' (mlflow-skinny)"}


def tensorboard_tag(key: str) -> tuple[str, str] | None:
    """Where an epoch log ``key`` goes in TensorBoard: ``(subfolder, tag)``, or None (not written).

    ``train_loss`` -> ``("train", "epoch_loss")``, ``dev_accuracy`` -> ``("dev", "epoch_accuracy")``,
    ``lr`` -> ``("train", "lr")``; ``epoch`` and ``time`` are not scalars of the run."""
    if key in ("epoch", "time"):
        return None
    for prefix in ("train", "dev"):
        if key.startswith(prefix + "_"):
            return prefix, "epoch_" + key[len(prefix) + 1:]
    return "train", key


def _number(v) -> float | None:
    """``v`` as a float when it is a real number (not a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    return float(v)


def flatten_params(config: dict | None, prefix: str = "") -> dict[str, str]:
    """A nested configuration as MLflow params: keys joined with dots, values as strings
    (lists and other values as JSON), each at most MLflow's 6000 characters."""
    out: dict[str, str] = {}
    for k, v in (config or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten_params(v, key + "."))
            continue
        text = v if isinstance(v, str) else json.dumps(v, default=str)
        out[key] = text[:6000]
    return out


class _Bridge(Callback):
    """What the two bridges share: failing once, quietly after that."""

    order = 70  # after the guards and early stopping; before checkpointing and the run store
    name = "bridge"

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.error: str | None = None

    def _fail(self, e: BaseException) -> None:
        if self.error is None and not self.quiet:
            print(f"deepgrad: warning: {self.name}: {type(e).__name__}: {e}; training goes on without it",
                  file=sys.stderr)
        self.error = f"{type(e).__name__}: {e}"

    def _safe(self, fn, *args):
        if self.error is not None:
            return None
        try:
            return fn(*args)
        except Exception as e:  # noqa: BLE001 - a tracking failure never stops training
            self._fail(e)
            return None

    def on_train_begin(self, logs):
        # fit() may have made a new History (or rebuilt one from a checkpoint): recipes' finish()
        # finds the bridges there to complete them
        history = self.trainer.history
        if self not in (getattr(history, "bridges", None) or []):
            history.bridges = [*(getattr(history, "bridges", None) or []), self]
        self._safe(self._begin, logs or {})

    def _begin(self, logs: dict) -> None:
        raise NotImplementedError

    def complete(self, final: dict | None = None, files=(), status: str | None = None) -> None:
        """Add what is known after ``fit``: final metrics (e.g. test accuracy) and files."""


def _run_config(trainer, given: dict | None) -> dict | None:
    record = getattr(trainer, "run_record", None) or {}
    return record.get("config") or given


# ----- TensorBoard ---------------------------------------------------------------------------------
def _summary_writer():
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        raise ImportError(f"TensorBoardLogger needs tensorboardX: {EXTRAS['tensorboard']}") from None
    return SummaryWriter


_EVENT_FILES = itertools.count()


def _event_suffix() -> str:
    """A suffix that makes each event file's name unique: tensorboardX names a file by the
    second it was opened and the host, so two writers opened in the same second in one folder
    (training, then the final metrics) would write the same file, the second erasing the first."""
    return f".{os.getpid()}.{next(_EVENT_FILES)}"


class TensorBoardLogger(_Bridge):
    """Writes TensorBoard event files in ``log_dir`` (see the module's documentation for the layout).

    ``histograms``: weight and gradient histograms per parameter every ``histogram_every``
    epochs (and at the last epoch); ``config``: the run's configuration to show as text (default:
    the trainer's run identity when ``fit(run_config=...)`` was given)."""

    name = "TensorBoardLogger"

    def __init__(self, log_dir, histograms: bool = True, histogram_every: int = 1, config: dict | None = None,
                 flush_secs: int = 30, quiet: bool = False):
        super().__init__(quiet)
        self.writer_class = _summary_writer()  # a missing tensorboardX fails here, before training
        self.log_dir = os.fspath(log_dir)
        if histogram_every < 1:
            raise ValueError(f"TensorBoardLogger: histogram_every must be at least 1, got {histogram_every}")
        self.histograms, self.histogram_every = histograms, int(histogram_every)
        self.config, self.flush_secs = config, flush_secs
        self.writers: dict = {}
        self._epochs = None
        self._purge_step: int | None = None

    def _writer(self, split: str):
        w = self.writers.get(split)
        if w is None:
            w = self.writers[split] = self.writer_class(os.path.join(self.log_dir, split), flush_secs=self.flush_secs,
                                                       purge_step=self._purge_step, filename_suffix=_event_suffix())
        return w

    def _begin(self, logs: dict) -> None:
        from ..train.callbacks import check_writable_file

        self.close()
        check_writable_file(os.path.join(self.log_dir, "train", ".probe"), self.name)
        self._epochs = logs.get("epochs")
        start = int(logs.get("start_epoch") or 1)
        # a resumed run: TensorBoard drops what a killed run wrote from this epoch on
        self._purge_step = start if logs.get("resumed") else None
        config = _run_config(self.trainer, self.config)
        if config and not logs.get("resumed"):
            text = "```\n" + json.dumps(config, indent=2, sort_keys=True, default=str) + "\n```"
            self._writer("train").add_text("config", text, 0)

    def on_epoch_end(self, epoch, logs):
        self._safe(self._epoch, epoch, logs)

    def _epoch(self, epoch: int, logs: dict) -> None:
        wall = time.time()
        for key, value in logs.items():
            where, v = tensorboard_tag(key), _number(value)
            if where is None or v is None:
                continue
            self._writer(where[0]).add_scalar(where[1], v, epoch, walltime=wall)
        last = self._epochs is not None and epoch >= self._epochs
        if self.histograms and (epoch % self.histogram_every == 0 or last or self.trainer.stop_training):
            w = self._writer("train")
            for name, p in self.trainer.model.named_parameters():
                values = np.asarray(p.data, dtype=np.float64).ravel()
                if values.size and np.isfinite(values).all():
                    w.add_histogram(f"weights/{name}", values, epoch, walltime=wall)
                grad = getattr(p, "grad", None)
                if grad is not None:
                    g = np.asarray(grad, dtype=np.float64).ravel()
                    if g.size and np.isfinite(g).all():
                        w.add_histogram(f"gradients/{name}", g, epoch, walltime=wall)
        for w in self.writers.values():
            w.flush()

    def on_train_end(self, logs):
        self._safe(self.close)

    def complete(self, final: dict | None = None, files=(), status: str | None = None) -> None:
        """Final metrics (e.g. ``test_accuracy``) as scalars ``final/<name>`` at the last epoch."""
        numbers = {k: _number(v) for k, v in (final or {}).items()}
        numbers = {k: v for k, v in numbers.items() if v is not None and math.isfinite(v)}
        if not numbers or self.error is not None:
            return
        step = len(getattr(self.trainer, "history", []) or []) if hasattr(self, "trainer") else 0

        def write():
            w = self.writer_class(os.path.join(self.log_dir, "train"), flush_secs=self.flush_secs,
                                  filename_suffix=_event_suffix())
            try:
                for k, v in numbers.items():
                    w.add_scalar(f"final/{k}", v, step)
            finally:
                w.close()

        self._safe(write)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()
        self.writers = {}


# ----- MLflow --------------------------------------------------------------------------------------
def _mlflow_env(tracking_uri: str) -> None:
    """Before MLflow is imported: no telemetry; the file store allowed for ``file:`` URIs."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    if is_file_uri(tracking_uri):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def is_file_uri(uri: str) -> bool:
    """Whether ``uri`` is a local MLflow file store: ``file:...`` or a plain path."""
    return uri.startswith("file:") or "://" not in uri and not uri.startswith(("sqlite:", "databricks"))


def file_store_path(uri: str) -> str:
    """The folder of a ``file:`` URI (``file:./mlruns``, ``file:///abs/mlruns``) or a plain path."""
    from urllib.parse import unquote, urlparse

    if not uri.startswith("file:"):
        return uri
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.netloc in ("", "localhost") and uri.startswith("file://") else uri[5:]


def mlflow_client(tracking_uri: str):
    """An ``MlflowClient`` for ``tracking_uri`` (telemetry off; see :func:`_mlflow_env`)."""
    _mlflow_env(tracking_uri)
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ImportError(f"MLflowLogger needs MLflow: {EXTRAS['mlflow']}") from None
    if is_file_uri(tracking_uri):  # MLflow wants file:///absolute/path
        import pathlib

        tracking_uri = pathlib.Path(os.path.abspath(file_store_path(tracking_uri))).as_uri()
    return MlflowClient(tracking_uri=tracking_uri)


class MLflowLogger(_Bridge):
    """Logs a ``fit`` as an MLflow run in ``experiment`` (created if needed) at ``tracking_uri``.

    ``params``: the configuration to log (default: the trainer's run identity, else nothing);
    ``run_name``: MLflow's run name; ``tags``: more tags; ``log_model``: save the model at the
    end of ``fit`` and log it as the artifact ``model.safetensors``. ``logger.run_id`` is the
    MLflow run's id."""

    name = "MLflowLogger"

    def __init__(self, tracking_uri: str = "file:./mlruns", experiment: str = "deepgrad", run_name: str | None = None,
                 params: dict | None = None, tags: dict | None = None, log_model: bool = True, quiet: bool = False):
        super().__init__(quiet)
        self.tracking_uri = os.fspath(tracking_uri)
        _mlflow_env(self.tracking_uri)
        try:  # a missing MLflow fails here, before training
            import mlflow.tracking  # noqa: F401
        except ImportError:
            raise ImportError(f"MLflowLogger needs MLflow: {EXTRAS['mlflow']}") from None
        self.experiment, self.run_name = experiment, run_name
        self.params, self.tags, self.log_model = params, dict(tags or {}), log_model
        self.run_id: str | None = None
        self.experiment_id: str | None = None
        self._client = None
        self._terminated = False

    @property
    def client(self):
        if self._client is None:
            self._client = mlflow_client(self.tracking_uri)
        return self._client

    def _begin(self, logs: dict) -> None:
        client = self.client
        if self.run_id is not None and logs.get("resumed"):  # the checkpoint's MLflow run goes on
            client.update_run(self.run_id, status="RUNNING")
            self._terminated = False
            return
        exp = client.get_experiment_by_name(self.experiment)
        self.experiment_id = exp.experiment_id if exp is not None else client.create_experiment(self.experiment)
        config = _run_config(self.trainer, self.params)
        tags = {"deepgrad.source": "Trainer.fit", **{k: str(v) for k, v in self.tags.items()}}
        record = getattr(self.trainer, "run_record", None) or {}
        if record.get("config_hash"):
            tags["deepgrad.config_hash"] = record["config_hash"]
        run = client.create_run(self.experiment_id, run_name=self.run_name, tags=tags)
        self.run_id = run.info.run_id
        self._terminated = False
        if config:
            from mlflow.entities import Param

            params = [Param(k, v) for k, v in flatten_params(config).items()]
            for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
                client.log_batch(self.run_id, params=params[i:i + 100])
        # epochs of a resumed run that this logger did not see (a checkpoint of an untracked run)
        for row in self.trainer.history.rows:
            self._log_epoch(int(row["epoch"]), row)

    def on_epoch_end(self, epoch, logs):
        if self.run_id is not None:
            self._safe(self._log_epoch, epoch, logs)

    def _log_epoch(self, epoch: int, logs: dict) -> None:
        from mlflow.entities import Metric

        ms = int(time.time() * 1000)
        metrics = []
        for k, v in logs.items():
            x = _number(v)
            if k != "epoch" and x is not None:
                metrics.append(Metric(k, x, ms, int(epoch)))
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_train_end(self, logs):
        if self.run_id is None:
            return
        self._safe(self._end)

    def _end(self) -> None:
        trainer = self.trainer
        if self.log_model:
            from ..serialization import save_model

            with tempfile.TemporaryDirectory(prefix="deepgrad-mlflow-") as d:
                path = os.path.join(d, "model.safetensors")
                save_model(trainer.model, path, metadata={"epochs": str(trainer.epoch)})
                self.client.log_artifact(self.run_id, path)
        history = trainer.history
        status = history.status()["status"] if hasattr(history, "status") else "ok"
        self.client.set_tag(self.run_id, "deepgrad.status", status)
        if trainer.stop_reason:
            self.client.set_tag(self.run_id, "deepgrad.stop_reason", str(trainer.stop_reason)[:5000])
        self.client.set_terminated(self.run_id, status="FAILED" if status in ("nan", "diverged") else "FINISHED")
        self._terminated = True

    def complete(self, final: dict | None = None, files=(), status: str | None = None) -> None:
        """Log the final metrics (e.g. ``test_accuracy``; step = the epochs trained) and files as
        artifacts (a file in a list of files, or a folder's files under the folder's name)."""
        if self.run_id is None or self.error is not None:
            return

        def write():
            from mlflow.entities import Metric

            step = len(self.trainer.history) if hasattr(self, "trainer") else 0
            ms = int(time.time() * 1000)
            metrics = [Metric(k, x, ms, step) for k, x in ((k, _number(v)) for k, v in (final or {}).items())
                       if x is not None and math.isfinite(x)]
            if metrics:
                self.client.log_batch(self.run_id, metrics=metrics)
            for f in files or ():
                f = os.fspath(f)
                if os.path.isdir(f):
                    self.client.log_artifacts(self.run_id, f, artifact_path=os.path.basename(os.path.normpath(f)))
                elif os.path.exists(f):
                    self.client.log_artifact(self.run_id, f)
            if status is not None:
                self.client.set_tag(self.run_id, "deepgrad.status", status)

        self._safe(write)

    def state_dict(self) -> dict:
        return {"run_id": self.run_id, "experiment_id": self.experiment_id} if self.run_id else {}

    def load_state_dict(self, state: dict) -> None:
        self.run_id = state.get("run_id") or self.run_id
        self.experiment_id = state.get("experiment_id") or self.experiment_id
