"""Type promotion follows PyTorch's rules (issue 15, item 5): integer with float32 is float32
(NumPy would give float64), a Python or NumPy scalar only decides the result's category,
and a 0-d tensor only wins over higher-dimensional ones of a lower category."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg

try:
    import torch
except ImportError:
    torch = None

# Operands: (deepgrad value, torch value) built from a name, so one table drives both libraries.
TENSORS = {
    "i64": (np.array([1, 2, 3], np.int64), "int64"),
    "i32": (np.array([1, 2, 3], np.int32), "int32"),
    "u8": (np.array([1, 2, 3], np.uint8), "uint8"),
    "b": (np.array([True, False, True]), "bool"),
    "f32": (np.array([0.5, 1.5, 2.5], np.float32), "float32"),
    "f64": (np.array([0.5, 1.5, 2.5], np.float64), "float64"),
    "f64_0d": (np.array(2.5, np.float64), "float64"),
    "i64_0d": (np.array(3, np.int64), "int64"),
}
SCALARS = {"2.5": 2.5, "3": 3, "True": True, "np.float64(2)": np.float64(2.0), "np.int64(2)": np.int64(2)}


def _dg(name):
    if name in SCALARS:
        return SCALARS[name]
    return dg.from_numpy(TENSORS[name][0].copy())


def _torch(name):
    if name in SCALARS:
        return SCALARS[name]
    arr, dt = TENSORS[name]
    return torch.tensor(arr, dtype=getattr(torch, dt))


CASES = [
    # (operation, left, right, expected dtype)
    ("add", "i64", "f32", "float32"),
    ("add", "f32", "i64", "float32"),
    ("mul", "i32", "f32", "float32"),
    ("add", "i64", "2.5", "float32"),
    ("sub", "2.5", "i64", "float32"),
    ("mul", "b", "2.5", "float32"),
    ("add", "b", "3", "int64"),
    ("add", "i32", "3", "int32"),
    ("mul", "i32", "np.int64(2)", "int32"),
    ("mul", "f32", "np.float64(2)", "float32"),
    ("mul", "i64", "np.float64(2)", "float32"),
    ("add", "f32", "f64", "float64"),
    ("add", "f32", "f64_0d", "float32"),
    ("add", "i32", "f64_0d", "float64"),
    ("add", "u8", "i64_0d", "uint8"),
    ("add", "i32", "i64", "int64"),
    ("div", "i64", "i64", "float32"),
    ("div", "3", "i64", "float32"),
    ("div", "i64", "2.5", "float32"),
    ("pow", "i64", "2.5", "float32"),
    ("pow", "i64", "3", "int64"),
    ("maximum", "i64", "f32", "float32"),
    ("minimum", "f32", "i32", "float32"),
    ("matmul", "i64", "f32", "float32"),
]

OPS = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / b, lambda a, b: a / b),
    "pow": (lambda a, b: a**b, lambda a, b: a**b),
    "maximum": (dg.maximum, lambda a, b: torch.maximum(a, b)),
    "minimum": (dg.minimum, lambda a, b: torch.minimum(a, b)),
    "matmul": (dg.matmul, None),  # torch refuses mixed dtypes in matmul; ours promotes like the other ops
}


@pytest.mark.parametrize("op,left,right,expected", CASES, ids=[f"{o}({a},{b})" for o, a, b, _ in CASES])
def test_result_dtype(op, left, right, expected):
    out = OPS[op][0](_dg(left), _dg(right))
    assert out.dtype == np.dtype(expected)
    # the values are those of the computation in the result dtype
    ref = OPS[op][0](
        *(
            dg.from_numpy(np.asarray(TENSORS[n][0] if n in TENSORS else SCALARS[n]).astype(expected))
            if n in TENSORS
            else SCALARS[n]
            for n in (left, right)
        )
    )
    np.testing.assert_allclose(out.data, ref.data, rtol=1e-6)


TORCH_CASES = [c for c in CASES if OPS[c[0]][1] is not None]


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("op,left,right,expected", TORCH_CASES, ids=[f"{o}({a},{b})" for o, a, b, _ in TORCH_CASES])
def test_result_dtype_is_torchs(op, left, right, expected):
    torch_fn = OPS[op][1]
    got = torch_fn(_torch(left), _torch(right)).dtype
    assert str(got) == f"torch.{expected}"
    np.testing.assert_allclose(
        OPS[op][0](_dg(left), _dg(right)).data, torch_fn(_torch(left), _torch(right)).numpy(), rtol=1e-6
    )


@pytest.mark.parametrize("fn", [dg.exp, dg.log, dg.sqrt, dg.sigmoid, dg.tanh, lambda t: dg.softmax(t, dim=0)])
def test_float_functions_of_integers_are_float32(fn):
    assert fn(dg.tensor([1, 2, 3])).dtype == np.float32


def test_where_promotes_like_torch():
    cond = dg.tensor([True, False, True])
    assert dg.where(cond, dg.tensor([1, 2, 3]), dg.tensor([0.5, 1.5, 2.5])).dtype == np.float32
    assert dg.where(cond, dg.tensor([1, 2, 3]), 2.5).dtype == np.float32
    if torch is not None:
        tc = torch.tensor([True, False, True])
        assert torch.where(tc, torch.tensor([1, 2, 3]), 2.5).dtype == torch.float32


def test_mean_of_integers_and_booleans_is_float32():
    assert dg.tensor([1, 2, 4]).mean().dtype == np.float32
    assert (dg.tensor([1, 2, 3]) == dg.tensor([1, 0, 3])).mean().item() == pytest.approx(2 / 3)


def test_gradient_keeps_the_leaf_dtype():
    w = dg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    labels = dg.tensor([1, 0, 3])
    y = (w * labels + labels / 2).sum()
    assert y.dtype == np.float32
    y.backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, [1, 0, 3])


def test_float64_stays_float64():
    x = dg.tensor(np.array([1.0, 2.0]), requires_grad=True)  # an ndarray keeps float64
    y = x * 0.5 + dg.tensor([1, 2]) + np.float64(1.0)
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float64


def test_lists_as_operands_use_tensor_defaults():
    assert (dg.tensor([1, 2]) + [0.5, 0.5]).dtype == np.float32
    assert (dg.tensor([1.0, 2.0], dtype=np.float32) * [2, 3]).dtype == np.float32


def test_numpy_scalar_on_the_left():
    assert (np.float64(2.0) * dg.tensor([1.0, 2.0])).dtype == np.float32
    assert (np.float64(2.0) - dg.tensor([1, 2])).dtype == np.float32
    assert (np.ones(2) + dg.tensor([1.0, 2.0])).dtype == np.float64  # an ndarray is a tensor with its dtype


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


@st.composite
def operand(draw, allow_scalar=True):
    """("tensor", dtype), ("0-d", dtype) or ("scalar", python value)."""
    kind = draw(st.sampled_from(["tensor", "0-d", "scalar"] if allow_scalar else ["tensor", "0-d"]))
    if kind == "scalar":
        return kind, draw(st.sampled_from([True, 1, 2.0]))
    return kind, draw(st.sampled_from(DTYPES))


def _build(op, lib):
    kind, v = op
    if kind == "scalar":
        return v
    shape = (2,) if kind == "tensor" else ()
    arr = np.ones(shape, dtype=v)
    return dg.from_numpy(arr) if lib == "dg" else torch.from_numpy(arr)


@pytest.mark.skipif(torch is None, reason="torch not installed")
@given(
    a=operand(), b=operand(allow_scalar=False), swap=st.booleans(), op=st.sampled_from(["add", "mul", "div", "maximum"])
)
def test_promotion_matches_torch_for_any_pair(a, b, swap, op):
    left, right = (b, a) if swap else (a, b)
    if op == "maximum" and "scalar" in (left[0], right[0]):
        return  # torch.maximum takes tensors only
    f_dg = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y, "maximum": dg.maximum}[op]
    f_t = {"add": lambda x, y: x + y, "mul": lambda x, y: x * y, "div": lambda x, y: x / y, "maximum": torch.maximum}[
        op
    ]
    got = f_dg(_build(left, "dg"), _build(right, "dg")).dtype
    want = f_t(_build(left, "t"), _build(right, "t")).dtype
    assert str(want) == f"torch.{got}", (left, right, op)
