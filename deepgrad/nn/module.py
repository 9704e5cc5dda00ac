"""``Module``: the base class of layers and models (PyTorch's ``nn.Module`` API).

Assigning a ``Parameter`` or a ``Module`` as an attribute registers it, so
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``zero_grad()`` reach
every weight of a model without any bookkeeping by the user.

Calling a module runs its hooks around ``forward`` (PyTorch's signatures):
``register_forward_pre_hook(hook)`` with ``hook(module, args)``,
``register_forward_hook(hook)`` with ``hook(module, args, output)``,
``register_full_backward_hook(hook)`` with ``hook(module, grad_input, grad_output)``,
and the global :func:`register_module_forward_pre_hook` /
:func:`register_module_forward_hook`, which run for every module. Each returns a
:class:`RemovableHandle`. Without hooks, ``module(x)`` is ``module.forward(x)``.
"""
from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from collections.abc import Iterator

import numpy as np

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor
from .parameter import Parameter

# ----- hooks ---------------------------------------------------------------------------------
_hook_ids = itertools.count()
_global_forward_pre_hooks: OrderedDict[int, tuple] = OrderedDict()
_global_forward_hooks: OrderedDict[int, tuple] = OrderedDict()


class RemovableHandle:
    """What ``register_*_hook`` returns: ``handle.remove()`` unregisters the hook (also as ``with``)."""

    def __init__(self, hooks_dict):
        self.id = next(_hook_ids)
        self._hooks = hooks_dict

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
        return False


def _add_hook(store, entry, prepend: bool) -> RemovableHandle:
    handle = RemovableHandle(store)
    store[handle.id] = entry
    if prepend:
        store.move_to_end(handle.id, last=False)
    return handle


def register_module_forward_pre_hook(hook) -> RemovableHandle:
    """``hook(module, args)`` before the ``forward`` of every module (before its own pre-hooks);
    it may return new ``args``. E.g. to know which module is running."""
    return _add_hook(_global_forward_pre_hooks, (hook, False), False)


def register_module_forward_hook(hook) -> RemovableHandle:
    """``hook(module, args, output)`` after the ``forward`` of every module (before its own
    forward hooks); it may return a new output."""
    return _add_hook(_global_forward_hooks, (hook, False), False)


class _BackwardHookFn(Function):
    """Identity in the forward pass; in the backward pass hands the gradient to ``state``
    (the bookkeeping of one call of a module with full backward hooks)."""

    @staticmethod
    def forward(ctx, x, state=None, index=0, is_input=False):
        ctx.state, ctx.index, ctx.is_input = state, index, is_input
        return x.view()

    @staticmethod
    def backward(ctx, grad):
        if ctx.is_input:
            return ctx.state.input_grad(ctx.index, grad)
        ctx.state.output_grad(ctx.index, grad)
        return grad


class _BackwardHookState:
    """One call of a module with full backward hooks: collects the gradients of its outputs,
    then of its inputs, and calls ``hook(module, grad_input, grad_output)``."""

    def __init__(self, module, n_inputs):
        self.module = module
        self.grad_input = [None] * n_inputs
        self.waiting = set()  # inputs whose gradient flows through this call
        self.grad_output = []
        self.outputs_left = 0

    def wrap_outputs(self, out):
        """``out`` (a Tensor or a tuple/list of them), its Tensors routed through this state."""
        single = isinstance(out, Tensor)
        items = [out] if single else list(out) if isinstance(out, (tuple, list)) else []
        self.grad_output = [None] * len(items)
        for i, o in enumerate(items):
            if isinstance(o, Tensor) and o.requires_grad:
                self.outputs_left += 1
                items[i] = _BackwardHookFn.apply(o, self, i)
        if single:
            return items[0]
        return type(out)(items) if items else out

    def output_grad(self, index, grad):
        self.grad_output[index] = grad
        self.outputs_left -= 1
        if not self.waiting and self.outputs_left == 0:  # no input needs a gradient: called with Nones
            self._call(None)

    def input_grad(self, index, grad):
        self.grad_input[index] = grad
        self.waiting.discard(index)
        if self.waiting:  # the hook runs once, when the last input's gradient is known
            return grad
        return self._call(index)

    def _call(self, last):
        grad_output = tuple(self.grad_output)
        grad_input = tuple(self.grad_input)
        for hook in list(self.module._backward_hooks.values()):
            new = hook(self.module, grad_input, grad_output)
            if new is not None:
                new = tuple(new) if isinstance(new, (tuple, list)) else (new,)
                if len(new) != len(grad_input):
                    raise RuntimeError(f"{type(self.module).__name__}: backward hook returned {len(new)} gradients "
                                       f"for {len(grad_input)} inputs")
                if last is None or sum(g is not None for g in grad_input) > 1:
                    raise RuntimeError(f"{type(self.module).__name__}: a full backward hook may replace grad_input "
                                       "only for a module with one input that needs a gradient")
                grad_input = tuple(None if g is None else np.asarray(getattr(g, "data", g)) for g in new)
        return None if last is None else grad_input[last]


def _shape_str(out) -> str:
    if isinstance(out, (tuple, list)):
        return ", ".join(_shape_str(o) for o in out)
    shape = getattr(out, "shape", None)
    return str(tuple(shape)) if shape is not None else type(out).__name__


