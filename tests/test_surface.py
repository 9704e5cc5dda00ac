"""The surface users know (issue 14, item 3): one import, NumPy's and PyTorch's argument
names through one helper, Tensor methods as real methods, a clean ``dir(deepgrad)``."""

import inspect
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.tensor import Tensor

try:
    import torch
except ImportError:
    torch = None


def _fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (so nothing imported by other tests is loaded) and return stdout."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**31 - 1)


def array(shape, seed):
    """Distinct values (no ties, so max/min have one gradient path)."""
    rng = np.random.default_rng(seed)
    flat = rng.permutation(np.arange(int(np.prod(shape)))).astype(np.float64) * 0.3 - 1
    return flat.reshape(shape)


@st.composite
def axis_args(draw, shape):
    """(axis, keepdims): axis None, an int (possibly negative) or a tuple of ints."""
    nd, keep = len(shape), draw(st.booleans())
    if nd == 0 or draw(st.booleans()):
        return None, keep
    if draw(st.booleans()):
        return draw(st.integers(-nd, nd - 1)), keep
    return tuple(draw(st.lists(st.integers(-nd, nd - 1), min_size=1, max_size=nd, unique_by=lambda a: a % nd))), keep


# ----- one import ------------------------------------------------------------------------
def test_import_deepgrad_is_enough():
    out = _fresh(
        "import json, sys\n"
        "import deepgrad as dg\n"
        "loaded = {m: m in sys.modules for m in ('scipy', 'deepgrad.data', 'deepgrad.train', 'deepgrad.vision')}\n"
        "names = [dg.nn.Linear.__name__, dg.nn.functional.relu.__name__, dg.optim.Adam.__name__,\n"
        "         dg.optim.lr_scheduler.StepLR.__name__, dg.data.DataLoader.__name__, dg.train.Trainer.__name__]\n"
        "print(json.dumps({'before_access': loaded, 'names': names}))\n"
    )
    got = json.loads(out)
    # data, train and vision (and SciPy, used only by exact GELU) load on first use, not at import
    assert got["before_access"] == {
        "scipy": False,
        "deepgrad.data": False,
        "deepgrad.train": False,
        "deepgrad.vision": False,
    }
    assert got["names"] == ["Linear", "relu", "Adam", "StepLR", "DataLoader", "Trainer"]


def test_dir_lists_the_api_and_nothing_else():
    names = dir(dg)
    for want in ("nn", "optim", "data", "train", "tensor", "Tensor", "sum", "no_grad", "randn", "float32"):
        assert want in names
    for unwanted in ("np", "numpy", "annotations", "TYPE_CHECKING", "importlib"):
        assert unwanted not in names
    assert not [n for n in names if n.startswith("_") and n != "__version__"]
    for name in dg.__all__:  # every advertised name resolves
        assert getattr(dg, name) is not None, name


