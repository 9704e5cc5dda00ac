"""Realistic planted bugs, at least two per exercise: each must be caught by ``deepgrad exercise check``.

Each entry is (what the learner got wrong, the wrong function). They are the mistakes
learners make in these notebooks: a missing 1/m, a transposed weight, a wrong axis, a
forgotten bias correction, dropout without rescaling, ...
"""
import numpy as np

from deepgrad.exercises import c1, c2, c4, c5


def _sig(z):
    return 1 / (1 + np.exp(-z))


# ----- course 1 -----------------------------------------------------------------------------------
def lin_act_fwd_swapped(A_prev, W, b, activation):
    Z = W @ A_prev + b
    return (np.maximum(0, Z) if activation == "sigmoid" else _sig(Z)), None


def lin_act_fwd_leaky(A_prev, W, b, activation):
    Z = W @ A_prev + b
    return (_sig(Z) if activation == "sigmoid" else np.maximum(0.01 * Z, Z)), None


def lin_bw_no_m(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T, np.sum(dZ, axis=1, keepdims=True) / m


def lin_bw_no_keepdims(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, np.sum(dZ, axis=1) / m


def lin_bw_db_axis0(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    return W.T @ dZ, dZ @ A_prev.T / m, np.sum(dZ, axis=0, keepdims=True).mean(axis=1, keepdims=True) * np.ones_like(b)


def act_bw_relu_strict(dA, cache, activation):
    lin, Z = cache
    dZ = np.array(dA, copy=True)
    if activation == "relu":
        dZ[Z < 0] = 0
    else:
        s = _sig(Z)
        dZ = dA * s * (1 - s)
    return c1.linear_backward(dZ, lin)


def act_bw_sigmoid_s(dA, cache, activation):
    lin, Z = cache
    if activation == "relu":
        dZ = np.where(Z > 0, dA, 0)
    else:
        dZ = dA * _sig(Z)
    return c1.linear_backward(dZ, lin)


def act_bw_no_dA(dA, cache, activation):
    lin, Z = cache
    dZ = (Z > 0).astype(float) if activation == "relu" else _sig(Z) * (1 - _sig(Z))
    return c1.linear_backward(dZ, lin)


def update_plus(parameters, grads, learning_rate):
    p = dict(parameters)
    for l in range(1, len(p) // 2 + 1):
        p[f"W{l}"] = p[f"W{l}"] + learning_rate * grads[f"dW{l}"]
        p[f"b{l}"] = p[f"b{l}"] + learning_rate * grads[f"db{l}"]
    return p


def update_off_by_one(parameters, grads, learning_rate):
    p = dict(parameters)
    for l in range(1, len(p) // 2):
        p[f"W{l}"] = p[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        p[f"b{l}"] = p[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return p


def update_only_W(parameters, grads, learning_rate):
    p = dict(parameters)
    for l in range(1, len(p) // 2 + 1):
        p[f"W{l}"] = p[f"W{l}"] - learning_rate * grads[f"dW{l}"]
    return p


# ----- course 2 -----------------------------------------------------------------------------------
def _init(fill):
    def init(layers_dims):
        p = {}
        for l in range(1, len(layers_dims)):
            p[f"W{l}"], p[f"b{l}"] = fill(layers_dims[l], layers_dims[l - 1])
        return p

    return init


init_zeros_b_flat = _init(lambda n, k: (np.zeros((n, k)), np.zeros(n)))
init_zeros_W_transposed = _init(lambda n, k: (np.zeros((k, n)), np.zeros((n, 1))))


def init_zeros_missing_last(layers_dims):
    p = {}
    for l in range(1, len(layers_dims) - 1):
        p[f"W{l}"], p[f"b{l}"] = np.zeros((layers_dims[l], layers_dims[l - 1])), np.zeros((layers_dims[l], 1))
    return p


init_random_uniform = _init(lambda n, k: (np.random.rand(n, k) * 10, np.zeros((n, 1))))
init_random_no_scale = _init(lambda n, k: (np.random.randn(n, k), np.zeros((n, 1))))
init_random_b_random = _init(lambda n, k: (np.random.randn(n, k) * 10, np.random.randn(n, 1)))


def init_he_current_layer(layers_dims):
    p = {}
    for l in range(1, len(layers_dims)):
        p[f"W{l}"] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * np.sqrt(2 / layers_dims[l])
        p[f"b{l}"] = np.zeros((layers_dims[l], 1))
    return p


init_he_xavier = _init(lambda n, k: (np.random.randn(n, k) * np.sqrt(1 / k), np.zeros((n, 1))))
init_he_no_sqrt = _init(lambda n, k: (np.random.randn(n, k) * (2 / k), np.zeros((n, 1))))


def l2_cost_no_m(A3, Y, parameters, lambd):
    return c1.compute_cost(A3, Y) + lambd / 2 * sum(np.sum(np.square(parameters[f"W{l}"])) for l in (1, 2, 3))


def l2_cost_no_half(A3, Y, parameters, lambd):
    m = Y.shape[1]
    return c1.compute_cost(A3, Y) + lambd / m * sum(np.sum(np.square(parameters[f"W{l}"])) for l in (1, 2, 3))


def l2_cost_biases_too(A3, Y, parameters, lambd):
    m = Y.shape[1]
    return c1.compute_cost(A3, Y) + lambd / (2 * m) * sum(np.sum(np.square(v)) for v in parameters.values())


def lbr_no_m(dZ, cache, lambd):
    dA, dW, db = c1.linear_backward(dZ, cache)
    return dA, dW + lambd * cache[1], db


def lbr_db_too(dZ, cache, lambd):
    A_prev, W, b = cache
    dA, dW, db = c1.linear_backward(dZ, cache)
    m = A_prev.shape[1]
    return dA, dW + lambd / m * W, db + lambd / m * b


def drop_no_rescale(A, keep_prob):
    D = (np.random.rand(*A.shape) < keep_prob).astype(int)
    return A * D, D


def drop_inverted_mask(A, keep_prob):
    D = (np.random.rand(*A.shape) > keep_prob).astype(int)
    return A * D / keep_prob, D


def drop_times_keep(A, keep_prob):
    D = (np.random.rand(*A.shape) < keep_prob).astype(int)
    return A * D * keep_prob, D


def gc_one_sided(J, theta, grad, epsilon=1e-7):
    approx = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus = theta.copy()
        plus[i] += epsilon
        approx[i] = (J(plus) - J(theta)) / epsilon
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def gc_no_two(J, theta, grad, epsilon=1e-7):
    approx = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        approx[i] = (J(plus) - J(minus)) / epsilon
    return np.linalg.norm(grad - approx) / (np.linalg.norm(grad) + np.linalg.norm(approx))


def gc_no_denominator(J, theta, grad, epsilon=1e-7):
    approx = np.zeros_like(theta)
    for i in range(theta.shape[0]):
        plus, minus = theta.copy(), theta.copy()
        plus[i] += epsilon
        minus[i] -= epsilon
        approx[i] = (J(plus) - J(minus)) / (2 * epsilon)
    return np.linalg.norm(grad - approx)


def mb_two_permutations(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    sx, sy = X[:, np.random.permutation(m)], Y[:, np.random.permutation(m)]
    return [(sx[:, k:k + mini_batch_size], sy[:, k:k + mini_batch_size]) for k in range(0, m, mini_batch_size)]


def mb_drop_last(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    perm = np.random.permutation(m)
    sx, sy = X[:, perm], Y[:, perm]
    return [(sx[:, k * mini_batch_size:(k + 1) * mini_batch_size], sy[:, k * mini_batch_size:(k + 1) * mini_batch_size])
            for k in range(m // mini_batch_size)]


def mb_no_shuffle(X, Y, mini_batch_size=64, seed=0):
    m = X.shape[1]
    return [(X[:, k:k + mini_batch_size], Y[:, k:k + mini_batch_size]) for k in range(0, m, mini_batch_size)]


def _momentum(parameters, grads, v, beta, learning_rate, bug):
    p, v = dict(parameters), dict(v)
    for l in range(1, len(p) // 2 + 1):
        for k in (f"W{l}", f"b{l}"):
            if bug == "no 1-beta":
                v["d" + k] = beta * v["d" + k] + grads["d" + k]
            else:
                v["d" + k] = beta * v["d" + k] + (1 - beta) * grads["d" + k]
            p[k] = p[k] - learning_rate * (grads["d" + k] if bug == "grad step" else v["d" + k])
    return p, v


def _adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8, bug=None):
    p, v, s = dict(parameters), dict(v), dict(s)
    vc, sc = {}, {}
    for l in range(1, len(p) // 2 + 1):
        for k in (f"W{l}", f"b{l}"):
            d = "d" + k
            v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
            s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2
            vc[d] = v[d] if bug == "no bias correction" else v[d] / (1 - beta1**t)
            sc[d] = s[d] if bug == "no bias correction" else s[d] / (1 - beta2**t)
            if bug == "epsilon inside sqrt":
                p[k] = p[k] - learning_rate * vc[d] / np.sqrt(sc[d] + epsilon)
            elif bug == "no sqrt":
                p[k] = p[k] - learning_rate * vc[d] / (sc[d] + epsilon)
            else:
                p[k] = p[k] - learning_rate * vc[d] / (np.sqrt(sc[d]) + epsilon)
    return p, v, s, vc, sc


def bn_axis0(Z, gamma, beta, epsilon=1e-8):
    mu, var = Z.mean(axis=0, keepdims=True), Z.var(axis=0, keepdims=True)
    return gamma * (Z - mu) / np.sqrt(var + epsilon) + beta


def bn_unbiased(Z, gamma, beta, epsilon=1e-8):
    mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, ddof=1, keepdims=True)
    return gamma * (Z - mu) / np.sqrt(var + epsilon) + beta


def bn_eps_outside(Z, gamma, beta, epsilon=1e-8):
    mu, var = Z.mean(axis=1, keepdims=True), Z.var(axis=1, keepdims=True)
    return gamma * (Z - mu) / (np.sqrt(var) + epsilon) + beta


# ----- course 4 -----------------------------------------------------------------------------------
def _conv_fwd(A_prev, W, b, hparameters, bug):
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = int((n_H_prev - f + 2 * pad) / stride) + 1
    n_W = int((n_W_prev - f + 2 * pad) / stride) + 1
    A_pad = A_prev if bug == "no padding" else c4.zero_pad(A_prev, pad)
    if bug == "no padding":
        A_pad = np.pad(A_prev, ((0, 0), (0, 2 * pad), (0, 2 * pad), (0, 0)))  # padded at the end only
    Z = np.zeros((m, n_H, n_W, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                vs = h if bug == "no stride in slice" else h * stride
                hs = w if bug == "no stride in slice" else w * stride
                for c in range(n_C):
                    Z[i, h, w, c] = np.sum(A_pad[i, vs:vs + f, hs:hs + f, :] * W[..., c])
                    if bug != "no bias":
                        Z[i, h, w, c] += float(b[0, 0, 0, c])
    return Z, (A_prev, W, b, hparameters)


def _conv_bw(dZ, cache, bug):
    A_prev, W, b, hp = cache
    f, stride, pad = W.shape[0], hp["stride"], hp["pad"]
    m, n_H, n_W, n_C = dZ.shape
    A_pad = c4.zero_pad(A_prev, pad)
    dA_pad = np.zeros_like(A_pad)
    dW, db = np.zeros_like(W), np.zeros((1, 1, 1, n_C))
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                vs, hs = h * stride, w * stride
                for c in range(n_C):
                    dA_pad[i, vs:vs + f, hs:hs + f, :] += W[..., c] * dZ[i, h, w, c]
                    contrib = A_pad[i, vs:vs + f, hs:hs + f, :] * dZ[i, h, w, c]
                    if bug == "dW overwritten":
                        dW[..., c] = contrib
                    else:
                        dW[..., c] += contrib
                    db[..., c] += dZ[i, h, w, c]
    if bug == "db averaged":
        db = db / m
    dA = dA_pad[:, pad:pad + A_prev.shape[1], pad:pad + A_prev.shape[2], :]
    if bug == "padding not removed" and pad:
        dA = dA_pad[:, :A_prev.shape[1], :A_prev.shape[2], :]
    return dA, dW, db


def _pool_fwd(A_prev, hparameters, mode="max", bug=None):
    f, stride = hparameters["f"], hparameters["stride"]
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = int(1 + (n_H_prev - f) / stride), int(1 + (n_W_prev - f) / stride)
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            vs, hs = (h, w) if bug == "no stride" else (h * stride, w * stride)
            win = A_prev[:, vs:vs + f, hs:hs + f, :]
            if mode == "max" or bug == "always max":
                A[:, h, w, :] = win.max(axis=(1, 2))
            else:
                A[:, h, w, :] = win.sum(axis=(1, 2)) if bug == "sum" else win.mean(axis=(1, 2))
    return A, (A_prev, hparameters)


def _pool_bw(dA, cache, mode="max", bug=None):
    A_prev, hp = cache
    f, stride = hp["f"], hp["stride"]
    dA_prev = np.zeros_like(A_prev)
    for i in range(dA.shape[0]):
        for h in range(dA.shape[1]):
            for w in range(dA.shape[2]):
                vs, hs = h * stride, w * stride
                for c in range(dA.shape[3]):
                    if mode == "max":
                        win = A_prev[i, vs:vs + f, hs:hs + f, c]
                        mask = np.ones_like(win) if bug == "no mask" else (win == win.max())
                        g = mask * dA[i, h, w, c]
                    else:
                        g = np.full((f, f), dA[i, h, w, c] if bug == "no division" else dA[i, h, w, c] / (f * f))
                    if bug == "overwrite":
                        dA_prev[i, vs:vs + f, hs:hs + f, c] = g
                    else:
                        dA_prev[i, vs:vs + f, hs:hs + f, c] += g
    return dA_prev


def iou_no_clamp(box1, box2):
    xi1, yi1 = max(box1[0], box2[0]), max(box1[1], box2[1])
    xi2, yi2 = min(box1[2], box2[2]), min(box1[3], box2[3])
    inter = (xi2 - xi1) * (yi2 - yi1)
    a1 = (box1[2] - box1[0]) * (box1[3] - box1[1])
    a2 = (box2[2] - box2[0]) * (box2[3] - box2[1])
    return inter / (a1 + a2 - inter)


def iou_union_no_minus(box1, box2):
    xi1, yi1 = max(box1[0], box2[0]), max(box1[1], box2[1])
    xi2, yi2 = min(box1[2], box2[2]), min(box1[3], box2[3])
    inter = max(xi2 - xi1, 0) * max(yi2 - yi1, 0)
    a1 = (box1[2] - box1[0]) * (box1[3] - box1[1])
    a2 = (box2[2] - box2[0]) * (box2[3] - box2[1])
    return inter / (a1 + a2)


def nms_unsorted(boxes, scores, max_boxes=10, iou_threshold=0.5):
    keep = []
    for i in range(len(boxes)):
        if len(keep) < max_boxes and all(c4.iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
            keep.append(i)
    return keep


def nms_first_only(boxes, scores, max_boxes=10, iou_threshold=0.5):
    order = list(np.argsort(-scores))
    keep = [order[0]]
    for i in order[1:]:
        if len(keep) < max_boxes and c4.iou(boxes[i], boxes[keep[0]]) <= iou_threshold:
            keep.append(i)
    return keep


def nms_no_max(boxes, scores, max_boxes=10, iou_threshold=0.5):
    keep = []
    for i in np.argsort(-scores):
        if all(c4.iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
            keep.append(int(i))
    return keep


def triplet_max_after_sum(y_true, y_pred, alpha=0.2):
    a, p, n = y_pred
    return max(np.sum(np.sum((a - p) ** 2, axis=-1) - np.sum((a - n) ** 2, axis=-1) + alpha), 0.0)


def triplet_not_squared(y_true, y_pred, alpha=0.2):
    a, p, n = y_pred
    return np.sum(np.maximum(np.linalg.norm(a - p, axis=-1) - np.linalg.norm(a - n, axis=-1) + alpha, 0))


def triplet_no_alpha(y_true, y_pred, alpha=0.2):
    a, p, n = y_pred
    return np.sum(np.maximum(np.sum((a - p) ** 2, axis=-1) - np.sum((a - n) ** 2, axis=-1), 0))


def style_wrong_unroll(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    S, G = a_S.reshape(n_C, n_H * n_W), a_G.reshape(n_C, n_H * n_W)
    return np.sum((S @ S.T - G @ G.T) ** 2) / (4 * n_C**2 * (n_H * n_W) ** 2)


def style_wrong_factor(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    S, G = a_S.reshape(n_H * n_W, n_C).T, a_G.reshape(n_H * n_W, n_C).T
    return np.sum((S @ S.T - G @ G.T) ** 2) / (4 * n_C * n_H * n_W)


# ----- course 5 -----------------------------------------------------------------------------------
def _rnn_fwd(xt, a_prev, p, bug):
    act = _sig if bug == "sigmoid" else np.tanh
    a_next = act(p["Waa"] @ a_prev + p["Wax"] @ xt + p["ba"])
    z = p["Wya"] @ (a_prev if bug == "y from a_prev" else a_next) + p["by"]
    axis = 1 if bug == "softmax axis 1" else 0
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return a_next, e / e.sum(axis=axis, keepdims=True), None


def _rnn_bw(da_next, cache, bug):
    a_next, a_prev, xt, p = cache
    dtanh = (1 - (a_prev if bug == "derivative at a_prev" else a_next) ** 2) * da_next
    return {"dxt": p["Wax"].T @ dtanh, "dWax": dtanh @ xt.T, "da_prev": p["Waa"].T @ dtanh,
            "dWaa": dtanh @ a_prev.T,
            "dba": np.sum(dtanh, axis=1, keepdims=True) / (xt.shape[1] if bug == "dba averaged" else 1)}


def _lstm_fwd(xt, a_prev, c_prev, p, bug):
    concat = np.concatenate((xt, a_prev) if bug == "concat order" else (a_prev, xt))
    ft, it = _sig(p["Wf"] @ concat + p["bf"]), _sig(p["Wi"] @ concat + p["bi"])
    cct, ot = np.tanh(p["Wc"] @ concat + p["bc"]), _sig(p["Wo"] @ concat + p["bo"])
    c_next = ft * c_prev + it * cct
    a_next = ot * c_next if bug == "no tanh" else ot * np.tanh(c_next)
    return a_next, c_next, c2.softmax(p["Wy"] @ a_next + p["by"]), None


def _lstm_bw(da_next, dc_next, cache, bug):
    grads = c5.lstm_cell_backward(da_next, dc_next, cache)
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    if bug == "dc_prev from dc_next only":
        grads["dc_prev"] = dc_next * ft
    if bug == "dot without tanh":
        dot_wrong = da_next * ot * (1 - ot)
        dot = da_next * np.tanh(c_next) * ot * (1 - ot)
        concat = np.concatenate((a_prev, xt))
        grads["dWo"] = grads["dWo"] + (dot_wrong - dot) @ concat.T
        grads["dbo"] = grads["dbo"] + np.sum(dot_wrong - dot, axis=1, keepdims=True)
    return grads


def beam_no_beam_scores(beam_scores, log_probs, beam_width):
    flat = log_probs.ravel()
    idx = np.argsort(-flat)[:beam_width]
    V = log_probs.shape[1]
    return beam_scores[idx // V] + flat[idx], idx // V, idx % V


def beam_best_per_beam(beam_scores, log_probs, beam_width):
    t = log_probs.argmax(axis=1)
    s = beam_scores + log_probs[np.arange(len(t)), t]
    order = np.argsort(-s)[:beam_width]
    return s[order], order, t[order]


def beam_multiply(beam_scores, log_probs, beam_width):
    total = (beam_scores[:, None] * log_probs).ravel()
    idx = np.argsort(-total)[:beam_width]
    V = log_probs.shape[1]
    return total[idx], idx // V, idx % V


def pe_i_not_halved(positions, d):
    pos, i = np.arange(positions)[:, None], np.arange(d)[None, :]
    a = pos / np.power(10000, 2 * i / d)
    a[:, 0::2], a[:, 1::2] = np.sin(a[:, 0::2]), np.cos(a[:, 1::2])
    return a[None]


def pe_swapped(positions, d):
    pos, i = np.arange(positions)[:, None], np.arange(d)[None, :]
    a = pos / np.power(10000, 2 * (i // 2) / d)
    a[:, 0::2], a[:, 1::2] = np.cos(a[:, 0::2]), np.sin(a[:, 1::2])
    return a[None]


def _attention(q, k, v, mask, bug):
    logits = q @ np.swapaxes(k, -1, -2)
    if bug != "no scaling":
        logits = logits / (k.shape[-1] if bug == "divide by d_k" else np.sqrt(k.shape[-1]))
    if mask is not None:
        logits = logits + (mask * -1e9 if bug == "mask sign" else (1.0 - mask) * -1e9)
    axis = -2 if bug == "softmax over queries" else -1
    if bug == "no max subtraction":
        w = np.exp(logits)
    else:
        w = np.exp(logits - logits.max(axis=axis, keepdims=True))
    w = w / w.sum(axis=axis, keepdims=True)
    return w @ v, w


def _bug(fn, **kw):
    """``fn`` with its bug switch set, keeping the exercise's positional signature."""
    import functools

    return functools.partial(fn, **kw)


PLANTED = {
    "sigmoid": [("exp(z) instead of exp(-z)", lambda z: 1 / (1 + np.exp(z))),
                ("precedence: 1 / 1 + exp(-z)", lambda z: 1 / 1 + np.exp(-z)),
                ("exp(-z) / (1 + exp(-z)) (that is 1 - sigmoid)", lambda z: np.exp(-z) / (1 + np.exp(-z)))],
    "linear_forward": [("bias forgotten", lambda A, W, b: (W @ A, (A, W, b))),
                       ("bias summed to a number", lambda A, W, b: (W @ A + np.sum(b), (A, W, b)))],
    "linear_activation_forward": [("sigmoid and relu swapped", lin_act_fwd_swapped),
                                  ("leaky relu instead of relu", lin_act_fwd_leaky)],
    "compute_cost": [("missing 1/m", lambda AL, Y: -np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL))),
                     ("missing the (1 - Y) term", lambda AL, Y: -np.sum(Y * np.log(AL)) / Y.shape[1]),
                     ("sign flipped", lambda AL, Y: np.sum(Y * np.log(AL) + (1 - Y) * np.log(1 - AL)) / Y.shape[1])],
    "linear_backward": [("missing 1/m in dW", lin_bw_no_m), ("db without keepdims", lin_bw_no_keepdims),
                        ("db summed over the wrong axis", lin_bw_db_axis0)],
    "linear_activation_backward": [("relu gradient passed at Z = 0", act_bw_relu_strict),
                                   ("sigmoid derivative s instead of s (1 - s)", act_bw_sigmoid_s),
                                   ("forgot to multiply by dA", act_bw_no_dA)],
    "update_parameters": [("+ instead of -", update_plus), ("last layer not updated (off by one)", update_off_by_one),
                          ("biases not updated", update_only_W)],
    "initialize_parameters_zeros": [("b of shape (n,) instead of (n, 1)", init_zeros_b_flat),
                                    ("W transposed", init_zeros_W_transposed),
                                    ("last layer missing", init_zeros_missing_last)],
    "initialize_parameters_random": [("np.random.rand (uniform) instead of randn", init_random_uniform),
                                     ("forgot the * 10", init_random_no_scale),
                                     ("random biases", init_random_b_random)],
    "initialize_parameters_he": [("sqrt(2 / n_l) of the current layer", init_he_current_layer),
                                 ("Xavier sqrt(1 / n_{l-1})", init_he_xavier),
                                 ("2 / n_{l-1} without the sqrt", init_he_no_sqrt)],
    "compute_cost_with_regularization": [("missing 1/m in the L2 term", l2_cost_no_m), ("missing 1/2", l2_cost_no_half),
                                         ("biases regularized too", l2_cost_biases_too)],
    "linear_backward_with_regularization": [("lambd W without 1/m", lbr_no_m), ("db regularized too", lbr_db_too)],
    "dropout_forward": [("no rescaling by 1/keep_prob", drop_no_rescale), ("mask rand > keep_prob", drop_inverted_mask),
                        ("multiplied by keep_prob", drop_times_keep)],
    "dropout_backward": [("no rescaling", lambda dA, D, keep_prob: dA * D),
                         ("mask forgotten", lambda dA, D, keep_prob: dA / keep_prob)],
    "gradient_check": [("one-sided differences", gc_one_sided), ("missing the 2 in 2 epsilon", gc_no_two),
                       ("no denominator", gc_no_denominator)],
    "random_mini_batches": [("X and Y shuffled with different permutations", mb_two_permutations),
                            ("last partial mini-batch dropped", mb_drop_last), ("no shuffling", mb_no_shuffle)],
    "update_parameters_with_momentum": [("v = beta v + grad (no 1 - beta)", _bug(_momentum, bug="no 1-beta")),
                                        ("step with the gradient, not v", _bug(_momentum, bug="grad step"))],
    "update_parameters_with_adam": [("bias correction forgotten", _bug(_adam, bug="no bias correction")),
                                    ("epsilon inside the square root", _bug(_adam, bug="epsilon inside sqrt")),
                                    ("no square root", _bug(_adam, bug="no sqrt"))],
    "batchnorm_forward": [("statistics over the units (axis 0)", bn_axis0), ("unbiased variance (ddof=1)", bn_unbiased),
                          ("epsilon outside the square root", bn_eps_outside)],
    "softmax": [("normalized over axis 1", lambda Z: np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)),
                ("no max subtraction (overflows)", lambda Z: np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True)),
                ("normalized over the whole array", lambda Z: np.exp(Z - Z.max()) / np.exp(Z - Z.max()).sum())],
    "zero_pad": [("every axis padded", lambda X, pad: np.pad(X, pad)),
                 ("only the height padded", lambda X, pad: np.pad(X, ((0, 0), (pad, pad), (0, 0), (0, 0))))],
    "conv_single_step": [("bias forgotten", lambda a, W, b: np.sum(a * W)),
                         ("bias added to every product", lambda a, W, b: float(np.sum(a * W + b)))],
    "conv_forward": [("stride ignored in the slices", _bug(_conv_fwd, bug="no stride in slice")),
                     ("padding on one side only", _bug(_conv_fwd, bug="no padding")),
                     ("bias forgotten", _bug(_conv_fwd, bug="no bias"))],
    "conv_backward": [("dW overwritten instead of accumulated", _bug(_conv_bw, bug="dW overwritten")),
                      ("db averaged over the batch", _bug(_conv_bw, bug="db averaged")),
                      ("padding stripped from the wrong side", _bug(_conv_bw, bug="padding not removed"))],
    "pool_forward": [("stride ignored", _bug(_pool_fwd, bug="no stride")), ("average mode takes the max", _bug(_pool_fwd, bug="always max")),
                     ("average mode sums", _bug(_pool_fwd, bug="sum"))],
    "pool_backward": [("max: gradient to every element of the window", _bug(_pool_bw, bug="no mask")),
                      ("average: not divided by f * f", _bug(_pool_bw, bug="no division")),
                      ("overlapping windows overwrite instead of adding", _bug(_pool_bw, bug="overwrite"))],
    "identity_block": [("shortcut added after the last ReLU",
                        lambda X, W1, b1, W2, b2: np.maximum(0, np.maximum(0, X @ W1 + b1) @ W2 + b2) + X),
                       ("shortcut forgotten", lambda X, W1, b1, W2, b2: np.maximum(0, np.maximum(0, X @ W1 + b1) @ W2 + b2)),
                       ("first ReLU forgotten", lambda X, W1, b1, W2, b2: np.maximum(0, (X @ W1 + b1) @ W2 + b2 + X))],
    "iou": [("intersection not clipped at 0", iou_no_clamp), ("union counts the intersection twice", iou_union_no_minus)],
    "non_max_suppression": [("boxes not sorted by score", nms_unsorted), ("compared with the best box only", nms_first_only),
                            ("max_boxes ignored", nms_no_max)],
    "triplet_loss": [("max taken after summing over the batch", triplet_max_after_sum),
                     ("distances not squared", triplet_not_squared), ("margin alpha forgotten", triplet_no_alpha)],
    "gram_matrix": [("A^T A instead of A A^T", lambda A: A.T @ A), ("divided by the number of positions", lambda A: A @ A.T / A.shape[1])],
    "compute_content_cost": [("missing the 4", lambda a_C, a_G: np.sum((a_C - a_G) ** 2) / np.prod(a_G.shape[1:])),
                             ("not squared", lambda a_C, a_G: np.sum(np.abs(a_C - a_G)) / (4 * np.prod(a_G.shape[1:])))],
    "compute_layer_style_cost": [("unrolled without the transpose", style_wrong_unroll),
                                 ("normalization 1 / (4 n_C n_H n_W)", style_wrong_factor)],
    "rnn_cell_forward": [("softmax over the examples (axis 1)", _bug(_rnn_fwd, bug="softmax axis 1")),
                         ("prediction from a_prev", _bug(_rnn_fwd, bug="y from a_prev")),
                         ("sigmoid instead of tanh", _bug(_rnn_fwd, bug="sigmoid"))],
    "rnn_cell_backward": [("tanh derivative at a_prev", _bug(_rnn_bw, bug="derivative at a_prev")),
                          ("dba averaged over m", _bug(_rnn_bw, bug="dba averaged"))],
    "lstm_cell_forward": [("concat = [xt; a_prev]", _bug(_lstm_fwd, bug="concat order")),
                          ("a_next = ot * c_next (no tanh)", _bug(_lstm_fwd, bug="no tanh"))],
    "lstm_cell_backward": [("dc_prev ignores the path through a_next", _bug(_lstm_bw, bug="dc_prev from dc_next only")),
                           ("output-gate gradient without tanh(c_next)", _bug(_lstm_bw, bug="dot without tanh"))],
    "cosine_similarity": [("squared norms", lambda u, v: np.dot(u, v) / (np.sum(u**2) * np.sum(v**2))),
                          ("||u||^2 instead of ||u|| ||v||", lambda u, v: np.dot(u, v) / np.linalg.norm(u) ** 2)],
    "neutralize": [("projection divided by ||g||, not ||g||^2",
                    lambda w, g, m: m[w] - np.dot(m[w], g) / np.linalg.norm(g) * g),
                   ("bias component added", lambda w, g, m: m[w] + np.dot(m[w], g) / np.sum(g * g) * g)],
    "beam_search_step": [("beam scores ignored when ranking", beam_no_beam_scores),
                         ("each beam extended by its best token only", beam_best_per_beam),
                         ("log-probabilities multiplied", beam_multiply)],
    "positional_encoding": [("exponent 2 i / d instead of 2 (i // 2) / d", pe_i_not_halved), ("sin and cos swapped", pe_swapped)],
    "scaled_dot_product_attention": [("no 1 / sqrt(d_k)", _bug(_attention, bug="no scaling")),
                                     ("divided by d_k", _bug(_attention, bug="divide by d_k")),
                                     ("softmax over the queries", _bug(_attention, bug="softmax over queries")),
                                     ("mask sign flipped", _bug(_attention, bug="mask sign")),
                                     ("no max subtraction (overflows on large logits)", _bug(_attention, bug="no max subtraction"))],
}
