"""Work split over threads: the one place where deepgrad runs its own loops in parallel.

NumPy runs a copy or an elementwise op on one core; only BLAS uses several. A convolution
made of im2col copies and GEMMs, run one chunk after another, therefore keeps its copies
serial and hands BLAS many mid-sized GEMMs, which it splits over its threads poorly
(measured on a 2-core machine: a 32->32 3x3 convolution at 28x28, batch 64, in one-row
chunks took 14.2 ms with two BLAS threads and 14.9 ms with one). :func:`parallel` instead
spreads the chunks themselves: each thread copies and multiplies its own share of the
rows into its own buffers, and BLAS runs at one thread inside the region, so every GEMM
stays in the core and the cache of the thread that built its input (the same convolution:
11.3 ms). NumPy releases the GIL inside copies, ufuncs and matmul, so the threads run at once.

How many threads: as many as BLAS is set to use (``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
or threadpoolctl's limits, read at each region), so a process limited to one BLAS thread
stays serial; :func:`set_num_threads` sets both, like ``torch.set_num_threads``. Lowering
BLAS to one thread for a region needs `threadpoolctl <https://github.com/joblib/threadpoolctl>`_
(BSD-3-Clause, pure Python; in the ``threads``, ``train`` and ``test`` extras). Without it, deepgrad stays serial and
BLAS threads each GEMM as before: the core still needs NumPy alone.

Results do not depend on the thread count except for the order in which partial sums of
a reduction (e.g. a convolution's weight gradient) are added: float rounding only.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_workers: list = []  # persistent worker threads (_Worker), started on first use
_busy = threading.Lock()  # held while a region uses the workers; another thread's region then runs serially
_requested: int | None = None  # set_num_threads(n); None: follow BLAS
_blas: Any = None  # threadpoolctl's controller of the BLAS libraries loaded; False: unavailable
_active = False  # a region is running on the workers (BLAS is at one thread meanwhile)
_saved_blas_threads: int | None = None
_in_region = threading.local()


def _blas_controller():
    global _blas
    if _blas is None:
        try:
            import numpy  # noqa: F401  (loads the BLAS library threadpoolctl looks for)
            from threadpoolctl import ThreadpoolController

            ctl = ThreadpoolController().select(user_api="blas")
            _blas = ctl if ctl.lib_controllers else False
        except Exception:  # not installed, or an unknown BLAS: stay serial
            _blas = False
    return _blas or None


def _blas_threads(ctl) -> int:
    return max(lc.num_threads for lc in ctl.lib_controllers)


def get_num_threads() -> int:
    """Threads deepgrad's parallel loops use: :func:`set_num_threads`'s value, else
    ``DEEPGRAD_NUM_THREADS``, else BLAS's current thread count (1 without threadpoolctl)."""
    if getattr(_in_region, "on", False):
        return 1  # inside a worker: nested loops run serially
    ctl = _blas_controller()
    if ctl is None:
        return 1
    if _requested is not None:
        n = _requested
    elif os.environ.get("DEEPGRAD_NUM_THREADS"):
        n = int(os.environ["DEEPGRAD_NUM_THREADS"])
    else:  # (inside a region BLAS is at one thread; its own count is the saved one)
        n = _saved_blas_threads if _active and _saved_blas_threads else _blas_threads(ctl)
    return max(1, n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads: for deepgrad's parallel loops and for BLAS (as ``torch.set_num_threads``)."""
    global _requested
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: n must be a positive int, got {n}")
    _requested = n
    ctl = _blas_controller()
    if ctl is not None:
        global _saved_blas_threads
        with _lock:
            if _active:  # inside a region: BLAS gets n when the region ends
                _saved_blas_threads = n
            else:
                for lc in ctl.lib_controllers:
                    lc.set_num_threads(n)


class _Worker:
    """A thread that runs one slice at a time, handed over through two locks (a region costs
    ~30 microseconds; a ``ThreadPoolExecutor`` submit and result cost ~50)."""

    def __init__(self):
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.task: tuple = ()
        self.result: Any = None
        self.exc: BaseException | None = None
        threading.Thread(target=self._loop, daemon=True, name="deepgrad-worker").start()

    def _loop(self):
        while True:
            self.go.acquire()
            fn, a, b, k = self.task
            try:
                self.result, self.exc = _run_marked(fn, a, b, k), None
            except BaseException as e:  # handed to the caller
                self.result, self.exc = None, e
            self.task = ()
            self.done.release()

    def start(self, fn, a, b, k):
        self.task = (fn, a, b, k)
        self.go.release()

    def wait(self):
        self.done.acquire()
        return self.result, self.exc


def _get_workers(n: int) -> list:
    with _lock:
        while len(_workers) < n:
            _workers.append(_Worker())
        return _workers[:n]


def _enter() -> None:
    """BLAS to one thread for the region (regions on the workers never overlap: see ``_busy``)."""
    global _active, _saved_blas_threads
    ctl = _blas_controller()
    with _lock:
        if ctl is not None:
            _saved_blas_threads = _blas_threads(ctl)
            for lc in ctl.lib_controllers:
                lc.set_num_threads(1)
        _active = True


def _exit() -> None:
    global _active, _saved_blas_threads
    ctl = _blas_controller()
    with _lock:
        if ctl is not None and _saved_blas_threads is not None:
            for lc in ctl.lib_controllers:
                lc.set_num_threads(_saved_blas_threads)
        _active, _saved_blas_threads = False, None


def _run_marked(fn, a, b, k):
    _in_region.on = True
    try:
        return fn(a, b, k)
    finally:
        _in_region.on = False


#: Work on fewer bytes than this runs serially: starting a region costs tens of microseconds.
PARALLEL_MIN_BYTES = 2**18


def threads_for(nbytes: int) -> int:
    """Threads for a loop over ``nbytes`` of data: :func:`get_num_threads`, or 1 for small work."""
    return 1 if nbytes < PARALLEL_MIN_BYTES else get_num_threads()


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """``range(n)`` as ``parts`` (or fewer, never empty) contiguous ``(start, stop)`` slices of near-equal size."""
    parts = max(1, min(parts, n))
    q, r = divmod(n, parts)
    out, a = [], 0
    for k in range(parts):
        b = a + q + (1 if k < r else 0)
        out.append((a, b))
        a = b
    return out


def parallel(fn: Callable[[int, int, int], Any], n: int, threads: int | None = None) -> list:
    """Call ``fn(start, stop, worker)`` on contiguous slices of ``range(n)``, one per thread, and
    return the results in slice order (``worker`` 0 runs in the calling thread).

    Serial (one call, ``fn(0, n, 0)``) when one thread is to be used or ``n < 2``. While the
    slices run, BLAS is at one thread. An exception in any slice is raised after all of them
    have finished (no worker is left writing into a buffer the caller drops).
    """
    t = get_num_threads() if threads is None else threads
    if t <= 1 or n < 2:
        return [fn(0, n, 0)]
    return run_slices(fn, split(n, t))


def run_slices(fn: Callable[[int, int, int], Any], slices: list[tuple[int, int]]) -> list:
    """:func:`parallel` over given ``(start, stop)`` slices, one thread each (e.g. the slices a
    forward pass used, so that its backward meets the same blocks)."""
    if len(slices) == 1:
        (a, b), = slices
        return [fn(a, b, 0)]
    if not _busy.acquire(blocking=False):  # another thread's region has the workers: run serially
        return [fn(a, b, k) for k, (a, b) in enumerate(slices)]
    try:
        workers = _get_workers(len(slices) - 1)
        _enter()
        try:
            for w, (k, (a, b)) in zip(workers, enumerate(slices[1:], start=1)):
                w.start(fn, a, b, k)
            first_exc = None
            try:
                results = [_run_marked(fn, slices[0][0], slices[0][1], 0)]
            except BaseException as e:  # wait for the others before raising
                first_exc, results = e, [None]
            for w in workers:
                r, err = w.wait()
                first_exc = first_exc or err
                results.append(r)
            if first_exc is not None:
                raise first_exc
            return results
        finally:
            _exit()
    finally:
        _busy.release()


def parallel_blocks(fn: Callable[[tuple], Any], ref: Any) -> None:
    """Call ``fn(index)`` once per thread, ``index`` a tuple of slices that cuts ``ref``'s
    outermost axis in memory (largest stride) into contiguous blocks; for elementwise work
    on arrays laid out like ``ref``, e.g. ``fn = lambda i: np.maximum(x[i], 0, out=y[i])``."""
    if ref.ndim == 0:
        fn((Ellipsis,))  # (a[...] of a 0-d array is an array; a[()] would be a scalar)
        return
    ax = max(range(ref.ndim), key=lambda a: abs(ref.strides[a]) if ref.shape[a] > 1 else -1)
    head = (slice(None),) * ax
    parallel(lambda a, b, _k: fn(head + (slice(a, b),)), ref.shape[ax], threads_for(ref.nbytes))


#: 2-D products below this many multiply-adds (m*n*k) run as NumPy runs them: OpenBLAS uses
#: one thread below 65536*4 multiply-adds anyway.
GEMM_SPLIT_MIN = 65536 * 4
#: From GEMM_SPLIT_MIN up to this many multiply-adds a 2-D product runs on one BLAS thread
#: (up to ~2 ms); from here up, on OpenBLAS's own threads.
#:
#: Why not split rows over deepgrad's threads, as the convolutions do: a thread that has gone
#: to sleep takes 50-200 us to wake on a VM whose idle cores halt (measured on this project's
#: 2-core machine: a region with no work costs 34 us right after the previous one, 80 us after
#: 1 ms and 200 us after 5 ms of idling), and a few such regions per step cost more than the
#: second core saves on GEMMs of this size. OpenBLAS's threads hand work over by spinning and
#: split a large GEMM better; measured, alternating in one process: the MLP 784-256-256-10
#: step (batch 128) 5.4 -> 4.4 ms, LeNet-5's 12.0 -> 11.1 ms, the transformer encoder's
#: 139 -> 135 ms, against splitting every GEMM from GEMM_SPLIT_MIN up. (Inside a region,
#: BLAS is at one thread already.)
GEMM_THREADS_MIN = 2**24


def matmul2d(a: Any, b: Any) -> Any:
    """``a @ b`` for 2-D arrays, on one BLAS thread for mid-sized products (see
    :data:`GEMM_THREADS_MIN`), else as NumPy runs it."""
    m, k = a.shape
    macs = m * k * b.shape[1]
    if macs < GEMM_SPLIT_MIN or macs >= GEMM_THREADS_MIN or _active or get_num_threads() <= 1:
        return a @ b
    if _blas_controller() is None or not _busy.acquire(blocking=False):  # (another thread's region: BLAS is at one)
        return a @ b
    try:
        _enter()  # BLAS at one thread, restored after
        try:
            return a @ b
        finally:
            _exit()
    finally:
        _busy.release()


def _reset_after_fork() -> None:
    """In a forked child: the pool object exists but none of its threads do, and a region the
    parent was in never ends here, so BLAS gets its thread count back."""
    global _active, _saved_blas_threads, _lock, _busy
    if _active and _saved_blas_threads is not None and _blas:
        for lc in _blas.lib_controllers:
            lc.set_num_threads(_saved_blas_threads)
    _workers.clear()
    _active, _saved_blas_threads = False, None
    _lock, _busy = threading.Lock(), threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)
