"""Reverse-mode automatic differentiation: the graph node, ``Function`` and ``backward``.

Course 1 ("derivatives with a computation graph") in one file. Every differentiable
operation is a :class:`Function` subclass with a ``forward`` and a ``backward`` side by
side. Running an op records a :class:`Context` on its output; ``backward`` walks those
records in reverse topological order (computed iteratively, so graphs of any depth
work) and hands each op the gradient of its output.

Broadcasting is undone in exactly one place, :func:`unbroadcast`, so no op has to
reduce its gradients to its inputs' shapes by itself.
"""
from __future__ import annotations

import functools

import numpy as np

_grad_enabled = True
# Anomaly detection (deepgrad/check/anomaly.py): None when off, so each op pays one global check.
_anomaly = None


def is_grad_enabled() -> bool:
    return _grad_enabled


class _GradMode:
    """Base of ``no_grad`` / ``enable_grad``: a context manager and a decorator."""

    mode = True

    def __enter__(self):
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = self.mode

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Operations inside ``with no_grad():`` record no graph (evaluation, weight updates)."""

    mode = False


class enable_grad(_GradMode):
    mode = True


class Context:
    """What one op remembers for its backward pass: the graph node.

    ``fn`` is the Function class, ``parents`` the ``(position, tensor)`` pairs of the
    inputs that need a gradient, ``needs_input_grad`` one bool per positional input.
    Ops store whatever else they need as attributes or with ``save_for_backward``.
    """

    def __init__(self):
        self.freed = False

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def release(self):
        """Drop everything saved for backward (the graph is freed after one pass)."""
        fn, parents, needs = self.fn, self.parents, self.needs_input_grad
        self.__dict__.clear()
        self.fn, self.parents, self.needs_input_grad = fn, parents, needs
        self.freed = True


class Function:
    """Base class of every differentiable op (like ``torch.autograd.Function``).

    Subclass it and write two static methods::

        class Cube(Function):
            @staticmethod
            def forward(ctx, x):            # x: ndarray
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, grad):        # grad: ndarray shaped like the output
                (x,) = ctx.saved_tensors
                return 3 * x ** 2 * grad    # one gradient per positional input

        y = Cube.apply(t)                  # t: Tensor -> y: Tensor, recorded in the graph

    ``forward`` receives the ``.data`` arrays of Tensor arguments and any other argument
    unchanged (scalars, shapes, flags; keyword arguments are passed through and never
    differentiated). ``backward`` returns one gradient per positional argument, as a
    tuple when there are several, with ``None`` for arguments that need none;
    ``ctx.needs_input_grad[i]`` says which are needed. A gradient may have the
    broadcast shape of the output: the engine sums it back to the input's shape.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor

        raw = []
        needs = []
        requires = False
        for a in args:
            if isinstance(a, Tensor):
                raw.append(a.data)
                r = a.requires_grad
                needs.append(r)
                requires = requires or r
            else:
                raw.append(a)
                needs.append(False)
        requires = requires and _grad_enabled
        ctx = Context()
        ctx.needs_input_grad = needs
        data = cls.forward(ctx, *raw, **kwargs)
        if _anomaly is not None:
            _anomaly.forward(cls, ctx, args, data)
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
        out.requires_grad = requires
        out._retains_grad = False
        if requires:
            ctx.fn = cls
            ctx.parents = [(i, a) for i, a in enumerate(args) if needs[i]]
            out._ctx = ctx
        else:
            out._ctx = None
        return out


def unbroadcast(grad: np.ndarray, shape: tuple, op: str = "op") -> np.ndarray:
    """Sum ``grad`` (the broadcast shape) back down to ``shape``: the one place broadcasting is undone."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"{op}: gradient of shape {grad.shape} cannot be reduced to input shape {shape}")
    axes = list(range(extra))
    axes += [extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1]
    if axes:
        grad = grad.sum(axis=tuple(axes), keepdims=True)
    if extra:
        grad = grad.reshape(grad.shape[extra:])
    if grad.shape != shape:
        raise RuntimeError(f"{op}: gradient of shape {grad.shape} does not match input shape {shape}")
    return grad


def _in_layout_of(g: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``g`` laid out in memory like ``ref`` (same axis order), copied only when it is not.

    The engine hands every op the gradient of its output in the memory layout of that
    output, so an op's backward never mixes layouts: elementwise NumPy on two arrays
    whose axes run in different orders is several times slower than on matching ones.
    (A gradient that arrives broadcast, e.g. from ``mean``, is materialised once here
    instead of being re-read with zero strides by every op below.) Only for 3-D and
    higher arrays, where the convolutions' batch-innermost layout lives.
    """
    if g.ndim < 3 or g.strides == ref.strides or g.shape != ref.shape:
        return g
    out = np.empty_like(ref, dtype=g.dtype)  # order "K": ref's axis order
    if out.strides == g.strides:
        return g
    np.copyto(out, g)
    return out


def _topological_order(root):
    """Non-leaf tensors reachable from ``root``, each after all tensors it depends on.

    An explicit stack instead of recursion: a chain of 100,000 ops is fine.
    """
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        for _, p in t._ctx.parents:
            if p._ctx is not None and id(p) not in visited:
                stack.append((p, False))
    return order


def _accumulate_leaf(t, g):
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if t.grad is None:
        # Gradients handed out by ops may be shared (``add`` passes one array to both
        # inputs), so a leaf gets its own copy before anything adds into it in place.
        t.grad = np.array(g, copy=True)
    else:
        np.add(t.grad, g, out=t.grad)


def backward(root, gradient=None, retain_graph: bool = False) -> None:
    """Fill ``.grad`` of every leaf tensor that ``root`` depends on (see ``Tensor.backward``)."""
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad and has no graph; "
            "create its inputs with requires_grad=True (and outside no_grad())"
        )
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"backward: gradient can be created implicitly only for a scalar output, "
                f"got shape {root.data.shape}; pass gradient= with that shape (e.g. ones)"
            )
        gradient = np.ones_like(root.data)
    else:
        gradient = np.asarray(getattr(gradient, "data", gradient), dtype=root.data.dtype)
        if gradient.shape != root.data.shape:
            raise ValueError(
                f"backward: gradient has shape {gradient.shape} but the tensor has shape {root.data.shape}"
            )
    if root._ctx is None:  # a leaf: its gradient is the upstream gradient
        _accumulate_leaf(root, gradient)
        return
    if root._ctx.freed:
        raise RuntimeError(_FREED_MSG)
    order = _topological_order(root)
    grads = {id(root): _in_layout_of(gradient, root.data)}
    for t in reversed(order):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        ctx = t._ctx
        if ctx.freed:
            raise RuntimeError(_FREED_MSG)
        if t._retains_grad:
            _accumulate_leaf(t, g)
        fn = ctx.fn
        in_grads = fn.backward(ctx, g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if _anomaly is not None:
            _anomaly.backward(fn, ctx, g, in_grads)
        for i, p in ctx.parents:
            gi = in_grads[i]
            if gi is None:
                continue
            if gi.shape != p.data.shape:
                gi = unbroadcast(gi, p.data.shape, fn.__name__)
            if p._ctx is None:
                _accumulate_leaf(p, gi)
            else:
                gi = _in_layout_of(gi, p.data)
                key = id(p)
                prev = grads.get(key)
                grads[key] = gi if prev is None else prev + gi
        if not retain_graph:
            ctx.release()


_FREED_MSG = (
    "backward: trying to backward through the graph a second time, but its saved values "
    "were freed after the first backward; call backward(retain_graph=True) the first time "
    "if you need to go through it again"
)
