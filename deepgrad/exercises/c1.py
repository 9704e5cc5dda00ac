"""Course 1 (neural networks and deep learning): the graded functions, in the course's conventions.

Activations are column batches: ``A`` has shape ``(n_units, m)``, one column per example;
``W`` of layer l has shape ``(n_l, n_{l-1})`` and ``b`` has shape ``(n_l, 1)``.
"""
from __future__ import annotations

import numpy as np

from ._core import BATCH1, RANDOM, Exercise, Property


# ----- references -----------------------------------------------------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    return Z, (A, W, b)


def _relu(Z):
    return np.maximum(0, Z)


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    if activation == "sigmoid":
        A = sigmoid(Z)
    elif activation == "relu":
        A = _relu(Z)
    else:
        raise ValueError(activation)
    return A, (linear_cache, Z)


def compute_cost(AL, Y):
    m = Y.shape[1]
    cost = -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / m
    return np.squeeze(cost)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = np.dot(dZ, A_prev.T) / m
    db = np.sum(dZ, axis=1, keepdims=True) / m
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    linear_cache, Z = cache
    if activation == "relu":
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0
    elif activation == "sigmoid":
        s = sigmoid(Z)
        dZ = dA * s * (1 - s)
    else:
        raise ValueError(activation)
    return linear_backward(dZ, linear_cache)


