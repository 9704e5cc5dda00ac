"""Gradient checking (course 2, week 1): compare backprop with two-sided finite differences.

For each input x the check perturbs one element at a time by +-eps (in float64),
estimates dJ/dx as (J(x+eps) - J(x-eps)) / (2 eps), and reports the course's relative
difference ||g - g_approx|| / (||g|| + ||g_approx||). Below ~1e-7 the backward pass is
right; above ~1e-3 it is almost surely wrong. A function with a tensor output is
turned into a scalar J by a fixed random projection, so every output element counts.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor


@dataclass
class InputReport:
    """The check of one input (or one model parameter)."""

    name: str
    shape: tuple
    max_abs_error: float
    relative_difference: float
    worst_index: tuple
    analytic: float  # backprop's value at the worst element
    numeric: float  # the finite-difference value there
    passed: bool
    checked_elements: int

    def __str__(self) -> str:
        status = "ok" if self.passed else "FAILED"
        return (
            f"{self.name:<24} shape={str(self.shape):<14} rel.diff={self.relative_difference:.3e} "
            f"max|err|={self.max_abs_error:.3e} worst{list(self.worst_index)}: backprop {self.analytic:.6g} "
            f"vs numeric {self.numeric:.6g}  {status}"
        )


@dataclass
class GradcheckReport:
    """Per-input results; truthy when every input passed."""

    inputs: list = field(default_factory=list)
    tol: float = 1e-7
    eps: float = 1e-6

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.inputs)

    @property
    def failed(self) -> list:
        """Names of the inputs whose gradient is wrong."""
        return [r.name for r in self.inputs if not r.passed]

    @property
    def max_relative_difference(self) -> float:
        return max((r.relative_difference for r in self.inputs), default=0.0)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.inputs[key]
        for r in self.inputs:
            if r.name == key:
                return r
        raise KeyError(key)

    def __str__(self) -> str:
        head = f"gradcheck (eps={self.eps:g}, tol={self.tol:g}): {'passed' if self.passed else 'FAILED: ' + ', '.join(self.failed)}"
        return "\n".join([head] + ["  " + str(r) for r in self.inputs])

    __repr__ = __str__


def _relative_difference(g, g_num):
    num = np.linalg.norm(g - g_num)
    den = np.linalg.norm(g) + np.linalg.norm(g_num)
    return 0.0 if den == 0 else float(num / den)


def _compare(name, g, g_num, idx_list, shape, tol):
    g = np.asarray(g, dtype=np.float64)
    err = np.abs(g - g_num)
    k = int(np.argmax(err)) if err.size else 0
    rel = _relative_difference(g, g_num)
    worst = tuple(int(i) for i in np.unravel_index(idx_list[k], shape)) if err.size else ()
    return InputReport(
        name=name,
        shape=tuple(shape),
        max_abs_error=float(err.max()) if err.size else 0.0,
        relative_difference=rel,
        worst_index=worst,
        analytic=float(g[k]) if err.size else 0.0,
        numeric=float(g_num[k]) if err.size else 0.0,
        passed=rel < tol or float(err.max() if err.size else 0.0) < tol * 1e-2,
        checked_elements=len(idx_list),
    )


def _element_indices(size, max_elements, rng):
    if max_elements is None or size <= max_elements:
        return np.arange(size)
    return np.sort(rng.choice(size, max_elements, replace=False))


def _numeric_gradient(J, data, idx, eps):
    """(J(x + eps e_j) - J(x - eps e_j)) / (2 eps) for each flat index j in ``idx``, perturbing ``data`` in place."""
    numeric = np.empty(len(idx))
    for n, j in enumerate(idx):
        pos = np.unravel_index(j, data.shape)  # index in place: ``data`` may be a non-contiguous view
        orig = data[pos]
        data[pos] = orig + eps
        plus = J()
        data[pos] = orig - eps
        minus = J()
        data[pos] = orig
        numeric[n] = (plus - minus) / (2 * eps)
    return numeric


def _check_tensor(name, t, J, rng, max_elements, eps, tol):
    """Backprop's gradient of one tensor (already in ``t.grad``) against finite differences of
    ``J`` on (a sample of) its elements."""
    analytic = np.zeros(t.shape) if t.grad is None else t.grad.astype(np.float64)
    idx = _element_indices(t.size, max_elements, rng)
    numeric = _numeric_gradient(J, t.data, idx, eps)
    return _compare(name, analytic.reshape(-1)[idx], numeric, idx, t.shape, tol)


def gradcheck(fn, *inputs, eps: float = 1e-6, tol: float = 1e-7, names=None, max_elements=None, seed: int = 0):
    """Check the gradients ``fn`` computes for each floating input that requires grad.

    ``fn(*inputs)`` must return a Tensor. Inputs are converted to float64 copies (the
    originals are untouched); non-Tensor arguments are passed through. If no input
    requires grad, every floating Tensor input is checked. ``max_elements`` limits the
    number of (randomly chosen) elements perturbed per input. Returns a
    :class:`GradcheckReport`; ``report.failed`` names the inputs whose gradient is wrong.
    """
    rng = np.random.default_rng(seed)
    args = []
    checked = []
    any_requires = any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor) and x.dtype.kind == "f":
            t = Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad or not any_requires)
            if t.requires_grad:
                checked.append(i)
            args.append(t)
        else:
            args.append(x)
    if names is None:
        names = [f"input {i}" for i in range(len(inputs))]
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    proj = rng.standard_normal(out.shape) if out.size > 1 else np.ones(out.shape)
    loss = (out * Tensor(proj)).sum() if out.size > 1 else out.sum()
    for i in checked:
        args[i].grad = None
    loss.backward()

    def J():
        with no_grad():
            return float((fn(*args).data.astype(np.float64) * proj).sum())

    report = GradcheckReport(tol=tol, eps=eps)
    for i in checked:
        report.inputs.append(_check_tensor(names[i], args[i], J, rng, max_elements, eps, tol))
    return report


def gradcheck_model(model, loss_fn, eps: float = 1e-6, tol: float = 1e-7, max_elements: int | None = 200, seed: int = 0):
    """Check backprop through a whole model, parameter by parameter (course 2's "gradient checking").

    ``loss_fn(model)`` must return a scalar Tensor (e.g. ``lambda m: F.mse_loss(m(x), y)``).
    The model's parameters are switched to float64 for the check and restored afterwards.
    Dropout or other randomness must be off (``model.eval()``) for finite differences to
    mean anything. Returns a :class:`GradcheckReport` whose entries are named after the
    parameters (``report.failed`` lists the parameters with wrong gradients).
    """
    rng = np.random.default_rng(seed)
    params = list(model.named_parameters())
    saved = [(p, p.data, p.grad) for _, p in params]
    try:
        for _, p in params:
            p.data = p.data.astype(np.float64)
            p.grad = None
        loss = loss_fn(model)
        if loss.size != 1:
            raise ValueError(f"gradcheck_model: loss_fn must return a scalar, got shape {loss.shape}")
        loss.backward()

        def J():
            with no_grad():
                return float(loss_fn(model).data)

        report = GradcheckReport(tol=tol, eps=eps)
        for name, p in params:
            if not p.requires_grad:
                continue
            report.inputs.append(_check_tensor(name, p, J, rng, max_elements, eps, tol))
        return report
    finally:
        for p, data, grad in saved:
            p.data, p.grad = data, grad


# ----- a whole model, on a float64 copy, with the wrong layer located ---------------------------
@dataclass
class ModelGradcheckReport(GradcheckReport):
    """:class:`GradcheckReport` per parameter, plus ``modules``: the local check of each module
    (its own backward for its inputs and parameters, given the gradient that reached its
    output), and ``culprits``: the innermost modules whose own backward is wrong."""

    modules: list = field(default_factory=list)  # (module name, type name, GradcheckReport)

    @property
    def culprits(self) -> list:
        failing = [name for name, _, rep in self.modules if not rep.passed]
        return [n for n in failing if not any(o != n and (n == "" or o.startswith(n + ".")) for o in failing)]

    def __str__(self) -> str:
        lines = [super().__str__()]
        if self.modules:
            bad = self.culprits
            lines.append("modules whose own backward is wrong: " + (", ".join(_label(n) for n in bad) if bad else "none"))
            for name, kind, rep in self.modules:
                if name in bad:
                    for r in rep.inputs:
                        if not r.passed:
                            lines.append(f"  {_label(name)} ({kind}): {r}")
        return "\n".join(lines)

    __repr__ = __str__


def _label(name: str) -> str:
    return name or "(model)"


def _float64(x):
    if isinstance(x, Tensor):
        return Tensor(x.data.astype(np.float64)) if x.dtype.kind == "f" else x
    a = np.asarray(x)
    return Tensor(a.astype(np.float64)) if a.dtype.kind == "f" else Tensor(a)


_LOSSES = {"cross_entropy": "cross_entropy", "mse": "mse_loss", "bce_with_logits": "binary_cross_entropy_with_logits",
           "binary_cross_entropy_with_logits": "binary_cross_entropy_with_logits"}


def named_loss(loss):
    """A loss callable, or one of the Trainer's loss names (``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"``)."""
    if not isinstance(loss, str):
        return loss
    from .. import ops

    if loss not in _LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {sorted(_LOSSES)} (or pass a callable)")
    return getattr(ops, _LOSSES[loss])


def check_model_gradients(model, x, y=None, loss="cross_entropy", training: bool = False, eps: float = 1e-6,
                          tol: float = 1e-6, max_elements: int | None = 64, seed: int = 0, localize: bool = True):
    """Gradient-check a whole model in one call, on a float64 copy (the model is untouched).

    ``loss(model(x), y)`` is the scalar checked (``loss`` a callable or a Trainer loss name:
    ``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"``; with ``y=None``, ``loss(output)``).
    In ``training`` mode the library generator is re-seeded before every forward, so dropout
    draws the same mask each time. Reports the course's relative difference per parameter
    (``report.failed`` names the wrong ones; at most ``max_elements`` sampled elements per
    tensor). With ``localize``, each module is also checked on its own (its backward for its
    inputs and parameters against finite differences of its forward, given the gradient that
    reached its output in the full pass): ``report.culprits`` names the innermost modules whose
    backward is wrong, even when the error only shows in the parameters before them.
    """
    import copy

    from .. import random as dg_random

    loss = named_loss(loss)
    m = copy.deepcopy(model).double().train(training)
    x64 = _float64(x)
    y_t = None if y is None else (y if isinstance(y, Tensor) else Tensor(np.asarray(y)))

    def total(mod):
        dg_random.manual_seed(seed)
        out = mod(x64)
        return loss(out) if y_t is None else loss(out, y_t)

    report = gradcheck_model(m, total, eps=eps, tol=tol, max_elements=max_elements, seed=seed)
    report = ModelGradcheckReport(inputs=report.inputs, tol=tol, eps=eps)
    if localize:
        report.modules = _local_checks(m, total, eps, tol, max_elements, seed)
    return report


def _local_checks(model, total, eps, tol, max_elements, seed):
    """Each module's backward, checked alone: J = sum(module(*inputs) * upstream gradient)."""
    from .. import random as dg_random

    calls = {}
    named = list(model.named_modules())

    def record(name):
        def hook(module, args, out):  # the first call of each module: its inputs and output
            if name not in calls and isinstance(out, Tensor) and out.requires_grad:
                out.retain_grad()
                calls[name] = (args, {}, out)

        return hook

    handles = [mod.register_forward_hook(record(name)) for name, mod in named]
    try:
        total(model).backward()
    finally:
        for h in handles:
            h.remove()
    rng = np.random.default_rng(seed)
    results = []
    for name, mod in named:
        if name not in calls:
            continue
        args, kwargs, out = calls[name]
        upstream = np.zeros(out.shape) if out.grad is None else np.asarray(out.grad, dtype=np.float64)
        leaves = [Tensor(a.data.astype(np.float64), requires_grad=True)
                  if isinstance(a, Tensor) and a.dtype.kind == "f" else a for a in args]
        params = [(pn, p) for pn, p in mod.named_parameters() if p.requires_grad]

        def J_tensor(mod=mod, leaves=leaves, kwargs=kwargs, upstream=upstream):
            dg_random.manual_seed(seed)
            return (mod(*leaves, **kwargs) * Tensor(upstream)).sum()

        for _, p in params:
            p.grad = None
        J_tensor().backward()

        def J(J_tensor=J_tensor):
            with no_grad():
                return float(J_tensor().data)

        rep = GradcheckReport(tol=tol, eps=eps)
        for i, a in enumerate(leaves):
            if isinstance(a, Tensor) and a.requires_grad:
                rep.inputs.append(_check_tensor(f"input {i}", a, J, rng, max_elements, eps, tol))
        for pn, p in params:
            rep.inputs.append(_check_tensor(pn, p, J, rng, max_elements, eps, tol))
        results.append((name, type(mod).__name__, rep))
    return results
