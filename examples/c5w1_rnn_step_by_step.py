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
# # Course 5, week 1: building a recurrent neural network, step by step
#
# The course's first exercise writes, in NumPy, the forward pass of a basic RNN cell and
# of an LSTM cell, loops them over time, and then the backward pass of both. Here we
# write them the same way (the course's notation and layout: activations `a` of shape
# `(n_a, m)`, inputs `x` of shape `(n_x, m, T_x)`, the LSTM's gates computed from the
# stacked `[a_prev; x_t]`) and then check every number against deepgrad's fused layers
# `nn.RNN` and `nn.LSTM`, whose forward and backpropagation through time are written by
# hand in `deepgrad/ops/recurrent.py`:
#
# * the forward activations and the LSTM's cell states agree;
# * the gradients of the course's backward functions (`dx`, `da0`, `dWax`, `dWaa`, `dba`,
#   and for the LSTM `dWf`, `dWi`, `dWc`, `dWo`, the biases, `dx`, `da0`) agree with the
#   library's, after mapping the course's weights into PyTorch's parameter layout;
# * the fused layer is then timed against the course's per-step loop.
#
# The course prints values of its own random draws (TensorFlow-era seeds), which
# COURSE.md does not list, so the "course" column stays empty here: the check is that two
# independent implementations agree to float64 rounding.

# %%
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import nn

args = _common.parse_args("c5w1_rnn_step_by_step", "RNN and LSTM forward and backward in NumPy, checked against nn.RNN / nn.LSTM.")
results = _common.Results(args)
rng = np.random.default_rng(args.seed)
dg.manual_seed(args.seed)  # the layers initialize their weights from deepgrad's generator: same seed, same run
n_x, n_a, m, T_x = 3, 5, 10, 4 if args.quick else 7


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# %% [markdown]
# ## 1. The basic RNN cell and its loop over time
#
# $a^{\langle t \rangle} = \tanh(W_{ax} x^{\langle t \rangle} + W_{aa} a^{\langle t-1 \rangle} + b_a)$.
# The course also computes a softmax prediction in the cell; the recurrent part is what
# `nn.RNN` does, so we keep the prediction separate.

# %%
def rnn_cell_forward(xt, a_prev, p):
    a_next = np.tanh(p["Wax"] @ xt + p["Waa"] @ a_prev + p["ba"])
    return a_next, (a_next, a_prev, xt)


def rnn_forward(x, a0, p):
    caches, a = [], np.zeros((n_a, m, x.shape[2]))
    a_next = a0
    for t in range(x.shape[2]):
        a_next, cache = rnn_cell_forward(x[:, :, t], a_next, p)
        a[:, :, t] = a_next
        caches.append(cache)
    return a, caches


def rnn_cell_backward(da_next, cache, p):
    a_next, a_prev, xt = cache
    dz = (1 - a_next**2) * da_next  # tanh' = 1 - tanh^2
    return {"dxt": p["Wax"].T @ dz, "da_prev": p["Waa"].T @ dz, "dWax": dz @ xt.T, "dWaa": dz @ a_prev.T,
            "dba": dz.sum(axis=1, keepdims=True)}


def rnn_backward(da, caches, p):
    """``da`` (n_a, m, T_x): the gradient of the loss with respect to every a<t>."""
    g = {k: np.zeros_like(p[k[1:]]) for k in ("dWax", "dWaa", "dba")}
    dx = np.zeros((n_x, m, len(caches)))
    da_prev = np.zeros((n_a, m))
    for t in reversed(range(len(caches))):
        step = rnn_cell_backward(da[:, :, t] + da_prev, caches[t], p)
        dx[:, :, t] = step["dxt"]
        da_prev = step["da_prev"]
        for k in g:
            g[k] += step[k]
    return {"dx": dx, "da0": da_prev, **g}


p_rnn = {"Wax": rng.standard_normal((n_a, n_x)), "Waa": rng.standard_normal((n_a, n_a)),
         "ba": rng.standard_normal((n_a, 1))}
x = rng.standard_normal((n_x, m, T_x))
a0 = rng.standard_normal((n_a, m))
a, caches = rnn_forward(x, a0, p_rnn)
da = rng.standard_normal(a.shape)  # an upstream gradient: the loss is sum(da * a)
grads = rnn_backward(da, caches, p_rnn)
print("a[4][1] =", a[4][1], " a.shape =", a.shape)

