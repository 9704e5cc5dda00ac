"""deepgrad.ops.threads: the work split over threads, and the ops that use it giving the
same results with one thread and with several (float rounding of partial sums aside)."""
from __future__ import annotations

import multiprocessing as mp
import threading

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.ops import compiled, threads
from deepgrad.ops import conv as conv_mod

threadpoolctl = pytest.importorskip("threadpoolctl", reason="threads are only used with threadpoolctl (train extra)")


def _blas_threads():
    ctl = threads._blas_controller()
    return None if ctl is None else threads._blas_threads(ctl)


@pytest.fixture
def restore_threads():
    requested, blas = threads._requested, _blas_threads()
    yield
    threads._requested = requested
    if blas is not None:
        for lc in threads._blas_controller().lib_controllers:
            lc.set_num_threads(blas)


def test_split_covers_the_range_in_order():
    for n in range(0, 12):
        for parts in range(1, 5):
            sl = threads.split(n, parts)
            assert [i for a, b in sl for i in range(a, b)] == list(range(n))
            assert all(b > a for a, b in sl) or n == 0
            sizes = [b - a for a, b in sl]
            assert max(sizes) - min(sizes) <= 1


def test_parallel_runs_slices_on_distinct_threads_and_keeps_order(restore_threads):
    seen = []

    def fn(a, b, k):
        seen.append((k, threading.get_ident()))
        return list(range(a, b))

    out = threads.parallel(fn, 10, threads=3)
    assert out == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert sorted(k for k, _ in seen) == [0, 1, 2]
    assert len({ident for _, ident in seen}) >= 2  # (the pool may reuse a worker that finished)
    main = [ident for k, ident in seen if k == 0]
    assert main == [threading.get_ident()]  # slice 0 runs in the calling thread


def test_blas_is_single_threaded_inside_a_region_and_restored_after(restore_threads):
    if _blas_threads() is None:
        pytest.skip("no BLAS library that threadpoolctl controls")
    dg.set_num_threads(2)
    inside = threads.parallel(lambda a, b, k: _blas_threads(), 4, threads=2)
    assert inside == [1, 1]
    assert _blas_threads() == 2
    assert dg.get_num_threads() == 2


def test_an_exception_in_a_worker_is_raised_after_every_slice_finished(restore_threads):
    done = []

    def fn(a, b, k):
        if k == 1:
            raise ValueError("slice 1 failed")
        threading.Event().wait(0.05)
        done.append(k)

    with pytest.raises(ValueError, match="slice 1 failed"):
        threads.parallel(fn, 4, threads=2)
    assert done == [0]
    if _blas_threads() is not None:
        assert threads._active == 0 and _blas_threads() == (threads._requested or _blas_threads())


def test_nested_loops_run_serially_inside_a_worker(restore_threads):
    inner = threads.parallel(lambda a, b, k: threads.get_num_threads(), 2, threads=2)
    assert inner == [1, 1]


def test_set_num_threads_one_makes_everything_serial(restore_threads):
    dg.set_num_threads(1)
    assert dg.get_num_threads() == 1
    idents = threads.parallel(lambda a, b, k: threading.get_ident(), 100)
    assert idents == [threading.get_ident()]
    with pytest.raises(ValueError, match="positive"):
        dg.set_num_threads(0)


