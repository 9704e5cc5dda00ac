"""Course 5 (sequence models): RNN and LSTM cells forward and backward, word vectors, beam search
and the Transformer's positional encoding and attention.

RNN cells use the course's column batches: ``xt`` is ``(n_x, m)``, ``a_prev`` ``(n_a, m)``.
"""
from __future__ import annotations

import numpy as np

from ._core import BATCH1, RANDOM, Exercise, Property, compare
from .c1 import sigmoid
from .c2 import softmax


# ----- RNN cell (C5W1) --------------------------------------------------------------------------------
def rnn_cell_forward(xt, a_prev, parameters):
    Wax, Waa, Wya, ba, by = (parameters[k] for k in ("Wax", "Waa", "Wya", "ba", "by"))
    a_next = np.tanh(Waa @ a_prev + Wax @ xt + ba)
    yt_pred = softmax(Wya @ a_next + by)
    return a_next, yt_pred, (a_next, a_prev, xt, parameters)


def rnn_cell_backward(da_next, cache):
    a_next, a_prev, xt, parameters = cache
    dtanh = (1 - a_next**2) * da_next
    return {
        "dxt": parameters["Wax"].T @ dtanh,
        "dWax": dtanh @ xt.T,
        "da_prev": parameters["Waa"].T @ dtanh,
        "dWaa": dtanh @ a_prev.T,
        "dba": np.sum(dtanh, axis=1, keepdims=True),
    }


def _rnn_sizes(g):
    return g.dim("n_x", 1, 4), g.dim("n_a", 1, 5), g.dim("n_y", 1, 4), g.dim("m", 1, 5)


def _rnn_inputs(g):
    n_x, n_a, n_y, m = _rnn_sizes(g)
    p = {"Wax": g.randn(n_a, n_x), "Waa": g.randn(n_a, n_a), "Wya": g.randn(n_y, n_a),
         "ba": g.randn(n_a, 1), "by": g.randn(n_y, 1)}
    return [g.randn(n_x, m), g.randn(n_a, m), p]


def _rnn_bw_inputs(g):
    xt, a_prev, p = _rnn_inputs(g)
    a_next, _, cache = rnn_cell_forward(xt, a_prev, p)
    return [g.randn(*a_next.shape), cache]


# ----- LSTM cell (C5W1) ----------------------------------------------------------------------------------
def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    p = parameters
    concat = np.concatenate((a_prev, xt), axis=0)
    ft = sigmoid(p["Wf"] @ concat + p["bf"])
    it = sigmoid(p["Wi"] @ concat + p["bi"])
    cct = np.tanh(p["Wc"] @ concat + p["bc"])
    c_next = ft * c_prev + it * cct
    ot = sigmoid(p["Wo"] @ concat + p["bo"])
    a_next = ot * np.tanh(c_next)
    yt_pred = softmax(p["Wy"] @ a_next + p["by"])
    return a_next, c_next, yt_pred, (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)


