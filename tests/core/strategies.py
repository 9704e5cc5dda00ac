"""Hypothesis strategies for op tests: shapes (incl. 0-d, size-1, broadcasting) and float64 arrays."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**31 - 1)


def array(shape, seed, kind="any"):
    """Random float64 values; ``kind`` keeps them where the op is smooth and finite differences are valid."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "positive":
        return np.abs(x) + 0.5
    if kind == "away_from_zero":  # no kinks of relu/abs/leaky_relu within eps
        return np.sign(x + 1e-12) * (np.abs(x) + 0.1)
    if kind == "distinct":  # no ties for max/min/maximum
        flat = rng.permutation(np.arange(int(np.prod(shape)))).astype(np.float64) * 0.3 - 1
        return flat.reshape(shape) + rng.uniform(-0.01, 0.01, shape)
    return x


@st.composite
def axis_args(draw, shape):
    """(axis, keepdims) with axis None, an int (possibly negative) or a tuple."""
    nd = len(shape)
    keep = draw(st.booleans())
    if nd == 0:
        return None, keep
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return None, keep
    if choice == 1:
        return draw(st.integers(-nd, nd - 1)), keep
    axes = draw(st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True))
    return tuple(axes), keep
