"""conv2d / conv1d / conv_transpose2d: values and gradients against PyTorch (float64,
hypothesis-generated geometries) and against finite differences (no torch needed).

These tests run the NumPy code (im2col and GEMMs, the depthwise einsum): the compiled
kernels, which small filter banks and depthwise convolutions use when numba is installed,
are turned off here and tested in test_compiled.py, against this code and against PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.check import gradcheck
from deepgrad.ops import compiled
from deepgrad.ops import im2col as im2col_mod


@pytest.fixture(autouse=True)
def numpy_code(monkeypatch):
    monkeypatch.setattr(compiled, "_enabled", False)


def _t(a, grad=True):
    return dg.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


@st.composite
def conv_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg = draw(st.integers(1, 3))
    og = draw(st.integers(1, 3))
    depthwise = draw(st.booleans()) and groups > 1
    if depthwise:
        cg = 1
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    pad_kind = draw(st.sampled_from(["int", "tuple", "same", "valid"]))
    if pad_kind == "same":
        sh = sw = 1
        padding = "same"
    elif pad_kind == "valid":
        padding = "valid"
    elif pad_kind == "int":
        padding = draw(st.integers(0, 2))
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    H = draw(st.integers(dh * (kh - 1) + 1, dh * (kh - 1) + 7))
    W = draw(st.integers(dw * (kw - 1) + 1, dw * (kw - 1) + 7))
    N = draw(st.integers(1, 3))
    bias = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return dict(N=N, C=cg * groups, H=H, W=W, Cout=og * groups, Cg=cg, kh=kh, kw=kw, stride=(sh, sw),
                padding=padding, dilation=(dh, dw), groups=groups, bias=bias, seed=seed)


def _run_both(case, torch):
    rng = np.random.default_rng(case["seed"])
    x = rng.standard_normal((case["N"], case["C"], case["H"], case["W"]))
    w = rng.standard_normal((case["Cout"], case["Cg"], case["kh"], case["kw"]))
    b = rng.standard_normal(case["Cout"]) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    X, Wt = _t(x), _t(w)
    B = _t(b) if b is not None else None
    y = F.conv2d(X, Wt, B, **kw)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True) if b is not None else None
    ty = torch.nn.functional.conv2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(Wt.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-10)
    if b is not None:
        np.testing.assert_allclose(B.grad, tb.grad.numpy(), rtol=1e-10, atol=1e-10)


@given(conv_cases())
def test_conv2d_matches_torch(case):
    torch = pytest.importorskip("torch")
    _run_both(case, torch)


@given(conv_cases())
def test_conv2d_matches_torch_when_im2col_is_chunked(case):
    torch = pytest.importorskip("torch")
    old = im2col_mod.IM2COL_BUDGET_BYTES, im2col_mod.IM2COL_CHUNK_BYTES
    # forces one output row per chunk and recomputation in backward
    im2col_mod.IM2COL_BUDGET_BYTES = im2col_mod.IM2COL_CHUNK_BYTES = 64
    try:
        _run_both(case, torch)
    finally:
        im2col_mod.IM2COL_BUDGET_BYTES, im2col_mod.IM2COL_CHUNK_BYTES = old


@st.composite
def transpose_cases(draw):
    groups = draw(st.sampled_from([1, 2]))
    cin, og = draw(st.integers(1, 3)) * groups, draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    oph = draw(st.integers(0, max(sh, dh) - 1))
    opw = draw(st.integers(0, max(sw, dw) - 1))
    H, W = draw(st.integers(2, 6)), draw(st.integers(2, 6))
    Ho = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if Ho < 1 or Wo < 1:
        ph = pw = 0
    return dict(N=draw(st.integers(1, 2)), Cin=cin, H=H, W=W, Og=og, kh=kh, kw=kw, stride=(sh, sw),
                padding=(ph, pw), output_padding=(oph, opw), dilation=(dh, dw), groups=groups,
                seed=draw(st.integers(0, 2**16)))


@given(transpose_cases())
def test_conv_transpose2d_matches_torch(c):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(c["seed"])
    x = rng.standard_normal((c["N"], c["Cin"], c["H"], c["W"]))
    w = rng.standard_normal((c["Cin"], c["Og"], c["kh"], c["kw"]))
    b = rng.standard_normal(c["Og"] * c["groups"])
    kw = dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"], groups=c["groups"],
              dilation=c["dilation"])
    X, Wt, B = _t(x), _t(w), _t(b)
    y = F.conv_transpose2d(X, Wt, B, **kw)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, **kw)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(X.grad, tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(Wt.grad, tw.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(B.grad, tb.grad.numpy(), atol=1e-10)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 2, 2), (3, "same", 1, 4), (1, "valid", 2, 4)])
def test_conv1d_matches_torch(stride, padding, dilation, groups):
    torch = pytest.importorskip("torch")
    if padding == "same":
        stride = 1
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 4, 13)), rng.standard_normal((8, 4 // groups, 3)), rng.standard_normal(8)
    X, Wt, B = _t(x), _t(w), _t(b)
    y = F.conv1d(X, Wt, B, stride, padding, dilation, groups)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv1d(tx, tw, tb, stride, padding, dilation, groups)
    ty.backward(torch.tensor(g))
    for mine, theirs in ((y.data, ty), (X.grad, tx.grad), (Wt.grad, tw.grad), (B.grad, tb.grad)):
        np.testing.assert_allclose(mine, theirs.detach().numpy(), atol=1e-10)


# ----- finite differences (meaningful without torch) ------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=1, padding=1),
        dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
        dict(stride=1, padding="same", dilation=2),
        dict(stride=2, padding=1, groups=2),
    ],
)
def test_conv2d_gradcheck(kw):
    rng = np.random.default_rng(0)
    groups = kw.get("groups", 1)
    x, w, b = _t(rng.standard_normal((2, 4, 6, 5))), _t(rng.standard_normal((4, 4 // groups, 3, 2))), _t(rng.standard_normal(4))
    report = gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
    assert report.passed, report.failed


def test_depthwise_gradcheck():
    rng = np.random.default_rng(0)
    x, w = _t(rng.standard_normal((2, 3, 5, 5))), _t(rng.standard_normal((6, 1, 3, 3)))
    assert gradcheck(lambda x, w: F.conv2d(x, w, None, padding=1, groups=3), x, w).passed


def test_conv_transpose2d_and_conv1d_gradcheck():
    rng = np.random.default_rng(0)
    x, w, b = _t(rng.standard_normal((2, 4, 3, 4))), _t(rng.standard_normal((4, 3, 3, 2))), _t(rng.standard_normal(6))
    rep = gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2), x, w, b)
    assert rep.passed, rep.failed
    x1, w1 = _t(rng.standard_normal((2, 3, 9))), _t(rng.standard_normal((2, 3, 3)))
    assert gradcheck(lambda x, w: F.conv1d(x, w, None, stride=2, padding=1, dilation=2), x1, w1).passed


def test_conv2d_known_values():
    # a 3x3 vertical-edge detector (course 4, week 1) on a step image: strong response at the edge only
    img = np.zeros((1, 1, 6, 6))
    img[..., :3] = 10.0
    k = np.array([[1.0, 0, -1], [1, 0, -1], [1, 0, -1]])[None, None]
    out = F.conv2d(dg.tensor(img), dg.tensor(k)).data[0, 0]
    np.testing.assert_array_equal(out, np.tile([0.0, 30, 30, 0], (4, 1)))


# ----- dtype, layout, errors, memory ----------------------------------------------------------------------
def test_float32_stays_float32_and_output_is_nchw():
    x = dg.tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    w = dg.tensor(np.ones((5, 3, 3, 3), np.float32), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    assert y.shape == (2, 5, 8, 8) and y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32 and x.grad.shape == x.shape


def test_errors_name_the_op_and_shapes():
    x = dg.tensor(np.zeros((1, 3, 5, 5), np.float32))
    with pytest.raises(ValueError, match=r"conv2d.*3 channels.*\(4, 2, 3, 3\)"):
        F.conv2d(x, dg.tensor(np.zeros((4, 2, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="conv2d.*smaller than the dilated kernel"):
        F.conv2d(x, dg.tensor(np.zeros((4, 3, 7, 7), np.float32)))
    with pytest.raises(ValueError, match="conv2d.*4-D input"):
        F.conv2d(dg.tensor(np.zeros((3, 5, 5), np.float32)), dg.tensor(np.zeros((4, 3, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="'same'.*strided"):
        F.conv2d(x, dg.tensor(np.zeros((4, 3, 3, 3), np.float32)), stride=2, padding="same")
    with pytest.raises(TypeError, match="conv2d: input and weight must be floating point.*uint8"):
        F.conv2d(dg.tensor(np.zeros((1, 3, 5, 5), np.uint8)), dg.tensor(np.zeros((4, 3, 3, 3), np.float32)))
    with pytest.raises(ValueError, match="groups=2"):
        F.conv2d(x, dg.tensor(np.zeros((4, 1, 3, 3), np.float32)), groups=2)


def _conv_step_peak(budget):
    import tracemalloc

    old = im2col_mod.IM2COL_BUDGET_BYTES, im2col_mod.IM2COL_CHUNK_BYTES
    im2col_mod.IM2COL_BUDGET_BYTES = im2col_mod.IM2COL_CHUNK_BYTES = budget
    im2col_mod.clear_cache()
    try:
        rng = np.random.default_rng(0)
        x = dg.tensor(rng.standard_normal((8, 16, 32, 32)).astype(np.float32), requires_grad=True)
        w = dg.tensor(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), requires_grad=True)
        tracemalloc.start()
        y = F.conv2d(x, w, padding=1)
        y.backward(np.ones(y.shape, np.float32))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak, w.grad.copy()
    finally:
        im2col_mod.IM2COL_BUDGET_BYTES, im2col_mod.IM2COL_CHUNK_BYTES = old
        im2col_mod.clear_cache()


def test_im2col_memory_is_bounded():
    full_cols = 16 * 9 * 32 * 32 * 8 * 4  # 4.7 MB when built at once (kept for backward, plus its gradient)
    big, g_big = _conv_step_peak(1 << 30)
    small, g_small = _conv_step_peak(1 << 20)
    assert small < big - full_cols, (small, big)
    np.testing.assert_allclose(g_small, g_big, rtol=1e-4, atol=1e-4 * np.abs(g_big).max())  # float32 sum order


def test_backward_twice_with_retain_graph_is_consistent():
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True)
    w = dg.tensor(rng.standard_normal((3, 2, 3, 3)), requires_grad=True)
    y = F.conv2d(x, w, padding=1)
    y.backward(np.ones(y.shape), retain_graph=True)
    g1 = w.grad.copy()
    # other convolutions in between reuse the im2col buffer cache; the retained graph must not see them
    for _ in range(3):
        z = F.conv2d(dg.tensor(rng.standard_normal((2, 2, 5, 5)), requires_grad=True), w, padding=1)
        z.backward(np.ones(z.shape))
    w.grad = None
    y.backward(np.ones(y.shape))
    np.testing.assert_allclose(w.grad, g1)


@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=1, groups=4), dict(padding=2, stride=2)])
def test_outputs_never_share_the_recycled_buffers(kw):
    # padded inputs and im2col matrices are recycled between calls; outputs and gradients must
    # stay what they were when later convolutions (with the same shapes) reuse those buffers
    rng = np.random.default_rng(1)
    groups = kw.get("groups", 1)
    w = dg.tensor(rng.standard_normal((4, 4 // groups, 3, 3)).astype(np.float32), requires_grad=True)
    xs = [dg.tensor(rng.standard_normal((3, 4, 9, 9)).astype(np.float32), requires_grad=True) for _ in range(3)]
    ys = [F.conv2d(x, w, **kw) for x in xs]
    firsts = [y.numpy().copy() for y in ys]
    ys[0].sum().backward()
    gx0 = xs[0].grad.copy()
    for y in ys[1:]:
        y.sum().backward()
    for y, first in zip(ys, firsts):
        np.testing.assert_array_equal(y.numpy(), first)
    np.testing.assert_array_equal(xs[0].grad, gx0)
    with dg.no_grad():
        np.testing.assert_array_equal(F.conv2d(xs[0].detach(), w.detach(), **kw).numpy(), firsts[0])
    assert not np.shares_memory(xs[0].grad, xs[1].grad)


def test_chunk_size_is_cache_sized(monkeypatch):
    monkeypatch.setattr(im2col_mod, "IM2COL_CHUNK_BYTES", None)
    assert im2col_mod.chunk_bytes() == 2**19  # 512 KiB: each GEMM reads a matrix still in cache
    assert im2col_mod.row_chunk(2**17, 100) == 4  # 128 KiB rows, 12.5 MiB in all (over the budget): 4 to a chunk
    assert im2col_mod.row_chunk(2**20, 100) == 1  # a row larger than a chunk: one at a time
    assert im2col_mod.row_chunk(2**10, 100) == 100  # 100 KiB in all: within the budget, one chunk


@pytest.mark.parametrize("layout", ["nchw", "batch_innermost"])
@pytest.mark.parametrize("kernel,dilation,padding", [((3, 3), (1, 1), 1), ((3, 2), (2, 1), (2, 1)), ((1, 5), (1, 2), (0, 3))])
def test_depthwise_stride1_einsum_path_matches_torch(kernel, dilation, padding, layout, monkeypatch):
    """The NumPy code (the compiled kernels turned off; tests/ops/test_compiled.py checks those)."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(compiled, "_enabled", False)
    rng = np.random.default_rng(7)
    x0, w0 = rng.standard_normal((3, 5, 7, 6)), rng.standard_normal((5, 1) + kernel)
    xin = x0 if layout == "nchw" else np.ascontiguousarray(x0.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    x, w = dg.tensor(xin, requires_grad=True), dg.tensor(w0, requires_grad=True)
    assert x.data.flags.c_contiguous == (layout == "nchw")  # batch-innermost: the conv's input needs no transpose
    y = F.conv2d(x, w, padding=padding, dilation=dilation, groups=5)
    g0 = rng.standard_normal(y.shape)
    y.backward(g0)
    tx, tw = torch.tensor(x0, requires_grad=True), torch.tensor(w0, requires_grad=True)
    ty = torch.nn.functional.conv2d(tx, tw, padding=padding, dilation=dilation, groups=5)
    ty.backward(torch.tensor(g0))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.grad, tw.grad.numpy(), rtol=1e-10, atol=1e-12)
