"""Course 4 (convolutional networks): the step-by-step convolution and pooling, a residual block,
detection (IoU, non-max suppression), face verification and neural style transfer.

Images are channels-last batches as in the course: ``A`` has shape ``(m, n_H, n_W, n_C)``;
filters ``W`` have shape ``(f, f, n_C_prev, n_C)`` and biases ``b`` ``(1, 1, 1, n_C)``.
"""
from __future__ import annotations

import numpy as np

from ._core import BATCH1, RANDOM, Exercise, Property


# ----- convolution step by step (C4W1) ---------------------------------------------------------------
def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=(0, 0))


def conv_single_step(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + float(np.squeeze(b))


def conv_forward(A_prev, W, b, hparameters):
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    stride, pad = hparameters["stride"], hparameters["pad"]
    n_H = int((n_H_prev - f + 2 * pad) / stride) + 1
    n_W = int((n_W_prev - f + 2 * pad) / stride) + 1
    A_pad = zero_pad(A_prev, pad)
    Z = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = A_pad[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            Z[:, h, w, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2])) + b.reshape(n_C)
    return Z, (A_prev, W, b, hparameters)


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f = W.shape[0]
    stride, pad = hparameters["stride"], hparameters["pad"]
    _, n_H, n_W, n_C = dZ.shape
    A_pad = zero_pad(A_prev, pad)
    dA_pad = np.zeros_like(A_pad, dtype=float)
    dW = np.zeros_like(W, dtype=float)
    for h in range(n_H):
        for w in range(n_W):
            hs, ws = h * stride, w * stride
            d = dZ[:, h, w, :]  # (m, n_C)
            dA_pad[:, hs:hs + f, ws:ws + f, :] += np.einsum("mk,ijck->mijc", d, W)
            dW += np.einsum("mijc,mk->ijck", A_pad[:, hs:hs + f, ws:ws + f, :], d)
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, n_C)
    dA_prev = dA_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :]
    return dA_prev, dW, db