def update_parameters(parameters, grads, learning_rate):
    parameters = dict(parameters)
    L = len(parameters) // 2
    for l in range(1, L + 1):
        parameters["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        parameters["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return parameters


# ----- inputs -----------------------------------------------------------------------------------
def _lin(g):
    n_prev, n, m = g.dim("n_prev", 1, 6), g.dim("n", 1, 6), g.dim("m", 1, 8)
    return g.randn(n_prev, m, tag="A"), g.randn(n, n_prev), g.randn(n, 1)


def _z(g):
    z = g.randn(*[g.dim(f"d{i}", 1, 5) for i in range(g.dim("ndim", 1, 3))], scale=3, tag="z")
    return float(z) if np.ndim(z) == 0 else z


def _cost_inputs(g):
    m = g.dim("m", 1, 10)
    AL = g.rand(1, m, lo=0.02, hi=0.98, tag="AL")
    Y = (g.rand(1, m) < 0.5).astype(float)
    return [AL, Y]


def _params(g, L, with_grads=True):
    dims = [g.dim(f"n{l}", 1, 5) for l in range(L + 1)]
    params, grads = {}, {}
    for l in range(1, L + 1):
        params[f"W{l}"] = g.randn(dims[l], dims[l - 1])
        params[f"b{l}"] = g.randn(dims[l], 1)
        grads[f"dW{l}"] = g.randn(dims[l], dims[l - 1])
        grads[f"db{l}"] = g.randn(dims[l], 1)
    return params, grads


def _update_inputs(g):
    params, grads = _params(g, g.dim("L", 1, 4))
    return [params, grads, g.choice("learning_rate", [0.01, 0.1, 1.2])]


def _bw_inputs(g):
    A_prev, W, b = _lin(g)
    dZ = g.randn(W.shape[0], A_prev.shape[1])
    return [dZ, (A_prev, W, b)]


def _act_bw_inputs(g):
    A_prev, W, b = _lin(g)
    Z = g.randn(W.shape[0], A_prev.shape[1], tag="Z")
    dA = g.randn(*Z.shape)
    return [dA, ((A_prev, W, b), Z), g.choice("activation", ["relu", "sigmoid"])]


EXERCISES = [
    Exercise(
        "sigmoid", "C1W2", "sigmoid(z)",
        "z: a number or an ndarray of any shape -> the same shape",
        "The logistic function 1 / (1 + exp(-z)), elementwise (np.exp, not math.exp, so arrays work).",
        sigmoid,
        lambda g: [_z(g)],
        [RANDOM, Property("large |z| (~ 1000): 0 and 1 at the ends, no NaN", {"scale": {"z": 300}}),
         Property("z = 0 gives 0.5", {"zeros": {"z"}}, 5),
         Property("a plain Python number", {"ndim": 0}, 10)],
    ),
    Exercise(
        "linear_forward", "C1W4", "linear_forward(A, W, b)",
        "A: (n_prev, m) activations of the previous layer, one column per example\nW: (n, n_prev)\nb: (n, 1)\n"
        "-> Z: (n, m), cache = (A, W, b)",
        "The linear part of a layer's forward propagation: Z = W A + b (b broadcast over the m columns).\n"
        "Return (Z, cache) with cache = (A, W, b) for the backward pass.",
        linear_forward, lambda g: list(_lin(g)), [RANDOM, BATCH1], pick=lambda r: r[0],
        outputs=('Z',),
    ),
    Exercise(
        "linear_activation_forward", "C1W4", "linear_activation_forward(A_prev, W, b, activation)",
        "A_prev: (n_prev, m); W: (n, n_prev); b: (n, 1); activation: 'sigmoid' or 'relu'\n"
        "-> A: (n, m), cache = ((A_prev, W, b), Z)",
        "Z = W A_prev + b, then A = sigmoid(Z) or relu(Z) = max(0, Z). Return (A, cache).",
        linear_activation_forward, lambda g: [*_lin(g), g.choice("activation", ["sigmoid", "relu"])],
        [RANDOM, BATCH1], pick=lambda r: r[0],
    ),
    Exercise(
        "compute_cost", "C1W4", "compute_cost(AL, Y)",
        "AL: (1, m) predicted probabilities; Y: (1, m) labels in {0, 1} -> cost: a scalar",
        "The cross-entropy cost -(1/m) sum(Y log(AL) + (1 - Y) log(1 - AL)), squeezed to a scalar.",
        compute_cost, _cost_inputs, [RANDOM, BATCH1],
    ),
    Exercise(
        "linear_backward", "C1W4", "linear_backward(dZ, cache)",
        "dZ: (n, m); cache = (A_prev (n_prev, m), W (n, n_prev), b (n, 1))\n"
        "-> dA_prev: (n_prev, m), dW: (n, n_prev), db: (n, 1)",
        "The backward pass of Z = W A_prev + b averaged over the m examples:\n"
        "dW = (1/m) dZ A_prev^T, db = (1/m) sum of dZ over the examples (keepdims), dA_prev = W^T dZ.",
        linear_backward, _bw_inputs, [RANDOM, BATCH1],
        outputs=('dA_prev', 'dW', 'db'),
    ),
    Exercise(
        "linear_activation_backward", "C1W4", "linear_activation_backward(dA, cache, activation)",
        "dA: (n, m); cache = ((A_prev, W, b), Z) with Z: (n, m); activation: 'relu' or 'sigmoid'\n"
        "-> dA_prev: (n_prev, m), dW: (n, n_prev), db: (n, 1)",
        "dZ = dA * g'(Z) (relu: dA where Z > 0, else 0; sigmoid: dA s (1 - s)), then linear_backward(dZ, linear_cache).",
        linear_activation_backward, _act_bw_inputs,
        [RANDOM, BATCH1, Property("Z = 0 exactly (the ReLU's gradient there is 0)", {"zeros": {"Z"}}, 10)],
        outputs=('dA_prev', 'dW', 'db'),
    ),
    Exercise(
        "update_parameters", "C1W4", "update_parameters(parameters, grads, learning_rate)",
        "parameters: {'W1': (n1, n0), 'b1': (n1, 1), ..., 'WL', 'bL'}; grads: {'dW1', 'db1', ...} same shapes\n"
        "-> parameters (the updated dict)",
        "One step of gradient descent on every layer l = 1..L: W_l -= learning_rate dW_l, b_l -= learning_rate db_l.",
        update_parameters, _update_inputs, [RANDOM, Property("a single layer (L = 1)", {"L": 1}, 10)],
    ),
]
