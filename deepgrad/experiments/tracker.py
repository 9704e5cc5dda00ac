"""``RunTracker``: a ``Trainer`` callback that records the run in the run store as it trains.

    from deepgrad.experiments import RunStore, RunTracker
    tracker = RunTracker("runs/runs.sqlite", recipe="my-mlp", config={"lr": 1e-3}, seed=0)
    trainer = Trainer(model, opt, callbacks=[tracker])
    trainer.fit((X, y), dev=(Xd, yd), epochs=5)
    tracker.run_id                     # -> "my-mlp-20261202-153000-1a2b3c"

At the start of ``fit`` the run is added (status ``running``; the config is the trainer's
run identity when ``fit(run_config=...)`` was given, which includes the training data's
fingerprint, else ``config``), each epoch's logs are written as the epoch ends, and at the
end the status (``History.status()``), the last epoch's metrics, the training time, the
parameter count and the per-example inference time (``predict_ms``) are filled in.
:meth:`complete` adds what is known only later (test metrics, the model file).

A failure to write the store never stops training: it is printed once on stderr (and kept
in ``tracker.error``); the run's own files are written as usual.
"""
from __future__ import annotations

import os
import sys
import time
import uuid

import numpy as np

from ..train.callbacks import Callback
from .store import RunStore, RunStoreError


def count_parameters(model) -> int:
    """The number of trainable numbers in ``model`` (every parameter's size)."""
    return int(sum(int(np.prod(p.shape)) for p in model.parameters()))


def measure_predict_ms(model, x, repeats: int = 3, max_examples: int = 256) -> float | None:
    """Per-example inference time in milliseconds: the median over ``repeats`` forward passes
    (eval mode, no graph) of a batch of up to ``max_examples`` inputs, divided by the batch size."""
    from ..autograd import no_grad
    from ..tensor import Tensor

    if x is None:
        return None
    arr = np.asarray(getattr(x, "data", x))[:max_examples]
    if len(arr) == 0:
        return None
    was_training = model.training
    model.eval()
    times = []
    try:
        with no_grad():
            xt = Tensor(arr)
            model(xt)  # warm-up
            for _ in range(repeats):
                t = time.perf_counter()
                model(xt)
                times.append(time.perf_counter() - t)
    finally:
        model.train(was_training)
    return float(np.median(times)) * 1000.0 / len(arr)