def pool_forward(A_prev, hparameters, mode="max"):
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    f, stride = hparameters["f"], hparameters["stride"]
    n_H = int(1 + (n_H_prev - f) / stride)
    n_W = int(1 + (n_W_prev - f) / stride)
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = A_prev[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            A[:, h, w, :] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return A, (A_prev, hparameters)


def pool_backward(dA, cache, mode="max"):
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"]
    _, n_H, n_W, _ = dA.shape
    dA_prev = np.zeros_like(A_prev, dtype=float)
    for h in range(n_H):
        for w in range(n_W):
            hs, ws = h * stride, w * stride
            d = dA[:, h, w, :][:, None, None, :]
            if mode == "max":
                window = A_prev[:, hs:hs + f, ws:ws + f, :]
                mask = window == window.max(axis=(1, 2), keepdims=True)
                dA_prev[:, hs:hs + f, ws:ws + f, :] += mask * d
            else:
                dA_prev[:, hs:hs + f, ws:ws + f, :] += d / (f * f)
    return dA_prev


def _conv_inputs(g):
    m, n_H, n_W, c = g.dim("m", 1, 3), g.dim("n_H_prev", 3, 7), g.dim("n_W_prev", 3, 7), g.dim("n_C_prev", 1, 3)
    f, n_C = g.dim("f", 1, 3), g.dim("n_C", 1, 3)
    hp = {"stride": g.dim("stride", 1, 2), "pad": g.dim("pad", 0, 2)}
    return [g.randn(m, n_H, n_W, c), g.randn(f, f, c, n_C), g.randn(1, 1, 1, n_C), hp]


def _conv_bw_inputs(g):
    A, W, b, hp = _conv_inputs(g)
    Z, cache = conv_forward(A, W, b, hp)
    return [g.randn(*Z.shape), cache]


def _pool_inputs(g):
    m, n_H, n_W, c = g.dim("m", 1, 3), g.dim("n_H_prev", 3, 7), g.dim("n_W_prev", 3, 7), g.dim("n_C", 1, 3)
    hp = {"f": g.dim("f", 1, 3), "stride": g.dim("stride", 1, 3)}
    return [g.randn(m, n_H, n_W, c), hp, g.choice("mode", ["max", "average"])]


def _pool_bw_inputs(g):
    A, hp, mode = _pool_inputs(g)
    out, cache = pool_forward(A, hp, mode)
    return [g.randn(*out.shape), cache, mode]


# ----- residual block (C4W2) ------------------------------------------------------------------------
def identity_block(X, W1, b1, W2, b2):
    A1 = np.maximum(0, X @ W1 + b1)
    Z2 = A1 @ W2 + b2
    return np.maximum(0, Z2 + X)


def _block_inputs(g):
    m, h, w, c, f1 = g.dim("m", 1, 3), g.dim("n_H", 1, 4), g.dim("n_W", 1, 4), g.dim("n_C", 1, 4), g.dim("F1", 1, 5)
    return [g.randn(m, h, w, c), g.randn(c, f1), g.randn(f1), g.randn(f1, c), g.randn(c)]


# ----- detection (C4W3) ----------------------------------------------------------------------------------
def iou(box1, box2):
    (b1_x1, b1_y1, b1_x2, b1_y2), (b2_x1, b2_y1, b2_x2, b2_y2) = box1, box2
    xi1, yi1, xi2, yi2 = max(b1_x1, b2_x1), max(b1_y1, b2_y1), min(b1_x2, b2_x2), min(b1_y2, b2_y2)
    inter = max(xi2 - xi1, 0) * max(yi2 - yi1, 0)
    union = (b1_x2 - b1_x1) * (b1_y2 - b1_y1) + (b2_x2 - b2_x1) * (b2_y2 - b2_y1) - inter
    return inter / union


def _box(g, spread=6.0):
    x, y = g.rand(2, lo=0, hi=spread)
    w, h = g.rand(2, lo=0.5, hi=4)
    return (float(x), float(y), float(x + w), float(y + h))


def _iou_inputs(g):
    b1 = _box(g)
    case = g.o.get("case")
    if case == "apart":
        return [b1, (b1[2] + 1.0, b1[3] + 1.0, b1[2] + 3.0, b1[3] + 2.5)]
    return [b1, b1] if case == "same" else [b1, _box(g)]


def non_max_suppression(boxes, scores, max_boxes=10, iou_threshold=0.5):
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep = []
    for i in order:
        if len(keep) == max_boxes:
            break
        if all(iou(boxes[i], boxes[j]) <= iou_threshold for j in keep):
            keep.append(int(i))
    return keep


def _nms_inputs(g):
    n = g.dim("n_boxes", 1, 14)
    boxes = np.array([_box(g, 5.0) for _ in range(n)])
    return [boxes, g.rand(n), g.dim("max_boxes", 1, 10), g.choice("iou_threshold", [0.3, 0.5, 0.7])]


# ----- face verification and style transfer (C4W4) ---------------------------------------------------
def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred
    pos_dist = np.sum(np.square(anchor - positive), axis=-1)
    neg_dist = np.sum(np.square(anchor - negative), axis=-1)
    return float(np.sum(np.maximum(pos_dist - neg_dist + alpha, 0.0)))


def _triplet_inputs(g):
    m, d = g.dim("m", 1, 6), g.dim("d", 1, 8)
    a = g.randn(m, d) * 0.5
    return [None, (a, a + g.randn(m, d) * 0.4, a + g.randn(m, d) * 0.5), g.choice("alpha", [0.2, 0.5])]


def gram_matrix(A):
    return A @ A.T


def compute_content_cost(a_C, a_G):
    _, n_H, n_W, n_C = a_G.shape
    return float(np.sum(np.square(a_C - a_G)) / (4 * n_H * n_W * n_C))


def compute_layer_style_cost(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    S = a_S.reshape(n_H * n_W, n_C).T
    G = a_G.reshape(n_H * n_W, n_C).T
    GS, GG = gram_matrix(S), gram_matrix(G)
    return float(np.sum(np.square(GS - GG)) / (4 * n_C**2 * (n_H * n_W) ** 2))


def _acts(g, n=2):
    shape = (1, g.dim("n_H", 1, 4), g.dim("n_W", 1, 4), g.dim("n_C", 1, 4))
    return [g.randn(*shape) for _ in range(n)]


EXERCISES = [
    Exercise(
        "zero_pad", "C4W1", "zero_pad(X, pad)",
        "X: (m, n_H, n_W, n_C) images; pad: int -> (m, n_H + 2 pad, n_W + 2 pad, n_C)",
        "Pad the height and width of every image with pad zeros on each side (np.pad), not the batch or channels.",
        zero_pad, lambda g: [g.randn(g.dim("m", 1, 3), g.dim("n_H", 1, 5), g.dim("n_W", 1, 5), g.dim("n_C", 1, 3)),
                             g.dim("pad", 0, 3)],
        [RANDOM, BATCH1],
    ),
    Exercise(
        "conv_single_step", "C4W1", "conv_single_step(a_slice_prev, W, b)",
        "a_slice_prev: (f, f, n_C_prev) one window; W: (f, f, n_C_prev) one filter; b: (1, 1, 1) -> a float",
        "The filter applied to one window: sum(a_slice_prev * W) + b (b added once, as a float).",
        conv_single_step,
        lambda g: [g.randn(f := g.dim("f", 1, 4), f, c := g.dim("n_C_prev", 1, 3)), g.randn(f, f, c), g.randn(1, 1, 1)],
        [RANDOM],
    ),
    Exercise(
        "conv_forward", "C4W1", "conv_forward(A_prev, W, b, hparameters)",
        "A_prev: (m, n_H_prev, n_W_prev, n_C_prev); W: (f, f, n_C_prev, n_C); b: (1, 1, 1, n_C);\n"
        "hparameters: {'stride': s, 'pad': p} -> Z: (m, n_H, n_W, n_C), cache = (A_prev, W, b, hparameters)\n"
        "n_H = floor((n_H_prev - f + 2 p) / s) + 1, n_W likewise",
        "Pad A_prev with zero_pad, then for each example, output position (h, w) and filter c:\n"
        "Z[i, h, w, c] = conv_single_step(A_pad[i, h s: h s + f, w s: w s + f, :], W[..., c], b[..., c]).",
        conv_forward, _conv_inputs, [RANDOM, BATCH1, Property("stride 2 and padding 1", {"stride": 2, "pad": 1}, 10)],
        pick=lambda r: r[0],
    ),
    Exercise(
        "conv_backward", "C4W1", "conv_backward(dZ, cache)",
        "dZ: (m, n_H, n_W, n_C); cache = (A_prev, W, b, hparameters) from conv_forward\n"
        "-> dA_prev: (m, n_H_prev, n_W_prev, n_C_prev), dW: (f, f, n_C_prev, n_C), db: (1, 1, 1, n_C)",
        "For every output position, add W[..., c] * dZ[i, h, w, c] to the window of dA_prev_pad and the window\n"
        "of A_prev_pad * dZ[i, h, w, c] to dW[..., c]; db sums dZ over examples and positions; finally strip the padding.",
        conv_backward, _conv_bw_inputs, [RANDOM, BATCH1, Property("stride 2 and padding 1", {"stride": 2, "pad": 1}, 10)],
        outputs=('dA_prev', 'dW', 'db'),
    ),
    Exercise(
        "pool_forward", "C4W1", "pool_forward(A_prev, hparameters, mode='max')",
        "A_prev: (m, n_H_prev, n_W_prev, n_C); hparameters: {'f': f, 'stride': s}; mode: 'max' or 'average'\n"
        "-> A: (m, n_H, n_W, n_C) with n_H = floor(1 + (n_H_prev - f) / s), cache = (A_prev, hparameters)",
        "Each output is the max (or the mean) of its f x f window, per channel; no padding.",
        pool_forward, _pool_inputs,
        [RANDOM, BATCH1, Property("overlapping windows (f = 3, stride 1)", {"f": 3, "stride": 1}, 10)],
        pick=lambda r: r[0],
    ),
    Exercise(
        "pool_backward", "C4W1", "pool_backward(dA, cache, mode='max')",
        "dA: (m, n_H, n_W, n_C); cache = (A_prev, hparameters) from pool_forward; mode: 'max' or 'average'\n"
        "-> dA_prev: (m, n_H_prev, n_W_prev, n_C)",
        "max: each output's gradient goes to the position of its window's maximum (a mask x == max(x));\n"
        "average: spread evenly, dA / (f f), over the window. Gradients of overlapping windows add up.",
        pool_backward, _pool_bw_inputs,
        [RANDOM, BATCH1, Property("overlapping windows (f = 3, stride 1)", {"f": 3, "stride": 1}, 10)],
    ),
    Exercise(
        "identity_block", "C4W2", "identity_block(X, W1, b1, W2, b2)",
        "X: (m, n_H, n_W, n_C); W1: (n_C, F1), b1: (F1,); W2: (F1, n_C), b2: (n_C,) -> (m, n_H, n_W, n_C)\n"
        "(the block's two 1x1 convolutions written as channel matmuls, no batch norm)",
        "The main path relu(X W1 + b1) W2 + b2, then the shortcut is added BEFORE the last ReLU:\n"
        "output = relu(main path + X).",
        identity_block, _block_inputs, [RANDOM, BATCH1],
    ),
    Exercise(
        "iou", "C4W3", "iou(box1, box2)",
        "box1, box2: (x1, y1, x2, y2) corners, x1 < x2, y1 < y2 -> float in [0, 1]",
        "Intersection over union: the intersection's width and height are clipped at 0 (boxes that do not\n"
        "overlap have intersection 0); union = area1 + area2 - intersection.",
        iou, _iou_inputs,
        [RANDOM, Property("boxes far apart (no overlap): 0", {"case": "apart"}, 10),
         Property("a box with itself: 1", {"case": "same"}, 10)],
    ),
    Exercise(
        "non_max_suppression", "C4W3", "non_max_suppression(boxes, scores, max_boxes=10, iou_threshold=0.5)",
        "boxes: (N, 4) corners (x1, y1, x2, y2); scores: (N,); max_boxes: int; iou_threshold: float\n"
        "-> list of the kept boxes' indices, highest score first",
        "Greedy NMS: take boxes in decreasing score; keep a box when its IoU with every box kept so far is\n"
        "<= iou_threshold; stop at max_boxes boxes.",
        non_max_suppression, _nms_inputs, [RANDOM, Property("a single box", {"n_boxes": 1}, 5)],
        pick=lambda r: [int(i) for i in r],
    ),
    Exercise(
        "triplet_loss", "C4W4", "triplet_loss(y_true, y_pred, alpha=0.2)",
        "y_true: unused; y_pred = (anchor, positive, negative), each (m, d) encodings; alpha: margin -> float",
        "sum over the m examples of max(||a - p||^2 - ||a - n||^2 + alpha, 0) (squared distances per example).",
        triplet_loss, _triplet_inputs, [RANDOM, BATCH1],
    ),
    Exercise(
        "gram_matrix", "C4W4", "gram_matrix(A)",
        "A: (n_C, n_H * n_W) unrolled activations -> (n_C, n_C)",
        "The Gram (style) matrix G = A A^T: G[i, j] correlates channel i with channel j.",
        gram_matrix, lambda g: [g.randn(g.dim("n_C", 1, 5), g.dim("n_HW", 1, 9))], [RANDOM],
    ),
    Exercise(
        "compute_content_cost", "C4W4", "compute_content_cost(a_C, a_G)",
        "a_C, a_G: (1, n_H, n_W, n_C) activations of the content and generated images -> float",
        "J_content = 1 / (4 n_H n_W n_C) * sum((a_C - a_G)^2).",
        compute_content_cost, lambda g: _acts(g), [RANDOM],
    ),
    Exercise(
        "compute_layer_style_cost", "C4W4", "compute_layer_style_cost(a_S, a_G)",
        "a_S, a_G: (1, n_H, n_W, n_C) activations of the style and generated images -> float",
        "Unroll each to (n_C, n_H n_W) (reshape to (n_H n_W, n_C), then transpose), take the Gram matrices,\n"
        "J = 1 / (4 n_C^2 (n_H n_W)^2) * sum((G_S - G_G)^2).",
        compute_layer_style_cost, lambda g: _acts(g), [RANDOM],
    ),
]

