"""The optional compiled kernels (deepgrad/ops/compiled.py, deepgrad/ops/depthwise_numba.py,
deepgrad/ops/conv_numba.py): the numba loops of the depthwise convolution, of convolutions
with small filter banks and of the fused conv -> ReLU -> max-pool stage, against their NumPy
code, against finite differences and against PyTorch, float32 and float64, one thread and two, with NaN and ties;
and the switches (``DEEPGRAD_KERNELS=numpy``, ``use_compiled``) and the lazy import."""
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


@pytest.fixture(autouse=True)
def any_batch(monkeypatch):
    """Small filter banks take the compiled loops whatever the batch size, so that these tests'
    small batches test them (the batch rule itself is tested below)."""
    from deepgrad.ops import conv as conv_mod

    monkeypatch.setattr(conv_mod, "COMPILED_MIN_BATCH", 1)


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
    assert compiled.conv_relu_pool_kernels() is None
    assert compiled.describe().startswith("numpy")
    assert compiled.use_compiled(True) is False
    assert compiled.depthwise_kernels() is not None
    assert compiled.conv_relu_pool_kernels(np.float32) is not None
    assert compiled.conv_relu_pool_kernels(np.float16) is None
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


# ----- the fused conv -> ReLU -> max-pool stage (deepgrad/ops/conv_numba.py) ----------------------------------------
def _run_conv(x0, w0, b0, gy, kw, on: bool, need_x=True, op=F.conv2d):
    """Values and gradients of ``op`` (a convolution), compiled loops (``on``) or NumPy code."""
    old = compiled.use_compiled(on)
    try:
        x, w = dg.tensor(x0, requires_grad=need_x), dg.tensor(w0, requires_grad=True)
        b = None if b0 is None else dg.tensor(b0, requires_grad=True)
        y = op(x, w, b, **kw)
        y.backward(gy)
        grads = ([np.asarray(x.grad)] if need_x else []) + [np.asarray(w.grad)]
        return [y.numpy()] + grads + ([] if b is None else [np.asarray(b.grad)])
    finally:
        compiled.use_compiled(old)


def _run_crp(x0, w0, b0, gy, kw, on: bool, need_x=True):
    return _run_conv(x0, w0, b0, gy, kw, on, need_x, op=F.conv2d_relu_max_pool2d)


@st.composite
def crp_cases(draw):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride, dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad, pool = (draw(st.integers(0, 2)), draw(st.integers(0, 2))), draw(st.integers(1, 3))
    size = []
    for a in range(2):  # big enough for one pooled output
        need = (pool - 1) * stride[a] + dil[a] * (k[a] - 1) + 1 - 2 * pad[a]
        size.append(draw(st.integers(max(1, need), max(1, need) + 6)))
    return dict(N=draw(st.integers(1, 5)), C=draw(st.integers(1, 4)), Co=draw(st.integers(1, 5)), H=size[0], W=size[1],
                k=k, kw=dict(stride=stride, padding=pad, dilation=dil, pool=pool), bias=draw(st.booleans()),
                need_x=draw(st.booleans()), ties=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=60, deadline=None)
@given(crp_cases())
def test_compiled_conv_relu_pool_equals_numpy_code(c):
    """float64: the compiled loops give the NumPy code's values and gradients (any kernel, stride,
    dilation, padding, pool, odd and even channel counts, with and without bias or input
    gradient, with ties inside windows), up to the order of additions."""
    rng = np.random.default_rng(c["seed"])
    x0 = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    w0 = rng.standard_normal((c["Co"], c["C"]) + c["k"])
    b0 = rng.standard_normal(c["Co"]) if c["bias"] else None
    if c["ties"]:  # small integers: many exactly equal values inside pooling windows
        x0, w0 = np.round(x0), np.round(w0)
        b0 = None if b0 is None else np.round(b0)
    y = F.conv2d_relu_max_pool2d(dg.tensor(x0), dg.tensor(w0), **c["kw"])
    gy = rng.standard_normal(y.shape)
    got = _run_crp(x0, w0, b0, gy, c["kw"], True, c["need_x"])
    want = _run_crp(x0, w0, b0, gy, c["kw"], False, c["need_x"])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("kw", [dict(padding=2), dict(padding=1, pool=3), dict(stride=2, padding=1), dict(dilation=2, padding=(2, 0))])