# %% [markdown]
# ### The same with `nn.RNN`
#
# PyTorch's layout (which deepgrad keeps, so state dicts move between the two): input
# `(T, N, n_x)`, `weight_ih` = `W_ax`, `weight_hh` = `W_aa`, and two biases that add
# (`b_a` goes in `bias_ih`, `bias_hh` is zero).

# %%
rnn = nn.RNN(n_x, n_a).double()
rnn.load_state_dict({"weight_ih_l0": p_rnn["Wax"], "weight_hh_l0": p_rnn["Waa"],
                     "bias_ih_l0": p_rnn["ba"][:, 0], "bias_hh_l0": np.zeros(n_a)})
xt_ = dg.tensor(x.transpose(2, 1, 0), requires_grad=True)  # (n_x, m, T) -> (T, m, n_x)
h0 = dg.tensor(a0.T[None], requires_grad=True)  # (1, m, n_a)
out, h_n = rnn(xt_, h0)
(out * dg.tensor(da.transpose(2, 1, 0))).sum().backward()
lib = {"a": out.data.transpose(2, 1, 0), "dx": xt_.grad.transpose(2, 1, 0), "da0": h0.grad[0].T,
       "dWax": rnn.weight_ih_l0.grad, "dWaa": rnn.weight_hh_l0.grad, "dba": rnn.bias_ih_l0.grad[:, None]}
err_rnn_fwd = float(np.abs(lib["a"] - a).max())
err_rnn_bwd = max(float(np.abs(lib[k] - grads[k]).max()) for k in ("dx", "da0", "dWax", "dWaa", "dba"))
print(f"RNN forward: max |difference| {err_rnn_fwd:.2e};  backward (dx, da0, dWax, dWaa, dba): {err_rnn_bwd:.2e}")
results.add("RNN forward: course loop vs nn.RNN, max |diff|", None, err_rnn_fwd)
results.add("RNN backward: course loop vs nn.RNN, max |diff|", None, err_rnn_bwd)

# %% [markdown]
# ## 2. The LSTM cell
#
# Forget, update (input) and output gates and the candidate value, each computed from
# the stacked `concat = [a_prev; x_t]` of shape `(n_a + n_x, m)`:
#
# $\Gamma_f = \sigma(W_f\,concat + b_f)$, $\Gamma_u = \sigma(W_u\,concat + b_u)$,
# $\tilde c = \tanh(W_c\,concat + b_c)$, $c = \Gamma_f c_{prev} + \Gamma_u \tilde c$,
# $\Gamma_o = \sigma(W_o\,concat + b_o)$, $a = \Gamma_o \tanh(c)$.

# %%
def lstm_cell_forward(xt, a_prev, c_prev, p):
    concat = np.concatenate([a_prev, xt])
    ft = sigmoid(p["Wf"] @ concat + p["bf"])
    it = sigmoid(p["Wi"] @ concat + p["bi"])
    cct = np.tanh(p["Wc"] @ concat + p["bc"])
    c_next = ft * c_prev + it * cct
    ot = sigmoid(p["Wo"] @ concat + p["bo"])
    a_next = ot * np.tanh(c_next)
    return a_next, c_next, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt)


def lstm_forward(x, a0, p):
    T = x.shape[2]
    a, c = np.zeros((n_a, m, T)), np.zeros((n_a, m, T))
    a_next, c_next, caches = a0, np.zeros((n_a, m)), []
    for t in range(T):
        a_next, c_next, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, p)
        a[:, :, t], c[:, :, t] = a_next, c_next
        caches.append(cache)
    return a, c, caches


def lstm_cell_backward(da_next, dc_next, cache, p):
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt = cache
    tc = np.tanh(c_next)
    dot = da_next * tc * ot * (1 - ot)
    dc = dc_next + da_next * ot * (1 - tc**2)
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate([a_prev, xt])
    g = {"dWf": dft @ concat.T, "dWi": dit @ concat.T, "dWc": dcct @ concat.T, "dWo": dot @ concat.T,
         "dbf": dft.sum(1, keepdims=True), "dbi": dit.sum(1, keepdims=True),
         "dbc": dcct.sum(1, keepdims=True), "dbo": dot.sum(1, keepdims=True)}
    dconcat = p["Wf"].T @ dft + p["Wi"].T @ dit + p["Wc"].T @ dcct + p["Wo"].T @ dot
    g["da_prev"], g["dxt"] = dconcat[:n_a], dconcat[n_a:]
    g["dc_prev"] = dc * ft
    return g


