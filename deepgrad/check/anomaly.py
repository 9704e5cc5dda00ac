"""Where did the NaN come from: ``with deepgrad.detect_anomaly():``.

While the mode is on, every op's forward output and every gradient its backward hands
to its inputs is checked for NaN and inf. The first non-finite value stops the program
with an :class:`AnomalyError` that names

* the op (the ``Function`` class, e.g. ``Log``) and whether it was its forward or backward,
* the module path that called it (``blocks.1.bn2 (BatchNorm2d)``), taken from the
  stack of modules being called when the op ran forward,
* each input's shape, dtype and value range (at forward time), and for the backward the
  range of the gradient that arrived from above.

Off, it costs one global check per op and one per backward step (``autograd._anomaly is
None``): nothing is recorded. ``Trainer(..., detect_anomaly=True)`` turns it on for a
whole ``fit``.

How the module path is known: while the mode is on, ``Module.__call__`` is wrapped (and
restored when the last ``detect_anomaly`` block exits) so that each call pushes the
module's dotted name, looked up in the outermost module being called, on a stack.
"""
from __future__ import annotations

import numpy as np

from .. import autograd


class AnomalyError(FloatingPointError):
    """A non-finite value appeared in an op's forward output or backward gradient.

    Attributes: ``phase`` ("forward" or "backward"), ``op`` (the Function's name),
    ``module`` (dotted module path, or None outside any module), ``module_type``,
    ``input_shapes`` (list of shapes), ``input_ranges`` (list of (min, max) or None).
    """

    def __init__(self, message, phase, op, module, module_type, input_shapes, input_ranges):
        super().__init__(message)
        self.phase, self.op, self.module, self.module_type = phase, op, module, module_type
        self.input_shapes, self.input_ranges = input_shapes, input_ranges


def _describe_array(a) -> tuple[str, tuple | None, tuple | None]:
    """('shape (4, 3) float32, range [-1, 2]', shape, (min, max)) for an ndarray; a short repr otherwise."""
    if not isinstance(a, np.ndarray):
        if isinstance(a, (np.generic, float, int)):
            return f"scalar {a!r}", (), (float(a), float(a))
        return type(a).__name__, None, None
    if a.dtype.kind not in "fc" or a.size == 0:
        return f"shape {a.shape} {a.dtype}", a.shape, None
    finite = np.isfinite(a)
    n_bad = int(a.size - np.count_nonzero(finite))
    if n_bad == a.size:
        rng = (float("nan"), float("nan"))
    elif n_bad:
        vals = a[finite]
        rng = (float(vals.min()), float(vals.max()))
    else:
        rng = (float(a.min()), float(a.max()))
    text = f"shape {a.shape} {a.dtype}, range [{rng[0]:.4g}, {rng[1]:.4g}]"
    if n_bad:
        n_nan = int(np.isnan(a).sum())
        text += f" over the finite values; {n_nan} NaN and {n_bad - n_nan} inf of {a.size}"
    return text, a.shape, rng


def _count_bad(a) -> tuple[int, int]:
    """(number of NaN, number of inf) in a float array; (0, 0) for anything else."""
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fc":
        if isinstance(a, (float, np.floating)) and not np.isfinite(a):
            return (1, 0) if np.isnan(a) else (0, 1)
        return 0, 0
    if np.isfinite(a).all():
        return 0, 0
    n_nan = int(np.isnan(a).sum())
    return n_nan, int((~np.isfinite(a)).sum()) - n_nan


