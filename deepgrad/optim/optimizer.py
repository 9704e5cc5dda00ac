"""``Optimizer``: the base class.

The contract, as in PyTorch: the optimizer updates each parameter's own ``p.data`` **in
place** and reads ``p.grad`` wherever it is; it never replaces either array. So a
reference taken before or after building an optimizer keeps sharing memory with the
parameter (``w = lin.weight.data`` sees every update; ``g = lin.weight.grad`` is the
gradient the step used), and the autograd engine knows nothing about optimizers.

Per parameter the optimizer keeps a :class:`_Slot`: its state arrays (momentum, squared
averages; flat, one per name) and how many updates it has had. The update rules
(SGD, RMSprop, Adam, ...) are elementwise and written once over flat views
(``ch.data``, ``ch.grad``, ``ch.state[name]``, scratch ``ch.tmp(k)``), like PyTorch's
``foreach`` implementations: a few in-place NumPy operations per parameter, scratch
arrays shared by all parameters.

* ``zero_grad()`` (``set_to_none=True`` by default, as in PyTorch) sets ``p.grad`` to
  None; ``zero_grad(set_to_none=False)`` zeroes the existing arrays in place.
* A ``p.data`` replaced by another array (say, cast to another dtype) is simply used
  from then on (the state is cast along); a changed shape is an error naming the parameter.
* Parameters whose ``grad`` is None or with ``requires_grad=False`` are skipped, with
  their state untouched, exactly like PyTorch.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .slots import Scratch as _Scratch
from .slots import Slot as _Slot


class _Required:
    def __repr__(self):
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class. Subclasses give ``defaults`` and ``_state_names``, and write ``_update``.

    ``params``: an iterable of Parameters, or of dicts ``{'params': [...], 'lr': ...}``
    (parameter groups with their own hyper-parameters; missing ones take ``defaults``).
    """

    _state_names: tuple = ()

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._slots: list[list[_Slot]] = []
        self._scratch = _Scratch()
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
        self._slots.append([_Slot(p, self.state_names(group), self._scratch) for p in ps])

    def _check_group(self, group: dict) -> None:
        lr = group.get("lr")
        if lr is None or isinstance(lr, _Required):  # `required` is the only _Required instance
            return
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.number)):
            raise TypeError(f"{type(self).__name__}: lr must be a number, got {type(lr).__name__} {lr!r}")
        if not np.isfinite(lr):
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr} (must be finite)")
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {lr} (must be >= 0)")

    # ----- gradients -----------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (default, like PyTorch), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:  # None stays None, as in PyTorch
                    p.grad[...] = 0

    # ----- the update ----------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a gradient. ``closure`` (optional)
        re-evaluates the model and returns the loss, as in PyTorch."""
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        self._step_all()
        return loss

    def _step_all(self) -> None:
        from ..autograd import no_grad

        name = type(self).__name__
        # Check every parameter first: a bad one is reported before any update.
        plan = [(group, ch) for group, slots in zip(self.param_groups, self._slots) for ch in slots
                if ch.param.grad is not None and ch.param.requires_grad]
        for _, ch in plan:
            ch.bind(name)
        with no_grad():
            for group, ch in plan:
                self._ensure_state(group, ch)
                step = int(ch.steps[0]) + 1
                self._update(group, ch, slice(None), step)
                ch.steps[0] = step
                ch.release()

    def _ensure_state(self, group: dict, ch) -> None:
        """Zero state arrays for every name ``state_names(group)`` lists and ``ch`` lacks (an
        option such as momentum or amsgrad switched on after construction, or loaded)."""
        for name in self.state_names(group):
            if name not in ch.state:
                ch.state[name] = np.zeros(ch.param.data.size, dtype=ch.param.data.dtype)

    @staticmethod
    def _effective_grad(ch: _Slot, sl: slice, maximize: bool, weight_decay: float) -> np.ndarray:
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

    def _update(self, group: dict, ch: _Slot, sl: slice, step: int) -> None:  # pragma: no cover - abstract
        """Update ``ch.data[sl]`` (in place) from ``ch.grad[sl]`` and ``ch.state[name][sl]``;
        ``step`` is the 1-based number of this update for the parameter."""
        raise NotImplementedError

    # ----- state ---------------------------------------------------------------------
    @property
    def state(self) -> dict:
        """PyTorch-style ``{param: {'step': n, 'exp_avg': view, ...}}`` for parameters with
        state (the arrays are views of the optimizer's state: writing them changes the state)."""
        out = {}
        for group, slots in zip(self.param_groups, self._slots):
            for ch in slots:
                if ch.steps[0] > 0:
                    st = self._param_state(group, ch, 0)
                    if st:
                        out[ch.param] = st
        return out

    def _param_state(self, group, ch, i) -> dict:
        st = {"step": float(ch.steps[i])}
        for name, arr in ch.state.items():
            st[name] = arr.reshape(ch.shape)
        return st

    def _load_param_state(self, group, ch, i, st: dict) -> None:
        sl = slice(0, int(np.prod(ch.shape, dtype=np.int64)))
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
                        f"a parameter of shape {ch.shape}"
                    )
                arr[sl] = src.reshape(-1)

    def _positions(self):
        """(global index, group, chunk, index in chunk) for every parameter, in group order."""
        k = 0
        for group, slots in zip(self.param_groups, self._slots):
            for ch in slots:
                yield k, group, ch, 0
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
        for group, slots in zip(self.param_groups, self._slots):
            for ch in slots:  # loaded options may need state arrays this optimizer lacked
                self._ensure_state(group, ch)
        state = state_dict.get("state", {})
        # saved parameter ids -> this optimizer's positions, group by group
        mapping = {}
        k = 0
        for saved, _own in zip(groups, self.param_groups):
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
                arr[...] = 0
            if k in per_position:
                self._load_param_state(group, ch, i, per_position[k])

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
