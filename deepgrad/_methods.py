"""Tensor methods and operators, each forwarding to the op of the same name in ``deepgrad.ops``."""
from __future__ import annotations

from . import ops
from .ops import elementwise as E
from .tensor import Tensor


def _rev(f):
    return lambda self, other: f(other, self)


def _install():
    T = Tensor
    T.__add__ = E.add
    T.__radd__ = _rev(E.add)
    T.__sub__ = E.sub
    T.__rsub__ = _rev(E.sub)
    T.__mul__ = E.mul
    T.__rmul__ = _rev(E.mul)
    T.__truediv__ = E.div
    T.__rtruediv__ = _rev(E.div)
    T.__pow__ = E.pow
    T.__rpow__ = _rev(E.pow)
    T.__matmul__ = ops.matmul
    T.__rmatmul__ = _rev(ops.matmul)
    T.__neg__ = E.neg
    T.__abs__ = E.abs
    T.__pos__ = lambda self: self
    T.__eq__ = E.equal
    T.__ne__ = E.not_equal
    T.__lt__ = E.less
    T.__le__ = E.less_equal
    T.__gt__ = E.greater
    T.__ge__ = E.greater_equal
    T.__getitem__ = ops.getitem

    for name in (
        "add sub mul div pow neg exp log sqrt abs clip clamp maximum minimum sign "
        "sum mean max min amax amin var std logsumexp argmax argmin "
        "reshape view transpose permute swapaxes moveaxis broadcast_to expand squeeze unsqueeze flatten pad "
        "matmul relu leaky_relu elu gelu sigmoid tanh softplus softmax log_softmax split"
    ).split():
        setattr(T, name, getattr(ops, name))
    T.T = property(lambda self: ops.transpose(self))
    T.mT = property(lambda self: ops.swapaxes(self, -1, -2))


_install()