class _Recorder:
    """The object ``autograd`` calls while the mode is on (see the hook in autograd.py)."""

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []  # (dotted path, type name) of the modules being called
        self.names: dict[int, str] = {}  # id(module) -> dotted name in the outermost module

    # ---- module stack ----------------------------------------------------------------
    def enter(self, module):
        if not self.stack:
            self.names = {id(m): n for n, m in module.named_modules()}
        name = self.names.get(id(module))
        if name is None:  # a module outside the outermost one (e.g. a loss module)
            name = f"<{type(module).__name__}>"
        self.stack.append((name, type(module).__name__))

    def leave(self):
        self.stack.pop()
        if not self.stack:
            self.names = {}

    def where(self) -> tuple[str | None, str | None]:
        if not self.stack:
            return None, None
        name, kind = self.stack[-1]
        return (name or "(model)"), kind

    # ---- the hooks ----------------------------------------------------------------------
    def forward(self, fn, ctx, args, out):
        where = self.where()
        outs = out if isinstance(out, tuple) else (out,)
        bad = [(i, *_count_bad(o)) for i, o in enumerate(outs)]
        bad = [b for b in bad if b[1] or b[2]]
        if bad:
            raw = [getattr(a, "data", a) for a in args]
            descs = [_describe_array(a) for a in raw]
            i, n_nan, n_inf = bad[0]
            o = outs[i]
            shape = getattr(o, "shape", ())
            head = (f"detect_anomaly: the forward of {fn.__name__} {_in(where)} produced {n_nan} NaN and "
                    f"{n_inf} inf of {int(np.size(o))} values in its output of shape {tuple(shape)}")
            raise self._error(head, "forward", fn, where, descs)
        if autograd._grad_enabled and any(ctx.needs_input_grad):
            # what the backward message will need, recorded now (the inputs may be freed by then)
            ctx.anomaly_where = where
            ctx.anomaly_inputs = [_describe_array(getattr(a, "data", a)) for a in args]

    def backward(self, fn, ctx, grad_out, in_grads):
        for i, _ in ctx.parents:
            g = in_grads[i] if i < len(in_grads) else None
            if g is None:
                continue
            n_nan, n_inf = _count_bad(g)
            if not (n_nan or n_inf):
                continue
            where = ctx.__dict__.get("anomaly_where", (None, None))
            descs = ctx.__dict__.get("anomaly_inputs", [])
            up_nan, up_inf = _count_bad(grad_out)
            up = _describe_array(grad_out)[0]
            head = (f"detect_anomaly: the backward of {fn.__name__} {_in(where)} produced {n_nan} NaN and "
                    f"{n_inf} inf in the gradient of its input {i} (shape {tuple(np.shape(g))})")
            if up_nan or up_inf:
                head += "; the gradient arriving from above was already not finite (the op that made it ran " \
                        "outside detect_anomaly, or it was the upstream gradient passed to backward)"
            extra = [f"  gradient arriving from above: {up}"]
            raise self._error(head, "backward", fn, where, descs, extra)

    @staticmethod
    def _error(head, phase, fn, where, descs, extra=()):
        lines = [head]
        for k, (text, _, _) in enumerate(descs):
            lines.append(f"  input {k}: {text}")
        lines.extend(extra)
        return AnomalyError("\n".join(lines), phase, fn.__name__, where[0], where[1],
                            [d[1] for d in descs], [d[2] for d in descs])


def _in(where) -> str:
    name, kind = where
    return "outside any module" if name is None else f"in module {name} ({kind})"


_depth = 0
_saved_call = None


def _install():
    global _saved_call
    from ..nn.module import Module

    rec = _Recorder()
    _saved_call = Module.__dict__["__call__"]
    orig = _saved_call

    def __call__(self, *args, **kwargs):  # the anomaly-mode Module.__call__
        rec.enter(self)
        try:
            return orig(self, *args, **kwargs)
        finally:
            rec.leave()

    Module.__call__ = __call__
    autograd._anomaly = rec


def _uninstall():
    global _saved_call
    from ..nn.module import Module

    autograd._anomaly = None
    Module.__call__ = _saved_call
    _saved_call = None


def set_detect_anomaly(mode: bool) -> bool:
    """Turn anomaly detection on (``True``) or off; returns whether it was on before.

    Nested uses count: it goes off when every ``True`` has been matched by a ``False``."""
    global _depth
    was = _depth > 0
    if mode:
        if _depth == 0:
            _install()
        _depth += 1
    elif _depth > 0:
        _depth -= 1
        if _depth == 0:
            _uninstall()
    return was


def is_anomaly_enabled() -> bool:
    return _depth > 0


class detect_anomaly:
    """Context manager (and decorator): stop at the first op whose forward output or backward
    gradient is not finite, with an :class:`AnomalyError` naming the op, the module that
    called it, its input shapes and value ranges.

    >>> with detect_anomaly():          # doctest: +SKIP
    ...     loss = F.cross_entropy(model(x), y)
    ...     loss.backward()
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            set_detect_anomaly(True)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            set_detect_anomaly(False)
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.enabled):
                return func(*args, **kwargs)

        return wrapper