def lstm_backward(da, caches, p):
    names = ("dWf", "dWi", "dWc", "dWo", "dbf", "dbi", "dbc", "dbo")
    g = {k: np.zeros_like(p[k[1:]]) for k in names}
    dx = np.zeros((n_x, m, len(caches)))
    da_prev, dc_prev = np.zeros((n_a, m)), np.zeros((n_a, m))
    for t in reversed(range(len(caches))):
        step = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, caches[t], p)
        dx[:, :, t] = step["dxt"]
        da_prev, dc_prev = step["da_prev"], step["dc_prev"]
        for k in names:
            g[k] += step[k]
    return {"dx": dx, "da0": da_prev, **g}


p_lstm = {}
for gate in "fico":
    p_lstm["W" + gate] = rng.standard_normal((n_a, n_a + n_x))
    p_lstm["b" + gate] = rng.standard_normal((n_a, 1))
a_l, c_l, caches_l = lstm_forward(x, a0, p_lstm)
da_l = rng.standard_normal(a_l.shape)
grads_l = lstm_backward(da_l, caches_l, p_lstm)
print("a[4][3][-1] =", a_l[4][3][-1], " c.shape =", c_l.shape)

# %% [markdown]
# ### The same with `nn.LSTM`
#
# PyTorch's LSTM stacks the gates in the order input, forget, cell, output (i, f, g, o)
# and keeps the input and recurrent weights apart: `weight_ih` = the `x` columns of the
# four `W`s, `weight_hh` = their `a_prev` columns. `c` is not an output of `nn.LSTM`, but
# the course's cell states are reachable through `nn.LSTMCell`, step by step.

# %%
order = "ifco"  # the course's update gate is PyTorch's input gate
W_ih = np.concatenate([p_lstm["W" + g][:, n_a:] for g in order])
W_hh = np.concatenate([p_lstm["W" + g][:, :n_a] for g in order])
b = np.concatenate([p_lstm["b" + g][:, 0] for g in order])
lstm = nn.LSTM(n_x, n_a).double()
lstm.load_state_dict({"weight_ih_l0": W_ih, "weight_hh_l0": W_hh, "bias_ih_l0": b, "bias_hh_l0": np.zeros(4 * n_a)})
xt_ = dg.tensor(x.transpose(2, 1, 0), requires_grad=True)
h0 = dg.tensor(a0.T[None], requires_grad=True)
c0 = dg.zeros(1, m, n_a, dtype=np.float64)
out, (h_n, c_n) = lstm(xt_, (h0, c0))
(out * dg.tensor(da_l.transpose(2, 1, 0))).sum().backward()


def split_gates(G):  # (4 n_a, k) in PyTorch's order -> the course's dict
    return {g: G[k * n_a:(k + 1) * n_a] for k, g in enumerate(order)}


gi, gh, gb = split_gates(lstm.weight_ih_l0.grad), split_gates(lstm.weight_hh_l0.grad), split_gates(lstm.bias_ih_l0.grad)
lib_l = {"dx": xt_.grad.transpose(2, 1, 0), "da0": h0.grad[0].T}
for g in "fico":
    lib_l["dW" + g] = np.concatenate([gh[g], gi[g]], axis=1)  # back to [a_prev | x] columns
    lib_l["db" + g] = gb[g][:, None]
err_lstm_fwd = float(np.abs(out.data.transpose(2, 1, 0) - a_l).max())
err_c = float(np.abs(c_n.data[0].T - c_l[:, :, -1]).max())
err_lstm_bwd = max(float(np.abs(lib_l[k] - grads_l[k]).max()) for k in grads_l)
# the cell states of every step, through the one-step cell
cell = nn.LSTMCell(n_x, n_a).double()
cell.load_state_dict({"weight_ih": W_ih, "weight_hh": W_hh, "bias_ih": b, "bias_hh": np.zeros(4 * n_a)})
h, c = dg.tensor(a0.T), dg.zeros(m, n_a, dtype=np.float64)
err_cells = 0.0
for t in range(T_x):
    h, c = cell(dg.tensor(x[:, :, t].T), (h, c))
    err_cells = max(err_cells, float(np.abs(c.data.T - c_l[:, :, t]).max()))
print(f"LSTM forward a: {err_lstm_fwd:.2e}; c_n: {err_c:.2e}; c<t> via LSTMCell: {err_cells:.2e}; "
      f"backward (all {len(grads_l)} gradients): {err_lstm_bwd:.2e}")
