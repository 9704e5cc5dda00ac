"""Network health: ``inspect(model, batch, loss_fn)`` -> a table per layer and per parameter, and a PNG.

Per layer (each module without children, on one batch, in training mode): the activation mean, standard deviation,
fraction of zeros, dead units (ReLU units never active over the batch: a channel of a
conv output, a feature of a dense one) and saturated units (sigmoid outputs below 0.01 or
above 0.99, tanh beyond +-0.99).

Per parameter (after one backward of the loss): the gradient norm, its RMS, and the
update-to-weight ratio ``lr ||grad|| / ||W||`` (an SGD step; the rule of thumb wants about
1e-3: much lower and the layer barely learns, much higher and it thrashes). With the
Trainer callback :class:`HealthMonitor` the update ratio is measured from the optimizer's
real step instead.

Flags: ``vanishing`` (a weight's gradient RMS below 1e-3 of the largest weight gradient RMS
in the model, or its gradient norm below 1e-4 of its own norm), ``exploding`` (gradient RMS
above 10, or not finite), ``dead`` (over 50% dead units), ``saturated`` (over 20% saturated
values), ``signal lost`` (a layer's activation std below 1e-2 of the largest std before it),
``slow``/``fast`` updates (ratio below 1e-5 or above 1e-1).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..tensor import Tensor
from ._trace import leaf_modules, record_outputs

VANISH, EXPLODE, DEAD, SATURATED, SLOW, FAST = 1e-3, 10.0, 0.5, 0.2, 1e-5, 1e-1


@dataclass
class LayerStats:
    name: str
    kind: str
    shape: tuple
    mean: float
    std: float
    zero_fraction: float
    dead_fraction: float | None  # ReLU layers: fraction of units never active; None otherwise
    saturated_fraction: float | None  # sigmoid/tanh layers
    flags: list = field(default_factory=list)
    sample: np.ndarray | None = None  # a subsample of the values, for the histograms


@dataclass
class ParamStats:
    name: str
    shape: tuple
    weight_norm: float
    grad_norm: float
    grad_rms: float
    update_ratio: float
    flags: list = field(default_factory=list)


@dataclass
class HealthReport:
    layers: list
    params: list
    loss: float
    lr: float | None = None
    measured_update: bool = False

    @property
    def flags(self) -> list:
        """Every flag as 'name: flag' (layers first, then parameters)."""
        return [f"{r.name}: {f}" for r in self.layers + self.params for f in r.flags]

    def layer(self, name) -> LayerStats:
        return next(r for r in self.layers if r.name == name)

    def param(self, name) -> ParamStats:
        return next(r for r in self.params if r.name == name)

    def as_row(self) -> dict:
        """Flat numbers for a History row (what the Trainer callback records each epoch)."""
        row = {}
        for r in self.layers:
            row[f"act_std/{r.name}"] = r.std
            row[f"zero_frac/{r.name}"] = r.zero_fraction
            if r.dead_fraction is not None:
                row[f"dead/{r.name}"] = r.dead_fraction
            if r.saturated_fraction is not None:
                row[f"saturated/{r.name}"] = r.saturated_fraction
        for p in self.params:
            row[f"grad_rms/{p.name}"] = p.grad_rms
            row[f"update_ratio/{p.name}"] = p.update_ratio
        return row

    def table(self) -> str:
        lines = [f"loss {self.loss:.4g}", ""]
        head = ("layer", "type", "output", "mean", "std", "zeros", "dead", "saturated", "flags")
        rows = [(r.name, r.kind, "x".join(map(str, r.shape[1:])) or "-", f"{r.mean:.3g}", f"{r.std:.3g}",
                 f"{r.zero_fraction:.0%}", "-" if r.dead_fraction is None else f"{r.dead_fraction:.0%}",
                 "-" if r.saturated_fraction is None else f"{r.saturated_fraction:.0%}", " ".join(r.flags))
                for r in self.layers]
        lines += _fmt_table(head, rows)
        ratio = "update/weight" + ("" if self.measured_update else f" (SGD step, lr {self.lr:g})")
        phead = ("parameter", "shape", "|W|", "|grad|", "grad rms", ratio, "flags")
        prows = [(p.name, "x".join(map(str, p.shape)), f"{p.weight_norm:.3g}", f"{p.grad_norm:.3g}", f"{p.grad_rms:.3g}",
                 "-" if not np.isfinite(p.update_ratio) else f"{p.update_ratio:.2e}", " ".join(p.flags))
                for p in self.params]
        lines += [""] + _fmt_table(phead, prows)
        flags = self.flags
        lines += ["", "flags: " + ("; ".join(flags) if flags else "none (the update/weight rule of thumb is ~1e-3)")]
        return "\n".join(lines)

    __str__ = table

    def plot(self, path: str, title: str = "") -> str:
        """Per-layer bars (activation std, zeros/dead, gradient RMS, update ratio) and activation histograms."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker

        L = self.layers
        hist_layers = [r for r in L if r.sample is not None and r.sample.size][:8]
        ncols = 4
        nrows = 1 + (len(hist_layers) + ncols - 1) // ncols
        fig = plt.figure(figsize=(16, 3.6 * nrows))
        names = [r.name for r in L]
        y = np.arange(len(L))
        ax = fig.add_subplot(nrows, ncols, 1)
        ax.barh(y, [max(r.std, 1e-12) if np.isfinite(r.std) else 0 for r in L],
                color=["tab:red" if r.flags else "tab:blue" for r in L])
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("activation std per layer (red: flagged)")
        ax = fig.add_subplot(nrows, ncols, 2)
        ax.barh(y - 0.2, [r.zero_fraction for r in L], 0.4, label="zeros", color="tab:gray")
        ax.barh(y + 0.2, [r.dead_fraction or 0 for r in L], 0.4, label="dead units", color="tab:red")
        ax.set_yticks(y, names, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.legend(fontsize=7)
        ax.set_title("fraction of zeros / dead units")
        P = self.params
        yp = np.arange(len(P))
        pn = [p.name for p in P]
        ax = fig.add_subplot(nrows, ncols, 3)
        ax.barh(yp, [max(p.grad_rms, 1e-30) for p in P], color=["tab:red" if p.flags else "tab:green" for p in P])
        ax.set_xscale("log")
        ax.set_yticks(yp, pn, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("gradient RMS per parameter")
        ax = fig.add_subplot(nrows, ncols, 4)
        ax.barh(yp, [max(p.update_ratio, 1e-30) if np.isfinite(p.update_ratio) else 0 for p in P], color="tab:purple")
        ax.axvline(1e-3, color="k", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_yticks(yp, pn, fontsize=7)
        ax.invert_yaxis()
        ax.set_title("update / weight (dashed: 1e-3)")
        for i, r in enumerate(hist_layers):
            ax = fig.add_subplot(nrows, ncols, ncols + 1 + i)
            ax.hist(r.sample, bins=50, color="tab:blue")
            ax.set_title(f"{r.name} ({r.kind}), std {r.std:.2g}", fontsize=8)
            ax.set_yscale("log")
        fig.suptitle(title or "network health")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def _fmt_table(head, rows) -> list:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    fmt = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return [fmt(head), "-" * len(fmt(head))] + [fmt(r) for r in rows]


_RELU_KINDS = ("ReLU", "Conv2dReLUMaxPool2d")


def _layer_stats(name, module, out: np.ndarray, rng) -> LayerStats:
    kind = type(module).__name__
    a = np.asarray(out, dtype=np.float64)
    finite = a[np.isfinite(a)]
    mean = float(finite.mean()) if finite.size else float("nan")
    std = float(finite.std()) if finite.size else float("nan")
    zeros = float(np.mean(a == 0)) if a.size else 0.0
    dead = sat = None
    flags = []
    if kind in _RELU_KINDS or (a.size and zeros > 0 and a.min() >= 0 and kind not in ("Dropout", "Sigmoid", "Softmax")):
        unit_axes = tuple(i for i in range(a.ndim) if i != 1) if a.ndim > 1 else (0,)
        active = np.any(a > 0, axis=unit_axes)
        dead = float(1 - active.mean()) if active.size else 0.0
        if dead > DEAD:
            flags.append(f"dead {dead:.0%}")
    if kind == "Sigmoid":
        sat = float(np.mean((a < 0.01) | (a > 0.99)))
    elif kind == "Tanh":
        sat = float(np.mean(np.abs(a) > 0.99))
    if sat is not None and sat > SATURATED:
        flags.append(f"saturated {sat:.0%}")
    if not np.isfinite(a).all():
        flags.append("non-finite")
    flat = a.ravel()
    sample = flat if flat.size <= 20000 else rng.choice(flat, 20000, replace=False)
    return LayerStats(name, kind, tuple(a.shape), mean, std, zeros, dead, sat, flags, sample)


def _param_stats(named, lr, updates=None) -> list:
    out = []
    for name, p in named:
        w = np.asarray(p.data, dtype=np.float64)
        g = np.zeros_like(w) if p.grad is None else np.asarray(p.grad, dtype=np.float64)
        wn, gn = float(np.linalg.norm(w)), float(np.linalg.norm(g))
        rms = gn / np.sqrt(max(g.size, 1))
        if wn == 0:  # e.g. biases initialized to zero: no ratio to speak of
            ratio = float("nan")
        elif updates is not None and name in updates:
            ratio = updates[name] / wn
        else:
            ratio = (lr or 0.0) * gn / wn
        out.append(ParamStats(name, tuple(w.shape), wn, gn, float(rms), float(ratio)))
    weights = [s for s in out if len(s.shape) >= 2]
    top = max((s.grad_rms for s in weights), default=0.0)
    for s in out:
        if not np.isfinite(s.grad_rms) or s.grad_rms > EXPLODE:
            s.flags.append("exploding")
        elif len(s.shape) >= 2 and ((top > 0 and s.grad_rms < VANISH * top)
                                    or (s.weight_norm > 0 and s.grad_norm < 1e-4 * s.weight_norm)):
            s.flags.append("vanishing")
        if np.isfinite(s.update_ratio) and s.grad_norm > 0:
            if s.update_ratio < SLOW:
                s.flags.append("slow updates")
            elif s.update_ratio > FAST:
                s.flags.append("fast updates")
    return out


def _loss_callable(loss_fn):
    from .gradcheck import named_loss

    return named_loss(loss_fn)


def layer_stats(model, x, seed: int = 0, train: bool = True) -> list:
    """Activation statistics of every layer on the inputs ``x`` (no gradients)."""
    from ..autograd import no_grad

    rng = np.random.default_rng(seed)
    was = model.training
    model.train(train)
    try:
        with no_grad(), record_outputs(model) as outs:
            model(x if isinstance(x, Tensor) else Tensor(np.asarray(x)))
    finally:
        model.train(was)
    return _flag_signal([_layer_stats(n, m, outs[n].data, rng) for n, m in leaf_modules(model) if n in outs])


def _flag_signal(layers):
    """Flag layers whose activations have all but vanished compared with an earlier layer."""
    top = 0.0
    for r in layers:
        if np.isfinite(r.std) and top > 0 and r.std < 1e-2 * top:
            r.flags.append("signal lost")
        if np.isfinite(r.std):
            top = max(top, r.std)
    return layers


def inspect(model, batch, loss_fn="cross_entropy", lr: float = 1e-3, out: str | None = None, train: bool = True,
            title: str = "") -> HealthReport:
    """One forward and backward pass on ``batch = (x, y)``: the health table (and a PNG at ``out``).

    The model's gradients are left as they were (``.grad`` is restored); running statistics
    of BatchNorm layers are restored too, so inspecting does not change the model.
    """
    x, y = batch
    xt = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    yt = y if isinstance(y, Tensor) else Tensor(np.asarray(y))
    loss_fn = _loss_callable(loss_fn)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    saved_grads = [p.grad for _, p in named]
    saved_buffers = {k: np.array(v, copy=True) for k, v in model.named_buffers()}
    was = model.training
    rng = np.random.default_rng(0)
    try:
        model.train(train)
        for _, p in named:
            p.grad = None
        with record_outputs(model) as outs:
            loss = loss_fn(model(xt), yt)
        loss.backward()
        layers = _flag_signal([_layer_stats(n, m, outs[n].data, rng) for n, m in leaf_modules(model) if n in outs])
        params = _param_stats(named, lr)
        return_report = HealthReport(layers, params, float(np.asarray(loss.data)), lr)
    finally:
        for (_, p), g in zip(named, saved_grads):
            p.grad = g
        state = {**{k: v for k, v in saved_buffers.items()}}
        for mname, m in model.named_modules():
            for bname in list(m._buffers):
                key = f"{mname}.{bname}" if mname else bname
                if key in state and m._buffers[bname] is not None:
                    m._buffers[bname][...] = state[key]
        model.train(was)
    if out:
        return_report.plot(out, title)
    return return_report


# ----- over training: a Trainer callback ------------------------------------------------------------
class HealthMonitor:
    """Record network health into the Trainer's History at the end of every ``every``-th epoch.

    Gradients and the real update-to-weight ratio (the optimizer's step, measured) come from the
    epoch's last batch; activation statistics from a forward pass in eval mode on ``probe`` (an
    input batch; default: the epoch's last training batch). Columns added to each History row:
    ``act_std/<layer>``, ``zero_frac/<layer>``, ``dead/<layer>``, ``saturated/<layer>``,
    ``grad_rms/<param>``, ``update_ratio/<param>``, and ``dead_epoch/<layer>``: the fraction of
    a ReLU layer's units never active on any training batch of the epoch (recorded by forward
    hooks during training, one ``any`` per batch) (so ``history.csv`` holds them and
    :func:`plot_health_history` draws them over the epochs). ``self.reports[epoch]`` keeps each
    epoch's :class:`HealthReport`.

    It implements the ``deepgrad.train.Callback`` protocol without subclassing it (the check
    package sits below train in the package's layers).
    """

    order = -50  # before loggers, so CSV/JSON loggers see the columns

    def __init__(self, probe=None, every: int = 1):
        self.probe = probe
        self.every = every
        self.reports: dict = {}
        self._reset()

    def set_trainer(self, trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs):
        self._active = {}
        self._handles = []
        for name, m in leaf_modules(self.trainer.model):
            if type(m).__name__ in _RELU_KINDS:
                self._handles.append(m.register_forward_hook(self._seen(name)))

    def _seen(self, name):
        def hook(module, args, out):
            if not module.training or not isinstance(out, Tensor):
                return
            a = np.asarray(out.data)
            on = np.any(a > 0, axis=tuple(i for i in range(a.ndim) if i != 1)) if a.ndim > 1 else np.any(a > 0)
            prev = self._active.get(name)
            self._active[name] = on if prev is None or np.shape(prev) != np.shape(on) else (prev | on)

        return hook

    def on_train_end(self, logs):
        for h in getattr(self, "_handles", ()):
            h.remove()
        self._handles = []

    def on_batch_begin(self, step, logs): ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def _reset(self):
        self._k, self._steps, self._grads, self._before, self._updates, self._x = 0, None, None, None, None, None

    def on_epoch_begin(self, epoch, logs):
        self._reset()
        self._steps = logs.get("steps_per_epoch")
        self._active = {}

    def on_after_backward(self, step, logs):
        self._k += 1
        if self._steps is not None and self._k < self._steps:
            return
        named = [(n, p) for n, p in self.trainer.model.named_parameters() if p.requires_grad]
        self._grads = {n: None if p.grad is None else np.array(p.grad, copy=True) for n, p in named}
        self._before = {n: np.array(p.data, dtype=np.float64, copy=True) for n, p in named}
        self._x = self.trainer._last_input

    def on_batch_end(self, step, logs):
        if self._before is not None and self._updates is None:
            params = dict(self.trainer.model.named_parameters())
            self._updates = {n: float(np.linalg.norm(np.asarray(params[n].data, dtype=np.float64) - w))
                             for n, w in self._before.items()}

    def on_epoch_end(self, epoch, logs):
        if self.every and epoch % self.every or self._grads is None:
            return
        model = self.trainer.model
        x = self.probe if self.probe is not None else self._x
        layers = layer_stats(model, x, train=False) if x is not None else []

        class _P:  # the saved gradient next to the current weights
            def __init__(self, data, grad):
                self.data, self.grad = data, grad

        params = dict(model.named_parameters())
        named = [(n, _P(self._before[n], g)) for n, g in self._grads.items() if n in params]
        rep = HealthReport(layers, _param_stats(named, None, self._updates), float(logs.get("train_loss", float("nan"))),
                           measured_update=True)
        for r in rep.layers:
            r.sample = None  # keep the History light
        self.reports[epoch] = rep
        row = rep.as_row()
        for name, on in getattr(self, "_active", {}).items():
            row[f"dead_epoch/{name}"] = float(1 - np.mean(on))
        rep.dead_over_epoch = {k[len("dead_epoch/"):]: v for k, v in row.items() if k.startswith("dead_epoch/")}
        if self.trainer.history.rows:
            self.trainer.history.rows[-1].update(row)
        self._grads = self._before = None


def plot_health_history(history, path: str, title: str = "") -> str:
    """Gradient RMS, update/weight ratio and dead-unit fraction per epoch (the HealthMonitor's columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = history.columns()
    epochs = history["epoch"]
    groups = [("grad_rms/", "gradient RMS", True), ("update_ratio/", "update / weight", True),
              ("act_std/", "activation std", False), ("dead/", "dead units", False)]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, (prefix, label, log) in zip(axes, groups):
        chosen = [c for c in cols if c.startswith(prefix) and not c.endswith(".bias")]
        for c in chosen:
            ax.plot(epochs, history[c], marker="o", ms=3, label=c[len(prefix):])
        if not chosen:
            ax.text(0.5, 0.5, "no such layers", ha="center", va="center", transform=ax.transAxes)
        if log:
            ax.set_yscale("log")
        if prefix == "update_ratio/":
            ax.axhline(1e-3, color="k", ls="--", lw=1)
        ax.set_title(label)
        ax.set_xlabel("epoch")
        if chosen:
            ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title or "network health over training")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
