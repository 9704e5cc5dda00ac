"""What an optimizer keeps per parameter (:class:`Slot`) and the scratch arrays all its
updates share (:class:`Scratch`). The optimizer's contract (see ``optimizer.py``): it
updates ``p.data`` in place and never replaces ``p.data`` or ``p.grad``."""
from __future__ import annotations

import numpy as np


class Scratch:
    """Scratch arrays shared by every parameter of an optimizer: ``get(k, n, dtype)`` is the
    first ``n`` entries of the k-th scratch array of that dtype (grown when too small)."""

    def __init__(self) -> None:
        self._arrays: dict = {}

    def get(self, k: int, n: int, dtype) -> np.ndarray:
        key = (k, np.dtype(dtype))
        arr = self._arrays.get(key)
        if arr is None or arr.size < n:
            arr = self._arrays[key] = np.empty(n, dtype=dtype)
        return arr[:n]


class Slot:
    """What an optimizer keeps for one parameter: flat ``state`` arrays by name and the
    number of updates applied (``steps``). Before an update, :meth:`bind` sets ``data``
    and ``grad`` to flat views of the parameter's own ``p.data`` and ``p.grad``."""

    def __init__(self, param, state_names, scratch: Scratch):
        self.params = [param]
        self.shape = param.data.shape
        self.state = {name: np.zeros(param.data.size, dtype=param.data.dtype) for name in state_names}
        self.steps = np.zeros(1, dtype=np.int64)  # updates applied
        self._scratch = scratch
        # flat views of p.data / p.grad, set by bind() before an update reads them (None until then)
        self.data: np.ndarray = None  # type: ignore[assignment]  # two-phase init: bound by bind()
        self.grad: np.ndarray = None  # type: ignore[assignment]  # two-phase init: bound by bind()
        self._writeback = None

    @property
    def param(self):
        return self.params[0]

    def tmp(self, k: int) -> np.ndarray:
        """The k-th scratch array (flat, like ``data``; shared with other parameters)."""
        return self._scratch.get(k, self.data.size, self.data.dtype)

    def bind(self, opt_name: str) -> None:
        """Point ``data``/``grad`` at flat views of the parameter's arrays (the gradient is
        converted to the parameter's dtype if it has another one, without touching ``p.grad``)."""
        p = self.param
        d, g = p.data, p.grad
        if d.shape != self.shape:
            raise ValueError(f"{opt_name}.step: a parameter changed shape from {self.shape} to {d.shape} after the "
                             "optimizer was built; build a new optimizer for it")
        if g.shape != d.shape:
            raise ValueError(f"{opt_name}.step: gradient of shape {g.shape} does not match parameter of shape {d.shape}")
        for name, arr in self.state.items():
            if arr.dtype != d.dtype:  # the parameter was cast (e.g. .double()): the state follows
                self.state[name] = arr.astype(d.dtype)
        if d.flags.c_contiguous:
            self.data, self._writeback = d.reshape(-1), None
        else:  # a strided array: update a contiguous copy, then write it back
            self.data = np.ascontiguousarray(d).reshape(-1)
            self._writeback = d
        if g.dtype != d.dtype or not g.flags.c_contiguous:
            g = np.ascontiguousarray(g, dtype=d.dtype)
        self.grad = g.reshape(-1)

    def release(self) -> None:
        if self._writeback is not None:
            self._writeback[...] = self.data.reshape(self._writeback.shape)
        self.data = self.grad = self._writeback = None  # type: ignore[assignment]  # unbound until the next bind()
