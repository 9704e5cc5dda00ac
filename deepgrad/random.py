"""The library's random number generator: one ``seed`` makes a run repeatable.

Everything random in deepgrad (initialisation, dropout masks, shuffling) draws from
``default_generator()`` unless given its own ``numpy.random.Generator``.
"""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the global generator (like ``torch.manual_seed``) and return it."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


seed = manual_seed


def default_generator() -> np.random.Generator:
    return _generator


def get_state() -> dict:
    """The global generator's state, JSON-serialisable (for checkpoints)."""
    return dict(_generator.bit_generator.state)  # a dict already; typed as Mapping by NumPy


def set_state(state: dict) -> None:
    _generator.bit_generator.state = state
