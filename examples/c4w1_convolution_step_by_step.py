# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Course 4, week 1: convolutional model, step by step
#
# The course builds a convolution layer and a pooling layer from loops over examples,
# output pixels and channels, forward and backward, in NumPy. We write those loops
# exactly as the course does (channels last, `(m, n_H, n_W, n_C)`), then check that
# deepgrad's vectorized ops (`F.conv2d`, `F.max_pool2d`, `F.avg_pool2d`; channels first,
# `(m, n_C, n_H, n_W)`, like PyTorch) give the same numbers as the course's reference
# outputs, and measure how much faster they are.
#
# Shapes: with padding `p`, stride `s` and an `f x f` filter, the output is
# `n_H = floor((n_H_prev + 2p - f) / s) + 1` (same for the width).
#
# How deepgrad computes a convolution ("im2col"): every `f x f x n_C_prev` window of the
# padded input is copied into a column of a matrix, so that the whole layer is **one
# matrix product** `W.reshape(n_C, -1) @ cols`. The backward pass is two more products
# and an "add the columns back" (col2im). Internally the batch is the innermost axis,
# which makes those copies long contiguous runs of memory.

# %%
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F

args = _common.parse_args("c4w1_convolution_step_by_step", "Convolution and pooling, forward and backward: loops vs deepgrad.")
results = _common.Results(args)


def nchw(a):
    """The course's (m, n_H, n_W, n_C) -> deepgrad's (m, n_C, n_H, n_W)."""
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def nhwc(a):
    return np.ascontiguousarray(np.asarray(a).transpose(0, 2, 3, 1))


def rounded(v):
    """A few numbers as the course prints them, to 4 decimals: "[1.7448, 0.8654]"."""
    return "[" + ", ".join(f"{x:.4f}" for x in np.ravel(v)) + "]"


# %% [markdown]
# ## 1. Zero padding and one step of convolution

# %%
def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def conv_single_step(a_slice_prev, W, b):
    return float(np.sum(a_slice_prev * W) + b.item())


np.random.seed(1)
x = np.random.randn(4, 3, 3, 2)
x_pad = zero_pad(x, 2)
np.random.seed(1)
a_slice_prev, W1, b1 = np.random.randn(4, 4, 3), np.random.randn(4, 4, 3), np.random.randn(1, 1, 1)
Z1 = conv_single_step(a_slice_prev, W1, b1)
print("x_pad.shape =", x_pad.shape, " Z =", Z1)
results.add("zero_pad: x_pad.shape", None, str(x_pad.shape), expected="(4, 7, 7, 2)")
results.add("conv_single_step: Z", None, Z1, expected=-6.99908945068)


# %% [markdown]
# ## 2. Convolution forward: the course's loops vs `F.conv2d`

# %%
def conv_forward_loops(A_prev, W, b, stride, pad):
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    A_prev_pad = zero_pad(A_prev, pad)
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    vs, hs = h * stride, w * stride
                    Z[i, h, w, c] = conv_single_step(A_prev_pad[i, vs:vs + f, hs:hs + f, :], W[..., c], b[..., c])
    return Z


np.random.seed(1)
A_prev = np.random.randn(10, 4, 4, 3)
W = np.random.randn(2, 2, 3, 8)
b = np.random.randn(1, 1, 1, 8)
Z_loops = conv_forward_loops(A_prev, W, b, stride=2, pad=2)

# deepgrad: channels first, weight (n_C, n_C_prev, f, f)
x_t = dg.tensor(nchw(A_prev), requires_grad=True)
w_t = dg.tensor(np.ascontiguousarray(W.transpose(3, 2, 0, 1)), requires_grad=True)
b_t = dg.tensor(b.ravel(), requires_grad=True)
Z_t = F.conv2d(x_t, w_t, b_t, stride=2, padding=2)
Z = nhwc(Z_t.data)
print("Z's mean =", Z.mean(), " Z[3, 2, 1] =", Z[3, 2, 1])
assert np.allclose(Z, Z_loops)
results.add("conv_forward: Z's mean", None, float(Z.mean()), expected=0.0489952035289)
results.add("conv_forward: loops and F.conv2d agree (max |diff|)", None, float(np.abs(Z - Z_loops).max()))

# %% [markdown]
# ## 3. Pooling forward