def test_compiled_conv_relu_pool_gradcheck(kw):
    """Finite differences (float64) through the compiled forward and backward (three output
    channels: one pair and one single in the loops that go two channels at a time)."""
    assert compiled.conv_relu_pool_kernels() is not None
    rng = np.random.default_rng(7)
    x = dg.tensor(rng.standard_normal((2, 2, 9, 8)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    b = dg.tensor(rng.standard_normal(3) + 0.5, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d_relu_max_pool2d(x, w, b, **kw), x, w, b).passed


def test_compiled_conv_relu_pool_catches_a_wrong_gradient(monkeypatch):
    """The checks above can fail: a backward that drops one weight's gradient is caught."""
    from deepgrad.ops import conv_relu_pool as crp

    real = crp._backward_compiled

    def broken(ctx, grad):
        out = list(real(ctx, grad))
        out[1][-1, -1, -1, -1] = 0
        return tuple(out)

    monkeypatch.setattr(crp, "_backward_compiled", broken)
    rng = np.random.default_rng(8)
    x = dg.tensor(rng.standard_normal((2, 2, 8, 8)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    assert not gradcheck(lambda x, w: F.conv2d_relu_max_pool2d(x, w, padding=1), x, w).passed


def test_compiled_conv_relu_pool_nan_as_numpy_code():
    """A NaN in the input reaches the output where the NumPy code puts it (the kernels assume
    no NaN away), and the gradients agree, NaN for NaN."""
    rng = np.random.default_rng(10)
    x0 = rng.standard_normal((3, 2, 8, 8))
    x0[1, 0, 3, 4] = np.nan
    w0, b0 = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    gy = rng.standard_normal((3, 3, 3, 3))
    got = _run_crp(x0, w0, b0, gy, dict(), True)
    want = _run_crp(x0, w0, b0, gy, dict(), False)
    assert np.isnan(got[0]).any()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11, equal_nan=True)


def test_conv_relu_pool_runs_the_numpy_code_where_it_is_faster(monkeypatch):
    """float16, grouped stages, filter banks over COMPILED_MAX_WEIGHTS and, with the default batch
    rule, small batches of more than a few input channels run the NumPy code (the kernels are
    not called); a large batch, or a small one of a 1-channel image, runs the kernels."""
    from deepgrad.ops import conv as conv_mod
    from deepgrad.ops import conv_numba as kern

    def fail(*a, **k):
        raise AssertionError("the compiled kernel ran")

    monkeypatch.setattr(kern, "forward", fail)
    rng = np.random.default_rng(11)
    F.conv2d_relu_max_pool2d(dg.tensor(rng.standard_normal((1, 2, 6, 6)).astype(np.float16)),
                             dg.tensor(rng.standard_normal((3, 2, 3, 3)).astype(np.float16)))
    F.conv2d_relu_max_pool2d(dg.tensor(rng.standard_normal((1, 4, 6, 6))), dg.tensor(rng.standard_normal((4, 2, 3, 3))), groups=2)
    big = conv_mod.COMPILED_MAX_WEIGHTS // 9 + 1
    F.conv2d_relu_max_pool2d(dg.tensor(rng.standard_normal((1, 1, 6, 6))), dg.tensor(rng.standard_normal((big, 1, 3, 3))))
    with pytest.raises(AssertionError, match="compiled kernel ran"):  # (the patch is in place)
        F.conv2d_relu_max_pool2d(dg.tensor(rng.standard_normal((1, 1, 6, 6))), dg.tensor(rng.standard_normal((2, 1, 3, 3))))
    monkeypatch.setattr(conv_mod, "COMPILED_MIN_BATCH", 16)  # the default rule
    monkeypatch.setattr(kern, "conv_forward", fail)
    w6 = dg.tensor(rng.standard_normal((4, 6, 3, 3)))
    for conv in (F.conv2d, F.conv2d_relu_max_pool2d):
        conv(dg.tensor(rng.standard_normal((8, 6, 6, 6))), w6)  # 8 images of 6 channels: NumPy code
        with pytest.raises(AssertionError, match="compiled kernel ran"):
            conv(dg.tensor(rng.standard_normal((16, 6, 6, 6))), w6)  # 16 images: the kernels
        with pytest.raises(AssertionError, match="compiled kernel ran"):
            conv(dg.tensor(rng.standard_normal((4, 1, 6, 6))), dg.tensor(rng.standard_normal((4, 1, 3, 3))))


# ----- convolutions with small filter banks (deepgrad/ops/conv_numba.py, conv_forward) ---------------------------
@st.composite
def conv_cases(draw):
    k = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride, dil = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = draw(st.sampled_from(["same", "valid", (0, 0), (1, 2), (2, 1)]))
    if pad == "same":
        stride = (1, 1)
    size = [draw(st.integers(dil[a] * (k[a] - 1) + 1, dil[a] * (k[a] - 1) + 7)) for a in range(2)]
    return dict(N=draw(st.integers(1, 5)), C=draw(st.integers(1, 4)), Co=draw(st.integers(1, 5)), H=size[0], W=size[1],
                k=k, kw=dict(stride=stride, padding=pad, dilation=dil), bias=draw(st.booleans()),
                need_x=draw(st.booleans()), seed=draw(st.integers(0, 2**16)))


@settings(max_examples=60, deadline=None)
@given(conv_cases())
def test_compiled_conv2d_equals_numpy_code_and_torch(c):
    """float64: a small filter bank through the compiled loops gives the NumPy code's values and
    gradients (any kernel, stride, dilation, padding incl. 'same', odd and even channel counts),
    and PyTorch's where torch is installed."""
    assert compiled.conv_kernels() is not None
    rng = np.random.default_rng(c["seed"])
    x0 = rng.standard_normal((c["N"], c["C"], c["H"], c["W"]))
    w0 = rng.standard_normal((c["Co"], c["C"]) + c["k"])
    b0 = rng.standard_normal(c["Co"]) if c["bias"] else None
    y = F.conv2d(dg.tensor(x0), dg.tensor(w0), **c["kw"])
    gy = rng.standard_normal(y.shape)
    got = _run_conv(x0, w0, b0, gy, c["kw"], True, c["need_x"])
    want = _run_conv(x0, w0, b0, gy, c["kw"], False, c["need_x"])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
    try:
        import torch
    except ImportError:
        return
    tx, tw = torch.tensor(x0, requires_grad=c["need_x"]), torch.tensor(w0, requires_grad=True)
    tb = None if b0 is None else torch.tensor(b0, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, tb, **c["kw"])
    ty.backward(torch.tensor(gy))
    ref = [ty.detach().numpy()] + ([tx.grad.numpy()] if c["need_x"] else []) + [tw.grad.numpy()]
    for a, b in zip(got, ref + ([] if tb is None else [tb.grad.numpy()])):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)), dict(padding="same", dilation=2)])