def lstm_cell_backward(da_next, dc_next, cache):
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, p = cache
    n_a = a_prev.shape[0]
    tc = np.tanh(c_next)
    dot = da_next * tc * ot * (1 - ot)
    dc = dc_next + da_next * ot * (1 - tc**2)
    dcct = dc * it * (1 - cct**2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate((a_prev, xt), axis=0)
    grads = {}
    dconcat = 0
    for gate, d in (("f", dft), ("i", dit), ("c", dcct), ("o", dot)):
        grads["dW" + gate] = d @ concat.T
        grads["db" + gate] = np.sum(d, axis=1, keepdims=True)
        dconcat = dconcat + p["W" + gate].T @ d
    grads["da_prev"] = dconcat[:n_a]
    grads["dxt"] = dconcat[n_a:]
    grads["dc_prev"] = dc * ft
    return grads


def _lstm_inputs(g):
    n_x, n_a, n_y, m = _rnn_sizes(g)
    p = {}
    for gate in "fico":
        p["W" + gate] = g.randn(n_a, n_a + n_x)
        p["b" + gate] = g.randn(n_a, 1)
    p["Wy"], p["by"] = g.randn(n_y, n_a), g.randn(n_y, 1)
    return [g.randn(n_x, m), g.randn(n_a, m), g.randn(n_a, m), p]


def _lstm_bw_inputs(g):
    xt, a_prev, c_prev, p = _lstm_inputs(g)
    a_next, c_next, _, cache = lstm_cell_forward(xt, a_prev, c_prev, p)
    return [g.randn(*a_next.shape), g.randn(*c_next.shape), cache]


# ----- word vectors (C5W2) -------------------------------------------------------------------------------
def cosine_similarity(u, v):
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def neutralize(word, g, word_to_vec_map):
    e = word_to_vec_map[word]
    e_biascomponent = np.dot(e, g) / np.sum(g * g) * g
    return e - e_biascomponent


def _vec_inputs(g):
    d = g.dim("d", 1, 8)
    u = g.randn(d)
    case = g.o.get("case")
    if case == "parallel":
        return [u, u * g.uniform("factor", 0.1, 5.0)]
    return [u, g.randn(d)]


def _neutralize_inputs(g):
    d, n = g.dim("d", 1, 8), g.dim("vocabulary", 1, 5)
    vocab = {f"word{i}": g.randn(d) for i in range(n)}
    return [f"word{g.dim('which', 0, n - 1)}", g.randn(d) * g.uniform("g_scale", 0.2, 3.0), vocab]


# ----- beam search (C5W3) -----------------------------------------------------------------------------------
def beam_search_step(beam_scores, log_probs, beam_width):
    k, V = log_probs.shape
    total = (beam_scores[:, None] + log_probs).ravel()
    idx = np.argsort(-total, kind="stable")[:beam_width]
    return total[idx], idx // V, idx % V


def _verify_beam(args, out, expected):
    beam_scores, log_probs, beam_width = args
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        return "expected a tuple (scores, beam_indices, token_indices)"
    scores, beams, tokens = (np.asarray(o) for o in out)
    n = len(expected[0])
    if scores.shape != (n,) or beams.shape != (n,) or tokens.shape != (n,):
        return f"expected three arrays of shape ({n},) (min(beam_width, k V) candidates), got {scores.shape}, {beams.shape}, {tokens.shape}"
    msg = compare(expected[0], scores, 1e-9, 1e-12, "scores (best first)")
    if msg:
        return msg
    if beams.min() < 0 or beams.max() >= log_probs.shape[0] or tokens.min() < 0 or tokens.max() >= log_probs.shape[1]:
        return "a beam or token index is out of range"
    own = beam_scores[beams.astype(int)] + log_probs[beams.astype(int), tokens.astype(int)]
    msg = compare(own, scores, 1e-9, 1e-12, "score of (beam, token): beam_scores[beam] + log_probs[beam, token]")
    if msg:
        return msg
    if len(set(zip(beams.tolist(), tokens.tolist()))) != n:
        return "the same (beam, token) candidate is chosen twice"
    return None


def _beam_inputs(g):
    k, V = g.dim("beams", 1, 4), g.dim("vocabulary", 1, 6)
    logits = g.randn(k, V, scale=2)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return [-g.rand(k, lo=0, hi=5), log_probs, g.dim("beam_width", 1, 5)]


# ----- Transformer (C5W4) ---------------------------------------------------------------------------------------
def positional_encoding(positions, d):
    pos = np.arange(positions)[:, None]
    i = np.arange(d)[None, :]
    angle_rads = pos / np.power(10000, (2 * (i // 2)) / np.float64(d))
    angle_rads[:, 0::2] = np.sin(angle_rads[:, 0::2])
    angle_rads[:, 1::2] = np.cos(angle_rads[:, 1::2])
    return angle_rads[np.newaxis, ...]


def scaled_dot_product_attention(q, k, v, mask):
    logits = q @ np.swapaxes(k, -1, -2) / np.sqrt(k.shape[-1])
    if mask is not None:
        logits = logits + (1.0 - mask) * -1e9
    logits = logits - logits.max(axis=-1, keepdims=True)
    w = np.exp(logits)
    w = w / w.sum(axis=-1, keepdims=True)
    return w @ v, w


def _attention_inputs(g):
    b, sq, sk = g.dim("batch", 1, 2), g.dim("seq_q", 1, 4), g.dim("seq_k", 1, 5)
    dk, dv = g.dim("d_k", 1, 4), g.dim("d_v", 1, 4)
    q, k, v = g.randn(b, sq, dk, tag="qk"), g.randn(b, sk, dk, tag="qk"), g.randn(b, sk, dv)
    mask = None
    if g.choice("mask", [None, "padding"]) == "padding":
        mask = (g.rand(b, 1, sk) < 0.7).astype(float)
        mask[..., 0] = 1.0  # every query sees at least one key
    return [q, k, v, mask]


EXERCISES = [
    Exercise(
        "rnn_cell_forward", "C5W1", "rnn_cell_forward(xt, a_prev, parameters)",
        "xt: (n_x, m); a_prev: (n_a, m); parameters: Wax (n_a, n_x), Waa (n_a, n_a), Wya (n_y, n_a), ba (n_a, 1), by (n_y, 1)\n"
        "-> a_next (n_a, m), yt_pred (n_y, m), cache = (a_next, a_prev, xt, parameters)",
        "a_next = tanh(Waa a_prev + Wax xt + ba); yt_pred = softmax(Wya a_next + by) over the n_y outputs (axis 0).",
        rnn_cell_forward, _rnn_inputs, [RANDOM, BATCH1], pick=lambda r: r[:2],
        outputs=('a_next', 'yt_pred'),
    ),
    Exercise(
        "rnn_cell_backward", "C5W1", "rnn_cell_backward(da_next, cache)",
        "da_next: (n_a, m); cache = (a_next, a_prev, xt, parameters) from rnn_cell_forward\n"
        "-> gradients {'dxt' (n_x, m), 'da_prev' (n_a, m), 'dWax' (n_a, n_x), 'dWaa' (n_a, n_a), 'dba' (n_a, 1)}",
        "dtanh = (1 - a_next^2) * da_next; dxt = Wax^T dtanh; dWax = dtanh xt^T; da_prev = Waa^T dtanh;\n"
        "dWaa = dtanh a_prev^T; dba = sum of dtanh over the examples (keepdims). (Not averaged over m.)",
        rnn_cell_backward, _rnn_bw_inputs, [RANDOM, BATCH1],
    ),
    Exercise(
        "lstm_cell_forward", "C5W1", "lstm_cell_forward(xt, a_prev, c_prev, parameters)",
        "xt: (n_x, m); a_prev, c_prev: (n_a, m); parameters: Wf, Wi, Wc, Wo (n_a, n_a + n_x), bf, bi, bc, bo (n_a, 1),\n"
        "Wy (n_y, n_a), by (n_y, 1) -> a_next (n_a, m), c_next (n_a, m), yt_pred (n_y, m),\n"
        "cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)",
        "concat = [a_prev; xt] (a_prev on top); ft, it, ot = sigmoid(W concat + b) of their gates; cct = tanh(Wc concat + bc);\n"
        "c_next = ft * c_prev + it * cct; a_next = ot * tanh(c_next); yt_pred = softmax(Wy a_next + by).",
        lstm_cell_forward, _lstm_inputs, [RANDOM, BATCH1], pick=lambda r: r[:3],
        outputs=('a_next', 'c_next', 'yt_pred'),
    ),
    Exercise(
        "lstm_cell_backward", "C5W1", "lstm_cell_backward(da_next, dc_next, cache)",
        "da_next, dc_next: (n_a, m); cache from lstm_cell_forward\n"
        "-> gradients {'dxt', 'da_prev', 'dc_prev', 'dWf', 'dbf', 'dWi', 'dbi', 'dWc', 'dbc', 'dWo', 'dbo'}",
        "dot = da_next tanh(c_next) ot (1 - ot); dc = dc_next + da_next ot (1 - tanh(c_next)^2);\n"
        "dcct = dc it (1 - cct^2); dit = dc cct it (1 - it); dft = dc c_prev ft (1 - ft);\n"
        "dW_gate = d_gate [a_prev; xt]^T, db_gate = sum over examples (keepdims);\n"
        "[da_prev; dxt] = sum over gates of W_gate^T d_gate; dc_prev = dc ft.",
        lstm_cell_backward, _lstm_bw_inputs, [RANDOM, BATCH1],
    ),
    Exercise(
        "cosine_similarity", "C5W2", "cosine_similarity(u, v)",
        "u, v: (d,) word vectors -> float in [-1, 1]",
        "u . v / (||u|| ||v||), with the L2 norms sqrt(sum(u^2)).",
        cosine_similarity, _vec_inputs, [RANDOM, Property("parallel vectors: 1", {"case": "parallel"}, 10)],
    ),
    Exercise(
        "neutralize", "C5W2", "neutralize(word, g, word_to_vec_map)",
        "word: str; g: (d,) the bias direction; word_to_vec_map: dict word -> (d,) vector -> (d,) debiased vector",
        "Remove the component of e = word_to_vec_map[word] along g: e - (e . g / ||g||^2) g.",
        neutralize, _neutralize_inputs, [RANDOM],
    ),
    Exercise(
        "beam_search_step", "C5W3", "beam_search_step(beam_scores, log_probs, beam_width)",
        "beam_scores: (k,) log-probabilities of the k current beams; log_probs: (k, V) next-token log-probabilities\n"
        "of each beam; beam_width: B -> (scores (B,), beam_indices (B,), token_indices (B,)), best first",
        "Score every extension (beam b, token t) as beam_scores[b] + log_probs[b, t] (log-probabilities add) and\n"
        "keep the B best over ALL k V candidates (min(B, k V) of them), best first.",
        beam_search_step, _beam_inputs, [RANDOM, Property("one beam (the first step)", {"beams": 1}, 10)],
        verify=_verify_beam,
    ),
    Exercise(
        "positional_encoding", "C5W4", "positional_encoding(positions, d)",
        "positions: int; d: int (the encoding size) -> (1, positions, d)",
        "angle(pos, i) = pos / 10000^(2 (i // 2) / d); even columns i hold sin(angle), odd columns cos(angle).",
        positional_encoding, lambda g: [g.dim("positions", 1, 20), g.dim("d", 1, 16)],
        [RANDOM, Property("an odd encoding size", {"d": 7}, 5)],
    ),
    Exercise(
        "scaled_dot_product_attention", "C5W4", "scaled_dot_product_attention(q, k, v, mask)",
        "q: (..., seq_q, d_k); k: (..., seq_k, d_k); v: (..., seq_k, d_v); mask: None or broadcastable to\n"
        "(..., seq_q, seq_k) with 1 = attend, 0 = masked -> (output (..., seq_q, d_v), attention_weights (..., seq_q, seq_k))",
        "weights = softmax over the keys (last axis) of q k^T / sqrt(d_k) + (1 - mask) * -1e9; output = weights v.",
        scaled_dot_product_attention, _attention_inputs,
        [RANDOM, Property("large logits (q, k scaled by 30)", {"scale": {"qk": 30.0}}, 15)],
        outputs=('output', 'attention_weights'),
    ),
]
