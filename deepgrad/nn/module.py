"""``Module``: the base class of layers and models (PyTorch's ``nn.Module`` API).

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it, so
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()`` reach
every weight of a model without any bookkeeping by the user.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from typing import Iterator

import numpy as np

from ..tensor import Tensor
from .parameter import Parameter


def _shape_str(out) -> str:
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_str(o) for o in out)
    shape = getattr(out, "shape", None)
    return str(tuple(shape)) if shape is not None else type(out).__name__


class Module:
    """Subclass it, create parameters and sub-modules in ``__init__``, write ``forward``."""

    training: bool

    def __init_subclass__(cls, **kwargs):
        # Record the arguments of the outermost constructor call as ``self._init_args``
        # ((args, kwargs)): model files describe the architecture with them as JSON.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)
        def wrapped(self, *args, **kw):
            if "_init_args" not in self.__dict__:
                self.__dict__["_init_args"] = (args, kw)
            init(self, *args, **kw)

        cls.__init__ = wrapped

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ----- registration ------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if name in self._buffers and not isinstance(value, (Parameter, Module)):
            value = value.data if isinstance(value, Tensor) else value
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        target = self._parameters if isinstance(value, Parameter) else (self._modules if isinstance(value, Module) else None)
        for store in (self._parameters, self._modules, self._buffers):
            if store is not target:
                store.pop(name, None)
        if target is not None:
            target[name] = value  # an existing name keeps its place (Sequential order)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        for store in (self._parameters, self._modules, self._buffers):
            store.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param) -> None:
        if param is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, value) -> None:
        """A non-learnable array saved in ``state_dict`` (e.g. BatchNorm's running mean)."""
        arr = value.data if isinstance(value, Tensor) else value
        self._buffers[name] = None if arr is None else np.asarray(arr)
        object.__setattr__(self, name, self._buffers[name])

    def add_module(self, name: str, module: "Module") -> None:
        setattr(self, name, module)

    # ----- traversal -----------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        stack = [(prefix, self)]
        seen = set()
        while stack:
            name, m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            yield name, m
            children = list(m._modules.items())
            for child_name, child in reversed(children):
                if child is not None:
                    stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        yield from (m for m in self._modules.values() if m is not None)

    def named_children(self):
        yield from ((n, m) for n, m in self._modules.items() if m is not None)

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self):
        for mname, m in self.named_modules():
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    # ----- modes and gradients -------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, flag: bool = True) -> "Module":
        """Freeze (False) or unfreeze (True) every parameter (transfer learning)."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def apply(self, fn) -> "Module":
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # ----- state ---------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, np.ndarray]":
        """Every parameter and buffer by dotted name, as ndarrays (copies)."""
        out = OrderedDict()
        for name, p in self.named_parameters():
            out[name] = p.data.copy()
        for name, b in self.named_buffers():
            out[name] = np.array(b, copy=True)
        return out

    def load_state_dict(self, state, strict: bool = True) -> None:
        """Copy arrays into this model's parameters and buffers.

        Refuses missing or unexpected keys (when ``strict``) and mis-shaped arrays,
        naming every offending key.
        """
        own_params = dict(self.named_parameters())
        own_buffers = {}
        for mname, m in self.named_modules():
            for bname in m._buffers:
                own_buffers[f"{mname}.{bname}" if mname else bname] = (m, bname)
        expected = set(own_params) | set(own_buffers)
        given = set(state)
        problems = []
        missing = sorted(expected - given)
        unexpected = sorted(given - expected)
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        bad = {n: state[n] for n in sorted(expected & given)
               if isinstance(state[n], (bool, str, bytes, dict)) or state[n] is None
               or not (hasattr(state[n], "__array__") or isinstance(state[n], (Tensor, int, float, list, tuple)))}
        if bad:
            raise TypeError(f"load_state_dict into {type(self).__name__}: values must be arrays; "
                            + "; ".join(f"{n}: got {type(v).__name__}" for n, v in bad.items()))
        arrays = {name: np.asarray(getattr(state[name], "data", state[name])) for name in expected & given}
        for name in sorted(arrays):
            arr = arrays[name]
            target = own_params[name].data if name in own_params else getattr(*own_buffers[name])
            tdt = getattr(target, "dtype", None)
            if arr.dtype.kind not in "biuf":
                problems.append(f"{name}: expected numbers, got dtype {arr.dtype}")
            elif tdt is not None and tdt.kind == "f" and arr.dtype.kind == "f" and arr.dtype.itemsize > tdt.itemsize \
                    and np.abs(arr[np.isfinite(arr)]).max(initial=0) > np.finfo(tdt).max:
                problems.append(f"{name}: values up to {np.abs(arr).max():.3g} overflow {tdt} (largest {np.finfo(tdt).max:.3g})")
        for name in sorted(arrays):
            arr = arrays[name]
            target = own_params[name].data if name in own_params else getattr(*own_buffers[name])
            if target is not None and arr.shape != np.shape(target):
                problems.append(f"{name}: expected shape {np.shape(target)}, got {arr.shape}")
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for name, arr in arrays.items():
            if name in own_params:
                p = own_params[name]
                p.data[...] = arr.astype(p.data.dtype, copy=False)
            else:
                m, bname = own_buffers[name]
                cur = m._buffers[bname]
                if cur is not None and cur.shape == arr.shape:
                    cur[...] = arr
                else:
                    m.register_buffer(bname, np.array(arr, copy=True))

    # ----- calling and printing -----------------------------------------------------------
    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def num_parameters(self, trainable_only: bool = False) -> int:
        return int(sum(p.data.size for p in self.parameters() if p.requires_grad or not trainable_only))

    # ----- dtype ---------------------------------------------------------------------------
    def to(self, dtype) -> "Module":
        """Cast every floating parameter and buffer to ``dtype`` (e.g. float64 for gradient checks).

        Do this before creating an optimizer: optimizers pack parameters into their own buffers."""
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, got {dtype}")
        for m in self.modules():
            for p in m._parameters.values():
                if p is not None and p.data.dtype != dtype:
                    p.data = p.data.astype(dtype)
                    if p.grad is not None:
                        p.grad = p.grad.astype(dtype)
            for name, b in list(m._buffers.items()):
                if b is not None and b.dtype.kind == "f" and b.dtype != dtype:
                    m.register_buffer(name, b.astype(dtype))
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # ----- summary -------------------------------------------------------------------------
    def summary(self, input_shape=None, dtype=np.float32) -> str:
        """A table of every sub-module: name, type, output shape and number of parameters.

        ``input_shape`` is the full shape of one input batch, e.g. ``(1, 784)`` or
        ``(1, 3, 32, 32)``; when given, a forward pass on zeros (without gradients, in
        eval mode, training mode restored afterwards) records each layer's output shape.
        Ends with the total, trainable and non-trainable parameter counts.
        """
        from ..autograd import no_grad
        from .batchnorm import unfused

        names = list(self.named_modules())
        shapes: dict[int, str] = {}
        if input_shape is not None:
            modes = {id(m): m.training for _, m in names}
            patched = []

            def record(m, orig):
                def forward(*args, **kwargs):
                    out = orig(*args, **kwargs)
                    shapes[id(m)] = _shape_str(out)
                    return out

                return forward

            for _, m in names:
                object.__setattr__(m, "forward", record(m, m.forward))
                patched.append(m)
            try:
                self.eval()
                with no_grad(), unfused():  # every layer runs its own forward, so each is recorded
                    self(Tensor._wrap(np.zeros(tuple(input_shape), dtype=dtype)))
            finally:
                for m in patched:
                    object.__delattr__(m, "forward")
                for _, m in names:
                    object.__setattr__(m, "training", modes[id(m)])

        rows = []
        for name, m in names:
            own = sum(p.data.size for p in m._parameters.values() if p is not None)
            depth = name.count(".") + 1 if name else 0
            label = ("  " * max(depth - 1, 0) + name.split(".")[-1]) if name else "(model)"
            rows.append((label, type(m).__name__, shapes.get(id(m), "-"), f"{own:,}" if own else "-"))
        head = ("Layer", "Type", "Output shape", "Params")
        if input_shape is None:
            rows = [(a, b, d) for a, b, _, d in rows]
            head = ("Layer", "Type", "Params")
        widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]

        def fmt(r):
            cells = [str(c).ljust(w) for c, w in zip(r[:-1], widths[:-1])]
            return "  ".join(cells + [str(r[-1]).rjust(widths[-1])])

        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        line = "-" * len(fmt(head))
        out = [fmt(head), line, *(fmt(r) for r in rows), line,
               f"Total params: {total:,}", f"Trainable params: {trainable:,}",
               f"Non-trainable params: {total - trainable:,}"]
        return "\n".join(out)