# %%
np.random.seed(1)
A_pool = np.random.randn(2, 4, 4, 3)
P_max = nhwc(F.max_pool2d(dg.tensor(nchw(A_pool)), 3, stride=2).data)
P_avg = nhwc(F.avg_pool2d(dg.tensor(nchw(A_pool)), 3, stride=2).data)
print("max pool:", P_max.ravel(), "\naverage pool:", P_avg.ravel())
results.add("pool_forward max: A[0]", None, rounded(P_max[0]), expected="[1.7448, 0.8654, 1.1338]")
results.add("pool_forward average: A[1]", None, rounded(P_avg[1]), expected="[-0.2215, 0.5172, 0.4816]")

# %% [markdown]
# ## 4. Convolution backward
#
# The course backpropagates `dZ = Z` through its loops: `dA_prev` and `dW` collect
# `W * dZ[i, h, w, c]` and `a_slice * dZ[i, h, w, c]` window by window, and
# `db = sum(dZ)`. deepgrad's backward does the same with two GEMMs.

# %%
Z_t.backward(Z_t.data)  # upstream gradient dZ = Z, as in the course
dA, dW, db = nhwc(x_t.grad), w_t.grad, b_t.grad
print("dA_mean =", dA.mean(), " dW_mean =", dW.mean(), " db_mean =", db.mean())
results.add("conv_backward: dA_mean", None, float(dA.mean()), expected=1.45243777754)
results.add("conv_backward: dW_mean", None, float(dW.mean()), expected=1.72699145831)
results.add("conv_backward: db_mean", None, float(db.mean()), expected=7.83923256462)

# %% [markdown]
# ## 5. Pooling backward
#
# Max-pooling sends each output's gradient to the position of its window's maximum
# (the course's `create_mask_from_window`); average pooling spreads it evenly
# (`distribute_value`).

# %%
np.random.seed(1)
A_prev = np.random.randn(5, 5, 3, 2)
dA_out = np.random.randn(5, 4, 2, 2)
grads = {}
for mode, fn in (("max", F.max_pool2d), ("average", F.avg_pool2d)):
    xt = dg.tensor(nchw(A_prev), requires_grad=True)
    fn(xt, 2, stride=1).backward(nchw(dA_out))
    grads[mode] = nhwc(xt.grad)
    print(f"{mode}: mean of dA = {dA_out.mean():.6f}; dA_prev[1, 1] =\n{grads[mode][1, 1]}")
results.add("pool_backward: mean of dA", None, float(dA_out.mean()), expected=0.145713902729)
results.add("pool_backward max: dA_prev[1, 1, 1]", None, rounded(grads["max"][1, 1, 1]), expected="[5.0584, -1.6828]")
results.add("pool_backward average: dA_prev[1, 1, 0]", None, rounded(grads["average"][1, 1, 0]), expected="[0.0849, 0.2788]")

# %% [markdown]
# ## 6. Loops vs one GEMM: speed
#
# A batch of 32 images 28x28 with 8 channels through a 3x3 convolution to 16 channels.

# %%
m = 8 if args.quick else 32
rng = np.random.default_rng(args.seed)
A_big = rng.standard_normal((m, 28, 28, 8))
W_big = rng.standard_normal((3, 3, 8, 16))
b_big = rng.standard_normal((1, 1, 1, 16))
t0 = time.perf_counter()
Z_big_loops = conv_forward_loops(A_big, W_big, b_big, stride=1, pad=1)
t_loops = time.perf_counter() - t0
x_big = dg.tensor(nchw(A_big))
w_big = dg.tensor(np.ascontiguousarray(W_big.transpose(3, 2, 0, 1)))
t0 = time.perf_counter()
for _ in range(10):
    Z_big = F.conv2d(x_big, w_big, dg.tensor(b_big.ravel()), padding=1)
t_dg = (time.perf_counter() - t0) / 10
assert np.allclose(nhwc(Z_big.data), Z_big_loops)
print(f"loops: {t_loops * 1e3:.1f} ms   deepgrad: {t_dg * 1e3:.2f} ms   ({t_loops / t_dg:.0f}x faster)")
results.add(f"conv forward, {m}x28x28x8 -> 16 channels: speed-up over loops", None, round(t_loops / t_dg))
results["seconds_loops"], results["seconds_deepgrad"] = t_loops, t_dg

# %%
results.finish()