def _child_conv(q):
    x = np.random.default_rng(0).standard_normal((16, 8, 20, 20)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((8, 8, 3, 3)).astype(np.float32)
    out = dg.nn.functional.conv2d(dg.tensor(x), dg.tensor(w), padding=1)
    q.put(float(out.data.sum()))


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_child_runs_parallel_ops(restore_threads):
    """A child forked after the pool started has none of its threads: it must make its own."""
    dg.set_num_threads(2)
    _child_conv(mp.Queue())  # start the pool in the parent
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child_conv, args=(q,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    assert np.isfinite(q.get(timeout=5))


# ----- the ops: one thread vs two --------------------------------------------------------------
def _grads(fn, arrays, n_threads):
    dg.set_num_threads(n_threads)
    ts = [dg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    seed = np.random.default_rng(7).standard_normal(out.shape).astype(out.data.dtype)
    (out * dg.tensor(seed)).sum().backward()
    return [out.data.copy()] + [t.grad.copy() for t in ts]


def _same_with_threads(fn, arrays, rtol=1e-5, atol=1e-5):
    one = _grads(fn, arrays, 1)
    two = _grads(fn, arrays, 2)
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


F = dg.nn.functional
rng = np.random.default_rng(0)


@pytest.mark.parametrize(
    "x_shape, w_shape, kw",
    [
        ((32, 16, 28, 28), (16, 16, 3, 3), dict(padding=1)),  # chunked im2col, direct dx
        ((16, 6, 12, 12), (10, 6, 3, 3), dict(padding=1)),  # whole matrix kept for backward
        ((16, 8, 30, 30), (12, 8, 3, 3), dict(stride=2, padding=1)),  # col2im dx (per-thread scatter)
        ((16, 8, 21, 21), (8, 2, 3, 3), dict(padding=1, groups=4)),  # groups
        ((32, 24, 18, 18), (24, 1, 3, 3), dict(padding=1, groups=24)),  # depthwise, stride 1
        ((32, 24, 18, 18), (24, 1, 3, 3), dict(stride=2, padding=1, groups=24)),  # depthwise, strided
        # the depthwise convolution's NumPy code (the compiled kernels, where numba is installed, turned off)
        ((32, 24, 18, 18), (24, 1, 3, 3), dict(padding=1, groups=24, numpy_code=True)),
        ((32, 24, 18, 18), (24, 1, 3, 3), dict(stride=2, padding=1, groups=24, numpy_code=True)),
    ],
)
def test_conv2d_same_with_one_and_two_threads(restore_threads, x_shape, w_shape, kw, monkeypatch):
    kw = dict(kw)
    if kw.pop("numpy_code", False):
        monkeypatch.setattr(compiled, "_enabled", False)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) * 0.2).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    _same_with_threads(lambda x, w, b: F.conv2d(x, w, b, **kw), [x, w, b], rtol=1e-4, atol=1e-4)


@pytest.fixture(params=["compiled", "numpy_code"])
def conv_code(request, monkeypatch):
    """The convolutions' compiled loops (small batches included), or their NumPy code."""
    if request.param == "numpy_code":
        monkeypatch.setattr(compiled, "_enabled", False)
    else:
        monkeypatch.setattr(conv_mod, "COMPILED_MIN_BATCH", 1)


def test_conv_relu_pool_same_with_one_and_two_threads(restore_threads, conv_code):
    x = rng.standard_normal((64, 3, 28, 28)).astype(np.float32)
    w = (rng.standard_normal((8, 3, 5, 5)) * 0.2).astype(np.float32)
    b = rng.standard_normal(8).astype(np.float32)
    _same_with_threads(lambda x, w, b: F.conv2d_relu_max_pool2d(x, w, b, padding=2, pool=2), [x, w, b],
                       rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["nchw", "chwn"])
def test_batch_norm_relu_and_add_same_with_one_and_two_threads(restore_threads, layout):
    x = rng.standard_normal((32, 16, 20, 20)).astype(np.float32)
    r = rng.standard_normal(x.shape).astype(np.float32)
    if layout == "chwn":  # batch innermost, as the convolutions leave it
        x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    g = (1 + 0.1 * rng.standard_normal(16)).astype(np.float32)
    be = (0.1 * rng.standard_normal(16)).astype(np.float32)

    def fn(x, r, g, be):
        y = F.batch_norm(x, None, None, g, be, training=True)
        return F.relu(y + r)

    _same_with_threads(fn, [x, r, g, be])

    def fused(x, r, g, be):
        return dg.ops.normalization.batch_norm_relu(x, None, None, g, be, training=True, residual=r)

    _same_with_threads(fused, [x, r, g, be])


# ----- finite differences with every loop split over two threads, in tiny chunks ---------------------------
@pytest.fixture
def forced_threads(restore_threads, monkeypatch):
    """Two threads even for tiny arrays, and im2col in chunks of one row: every parallel path runs."""
    from deepgrad.ops import im2col as im2col_mod

    dg.set_num_threads(2)
    monkeypatch.setattr(threads, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(im2col_mod, "IM2COL_BUDGET_BYTES", 64)
    monkeypatch.setattr(im2col_mod, "IM2COL_CHUNK_BYTES", 64)


def _t64(rng, shape):
    return dg.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize(
    "kw",
    [
        dict(stride=1, padding=1),  # direct dx
        dict(stride=(2, 1), padding=(0, 2), dilation=(1, 2)),  # col2im dx, per-thread scatter
        dict(stride=2, padding=1, groups=2),
        dict(stride=1, padding=1, groups=4),  # depthwise, stride 1
        dict(stride=2, padding=1, groups=4),  # depthwise, strided
        dict(stride=1, padding=1, groups=4, numpy_code=True),  # the same, NumPy code (compiled kernels off)
        dict(stride=2, padding=1, groups=4, numpy_code=True),
    ],
)
def test_conv2d_gradcheck_with_threads(forced_threads, kw, monkeypatch):
    from deepgrad.check import gradcheck

    kw = dict(kw)
    if kw.pop("numpy_code", False):
        monkeypatch.setattr(compiled, "_enabled", False)

    rng = np.random.default_rng(0)
    groups = kw.get("groups", 1)
    x, w, b = _t64(rng, (3, 4, 7, 6)), _t64(rng, (4, 4 // groups, 3, 2 if groups < 4 else 3)), _t64(rng, (4,))
    report = gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kw), x, w, b)
    assert report.passed, report.failed


def test_conv_relu_pool_and_batch_norm_gradcheck_with_threads(forced_threads, conv_code):
    from deepgrad.check import gradcheck


    rng = np.random.default_rng(0)
    x, w, b = _t64(rng, (2, 2, 8, 8)), _t64(rng, (3, 2, 3, 3)), _t64(rng, (3,))
    b.data += 0.5
    assert gradcheck(lambda x, w, b: F.conv2d_relu_max_pool2d(x, w, b, padding=1), x, w, b).passed
    x = _t64(rng, (4, 5, 3, 3))
    g = dg.tensor(rng.uniform(0.5, 1.5, 5), requires_grad=True)
    be = _t64(rng, (5,))
    r = _t64(rng, (4, 5, 3, 3))
    rep = gradcheck(lambda x, g, be, r: dg.ops.normalization.batch_norm_relu(x, None, None, g, be, training=True,
                                                                            residual=r), x, g, be, r)
    assert rep.passed, str(rep)
    assert gradcheck(lambda x: F.relu(x * 1.0), _t64(rng, (3, 4, 5))).passed


@pytest.mark.parametrize("regime", ["one_blas_thread", "blas_threads", "small"])
def test_matmul2d_equals_numpy_and_restores_blas_threads(restore_threads, monkeypatch, regime):
    """Mid-sized products run on one BLAS thread (and BLAS gets its thread count back after),
    large ones on BLAS's threads, small ones as NumPy runs them: the same product each way."""
    if regime == "one_blas_thread":
        monkeypatch.setattr(threads, "GEMM_SPLIT_MIN", 0)
    elif regime == "blas_threads":
        monkeypatch.setattr(threads, "GEMM_THREADS_MIN", 0)
    dg.set_num_threads(2)
    r = np.random.default_rng(3)
    for m, k, n in [(64, 30, 7), (5, 40, 90), (1, 3, 1), (2, 2, 2)]:
        a, b = r.standard_normal((m, k)), r.standard_normal((k, n))
        np.testing.assert_allclose(threads.matmul2d(a, b), a @ b, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(threads.matmul2d(a, b.T.copy().T), a @ b, rtol=1e-12, atol=1e-12)
        assert dg.get_num_threads() == 2
    assert not threads._active and not threads._busy.locked()


def test_linear_and_matmul_gradcheck_with_one_thread_gemms(forced_threads, monkeypatch):
    from deepgrad.check import gradcheck

    monkeypatch.setattr(threads, "GEMM_SPLIT_MIN", 0)
    rng = np.random.default_rng(0)
    x, w, b = _t64(rng, (6, 5)), _t64(rng, (4, 5)), _t64(rng, (4,))
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b).passed
    a, c = _t64(rng, (3, 7)), _t64(rng, (7, 9))
    assert gradcheck(lambda a, c: a @ c, a, c).passed


def test_freed_memory_stays_with_the_process_unless_told_otherwise():
    """deepgrad asks glibc to keep freed blocks (no page faults on every step); an environment
    variable turns that off, and glibc's own settings take precedence."""
    import subprocess
    import sys

    code = "import deepgrad.ops.im2col as m; print(m.KEEPS_FREED_MEMORY)"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("MALLOC_")}
    on = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**env, "DEEPGRAD_KEEP_FREED_MEMORY": "0"}).stdout
    theirs = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**env, "MALLOC_TRIM_THRESHOLD_": "1000000"}).stdout
    assert off.strip() == "False" and theirs.strip() == "False"
    if sys.platform.startswith("linux") and "glibc" in " ".join(__import__("platform").libc_ver()):
        assert on.strip() == "True"