def test_all_lists_every_public_name():
    """A name imported into deepgrad/__init__.py is public only once it is in __all__ (and so in dir()).
    (Submodules are attributes too once anything imports them; the public ones are listed.)"""
    import types

    public = {n for n, v in vars(dg).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    assert public - {"TYPE_CHECKING"} - set(dg.__all__) == set(), "add these to deepgrad.__all__"
    assert {"nn", "optim", "data", "train", "vision", "check"} <= set(dg.__all__)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dg.nope  # noqa: B018


# ----- dim/keepdim and axis/keepdims ------------------------------------------------------
REDUCTIONS = ["sum", "mean", "max", "min", "amax", "amin", "var", "std", "logsumexp"]


def _value_and_grad(fn, x0):
    x = dg.tensor(x0, dtype=np.float64, requires_grad=True)
    out = fn(x)
    v = np.random.default_rng(1).standard_normal(out.shape)
    (out * dg.tensor(v)).sum().backward()
    return out.data, x.grad


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # std of one element: a NaN gradient, equal in both forms
@pytest.mark.parametrize("op", REDUCTIONS)
@given(data=st.data())
def test_reduction_dim_equals_axis_values_and_gradients(op, data):
    shape = data.draw(shapes)
    seed = data.draw(seeds)
    axis, keep = data.draw(axis_args(shape))
    x0 = array(shape, seed)
    fn, meth = getattr(dg, op), op
    ref, gref = _value_and_grad(lambda t: fn(t, axis=axis, keepdims=keep), x0)
    for variant in (
        lambda t: fn(t, dim=axis, keepdim=keep),
        lambda t: fn(t, axis=axis, keepdim=keep),
        lambda t: fn(t, dim=axis, keepdims=keep),
        lambda t: getattr(t, meth)(dim=axis, keepdim=keep),
        lambda t: getattr(t, meth)(axis, keep),  # positional, as both libraries allow
    ):
        out, g = _value_and_grad(variant, x0)
        assert out.shape == ref.shape
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(g, gref)


TORCH_REDUCTIONS = {
    "sum": lambda t, d, k: t.sum(dim=d, keepdim=k),
    "mean": lambda t, d, k: t.mean(dim=d, keepdim=k),
    "amax": lambda t, d, k: t.amax(dim=d if d is not None else (), keepdim=k),
    "var": lambda t, d, k: t.var(dim=d, keepdim=k, correction=0),
    "logsumexp": lambda t, d, k: t.logsumexp(dim=d if d is not None else tuple(range(t.ndim)), keepdim=k),
}


@pytest.mark.skipif(torch is None, reason="torch not installed")
@pytest.mark.parametrize("op", sorted(TORCH_REDUCTIONS))
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_reduction_dim_means_what_torch_means(op, shape, seed, data):
    axis, keep = data.draw(axis_args(shape))
    x0 = array(shape, seed)
    ours = getattr(dg.tensor(x0, dtype=np.float64), op)(dim=axis, keepdim=keep).data
    theirs = TORCH_REDUCTIONS[op](torch.tensor(x0), axis, keep).numpy()
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


AXIS_OPS = {
    # name: (axis form, dim form), both given a tensor and one axis
    "softmax": (lambda t, a: dg.softmax(t, axis=a), lambda t, a: t.softmax(dim=a)),
    "log_softmax": (lambda t, a: dg.log_softmax(t, axis=a), lambda t, a: F.log_softmax(t, dim=a)),
    "cat": (lambda t, a: dg.concatenate([t, t * 2], axis=a), lambda t, a: dg.cat([t, t * 2], dim=a)),
    "stack": (lambda t, a: dg.stack([t, t * 2], axis=a), lambda t, a: dg.stack([t, t * 2], dim=a)),
    "unsqueeze": (lambda t, a: dg.expand_dims(t, axis=a) * 3, lambda t, a: t.unsqueeze(dim=a) * 3),
    "split": (lambda t, a: dg.split(t, 1, axis=a)[0], lambda t, a: t.split(1, dim=a)[0]),
    "swapaxes": (lambda t, a: dg.swapaxes(t, a, 0), lambda t, a: t.swapaxes(dim0=a, dim1=0)),
}


@pytest.mark.parametrize("op", sorted(AXIS_OPS))
@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_axis_ops_dim_equals_axis_values_and_gradients(op, shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x0 = array(shape, seed)
    axis_form, dim_form = AXIS_OPS[op]
    ref, gref = _value_and_grad(lambda t: axis_form(t, axis), x0)
    out, g = _value_and_grad(lambda t: dim_form(t, axis), x0)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out, ref)
    np.testing.assert_array_equal(g, gref)


def _x(*shape):
    return dg.tensor(np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * 0.37 % 1.3, requires_grad=True)


# (dim form, axis form) pairs for every other op that takes an axis
PAIRS = {
    "softmax": (lambda x: dg.softmax(x, dim=0), lambda x: dg.softmax(x, axis=0)),
    "softmax_method": (lambda x: x.softmax(dim=1), lambda x: dg.softmax(x, 1)),
    "log_softmax": (lambda x: dg.log_softmax(x, dim=0), lambda x: dg.log_softmax(x, axis=0)),
    "log_softmax_method": (lambda x: x.log_softmax(dim=-1), lambda x: dg.log_softmax(x, axis=-1)),
    "F.softmax": (lambda x: F.softmax(x, dim=0), lambda x: F.softmax(x, axis=0)),
    "F.softmax_pos": (lambda x: F.softmax(x, 1), lambda x: dg.softmax(x, axis=1)),
    "F.log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: F.log_softmax(x, axis=0)),
    "squeeze": (lambda x: dg.squeeze(x[:, :1], dim=1), lambda x: dg.squeeze(x[:, :1], axis=1)),
    "squeeze_method": (lambda x: x[:1].squeeze(dim=0), lambda x: x[:1].squeeze(0)),
    "unsqueeze": (lambda x: dg.unsqueeze(x, dim=1), lambda x: dg.expand_dims(x, axis=1)),
    "unsqueeze_method": (lambda x: x.unsqueeze(dim=-1), lambda x: x.unsqueeze(-1)),
    "cat": (lambda x: dg.cat([x, 2 * x], dim=1), lambda x: dg.concatenate([x, 2 * x], axis=1)),
    "stack": (lambda x: dg.stack([x, 2 * x], dim=2), lambda x: dg.stack([x, 2 * x], axis=2)),
    "split": (lambda x: dg.split(x, 2, dim=0)[1], lambda x: dg.split(x, 2, axis=0)[1]),
    "split_method": (lambda x: x.split([1], dim=1)[1], lambda x: x.split([1], 1)[1]),
    "swapaxes": (lambda x: x.swapaxes(dim0=0, dim1=1), lambda x: dg.swapaxes(x, 0, 1)),
    "flatten": (lambda x: x.reshape(2, 3, 1).flatten(start_dim=1), lambda x: dg.flatten(x.reshape(2, 3, 1), 1)),
    "argmax": (lambda x: dg.argmax(x, dim=1, keepdim=True), lambda x: dg.argmax(x, axis=1, keepdims=True)),
    "argmin_method": (lambda x: x.argmin(dim=0), lambda x: x.argmin(0)),
    "std_correction": (lambda x: x.std(dim=0, correction=1), lambda x: dg.std(x, axis=0, ddof=1)),
    "clamp": (lambda x: x.clamp(min=0.2, max=0.9), lambda x: dg.clip(x, 0.2, 0.9)),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_dim_form_equals_axis_form(name):
    dim_form, axis_form = PAIRS[name]
    x1, x2 = _x(2, 3), _x(2, 3)
    a, b = dim_form(x1), axis_form(x2)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == b.dtype
    if a.requires_grad:
        a.sum().backward()
        b.sum().backward()
        np.testing.assert_array_equal(x1.grad, x2.grad)


BOTH = {
    "sum": lambda x: dg.sum(x, axis=0, dim=0),
    "mean keepdims": lambda x: x.mean(keepdims=True, keepdim=True),
    "max": lambda x: x.max(0, dim=0),
    "var ddof": lambda x: dg.var(x, ddof=1, correction=1),
    "logsumexp": lambda x: dg.logsumexp(x, axis=1, dim=1),
    "argmax": lambda x: dg.argmax(x, axis=0, dim=0),
    "softmax": lambda x: dg.softmax(x, axis=0, dim=0),
    "F.softmax": lambda x: F.softmax(x, dim=1, axis=1),
    "squeeze": lambda x: x.squeeze(axis=0, dim=0),
    "unsqueeze": lambda x: dg.unsqueeze(x, 0, dim=0),
    "cat": lambda x: dg.cat([x, x], axis=0, dim=0),
    "stack": lambda x: dg.stack([x, x], axis=0, dim=0),
    "split": lambda x: x.split(2, axis=0, dim=0),
    "swapaxes": lambda x: x.swapaxes(0, 1, dim0=0),
    "clamp": lambda x: x.clamp(0.0, min=0.0),
}


@pytest.mark.parametrize("name", sorted(BOTH))
def test_both_names_is_a_clear_error(name):
    with pytest.raises(TypeError, match=r"got both \w+=.* and \w+=.*; give one"):
        BOTH[name](_x(2, 3))


def test_error_names_the_op_and_both_arguments():
    with pytest.raises(TypeError, match=r"sum: got both axis=0 and dim=1"):
        dg.sum(_x(2, 3), axis=0, dim=1)
    with pytest.raises(TypeError, match=r"mean: got both keepdims=True and keepdim=False"):
        _x(2, 3).mean(keepdims=True, keepdim=False)


# ----- Tensor methods are real methods -------------------------------------------------
METHODS = (
    "add sub mul div pow neg exp log sqrt abs clip clamp maximum minimum sign sum mean max min amax amin var std "
    "logsumexp argmax argmin reshape view transpose permute swapaxes moveaxis broadcast_to expand squeeze unsqueeze "
    "flatten pad split matmul relu leaky_relu elu gelu sigmoid tanh softplus softmax log_softmax astype to float "
    "double long dim numel clone detach backward"
).split()
OPERATORS = (
    "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __pow__ __rpow__ __matmul__ "
    "__rmatmul__ __neg__ __pos__ __abs__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__ __getitem__"
).split()


@pytest.mark.parametrize("name", METHODS + OPERATORS)
def test_tensor_methods_are_defined_in_the_class(name):
    fn = Tensor.__dict__[name]  # in the class body itself, not installed from outside
    assert inspect.isfunction(fn)
    assert fn.__qualname__ == f"Tensor.{name}"
    assert inspect.signature(fn).return_annotation in ("Tensor", "list[Tensor]", "None", "int")


def test_reduction_methods_show_both_argument_names():
    for name in ("sum", "mean", "max", "min", "var", "std", "logsumexp", "argmax"):
        params = inspect.signature(getattr(Tensor, name)).parameters
        assert {"axis", "keepdims", "dim", "keepdim"} <= set(params), name
    assert {"axis", "dim"} <= set(inspect.signature(Tensor.softmax).parameters)
    assert isinstance(Tensor.__dict__["T"], property) and isinstance(Tensor.__dict__["mT"], property)


def test_nothing_installs_methods_on_tensor_from_outside():
    import pathlib
    import re

    root = pathlib.Path(dg.__file__).parent
    assert not (root / "_methods.py").exists()
    pattern = re.compile(r"setattr\((Tensor|T)\b|\bTensor\.\w+\s*=[^=]")
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


def test_transpose_error_points_to_swapaxes():
    with pytest.raises(ValueError, match="swapaxes"):
        dg.randn(2, 3, 4).transpose(-2, -1)
    assert dg.randn(2, 3, 4).swapaxes(-2, -1).shape == (2, 4, 3)


def test_torch_style_helpers():
    x = dg.randn(2, 3)
    assert x.dim() == 2 and x.numel() == 6
    assert dg.arange(3.0).dtype == np.float32 and dg.arange(3).dtype == np.int64


def test_import_order_does_not_matter():
    """The Tensor methods and the ops import each other lazily; any first import works."""
    for first in (
        "import deepgrad.tensor",
        "import deepgrad.ops.matmul",
        "from deepgrad.ops import reduce",
        "import deepgrad.train",
        "import deepgrad.nn.functional",
    ):
        out = _fresh(
            f"{first}\nimport deepgrad as dg\nx = dg.randn(2, 3)\n"
            "print((x @ x.T).shape, x.sum(dim=0).shape, x.relu().shape)"
        )
        assert out.split() == ["(2,", "2)", "(3,)", "(2,", "3)"], first


@pytest.mark.slow
def test_type_checker_sees_the_methods_and_submodules(tmp_path, monkeypatch):
    pytest.importorskip("mypy")
    from mypy import api

    src = tmp_path / "use.py"
    src.write_text(
        "import deepgrad as dg\n"
        "x = dg.randn(2, 3)\n"
        "reveal_type(x.sum(dim=1))\n"
        "reveal_type(x.split(3, dim=1))\n"
        "reveal_type(dg.train.Trainer)\n"
        "x.sum(dimm=1)\n"
    )
    root = pathlib.Path(dg.__file__).parent.parent
    monkeypatch.setenv("MYPYPATH", str(root))  # this checkout, not another installed one
    out, _, _ = api.run(
        [
            "--follow-imports=silent",
            "--no-incremental",
            "--config-file",
            str(root / "pyproject.toml"),
            "--python-executable",
            sys.executable,
            str(src),
        ]
    )
    assert 'Revealed type is "deepgrad.tensor.Tensor"' in out
    assert 'Revealed type is "list[deepgrad.tensor.Tensor]"' in out
    assert "deepgrad.train.trainer.Trainer" in out
    assert 'Unexpected keyword argument "dimm" for "sum" of "Tensor"' in out


def test_to_accepts_a_dtype_and_the_cpu_device():
    x = dg.randn(2, 3)
    assert x.to(dg.float64).dtype == np.float64
    assert x.to("cpu") is x
    assert x.to("cpu", dg.float64).dtype == np.float64
    assert x.to(device="cpu", dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="CPU only; device 'cuda' is not available"):
        x.to("cuda")
    with pytest.raises(TypeError, match="more than one dtype"):
        x.to(np.float32, np.float64)
