"""The optional compiled kernels (deepgrad/ops/compiled.py, deepgrad/ops/depthwise_numba.py):
the depthwise convolution's numba loops against its NumPy code, against finite differences
and against PyTorch, in both input layouts, float32 and float64, one thread and two; and the
switches (``DEEPGRAD_KERNELS=numpy``, ``use_compiled``) and the lazy import."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.check import gradcheck
from deepgrad.ops import compiled, threads

numba = pytest.importorskip("numba", reason="the compiled kernels need numba (pip install deepgrad[fast])")


@pytest.fixture
def numpy_only():
    old = compiled.use_compiled(False)
    yield
    compiled.use_compiled(old)


def _run(x0, w0, b0, gy, kw, on: bool, layout="nchw"):
    old = compiled.use_compiled(on)
    try:
        xin = x0 if layout == "nchw" else np.ascontiguousarray(x0.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        x, w = dg.tensor(xin, requires_grad=True), dg.tensor(w0, requires_grad=True)
        b = None if b0 is None else dg.tensor(b0, requires_grad=True)
        y = F.conv2d(x, w, b, groups=x0.shape[1], **kw)
        y.backward(gy)
        return [y.numpy(), np.asarray(x.grad), np.asarray(w.grad)] + ([] if b is None else [np.asarray(b.grad)])
    finally:
        compiled.use_compiled(old)


@st.composite
def depthwise_cases(draw):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    H = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    W = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    return dict(N=draw(st.integers(1, 4)), C=draw(st.integers(1, 5)), H=H, W=W, k=(kh, kw),
                kw=dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw)),
                bias=draw(st.booleans()), layout=draw(st.sampled_from(["nchw", "batch_innermost"])),
                seed=draw(st.integers(0, 2**16)))


@settings(max_examples=60, deadline=None)
@given(depthwise_cases())
def test_compiled_depthwise_equals_numpy_code(c):
    """float64: the compiled loops give the NumPy code's values and gradients (any stride,
    dilation, padding, either layout), up to the order of additions."""
    rng = np.random.default_rng(c["seed"])
    x0 = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    w0 = rng.standard_normal((c["C"], 1) + c["k"])
    b0 = rng.standard_normal(c["C"]) if c["bias"] else None
    y = F.conv2d(dg.tensor(x0), dg.tensor(w0), groups=c["C"], **c["kw"])
    gy = rng.standard_normal(y.shape)
    got = _run(x0, w0, b0, gy, c["kw"], True, c["layout"])
    want = _run(x0, w0, b0, gy, c["kw"], False, c["layout"])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=2, padding=1), dict(padding=(2, 0), dilation=2), dict(stride=(1, 3))])
def test_compiled_depthwise_gradcheck(kw):
    """Finite differences (float64) through the compiled forward and backward."""
    assert compiled.depthwise_kernels() is not None
    rng = np.random.default_rng(3)
    x = dg.tensor(rng.standard_normal((2, 3, 7, 8)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    b = dg.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, groups=3, **kw), x, w, b).passed


def test_compiled_depthwise_catches_a_wrong_gradient(monkeypatch):
    """The checks above can fail: a backward that drops the last tap's weight gradient is caught."""
    from deepgrad.ops import conv as conv_mod

    real = conv_mod._depthwise_backward_compiled

    def broken(*a, **k):
        dx, dw = real(*a, **k)
        if dw is not None:
            dw[:, -1, -1] = 0
        return dx, dw

    monkeypatch.setattr(conv_mod, "_depthwise_backward_compiled", broken)
    rng = np.random.default_rng(4)
    x = dg.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 1, 3, 3)), requires_grad=True)
    assert not gradcheck(lambda x, w: F.conv2d(x, w, padding=1, groups=3), x, w).passed


@pytest.mark.parametrize("layout", ["nchw", "batch_innermost"])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_compiled_depthwise_float32_threads(layout, nthreads, monkeypatch):
    """float32, a MobileNet-sized layer split over threads: the same as the NumPy code (to float
    rounding) and, where torch is installed, as PyTorch."""
    monkeypatch.setattr(threads, "PARALLEL_MIN_BYTES", 0)
    old = dg.get_num_threads()
    dg.set_num_threads(nthreads)
    try:
        rng = np.random.default_rng(5)
        x0 = rng.standard_normal((8, 24, 14, 14)).astype(np.float32)
        w0 = (rng.standard_normal((24, 1, 3, 3)) / 3).astype(np.float32)
        gy = rng.standard_normal((8, 24, 14, 14)).astype(np.float32)
        got = _run(x0, w0, None, gy, dict(padding=1), True, layout)
        want = _run(x0, w0, None, gy, dict(padding=1), False, layout)
    finally:
        dg.set_num_threads(old)
    for a, b in zip(got, want):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    torch = pytest.importorskip("torch")
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=1, groups=24)
    ty.backward(torch.tensor(gy))
    for a, b in zip(got, [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_float16_runs_the_numpy_code():
    """The kernels are compiled for float32 and float64; a float16 depthwise conv runs the NumPy
    code (it used to fail inside numba) and gives its result."""
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((2, 3, 6, 6)).astype(np.float16)
    w0 = rng.standard_normal((3, 1, 3, 3)).astype(np.float16)
    gy = rng.standard_normal((2, 3, 6, 6)).astype(np.float16)
    got = _run(x0, w0, None, gy, dict(padding=1), True)
    want = _run(x0, w0, None, gy, dict(padding=1), False)
    for a, b in zip(got, want):
        assert a.dtype == np.float16
        np.testing.assert_array_equal(a, b)


def test_switches(numpy_only):
    assert compiled.depthwise_kernels() is None  # turned off by the fixture
    assert compiled.describe().startswith("numpy")
    assert compiled.use_compiled(True) is False
    assert compiled.depthwise_kernels() is not None
    assert compiled.describe().startswith(f"numba {numba.__version__}")


def _python(code: str, **env) -> str:
    e = dict(os.environ, **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, check=True).stdout.strip()


def test_numba_is_imported_only_when_a_depthwise_conv_runs():
    code = ("import sys, numpy as np, deepgrad as dg, deepgrad.nn.functional as F\n"
            "print('numba' in sys.modules)\n"
            "F.conv2d(dg.tensor(np.ones((1, 2, 4, 4))), dg.tensor(np.ones((2, 1, 3, 3))), groups=2)\n"
            "print('numba' in sys.modules)")
    assert _python(code).split() == ["False", "True"]


def test_environment_variable_turns_the_kernels_off():
    code = ("import sys, numpy as np, deepgrad as dg, deepgrad.nn.functional as F\n"
            "from deepgrad.ops import compiled\n"
            "y = F.conv2d(dg.tensor(np.ones((1, 2, 4, 4))), dg.tensor(np.ones((2, 1, 3, 3))), padding=1, groups=2)\n"
            "print('numba' in sys.modules, float(y.numpy().sum()), compiled.describe())")
    out = _python(code, DEEPGRAD_KERNELS="numpy")
    assert out.startswith("False 200.0 numpy (compiled kernels turned off)")
