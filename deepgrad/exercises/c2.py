"""Course 2 (improving deep neural networks): initialization, regularization, gradient checking,
optimization and batch norm, in the course's conventions (column batches ``(n, m)``)."""
from __future__ import annotations

import math

import numpy as np

from ._core import BATCH1, RANDOM, Exercise, Property, compare
from .c1 import _cost_inputs, _params, compute_cost, linear_backward


# ----- initialization (C2W1) --------------------------------------------------------------------
def initialize_parameters_zeros(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_random(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * 10
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_he(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters["W" + str(l)] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l - 1])
        parameters["b" + str(l)] = np.zeros((layers_dims[l], 1))
    return parameters


def _layers(g, lo, hi):
    return [g.dim(f"n{l}", lo, hi) for l in range(g.dim("L", 1, 3) + 1)]


def _check_shapes(layers_dims, params):
    if not isinstance(params, dict):
        return f"expected a dict of parameters, got {type(params).__name__}"
    for l in range(1, len(layers_dims)):
        for key, shape in ((f"W{l}", (layers_dims[l], layers_dims[l - 1])), (f"b{l}", (layers_dims[l], 1))):
            if key not in params:
                return f"missing parameter {key!r} (layers_dims has {len(layers_dims) - 1} layers)"
            if np.shape(params[key]) != shape:
                return f"{key}: expected shape {shape}, got {np.shape(params[key])}"
    extra = sorted(set(params) - {f"{p}{l}" for l in range(1, len(layers_dims)) for p in "Wb"})
    return f"unexpected parameters {extra}" if extra else None


def _verify_scaled_normal(scale_of):
    """W_l must look like N(0, scale_of(n_prev)^2) draws (pooled over layers); b_l zeros."""

    def verify(args, params, expected):
        (layers_dims,) = args
        msg = _check_shapes(layers_dims, params)
        if msg:
            return msg
        for l in range(1, len(layers_dims)):
            if np.any(params[f"b{l}"] != 0):
                return f"b{l} must be zeros"
        z = np.concatenate([np.ravel(params[f"W{l}"]) / scale_of(layers_dims[l - 1]) for l in range(1, len(layers_dims))])
        if np.unique(z).size < z.size // 2:
            return "the weights repeat: they must be independent random draws (to break symmetry)"
        sd, mean = float(z.std()), float(z.mean())
        if not (0.8 < sd < 1.2) or abs(mean) > 0.25:
            return (f"the weights' spread is wrong: W_l / {scale_of.__doc__} should have mean 0 and standard "
                    f"deviation 1 (normal draws), got mean {mean:.3f} and standard deviation {sd:.3f} over {z.size} weights")
        return None

    return verify


def _he_scale(n_prev):
    """sqrt(2 / n_{l-1})"""
    return math.sqrt(2 / n_prev)


def _ten(n_prev):
    """10"""
    return 10.0


# ----- regularization (C2W1) ----------------------------------------------------------------------
def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    W1, W2, W3 = parameters["W1"], parameters["W2"], parameters["W3"]
    cross_entropy_cost = compute_cost(A3, Y)
    L2 = lambd / (2 * m) * (np.sum(np.square(W1)) + np.sum(np.square(W2)) + np.sum(np.square(W3)))
    return cross_entropy_cost + L2


def linear_backward_with_regularization(dZ, cache, lambd):
    A_prev, W, b = cache
    dA_prev, dW, db = linear_backward(dZ, cache)
    m = A_prev.shape[1]
    return dA_prev, dW + lambd / m * W, db


def dropout_forward(A, keep_prob):
    D = np.random.rand(A.shape[0], A.shape[1])
    D = (D < keep_prob).astype(int)
    A = A * D
    A = A / keep_prob
    return A, D


def dropout_backward(dA, D, keep_prob):
    dA = dA * D
    return dA / keep_prob


def _verify_dropout(args, out, expected):
    A, keep_prob = args
    if not isinstance(out, tuple) or len(out) != 2:
        return "expected the pair (A_dropped, D)"
    A_out, D = (np.asarray(o, dtype=float) for o in out)
    if D.shape != A.shape or A_out.shape != A.shape:
        return f"A_dropped and D must have A's shape {A.shape}, got {A_out.shape} and {D.shape}"
    if not np.isin(D, (0, 1)).all():
        return "the mask D must hold 0s and 1s (D = np.random.rand(...) < keep_prob)"
    msg = compare(A * D / keep_prob, A_out, 1e-7, 1e-12, "A_dropped")
    if msg:
        return msg + "; the kept units must be divided by keep_prob (inverted dropout keeps E[A] unchanged)"
    kept = float(D.mean())
    if abs(kept - keep_prob) > 0.1:
        return f"the mask keeps {kept:.3f} of the units; it must keep each unit with probability keep_prob = {keep_prob:.3f}"
    return None


# ----- gradient checking (C2W1) -------------------------------------------------------------------
class SmoothJ:
    """J(theta) = sum(a * sin(theta) + c * theta^2), a smooth cost (its gradient is known)."""

    def __init__(self, a, c):
        self.a, self.c = a, c

    def __call__(self, theta):
        return float(np.sum(self.a * np.sin(theta) + self.c * theta**2))

    def grad(self, theta):
        return self.a * np.cos(theta) + 2 * self.c * theta

    def __repr__(self):
        return f"J(theta) = sum(a * sin(theta) + c * theta**2) with a = {np.ravel(self.a).round(4).tolist()}, " \
               f"c = {np.ravel(self.c).round(4).tolist()}"


def gradient_check(J, theta, grad, epsilon=1e-7):
    gradapprox = np.zeros_like(theta, dtype=float)
    for i in range(theta.shape[0]):
        plus = np.array(theta, dtype=float)
        plus[i] += epsilon
        minus = np.array(theta, dtype=float)
        minus[i] -= epsilon
        gradapprox[i] = (J(plus) - J(minus)) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator


def _gc_inputs(g):
    n = g.dim("n", 1, 6)
    J = SmoothJ(g.randn(n, 1), g.randn(n, 1))
    theta = g.randn(n, 1)
    grad = J.grad(theta)
    if g.choice("planted_error", [True, False]):
        grad = grad + g.randn(n, 1) * 0.3  # a wrong backprop gradient: the check must see it
    return [J, theta, grad, g.choice("epsilon", [1e-4, 1e-3])]


# ----- optimization (C2W2) ------------------------------------------------------------------------
def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))
    mini_batches = []
    num_complete = m // mini_batch_size
    for k in range(num_complete):
        mini_batches.append((shuffled_X[:, k * mini_batch_size:(k + 1) * mini_batch_size],
                             shuffled_Y[:, k * mini_batch_size:(k + 1) * mini_batch_size]))
    if m % mini_batch_size != 0:
        mini_batches.append((shuffled_X[:, num_complete * mini_batch_size:], shuffled_Y[:, num_complete * mini_batch_size:]))
    return mini_batches


