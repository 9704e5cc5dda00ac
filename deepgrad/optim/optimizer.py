"""``Optimizer``: the base class, with parameters packed into flat buffers.

The update rules (SGD, RMSprop, Adam, ...) are elementwise, so they can run once over
*all* the weights of a parameter group instead of once per weight matrix. On
construction each group's parameters (per dtype) are copied into one contiguous
array and every ``p.data`` becomes a view into it; gradients get one flat array too,
whose views are handed out as ``p.grad``. ``step()`` is then a handful of in-place
NumPy operations over the whole buffer (what PyTorch's ``foreach``/fused optimizers
achieve). Optimizer state (momentum, squared averages) lives in flat arrays of the
same layout.

The packing is invisible to ordinary code:

* ``zero_grad()`` (``set_to_none=True`` by default, as in PyTorch) sets ``p.grad``
  to None; the next ``backward()`` copies the gradient into the parameter's slice of
  the flat gradient buffer (the parameter's ``_grad_buffer``) instead of allocating.
* A gradient that arrives some other way (assigned by hand, or by an engine that
  allocates) is copied into the buffer at ``step()`` and re-attached.
* A ``p.data`` replaced by another array of the same shape and dtype is copied back
  in and re-pointed; a changed shape or dtype makes the optimizer re-pack itself.
* Parameters whose ``grad`` is None or with ``requires_grad=False`` are skipped, with
  their state untouched, exactly like PyTorch (this runs a per-parameter path).

One consequence: ``p.grad`` is a view into a buffer that the next backward overwrites;
keep a ``.copy()`` if you need an old gradient.
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ..tensor import Tensor


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class _Chunk:
    """The parameters of one group that share a dtype, packed into flat arrays."""

    def __init__(self, params, dtype, state_names):
        self.params = list(params)
        self.dtype = np.dtype(dtype)
        self.sizes = [int(p.data.size) for p in self.params]
        self.offsets = [0]
        for n in self.sizes:
            self.offsets.append(self.offsets[-1] + n)
        total = self.offsets[-1]
        self.data = np.empty(total, dtype=self.dtype)
        self.grad = np.zeros(total, dtype=self.dtype)
        self.views, self.gviews = [], []
        for p, lo, n in zip(self.params, self.offsets, self.sizes):
            shape = p.data.shape
            self.data[lo:lo + n] = p.data.reshape(-1)
            view = self.data[lo:lo + n].reshape(shape)
            gview = self.grad[lo:lo + n].reshape(shape)
            p.data = view
            if p.grad is not None:
                np.copyto(gview, p.grad, casting="same_kind")
                p.grad = gview
            try:
                p._grad_buffer = gview  # the engine copies a fresh gradient into it
            except AttributeError:  # a plain Tensor (__slots__): grads are copied in at step()
                pass
            self.views.append(view)
            self.gviews.append(gview)
        self.state = {name: np.zeros(total, dtype=self.dtype) for name in state_names}
        self.steps = np.zeros(len(self.params), dtype=np.int64)  # updates applied, per parameter
        self.uniform = True  # all entries of ``steps`` are equal
        self._tmp = []

    def tmp(self, k: int) -> np.ndarray:
        """The k-th preallocated scratch array (flat, like ``data``)."""
        while len(self._tmp) <= k:
            self._tmp.append(np.empty_like(self.data))
        return self._tmp[k]

    def slice(self, i: int) -> slice:
        return slice(self.offsets[i], self.offsets[i + 1])

    def detach(self) -> None:
        """Stop the engine writing gradients into this chunk's buffer."""
        for p, gv in zip(self.params, self.gviews):
            if getattr(p, "_grad_buffer", None) is gv:
                del p._grad_buffer


class _NeedsRepack(Exception):
    pass


