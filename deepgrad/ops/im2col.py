"""The memory machinery under the convolutions and pooling: layout, a buffer cache, im2col.

* **Layout.** Internally the activations are laid out ``(C, H, W, N)`` (batch innermost):
  :func:`chwn_padded` makes that (padded) copy of an NCHW input, :func:`nchw` returns the
  NCHW-shaped view of such a buffer (a free transpose), :func:`chwn` the reverse (free when
  the array came from an op here). Why batch innermost: the speed of im2col/col2im is
  decided by the length of the contiguous runs of memory they copy, and with N innermost
  every run is at least N elements long (``Wo * N`` at stride 1) instead of ``Wo``.
  Elementwise NumPy ops (bias, ReLU, BatchNorm) keep that memory order, so the next
  convolution or pooling op finds its input already batch-innermost and does not copy it.
* **Buffer cache.** im2col matrices are big (megabytes) and short-lived (built in forward,
  dropped after backward). Fresh allocations of that size come straight from the OS and
  pay a page fault per 4 KiB on first touch (measured ~half a LeNet step), so the buffers
  the ops own (never handed to callers) are recycled: :func:`take` / :func:`give`, and a
  :class:`Lease` that gives a buffer back when the graph drops it.
* **im2col / col2im.** ``cols[(c, ki, kj), (i, j, n)] = x_pad[c, i*sh + ki*dh, j*sw + kj*dw, n]``:
  :func:`windows` is that 6-D strided view (no copy), :func:`im2col` copies a block of
  output rows of it into a matrix, :func:`col2im_add` adds columns back where they came from.
  Matrices larger than ``IM2COL_BUDGET_BYTES`` are built in chunks of rows (:func:`row_chunk`).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .threads import parallel, parallel_blocks, threads_for

#: im2col matrices up to this size (bytes) are built whole and kept for the backward pass.
IM2COL_BUDGET_BYTES = 8 * 2**20  # (LeNet-5's first conv, 5 MB, is kept: rebuilding it cost ~25% of that layer's step)


#: Bigger ones are built and consumed in chunks of output rows of about this size (at
#: least one row) into one reused buffer, and rebuilt in backward: memory stays bounded.
#: Small chunks are fastest: each GEMM reads a matrix that was just written and is still
#: in cache (measured on a 32->32 3x3 conv at 28x28, batch 64: one-row (2 MB) chunks ~1.2x
#: faster than one 58 MB matrix). With two BLAS threads on a quiet machine (load average
#: 1.5-2), the user-written ResNet-small step of benchmarks/conv.py took 149-151 ms in
#: 512 KiB chunks against 219 ms in 32 MiB chunks. (On a machine overloaded 10x, where
#: every GEMM call waits for a descheduled BLAS thread, large chunks won instead: a conv
#: took 4.0 s in 512 KiB and 0.53 s in 32 MiB chunks at load average 25. A machine's own
#: quiet case decides; set IM2COL_CHUNK_BYTES to choose another size.)
#: (None: chosen on first use by :func:`chunk_bytes`.)
IM2COL_CHUNK_BYTES = None


def chunk_bytes() -> int:
    """``IM2COL_CHUNK_BYTES``, 512 KiB unless set."""
    global IM2COL_CHUNK_BYTES
    if IM2COL_CHUNK_BYTES is None:
        IM2COL_CHUNK_BYTES = 2**19
    return IM2COL_CHUNK_BYTES

#: A convolution's geometry: kernel (kh, kw), stride (sh, sw), dilation (dh, dw), output size (Ho, Wo).
Geometry = namedtuple("Geometry", "kh kw sh sw dh dw Ho Wo")


# ----- layout ------------------------------------------------------------------------------------
def chwn_padded(x: np.ndarray, pads, fill=0.0) -> np.ndarray:
    """NCHW (any strides) -> contiguous padded (C, H+pt+pb, W+pl+pr, N) in one copy."""
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return chwn(x)
    N, C, H, W = x.shape
    src = x.transpose(1, 2, 3, 0)
    out = take((C, H + pt + pb, W + pl + pr, N), x.dtype)  # a recycled buffer (see _take); callers may _give it back
    # (blocks of channels go to threads)
    parallel(lambda a, b, _k: pad_into(out[a:b], src[a:b], pads, fill), C, threads_for(out.nbytes))
    return out


def pad_into(out: np.ndarray, src: np.ndarray, pads, fill=0.0) -> None:
    """Copy ``src`` (c, H, W, N) into the interior of ``out`` (c, H+pt+pb, W+pl+pr, N) and set its border to ``fill``."""
    (pt, _), (pl, _) = pads
    _, H, W, _ = src.shape
    if fill == 0.0:
        # zero only the border: the interior is overwritten just below
        out[:, :pt] = 0
        out[:, pt + H :] = 0
        out[:, pt : pt + H, :pl] = 0
        out[:, pt : pt + H, pl + W :] = 0
    else:
        out.fill(fill)
    out[:, pt : pt + H, pl : pl + W] = src


def chwn(x: np.ndarray) -> np.ndarray:
    """NCHW-shaped array -> contiguous (C, H, W, N); free when x came from a conv/pool here."""
    c = x.transpose(1, 2, 3, 0)
    if c.flags.c_contiguous:
        return c
    out = np.empty(c.shape, dtype=x.dtype)
    parallel_blocks(lambda i: np.copyto(out[i], c[i]), out)
    return out


def nchw(x: np.ndarray) -> np.ndarray:
    """(C, H, W, N) buffer -> NCHW-shaped view (no copy)."""
    return x.transpose(3, 0, 1, 2)


def unpad(dxp: np.ndarray, pads, x_shape) -> np.ndarray:
    """The gradient of a padded (C, Hp, Wp, N) buffer -> the NCHW view of its unpadded interior."""
    (pt, _), (pl, _) = pads
    H, W = x_shape[2:]
    return nchw(dxp[:, pt : pt + H, pl : pl + W])


# ----- freed memory stays in the process ---------------------------------------------------------------
def keep_freed_memory(mmap_threshold: int = 64 * 2**20, trim_threshold: int = 256 * 2**20) -> bool:
    """Ask glibc's malloc to keep freed blocks of up to ``mmap_threshold`` bytes for reuse instead of
    returning them to the OS (``mallopt``; Linux only). Returns whether it did.

    A training step frees and allocates the same megabyte-sized arrays again and again. By
    default glibc serves such blocks with ``mmap`` and gives them back at ``free``, so every
    step touches fresh pages and pays a page fault per 4 KiB (measured per step: LeNet-5 written
    as separate layers 1,050 faults and 4.2 ms of system time, 13.3 ms a step; with this 0.2
    faults and 8.5 ms; the user-written ResNet-small 170 -> 132 ms). The cost: memory freed
    during training stays with the process (its peak is unchanged). Called when deepgrad is
    imported, unless ``DEEPGRAD_KEEP_FREED_MEMORY=0`` or glibc's own ``MALLOC_MMAP_THRESHOLD_``
    / ``MALLOC_TRIM_THRESHOLD_`` settings are in the environment (then those apply).
    """
    import os
    import sys

    if not sys.platform.startswith("linux") or os.environ.get("DEEPGRAD_KEEP_FREED_MEMORY", "1") == "0":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt  # glibc's; other C libraries may lack it
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        return bool(mallopt(M_MMAP_THRESHOLD, int(mmap_threshold))) and bool(mallopt(M_TRIM_THRESHOLD, int(trim_threshold)))
    except (OSError, AttributeError):
        return False


#: Whether :func:`keep_freed_memory` took effect when deepgrad was imported.
KEEPS_FREED_MEMORY = keep_freed_memory()


# ----- a small cache of im2col buffers ------------------------------------------------------------------
# im2col matrices are big (megabytes) and short-lived (built in forward, dropped after
# backward). Fresh allocations of that size come straight from the OS and pay a page
# fault per 4 KiB on first touch, which measured ~half a LeNet step. The buffers this
# module owns (never handed to callers) are therefore recycled through this cache.
_cache: dict = {}
_CACHE_PER_KEY = 4


def take(shape, dtype) -> np.ndarray:
    lst = _cache.get((shape, np.dtype(dtype)))
    try:  # (list.pop is atomic: threads of a parallel loop take buffers at once)
        return lst.pop() if lst else np.empty(shape, dtype=dtype)
    except IndexError:  # another thread took the last one
        return np.empty(shape, dtype=dtype)


def give(arr) -> None:
    if arr is None or arr.base is not None or not arr.flags.c_contiguous:
        return
    lst = _cache.setdefault((arr.shape, arr.dtype), [])
    if len(lst) < _CACHE_PER_KEY:
        lst.append(arr)


class Lease:
    """Holds a cached buffer saved for backward; returns it to the cache when the
    graph drops it (after backward, or when the graph is discarded unused)."""

    __slots__ = ("arr",)

    def __init__(self, arr):
        self.arr = arr

    def __del__(self):
        try:
            give(self.arr)
        except Exception:  # interpreter shutdown: module globals may already be gone
            pass


def keep_or_give(buf, keep: bool):
    """A recycled buffer the backward needs (``keep``): a :class:`Lease` on it; else it goes
    straight back to the cache and ``None`` is returned."""
    if keep:
        return Lease(buf)
    give(buf)
    return None


def clear_cache() -> None:
    """Drop the recycled im2col buffers (frees their memory)."""
    _cache.clear()


def fits_budget(bytes_per_row: int, Ho: int) -> bool:
    """Whether the whole im2col matrix is small enough to be kept for the backward pass."""
    return bytes_per_row * Ho <= IM2COL_BUDGET_BYTES


def row_chunk(bytes_per_row: int, Ho: int, chunk: int | None = None) -> int:
    """Output rows per im2col chunk: all of them when the whole matrix fits the budget,
    else about ``chunk`` (default ``IM2COL_CHUNK_BYTES``) bytes' worth (at least one row)."""
    if fits_budget(bytes_per_row, Ho):
        return Ho
    return max(1, min(Ho, (chunk or chunk_bytes()) // max(1, bytes_per_row)))


# ----- im2col / col2im on (C, H, W, N) ----------------------------------------------------------
def windows(xp: np.ndarray, g: Geometry) -> np.ndarray:
    """The read-only (C, kh, kw, Ho, Wo, N) view of the receptive fields of ``xp`` (C, Hp, Wp, N):
    ``windows(xp, g)[c, ki, kj, i, j, n] = xp[c, i*sh + ki*dh, j*sw + kj*dw, n]``. Build it once
    per op and cut blocks of rows from it with :func:`im2col`."""
    s0, s1, s2, s3 = xp.strides
    C, _, _, N = xp.shape
    return as_strided(xp, shape=(C, g.kh, g.kw, g.Ho, g.Wo, N),
                      strides=(s0, g.dh * s1, g.dw * s2, g.sh * s1, g.sw * s2, s3), writeable=False)


def im2col(win: np.ndarray, i0: int, i1: int, out: np.ndarray | None = None) -> np.ndarray:
    """Output rows [i0, i1) of the :func:`windows` view ``win`` as a (C*kh*kw, (i1-i0)*Wo*N)
    matrix (one copy) in ``out`` (a recycled buffer of at least that size) or a fresh cached one."""
    C, kh, kw, _, Wo, N = win.shape
    block = win[:, :, :, i0:i1]
    K, L = C * kh * kw, (i1 - i0) * Wo * N
    cols = take((K, L), win.dtype) if out is None else out.reshape(-1)[: K * L].reshape(K, L)
    np.copyto(cols.reshape(block.shape), block)
    return cols


def im2col_rows(win: np.ndarray, i0: int, i1: int, cols: np.ndarray) -> None:
    """Copy output rows [i0, i1) of the :func:`windows` view ``win`` into their block of columns
    of the whole im2col matrix ``cols`` ((C*kh*kw, Ho*Wo*N), contiguous)."""
    np.copyto(cols.reshape(win.shape)[:, :, :, i0:i1], win[:, :, :, i0:i1])


def window(xp, ki, kj, dil, stride, Ho, Wo):
    """The (C, Ho, Wo, N) strided view of ``xp`` that kernel tap (ki, kj) reads for every output
    pixel (dilation ``dil``, ``stride``): shared by col2im, depthwise conv and pooling."""
    r0, c0 = ki * dil[0], kj * dil[1]
    return xp[:, r0 : r0 + stride[0] * (Ho - 1) + 1 : stride[0], c0 : c0 + stride[1] * (Wo - 1) + 1 : stride[1]]


def col2im_add(dxp: np.ndarray, dcols: np.ndarray, g: Geometry, i0: int, i1: int) -> None:
    """Add each column of ``dcols`` ((C*kh*kw, rows*Wo*N)) back onto the input it was copied from."""
    C, _, _, N = dxp.shape
    rows = i1 - i0
    d6 = dcols.reshape(C, g.kh, g.kw, rows, g.Wo, N)
    rows_from = dxp[:, i0 * g.sh :]
    for ki in range(g.kh):
        for kj in range(g.kw):
            window(rows_from, ki, kj, (g.dh, g.dw), (g.sh, g.sw), rows, g.Wo)[...] += d6[:, ki, kj]