def _verify_minibatches(args, out, expected):
    X, Y, size, seed = args
    m = X.shape[1]
    n = -(-m // size)
    if not isinstance(out, (list, tuple)) or len(out) != n:
        got = len(out) if isinstance(out, (list, tuple)) else type(out).__name__
        return f"expected a list of {n} mini-batches (ceil({m} / {size})), got {got}"
    sizes = []
    for k, mb in enumerate(out):
        if not isinstance(mb, (tuple, list)) or len(mb) != 2:
            return f"mini-batch {k} must be a pair (mini_batch_X, mini_batch_Y)"
        bx, by = np.asarray(mb[0]), np.asarray(mb[1])
        if bx.ndim != 2 or bx.shape[0] != X.shape[0] or by.shape != (Y.shape[0], bx.shape[1]):
            return (f"mini-batch {k}: expected X of shape ({X.shape[0]}, k) and Y of shape ({Y.shape[0]}, k) "
                    f"(examples are columns), got {bx.shape} and {by.shape}")
        sizes.append(bx.shape[1])
    want = [size] * (m // size) + ([m % size] if m % size else [])
    if sizes != want:
        return f"mini-batch sizes {sizes}, expected {want} (full batches of {size}, then the rest)"
    bx = np.concatenate([np.asarray(mb[0]) for mb in out], axis=1)
    by = np.concatenate([np.asarray(mb[1]) for mb in out], axis=1)
    # each output column must be one of X's columns (all distinct), with its own label
    index = {X[:, j].tobytes(): j for j in range(m)}
    perm = [index.get(bx[:, j].tobytes()) for j in range(m)]
    if None in perm or sorted(perm) != list(range(m)):
        return "the mini-batches' columns are not a permutation of X's columns (shuffle the columns, axis 1)"
    if not np.array_equal(by, Y[:, perm]):
        j = int(np.argmax(np.any(by != Y[:, perm], axis=0)))
        return (f"X and Y are not shuffled together: column {j} of the shuffled data is X[:, {perm[j]}] "
                f"but its label is not Y[:, {perm[j]}] (use the same permutation for both)")
    if m >= 8 and perm == list(range(m)):
        return "the examples are not shuffled"
    return None


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    parameters, v = dict(parameters), dict(v)
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            k = p + str(l)
            v["d" + k] = beta * v["d" + k] + (1 - beta) * grads["d" + k]
            parameters[k] = parameters[k] - learning_rate * v["d" + k]
    return parameters, v


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8):
    parameters, v, s = dict(parameters), dict(v), dict(s)
    L = len(parameters) // 2
    v_corrected, s_corrected = {}, {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            k, d = p + str(l), "d" + p + str(l)
            v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
            v_corrected[d] = v[d] / (1 - beta1**t)
            s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2
            s_corrected[d] = s[d] / (1 - beta2**t)
            parameters[k] = parameters[k] - learning_rate * v_corrected[d] / (np.sqrt(s_corrected[d]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected


def _opt_inputs(g, adam=False):
    L = g.dim("L", 1, 3)
    dims = [g.dim(f"n{l}", 1, 4) for l in range(L + 1)]
    params, grads, v, s = {}, {}, {}, {}
    fresh = "fresh" in g.o  # a first step: v and s start at zeros
    for l in range(1, L + 1):
        for p, shape in (("W", (dims[l], dims[l - 1])), ("b", (dims[l], 1))):
            params[f"{p}{l}"] = g.randn(*shape)
            grads[f"d{p}{l}"] = g.randn(*shape, tag="grads")
            v[f"d{p}{l}"] = np.zeros(shape) if fresh else g.randn(*shape) * 0.1
            s[f"d{p}{l}"] = np.zeros(shape) if fresh else g.rand(*shape) * 0.01
    if not adam:
        return [params, grads, v, g.choice("beta", [0.8, 0.9, 0.95]), g.choice("learning_rate", [0.01, 0.1])]
    t = 1 if fresh else g.dim("t", 1, 50)
    return [params, grads, v, s, t, g.choice("learning_rate", [0.01, 0.1]), 0.9, 0.999, 1e-8]


# ----- batch norm and softmax (C2W3) -------------------------------------------------------------
def batchnorm_forward(Z, gamma, beta, epsilon=1e-8):
    mu = np.mean(Z, axis=1, keepdims=True)
    var = np.var(Z, axis=1, keepdims=True)
    Z_norm = (Z - mu) / np.sqrt(var + epsilon)
    return gamma * Z_norm + beta


def softmax(Z):
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True)


def _bn_inputs(g):
    n, m = g.dim("n", 1, 5), g.dim("m", 1, 8)
    return [g.randn(n, m, scale=2, tag="Z") + g.randn(n, 1), g.randn(n, 1) + 1, g.randn(n, 1), 1e-8]


EXERCISES = [
    Exercise(
        "initialize_parameters_zeros", "C2W1", "initialize_parameters_zeros(layers_dims)",
        "layers_dims: list [n_0, n_1, ..., n_L] of layer sizes -> parameters {'W1': (n_1, n_0), 'b1': (n_1, 1), ...}",
        "Every W_l and b_l filled with zeros (the course shows why this fails: symmetry is never broken).",
        initialize_parameters_zeros, lambda g: [_layers(g, 1, 6)],
        [RANDOM, Property("a single layer", {"L": 1}, 10)],
    ),
    Exercise(
        "initialize_parameters_random", "C2W1", "initialize_parameters_random(layers_dims)",
        "layers_dims: list [n_0, ..., n_L] -> parameters {'W1': (n_1, n_0), 'b1': (n_1, 1), ...}",
        "W_l = np.random.randn(n_l, n_{l-1}) * 10 (the course's 'large random' initialization), b_l = zeros.",
        initialize_parameters_random, lambda g: [_layers(g, 20, 30)],
        [Property("shapes, zero biases and N(0, 10^2) weights", {}, 30)],
        verify=_verify_scaled_normal(_ten), seeded=True,
    ),
    Exercise(
        "initialize_parameters_he", "C2W1", "initialize_parameters_he(layers_dims)",
        "layers_dims: list [n_0, ..., n_L] -> parameters {'W1': (n_1, n_0), 'b1': (n_1, 1), ...}",
        "He initialization: W_l = np.random.randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1}), b_l = zeros.",
        initialize_parameters_he, lambda g: [[g.dim("n0", 20, 80)] + [g.dim(f"n{l}", 20, 30) for l in range(1, g.dim("L", 1, 3) + 1)]],
        [Property("shapes, zero biases and N(0, 2 / n_{l-1}) weights", {}, 30)],
        verify=_verify_scaled_normal(_he_scale), seeded=True,
    ),
    Exercise(
        "compute_cost_with_regularization", "C2W1", "compute_cost_with_regularization(A3, Y, parameters, lambd)",
        "A3: (1, m) output probabilities; Y: (1, m) labels; parameters with W1, b1, W2, b2, W3, b3; lambd: float\n"
        "-> cost: a scalar",
        "The cross-entropy cost plus the L2 term (1/m) (lambd/2) (||W1||^2 + ||W2||^2 + ||W3||^2) (squared\n"
        "Frobenius norms; the biases are not regularized).",
        compute_cost_with_regularization,
        lambda g: [*_cost_inputs(g), _params(g, 3)[0], g.choice("lambd", [0.1, 0.7, 2.0])], [RANDOM, BATCH1],
    ),
    Exercise(
        "linear_backward_with_regularization", "C2W1", "linear_backward_with_regularization(dZ, cache, lambd)",
        "dZ: (n, m); cache = (A_prev (n_prev, m), W (n, n_prev), b (n, 1)); lambd: float\n"
        "-> dA_prev (n_prev, m), dW (n, n_prev), db (n, 1)",
        "linear_backward plus the gradient of the L2 term: dW = (1/m) dZ A_prev^T + (lambd/m) W; db and dA_prev unchanged.",
        linear_backward_with_regularization,
        lambda g: [*_lin_backward_inputs(g), g.choice("lambd", [0.1, 0.7])],
        [RANDOM, BATCH1],
        outputs=('dA_prev', 'dW', 'db'),
    ),
    Exercise(
        "dropout_forward", "C2W1", "dropout_forward(A, keep_prob)",
        "A: (n, m) activations; keep_prob: probability of keeping a unit -> (A_dropped (n, m), D (n, m) mask of 0/1)",
        "Inverted dropout: D = (np.random.rand(n, m) < keep_prob), A_dropped = A * D / keep_prob.",
        dropout_forward,
        lambda g: [g.randn(g.dim("n", 20, 40), g.dim("m", 20, 40)), g.uniform("keep_prob", 0.55, 0.95)],
        [Property("mask of 0/1 keeping ~keep_prob of the units; kept units scaled by 1/keep_prob", {}, 30)],
        verify=_verify_dropout, seeded=True,
    ),
    Exercise(
        "dropout_backward", "C2W1", "dropout_backward(dA, D, keep_prob)",
        "dA: (n, m); D: (n, m) the forward pass's 0/1 mask; keep_prob -> dA_prev: (n, m)",
        "The gradient goes through the kept units only, scaled like the forward: dA * D / keep_prob.",
        dropout_backward,
        lambda g: [g.randn(n := g.dim("n", 1, 6), m := g.dim("m", 1, 8)), (g.rand(n, m) < 0.7).astype(int),
                   g.uniform("keep_prob", 0.5, 0.95)], [RANDOM, BATCH1],
    ),
    Exercise(
        "gradient_check", "C2W1", "gradient_check(J, theta, grad, epsilon=1e-7)",
        "J: a function theta -> float (the cost); theta: (n, 1) parameters as one column vector;\n"
        "grad: (n, 1) backprop's gradient; epsilon: float -> difference: float",
        "Two-sided differences gradapprox[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps), then the\n"
        "relative difference ||grad - gradapprox|| / (||grad|| + ||gradapprox||) (np.linalg.norm).",
        gradient_check, _gc_inputs, [Property("matches the reference (correct and planted-wrong gradients)", {}, 40)],
        rtol=1e-4, atol=1e-6,
    ),
    Exercise(
        "random_mini_batches", "C2W2", "random_mini_batches(X, Y, mini_batch_size=64, seed=0)",
        "X: (n_x, m) examples as columns; Y: (1, m) labels; mini_batch_size: int; seed: int\n"
        "-> list of (mini_batch_X (n_x, k), mini_batch_Y (1, k)) pairs",
        "Shuffle the columns of X and Y with the same permutation (np.random.permutation(m)), then cut\n"
        "them into mini-batches of mini_batch_size columns; the last one holds the m % mini_batch_size rest.",
        random_mini_batches,
        lambda g: [g.randn(g.dim("n_x", 1, 4), m := g.dim("m", 1, 150)), (g.rand(1, m) < 0.5).astype(float),
                   g.choice("mini_batch_size", [8, 16, 32, 64]), g.dim("seed", 0, 10)],
        [Property("a shuffled partition of (X, Y) into full batches and the rest", {}, 30),
         Property("m a multiple of the batch size", {"m": 64, "mini_batch_size": 16}, 5),
         Property("one example (m = 1)", {"m": 1}, 5)],
        verify=_verify_minibatches,
    ),
    Exercise(
        "update_parameters_with_momentum", "C2W2", "update_parameters_with_momentum(parameters, grads, v, beta, learning_rate)",
        "parameters {'W1', 'b1', ...}; grads {'dW1', 'db1', ...}; v {'dW1', 'db1', ...} velocities (same shapes);\n"
        "beta, learning_rate: floats -> (parameters, v)",
        "For each layer: v = beta v + (1 - beta) grad, then W -= learning_rate v (same for b).",
        update_parameters_with_momentum, lambda g: _opt_inputs(g), [RANDOM, Property("a single layer", {"L": 1}, 10)],
        outputs=('parameters', 'v'),
    ),
    Exercise(
        "update_parameters_with_adam", "C2W2",
        "update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8)",
        "parameters, grads, v, s: dicts as for momentum; t: the step number (from 1)\n"
        "-> (parameters, v, s, v_corrected, s_corrected)",
        "v = beta1 v + (1 - beta1) g; v_corrected = v / (1 - beta1^t); s = beta2 s + (1 - beta2) g^2;\n"
        "s_corrected = s / (1 - beta2^t); W -= learning_rate v_corrected / (sqrt(s_corrected) + epsilon).",
        update_parameters_with_adam, lambda g: _opt_inputs(g, adam=True),
        [RANDOM, Property("the first step (t = 1, v = s = 0): bias correction matters most", {"fresh": True}, 15),
         Property("tiny gradients (~1e-6): epsilon outside the square root", {"fresh": True, "scale": {"grads": 1e-6}}, 10)],
        pick=lambda r: r[:3],
        outputs=('parameters', 'v', 's'),
    ),
    Exercise(
        "batchnorm_forward", "C2W3", "batchnorm_forward(Z, gamma, beta, epsilon=1e-8)",
        "Z: (n, m) pre-activations, one column per example; gamma, beta: (n, 1); epsilon: float -> (n, m)",
        "Normalize each unit over the mini-batch: mu = mean over the m examples, var = the (biased) variance,\n"
        "Z_norm = (Z - mu) / sqrt(var + epsilon), then return gamma Z_norm + beta.",
        batchnorm_forward, _bn_inputs,
        [RANDOM, BATCH1, Property("a tiny spread (|Z - mu| ~ 1e-5): epsilon inside the square root", {"scale": {"Z": 1e-5}}, 10)],
        atol=1e-7,
    ),
    Exercise(
        "softmax", "C2W3", "softmax(Z)",
        "Z: (n_classes, m) logits, one column per example -> (n_classes, m) probabilities",
        "exp(Z) / sum over the classes (axis 0), computed stably: subtract each column's max first.",
        softmax, lambda g: [g.randn(g.dim("n", 1, 6), g.dim("m", 1, 6), scale=3, tag="z")],
        [RANDOM, BATCH1, Property("large logits (|z| ~ 1000)", {"scale": {"z": 300}}, 15)],
    ),
]


def _lin_backward_inputs(g):
    from .c1 import _bw_inputs

    return _bw_inputs(g)