class RunTracker(Callback):
    """Records a ``Trainer.fit`` run in a :class:`RunStore` (a store or a path; None: the default store).

    ``splits``: a :class:`deepgrad.data.Splits` (:func:`deepgrad.data.make_splits`) or its
    ``record()``, stored with the run; without it the training set's size is recorded."""

    order = 100  # after the guards, so the epoch row is the one that was kept

    def __init__(self, store=None, recipe: str | None = None, config: dict | None = None, seed=None,
                 splits=None, out_dir=None, source: str = "fit", measure_inference: bool = True,
                 quiet: bool = False):
        self.store_arg = store
        if hasattr(splits, "record"):  # a deepgrad.data.Splits
            splits = splits.record()
        self.recipe, self.config, self.seed, self.splits = recipe, config, seed, splits
        self.out_dir, self.source = out_dir, source
        self.measure_inference = measure_inference
        self.quiet = quiet
        self.run_id = None
        self.error: str | None = None
        self.params = None
        self.predict_ms = None
        self._store: RunStore | None = None
        self._sample = None
        self._t0 = None

    @property
    def store(self) -> RunStore | None:
        if self._store is None and self.error is None:
            try:
                self._store = self.store_arg if isinstance(self.store_arg, RunStore) else RunStore(self.store_arg)
            except RunStoreError as e:
                self._fail(e)
        return self._store

    def _fail(self, e) -> None:
        if self.error is None and not self.quiet:
            print(f"deepgrad: warning: the run is not recorded in the run store: {e}", file=sys.stderr)
        self.error = str(e)

    def _safe(self, fn):
        if self.error is not None or self.store is None:
            return None
        try:
            return fn(self.store)
        except (RunStoreError, OSError) as e:
            self._fail(e)
            return None

    # ----- callback hooks -------------------------------------------------------------------------
    def on_train_begin(self, logs):
        self._t0 = time.perf_counter()
        trainer = self.trainer
        trainer.history.tracker = self  # recipes' finish() completes the record through it
        if self.run_id is not None and logs.get("resumed"):  # fit() resumed from a checkpoint: the same record
            return
        self.params = self.predict_ms = None  # a new fit() is a new run
        record = getattr(trainer, "run_record", None) or {}
        config = record.get("config") or self.config
        recipe = self.recipe or (config or {}).get("recipe")
        seed = self.seed if self.seed is not None else (config or {}).get("seed", getattr(trainer, "seed", None))
        splits = self.splits
        if splits is None:
            loader = getattr(trainer, "_loader", None)
            n = len(loader.dataset) if loader is not None and hasattr(loader.dataset, "__len__") else None
            splits = {"train": {"examples": n}} if n is not None else None
        run_id = None
        base = os.path.basename(os.path.normpath(os.fspath(self.out_dir))) if self.out_dir else ""
        if recipe and base.startswith(f"{recipe}-"):  # runs/<recipe>-<time>: the id starts with the folder's name
            run_id = f"{base}-{uuid.uuid4().hex[:6]}"
        self.run_id = self._safe(lambda s: s.start_run(recipe=recipe, config=config, seed=seed, splits=splits,
                                                       source=self.source, out_dir=self.out_dir, run_id=run_id,
                                                       config_hash=record.get("config_hash")))
        # earlier epochs of a resumed run (rebuilt from the checkpoint) belong to this record too
        for row in trainer.history.rows:
            self._safe(lambda s, r=row: s.log_epoch(self.run_id, r["epoch"], r))

    def on_batch_end(self, step, logs):
        if self._sample is None and self.measure_inference:
            x = getattr(self.trainer, "_last_input", None)
            if x is not None:
                self._sample = np.array(getattr(x, "data", x)[:256], copy=True)

    def on_epoch_end(self, epoch, logs):
        if self.run_id is not None:
            self._safe(lambda s: s.log_epoch(self.run_id, epoch, logs))

    def on_train_end(self, logs):
        trainer = self.trainer
        if self.run_id is None:
            return
        history = trainer.history
        status = history.status() if hasattr(history, "status") else {"status": "ok", "message": ""}
        try:
            self.params = count_parameters(trainer.model)
        except Exception:  # noqa: BLE001 - a model without parameters() is still a run
            self.params = None
        if self.measure_inference and self.predict_ms is None and status["status"] not in ("nan",):
            try:
                self.predict_ms = measure_predict_ms(trainer.model, self._sample)
            except Exception:  # noqa: BLE001 - timing is best effort; the run's record stands
                self.predict_ms = None
        final = {k: v for k, v in history.last().items() if k not in ("epoch", "time")}
        train_s = sum(float(r.get("time", 0.0)) for r in history.rows)
        self._safe(lambda s: s.update_run(
            self.run_id, status=status["status"], status_message=status["message"] or None, final=final,
            durations={"train_s": round(train_s, 3), "fit_s": round(time.perf_counter() - self._t0, 3)},
            params=self.params, predict_ms=self.predict_ms, finished=_now()))

    # ----- after fit ------------------------------------------------------------------------------
    def complete(self, final: dict | None = None, model_path=None, out_dir=None, durations: dict | None = None,
                 config: dict | None = None, status: str | None = None, status_message: str | None = None,
                 splits: dict | None = None) -> None:
        """Add what is known after ``fit``: final (e.g. test) metrics, the model file, the output folder."""
        if self.run_id is None:
            return
        fields = {"final": final, "model_path": model_path, "out_dir": out_dir, "durations": durations,
                  "config": config, "status": status, "status_message": status_message, "splits": splits}
        fields = {k: v for k, v in fields.items() if v is not None}
        if fields:
            self._safe(lambda s: s.update_run(self.run_id, **fields))
        self.close()

    def close(self) -> None:
        """Close the store's connection (it is opened again if the tracker writes again)."""
        if self._store is not None and self._store is not self.store_arg:
            self._store.close()
        self._store = None


def _now():
    from .store import _now as now

    return now()