def test_compiled_conv2d_gradcheck(kw):
    """Finite differences (float64) through the compiled convolution (three output channels: a
    pair and a single; five input channels: a block of four and one in the input gradient)."""
    rng = np.random.default_rng(12)
    x = dg.tensor(rng.standard_normal((2, 5, 6, 5)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 5, 3, 2)), requires_grad=True)
    b = dg.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b).passed


def test_compiled_conv2d_catches_a_wrong_gradient(monkeypatch):
    """The checks above can fail: an input gradient that loses one input channel is caught."""
    from deepgrad.ops import conv as conv_mod

    real = conv_mod.direct_grads

    def broken(*a, **k):
        dxp, dw = real(*a, **k)
        if dxp is not None:
            dxp[-1] = 0
        return dxp, dw

    monkeypatch.setattr(conv_mod, "direct_grads", broken)
    rng = np.random.default_rng(13)
    x = dg.tensor(rng.standard_normal((2, 3, 6, 6)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((2, 3, 3, 3)), requires_grad=True)
    assert not gradcheck(lambda x, w: F.conv2d(x, w, padding=1), x, w).passed


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("nthreads", [1, 2])
def test_compiled_lenet_convolutions_float32_threads(fused, nthreads, monkeypatch):
    """float32, LeNet-5's two convolutions at batch 64, as fused conv-ReLU-pool stages or as
    separate conv layers, split over threads: the same as the NumPy code (to float rounding)
    and, where torch is installed, as PyTorch."""
    monkeypatch.setattr(threads, "PARALLEL_MIN_BYTES", 0)
    old = dg.get_num_threads()
    dg.set_num_threads(nthreads)
    run = _run_crp if fused else _run_conv
    rng = np.random.default_rng(9)
    try:
        for x_shape, w_shape, pad in [((64, 1, 28, 28), (6, 1, 5, 5), 2), ((64, 6, 14, 14), (16, 6, 5, 5), 0)]:
            x0 = rng.standard_normal(x_shape).astype(np.float32)
            w0 = (rng.standard_normal(w_shape) / 5).astype(np.float32)
            b0 = (rng.standard_normal(w_shape[0]) / 5).astype(np.float32)
            H = (x_shape[2] + 2 * pad - 4) // (2 if fused else 1)
            gy = rng.standard_normal((x_shape[0], w_shape[0], H, H)).astype(np.float32)
            got = run(x0, w0, b0, gy, dict(padding=pad), True)
            want = run(x0, w0, b0, gy, dict(padding=pad), False)
            for a, b in zip(got, want):
                assert a.dtype == np.float32
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
            torch = pytest.importorskip("torch")
            tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x0, w0, b0))
            ty = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
            if fused:
                ty = torch.nn.functional.max_pool2d(torch.relu(ty), 2)
            ty.backward(torch.tensor(gy))
            for a, b in zip(got, [ty.detach().numpy(), tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy()]):
                np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    finally:
        dg.set_num_threads(old)


def test_compiled_conv1d_equals_numpy_code():
    """conv1d goes through conv2d: a small 1-D filter bank (a text CNN's) runs the compiled loops."""
    rng = np.random.default_rng(15)
    x0, w0, b0 = rng.standard_normal((4, 3, 17)), rng.standard_normal((5, 3, 4)), rng.standard_normal(5)
    for kw in (dict(padding=2), dict(stride=2, dilation=2)):
        gy = rng.standard_normal(F.conv1d(dg.tensor(x0), dg.tensor(w0), **kw).shape)
        got = _run_conv(x0, w0, b0, gy, kw, True, op=F.conv1d)
        want = _run_conv(x0, w0, b0, gy, kw, False, op=F.conv1d)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11)