class Optimizer:
    """Base class. Subclasses give ``defaults`` and ``_state_names``, and write ``_update``.

    ``params``: an iterable of Parameters, or of dicts ``{'params': [...], 'lr': ...}``
    (parameter groups with their own hyper-parameters; missing ones take ``defaults``).
    """

    _state_names: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._chunks: list[list[_Chunk]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Parameters or of dicts, "
                "got a single Tensor (wrap it in a list)"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    # ----- groups --------------------------------------------------------------------
    def state_names(self, group: dict) -> tuple:
        """Names of the flat state arrays this optimizer needs for ``group``."""
        return self._state_names

    def add_param_group(self, param_group: dict) -> None:
        """Add a group ``{'params': [...], **hyperparameters}`` (e.g. to unfreeze layers later)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{type(self).__name__}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        ps = group.get("params")
        if ps is None:
            raise ValueError(f"{type(self).__name__}.add_param_group: the group has no 'params'")
        ps = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in ps:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: can only optimize Tensors/Parameters, got {type(p).__name__}")
            if p._ctx is not None:
                raise ValueError(f"{type(self).__name__}: can only optimize leaf tensors (got one produced by an op)")
            if p.data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: can only optimize floating-point tensors, got {p.data.dtype}")
        if len({id(p) for p in ps}) != len(ps):
            raise ValueError(f"{type(self).__name__}: a parameter appears twice in one group")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in ps}:
            raise ValueError(f"{type(self).__name__}: some parameters appear in more than one parameter group")
        for key, val in self.defaults.items():
            if val is required and key not in group:
                raise ValueError(f"{type(self).__name__}: parameter group didn't specify a value of required '{key}'")
            group.setdefault(key, val)
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyper-parameter(s) {sorted(unknown)} in a parameter group")
        self._check_group(group)
        group["params"] = ps
        self.param_groups.append(group)
        self._chunks.append(self._pack_group(group))

    def _check_group(self, group: dict) -> None:
        lr = group.get("lr")
        if lr is not None and lr is not required and (isinstance(lr, bool) or not isinstance(lr, (int, float, np.number))):
            raise TypeError(f"{type(self).__name__}: lr must be a number, got {type(lr).__name__} {lr!r}")
        if lr is not None and lr is not required and not np.isfinite(lr):
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr} (must be finite)")
        if lr is not None and lr is not required and lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr} (must be >= 0)")

    def _pack_group(self, group: dict) -> list[_Chunk]:
        by_dtype: "OrderedDict[np.dtype, list]" = OrderedDict()
        for p in group["params"]:
            by_dtype.setdefault(p.data.dtype, []).append(p)
        names = self.state_names(group)
        return [_Chunk(ps, dt, names) for dt, ps in by_dtype.items()]

    def _repack(self) -> None:
        """Rebuild the flat buffers (a parameter changed shape or dtype), keeping the state."""
        saved = self.state_dict()
        for chunks in self._chunks:
            for ch in chunks:
                ch.detach()
        self._chunks = [self._pack_group(g) for g in self.param_groups]
        self.load_state_dict(saved)

    # ----- gradients -----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, like PyTorch), or to zeros in one pass per buffer."""
        for chunks in self._chunks:
            for ch in chunks:
                if set_to_none:
                    for p in ch.params:
                        p.grad = None
                else:  # zero existing gradients (None stays None, as in PyTorch): one fill per buffer
                    ch.grad.fill(0)
                    for p, gv in zip(ch.params, ch.gviews):
                        if p.grad is not None and p.grad is not gv:
                            p.grad = gv

    def _sync(self, ch: _Chunk):
        """Make every parameter point into ``ch``'s buffers; return (all active, active indices)."""
        full = True
        active = []
        views, gviews = ch.views, ch.gviews
        for i, p in enumerate(ch.params):
            v = views[i]
            d = p.data
            if d is not v:
                if d.shape != v.shape or d.dtype != v.dtype:
                    raise _NeedsRepack
                np.copyto(v, d)
                p.data = v
            g = p.grad
            if g is None or not p.requires_grad:
                full = False
                continue
            gv = gviews[i]
            if g is not gv:
                if g.shape != gv.shape:
                    raise ValueError(
                        f"{type(self).__name__}.step: gradient of shape {g.shape} does not match parameter of shape {gv.shape}"
                    )
                np.copyto(gv, g, casting="same_kind")
                p.grad = gv
            active.append(i)
        return full, active

    # ----- the update ----------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure`` (optional)
        re-evaluates the model and returns the loss, as in PyTorch."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        try:
            self._step_all()
        except _NeedsRepack:
            self._repack()
            self._step_all()
        return loss

    def _step_all(self) -> None:
        from ..autograd import no_grad

        # Sync every chunk first: a parameter that needs re-packing is found before any update.
        plan = [(group, ch, *self._sync(ch)) for group, chunks in zip(self.param_groups, self._chunks) for ch in chunks]
        with no_grad():
            for group, ch, full, active in plan:
                if full or active:
                    self._ensure_state(group, ch)
                if full and ch.uniform:
                    step = int(ch.steps[0]) + 1 if len(ch.steps) else 1
                    self._update(group, ch, slice(None), step)
                    ch.steps += 1
                elif active:
                    # Runs of neighbouring parameters with the same step count are updated as
                    # one slice (a frozen backbone before a trainable head costs one update).
                    steps = ch.steps
                    j = 0
                    while j < len(active):
                        lo = active[j]
                        hi = lo
                        while j + 1 < len(active) and active[j + 1] == hi + 1 and steps[hi + 1] == steps[lo]:
                            j += 1
                            hi += 1
                        step = int(steps[lo]) + 1
                        self._update(group, ch, slice(ch.offsets[lo], ch.offsets[hi + 1]), step)
                        steps[lo:hi + 1] = step
                        j += 1
                    ch.uniform = bool(steps.min() == steps.max())

    def _ensure_state(self, group: dict, ch) -> None:
        """Zero state arrays for every name ``state_names(group)`` lists and ``ch`` lacks (an
        option such as momentum or amsgrad switched on after construction, or loaded)."""
        for name in self.state_names(group):
            if name not in ch.state:
                ch.state[name] = np.zeros_like(ch.data)

    @staticmethod
    def _effective_grad(ch: _Chunk, sl: slice, maximize: bool, weight_decay: float) -> np.ndarray:
        """``(-g if maximize else g) + weight_decay * p`` without touching ``p.grad``: the raw
        gradient when neither applies, else scratch ``tmp(1)`` (``tmp(0)`` is used transiently)."""
        g = ch.grad[sl]
        if not maximize and weight_decay == 0:
            return g
        u = ch.tmp(1)[sl]
        if maximize:
            np.negative(g, out=u)
            if weight_decay != 0:
                t = ch.tmp(0)[sl]
                np.multiply(ch.data[sl], weight_decay, out=t)
                u += t
        else:
            np.multiply(ch.data[sl], weight_decay, out=u)
            u += g
        return u

    def _update(self, group: dict, ch: _Chunk, sl: slice, step: int) -> None:  # pragma: no cover - abstract
        """Update ``ch.data[sl]`` from ``ch.grad[sl]`` and ``ch.state[name][sl]``; ``step``
        is the 1-based number of this update for those parameters."""
        raise NotImplementedError

    # ----- state ---------------------------------------------------------------------
    @property
    def state(self) -> dict:
        """PyTorch-style ``{param: {'step': n, 'exp_avg': view, ...}}`` for parameters with
        state (the arrays are views into the flat buffers: writing them changes the state)."""
        out = {}
        for group, chunks in zip(self.param_groups, self._chunks):
            for ch in chunks:
                for i, p in enumerate(ch.params):
                    if ch.steps[i] > 0:
                        st = self._param_state(group, ch, i)
                        if st:
                            out[p] = st
        return out

    def _param_state(self, group, ch, i) -> dict:
        sl = ch.slice(i)
        shape = ch.views[i].shape
        st = {"step": float(ch.steps[i])}
        for name, arr in ch.state.items():
            st[name] = arr[sl].reshape(shape)
        return st

    def _load_param_state(self, group, ch, i, st: dict) -> None:
        sl = ch.slice(i)
        if "step" in st:
            ch.steps[i] = int(round(float(np.asarray(st["step"]))))
        elif any(st.get(name) is not None for name in ch.state):
            ch.steps[i] = max(int(ch.steps[i]), 1)  # e.g. SGD: a momentum buffer exists
        for name, arr in ch.state.items():
            if name in st and st[name] is not None:
                src = np.asarray(_numpy(st[name]))
                if src.size != sl.stop - sl.start:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state {name!r} of shape {src.shape} does not fit "
                        f"a parameter of shape {ch.views[i].shape}"
                    )
                arr[sl] = src.reshape(-1)

    def _positions(self):
        """(global index, group, chunk, index in chunk) for every parameter, in group order."""
        where = {}
        for group, chunks in zip(self.param_groups, self._chunks):
            for ch in chunks:
                for i, p in enumerate(ch.params):
                    where[id(p)] = (group, ch, i)
        k = 0
        for group in self.param_groups:
            for p in group["params"]:
                g, ch, i = where[id(p)]
                yield k, g, ch, i
                k += 1

    def state_dict(self) -> dict:
        """``{'state': {index: {'step': n, name: ndarray}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Plain numbers, lists and NumPy arrays (copies), as in PyTorch, so it can be saved
        without pickle (e.g. arrays to safetensors/npz and the rest to JSON)."""
        state = {}
        for k, group, ch, i in self._positions():
            if ch.steps[i] > 0:
                st = self._param_state(group, ch, i)
                if st:
                    state[k] = {n: (v.copy() if isinstance(v, np.ndarray) else v) for n, v in st.items()}
        groups = []
        k = 0
        for group in self.param_groups:
            g = {key: (list(v) if isinstance(v, tuple) else v) for key, v in group.items() if key != "params"}
            n = len(group["params"])
            g["params"] = list(range(k, k + n))
            k += n
            groups.append(g)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by ``state_dict`` (PyTorch's layout;
        a ``torch.optim`` state dict of the same optimizer loads too)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state has {len(groups)} parameter group(s), "
                f"this optimizer {len(self.param_groups)}"
            )
        for j, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: group {j} has {len(saved['params'])} parameters in the "
                    f"state but {len(own['params'])} here"
                )
        for saved, own in zip(groups, self.param_groups):
            for key, val in saved.items():
                if key == "params" or (key not in self.defaults and key != "initial_lr"):
                    continue
                if isinstance(own.get(key), tuple) and isinstance(val, list):
                    val = tuple(val)
                own[key] = val
        for group, chunks in zip(self.param_groups, self._chunks):
            for ch in chunks:  # loaded options may need state arrays this optimizer lacked
                self._ensure_state(group, ch)
        state = state_dict.get("state", {})
        # saved parameter ids -> this optimizer's positions, group by group
        mapping = {}
        k = 0
        for saved, own in zip(groups, self.param_groups):
            for sid in saved["params"]:
                mapping[sid] = k
                mapping[str(sid)] = k
                k += 1
        per_position = {}
        for key, st in state.items():
            if key not in mapping:
                raise ValueError(f"{type(self).__name__}.load_state_dict: state for unknown parameter id {key!r}")
            per_position[mapping[key]] = st
        for k, group, ch, i in self._positions():
            ch.steps[i] = 0
            for arr in ch.state.values():
                arr[ch.slice(i)] = 0
            if k in per_position:
                self._load_param_state(group, ch, i, per_position[k])
        for chunks in self._chunks:
            for ch in chunks:
                ch.uniform = bool(len(ch.steps) == 0 or ch.steps.min() == ch.steps.max())

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for j, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {j}")
            for key in sorted(k for k in g if k != "params"):
                lines.append(f"    {key}: {g[key]}")
        lines.append(")")
        return "\n".join(lines)


def _numpy(x):
    """ndarray from an ndarray, a deepgrad Tensor or anything with ``.numpy()`` (a torch tensor)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, Tensor):
        return x.data
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def check_nonneg(opt: str, **values) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{opt}: {name} must be a number, got {type(value).__name__} {value!r}")
        if name == "lr" and not np.isfinite(value):
            raise ValueError(f"{opt}: invalid learning rate {value} (must be finite)")
        if not value >= 0:
            label = "learning rate" if name == "lr" else name
            raise ValueError(f"{opt}: invalid {label} {value} (must be >= 0)")