results.add("LSTM forward (a, c): course loop vs nn.LSTM / LSTMCell, max |diff|", None,
            max(err_lstm_fwd, err_c, err_cells))
results.add("LSTM backward: course loop vs nn.LSTM, max |diff|", None, err_lstm_bwd)
results["rnn_errors"] = {"forward": err_rnn_fwd, "backward": err_rnn_bwd}
results["lstm_errors"] = {"forward": err_lstm_fwd, "c_n": err_c, "cells": err_cells, "backward": err_lstm_bwd}

# %% [markdown]
# ## 3. Exploding gradients and clipping
#
# The course clips every gradient element to [-5, 5] before each update
# (`nn.utils.clip_grad_value_`); rescaling all gradients together so that their joint
# norm is at most a threshold keeps their direction (`nn.utils.clip_grad_norm_`). With
# large recurrent weights the gradient through 50 steps explodes:

# %%
big = nn.RNN(n_x, n_a, nonlinearity="relu").double()
with dg.no_grad():
    big.weight_hh_l0.data[...] = 1.5 * np.eye(n_a)
xs = dg.tensor(np.abs(rng.standard_normal((50, m, n_x))))
o, _ = big(xs)
o[-1].sum().backward()
norm_before = float(np.sqrt(sum((p.grad**2).sum() for p in big.parameters())))
nn.utils.clip_grad_value_(big.parameters(), 5.0)
max_after_value = max(float(np.abs(p.grad).max()) for p in big.parameters())
big.zero_grad()
o, _ = big(xs)
o[-1].sum().backward()
total = float(nn.utils.clip_grad_norm_(big.parameters(), 1.0))
norm_after = float(np.sqrt(sum((p.grad**2).sum() for p in big.parameters())))
print(f"gradient norm {norm_before:.3g}; after clip_grad_value_(5): largest element {max_after_value:.3g}; "
      f"after clip_grad_norm_(1): norm {norm_after:.3g}")
results.add("exploding gradient: norm before clipping", None, norm_before)
results.add("after clip_grad_value_(5): largest element", 5.0, max_after_value, note="(course: clip to [-5, 5])")
results.add("after clip_grad_norm_(1): norm", None, norm_after)

# %% [markdown]
# ## 4. Why the library's layer is one fused op
#
# The course's loop does ~20 small NumPy operations per step and allocates a cache per
# step; `nn.LSTM` does the input projection of all steps as one matrix product, one
# matrix product per step for all four gates, and its backpropagation through time by
# hand. Timed (CPU time, one BLAS thread recommended) on a character-model-sized problem
# (float32, forward and backward):

# %%
T2, m2, nx2, na2 = (16, 16, 32, 64) if args.quick else (64, 32, 64, 128)
x2 = rng.standard_normal((nx2, m2, T2)).astype(np.float32)
p2 = {}
for gate in "fico":
    p2["W" + gate] = (rng.standard_normal((na2, na2 + nx2)) * 0.1).astype(np.float32)
    p2["b" + gate] = np.zeros((na2, 1), np.float32)
n_x, n_a, m = nx2, na2, m2  # the course functions read these globals
a02 = np.zeros((na2, m2), np.float32)


def course_step():
    a_, _, caches_ = lstm_forward(x2, a02, p2)
    lstm_backward(np.ones_like(a_), caches_, p2)


lib_lstm = nn.LSTM(nx2, na2)
X2 = dg.tensor(x2.transpose(2, 1, 0).copy(), requires_grad=True)


def library_step():
    o_, _ = lib_lstm(X2)
    o_.sum().backward()


def best_of(f, n=3):
    """The least CPU time of ``n`` runs (CPU time, so that other processes' load does not count)."""
    f()
    ts = []
    for _ in range(n):
        t0 = time.process_time()
        f()
        ts.append(time.process_time() - t0)
    return min(ts)


t_course, t_lib = best_of(course_step), best_of(library_step)
print(f"LSTM forward + backward, T={T2}, batch {m2}, n_x={nx2}, n_a={na2}: course loop {1e3 * t_course:.1f} ms, "
      f"nn.LSTM {1e3 * t_lib:.1f} ms ({t_course / t_lib:.1f}x)")
results.add(f"LSTM fwd+bwd speed-up of nn.LSTM over the course loop (T={T2}, n_a={na2})", None,
            round(t_course / t_lib, 2))

# %%
results.finish()