class Module:
    """Subclass it, create parameters and sub-modules in ``__init__``, write ``forward``."""

    training: bool
    # set in __init__ with object.__setattr__ (registration bypasses __setattr__)
    _parameters: OrderedDict[str, Parameter]
    _modules: OrderedDict[str, Module]
    _buffers: OrderedDict[str, np.ndarray | None]

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
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())

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

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # ----- traversal -----------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
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

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator[Module]:
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
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def requires_grad_(self, flag: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter (transfer learning)."""
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def apply(self, fn) -> Module:
        for m in list(self.modules())[::-1]:
            fn(m)
        return self

    # ----- state ---------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
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
        d = self.__dict__
        if (_global_forward_pre_hooks or _global_forward_hooks or d.get("_forward_pre_hooks")
                or d.get("_forward_hooks") or d.get("_backward_hooks")):
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    # ----- hooks ------------------------------------------------------------------------
    def _hook_store(self, name: str) -> OrderedDict:
        store = self.__dict__.get(name)
        if store is None:  # a module whose __init__ did not call Module.__init__ (restored objects)
            store = OrderedDict()
            object.__setattr__(self, name, store)
        return store

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args)`` runs before ``forward``; returning a value replaces ``args``
        (a non-tuple is wrapped in one). With ``with_kwargs=True``: ``hook(module, args, kwargs)``
        returning ``None`` or ``(args, kwargs)``."""
        return _add_hook(self._hook_store("_forward_pre_hooks"), (hook, with_kwargs), prepend)

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        """``hook(module, args, output)`` runs after ``forward``; returning a value replaces
        the output. With ``with_kwargs=True``: ``hook(module, args, kwargs, output)``."""
        return _add_hook(self._hook_store("_forward_hooks"), (hook, with_kwargs), prepend)

    def register_full_backward_hook(self, hook, *, prepend: bool = False) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` runs once the gradients of this call's
        inputs are known. ``grad_input`` / ``grad_output`` are tuples of arrays (``None``
        for an input or output without a gradient), one per positional Tensor argument /
        per output Tensor. Returning a tuple replaces ``grad_input`` (for a module with one
        input that needs a gradient)."""
        store = self._hook_store("_backward_hooks")
        handle = RemovableHandle(store)
        store[handle.id] = hook
        if prepend:
            store.move_to_end(handle.id, last=False)
        return handle

    def _call_with_hooks(self, args, kwargs):
        for hook, with_kwargs in list(_global_forward_pre_hooks.values()) + list(self._hook_store("_forward_pre_hooks").values()):
            if with_kwargs:
                new = hook(self, args, kwargs)
                if new is not None:
                    args, kwargs = new
                    args = tuple(args) if isinstance(args, (tuple, list)) else (args,)
            else:
                new = hook(self, args)
                if new is not None:
                    args = new if isinstance(new, tuple) else (new,)
        state = None
        if self._hook_store("_backward_hooks") and is_grad_enabled():
            slots = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
            state = _BackwardHookState(self, len(slots))
            args = list(args)
            for k, i in enumerate(slots):
                if args[i].requires_grad:
                    state.waiting.add(k)
                    args[i] = _BackwardHookFn.apply(args[i], state, k, True)
            args = tuple(args)
        out = self.forward(*args, **kwargs)
        for hook, with_kwargs in list(_global_forward_hooks.values()) + list(self._hook_store("_forward_hooks").values()):
            new = hook(self, args, kwargs, out) if with_kwargs else hook(self, args, out)
            if new is not None:
                out = new
        if state is not None:
            out = state.wrap_outputs(out)
        return out

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
    def to(self, dtype) -> Module:
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

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # ----- summary -------------------------------------------------------------------------
    def summary(self, input_shape=None, dtype=np.float32) -> str:
        """A table of every sub-module: name, type, output shape and number of parameters.

        ``input_shape`` is the full shape of one input batch, e.g. ``(1, 784)`` or
        ``(1, 3, 32, 32)``; when given, a forward pass on zeros (without gradients, in
        eval mode, training mode restored afterwards) records each layer's output shape
        with forward hooks (removed afterwards). A layer that is never called shows ``-``.
        Ends with the total, trainable and non-trainable parameter counts.
        """
        from ..autograd import no_grad

        names = list(self.named_modules())
        shapes: dict[int, str] = {}
        if input_shape is not None:
            modes = {id(m): m.training for _, m in names}

            def record(m, args, out):
                shapes[id(m)] = _shape_str(out)

            handles = [m.register_forward_hook(record) for _, m in names]
            try:
                self.eval()
                with no_grad():
                    self(Tensor._wrap(np.zeros(tuple(input_shape), dtype=dtype)))
            finally:
                for h in handles:
                    h.remove()
                for _, m in names:
                    object.__setattr__(m, "training", modes[id(m)])

        rows: list[tuple[str, ...]] = []
        for name, m in names:
            own = sum(p.data.size for p in m._parameters.values() if p is not None)
            depth = name.count(".") + 1 if name else 0
            label = ("  " * max(depth - 1, 0) + name.split(".")[-1]) if name else "(model)"
            rows.append((label, type(m).__name__, shapes.get(id(m), "-"), f"{own:,}" if own else "-"))
        head: tuple[str, ...] = ("Layer", "Type", "Output shape", "Params")
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
