"""Neural style transfer (course 4, week 4; Gatys et al. 2015).

The generated image G starts from the content image plus noise, and its **pixels** are
optimized (the network's weights stay fixed) to lower

    J(G) = alpha * J_content(C, G) + beta * J_style(S, G) + tv * J_tv(G)

* ``J_content``: squared difference of one layer's activations,
  ``1 / (4 n_H n_W n_C) * sum (a_C - a_G)^2`` (:func:`content_cost`);
* ``J_style``: over several layers ``l`` (weights ``lambda_l``), squared difference of the
  **Gram matrices** ``G_kk' = sum_ij a_ijk a_ijk'`` (which channels fire together: the
  texture, with the layout thrown away), ``1 / (4 n_C^2 (n_H n_W)^2) * sum (G_S - G_G)^2``
  (:func:`gram_matrix`, :func:`style_layer_cost`, :func:`style_cost`);
* ``J_tv``: total variation, the mean squared difference of neighbouring pixels, which
  keeps the result smooth (:func:`total_variation`).

The course uses VGG-19 trained on ImageNet. That cannot be had offline, so
:class:`FeatureNet` is a small VGG-style network (3x3 convolutions and ReLUs in three
blocks with max-pooling between, no batch norm) trained here on real photographs
(:func:`train_feature_net`: the two photographs that ship inside scikit-learn, cut into
random patches, with the self-supervised task of telling by how much a patch was
rotated: 0, 90, 180 or 270 degrees). To answer, the network must find edges, their
orientations, and which way light, sky and ground lie: the oriented edge and colour
detectors whose co-activation statistics (Gram matrices) describe a texture.
"""
from __future__ import annotations

import numpy as np

from .. import nn, ops
from ..tensor import Tensor

#: per-channel mean subtracted before the feature network (images are RGB in [0, 1])
PIXEL_MEAN = np.array([0.45, 0.45, 0.45], np.float32).reshape(1, 3, 1, 1)


class FeatureNet(nn.Module):
    """A VGG-style feature extractor: blocks of (3x3 conv -> ReLU) x ``convs`` with 2x2 max-pooling
    between blocks. ``features(x)`` returns every ReLU's output by name (``"conv{block}_{k}"``,
    as in VGG); ``forward`` adds a head for the pretraining task (2x2 average pool + linear)."""

    def __init__(self, widths=(16, 32, 64), convs=(2, 2, 2), num_outputs: int = 4):
        super().__init__()
        self.names, self.convs = [], nn.ModuleList()
        self.pool_after = []
        c = 3
        for b, (w, n) in enumerate(zip(widths, convs), 1):
            for k in range(1, n + 1):
                conv = nn.Conv2d(c, w, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")  # He: a plain ReLU stack keeps its scale
                nn.init.zeros_(conv.bias)
                self.convs.append(conv)
                self.names.append(f"conv{b}_{k}")
                self.pool_after.append(k == n and b < len(widths))
                c = w
        self.pool = nn.MaxPool2d(2)
        # a 2x2 average keeps where things are (top/bottom/left/right): what rotation prediction needs
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(4 * c, num_outputs))

    def features(self, x, layers=None, subtract_mean: bool = True) -> dict:
        """Activations ``{name: (N, C, H, W)}`` of the named layers (all convolutions when ``layers``
        is None), stopping after the deepest one asked for. ``"pixels"`` names the input itself
        (after subtracting :data:`PIXEL_MEAN`)."""
        wanted = set(self.names if layers is None else layers)
        bad = wanted - set(self.names) - {"pixels"}
        if bad:
            raise ValueError(f"FeatureNet: unknown layers {sorted(bad)}; known: {self.names}")
        if subtract_mean:
            x = x - PIXEL_MEAN.astype(x.dtype)
        out = {}
        if "pixels" in wanted:  # the (centred) image itself: its Gram matrix holds the colour statistics
            out["pixels"] = x
            if len(out) == len(wanted):
                return out
        for name, conv, pool in zip(self.names, self.convs, self.pool_after):
            x = ops.relu(conv(x))
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
            if pool:
                x = self.pool(x)
        return out

    def forward(self, x):
        last = self.features(x, [self.names[-1]])[self.names[-1]]
        return self.head(last)


# ----- costs ----------------------------------------------------------------------------------
def content_cost(a_C, a_G):
    """``1 / (4 n_H n_W n_C) * sum (a_C - a_G)^2`` for activations ``(1, n_C, n_H, n_W)``."""
    _, c, h, w = a_G.shape
    return ((a_G - a_C) ** 2).sum() / (4.0 * c * h * w)


def gram_matrix(a):
    """``(1, n_C, n_H, n_W) -> (n_C, n_C)``: ``A A^T`` with ``A`` the activations unrolled to ``(n_C, n_H n_W)``."""
    _, c, h, w = a.shape
    A = a.reshape(c, h * w)
    return A @ A.T


def style_layer_cost(a_S, a_G):
    """``1 / (4 n_C^2 (n_H n_W)^2) * sum (G_S - G_G)^2``: the course's ``compute_layer_style_cost``."""
    _, c, h, w = a_G.shape
    GS = a_S if (a_S.ndim == 2) else gram_matrix(a_S)
    GG = gram_matrix(a_G)
    return ((GG - GS) ** 2).sum() / (4.0 * c * c * (h * w) ** 2)


def style_cost(style_grams: dict, feats_G: dict, weights: dict):
    """``sum_l weights[l] * style_layer_cost``; ``style_grams`` are the style image's Gram matrices."""
    total = None
    for name, lam in weights.items():
        term = lam * style_layer_cost(style_grams[name], feats_G[name])
        total = term if total is None else total + term
    return total


def total_variation(img):
    """Mean squared difference between vertically and horizontally neighbouring pixels of ``(N, C, H, W)``."""
    dh = img[:, :, 1:, :] - img[:, :, :-1, :]
    dw = img[:, :, :, 1:] - img[:, :, :, :-1]
    return (dh * dh).mean() + (dw * dw).mean()


# ----- pretraining the feature network ----------------------------------------------------------
def photo_patches(photos, n: int, size: int, rng, scales=(0.5, 0.25, 0.125)) -> np.ndarray:
    """``n`` random ``size x size`` RGB patches ``(n, 3, size, size)`` float32 in [0, 1] from
    ``photos`` (a list of ``(H, W, 3)`` arrays), each at a random scale (downsampled by
    averaging) and flipped left-right at random."""
    pyramids = [[lv for lv in (downsample(p, s) for s in scales) if min(lv.shape[:2]) >= size] for p in photos]
    pyramids = [lv for lv in pyramids if lv]
    if not pyramids:
        raise ValueError(f"photo_patches: no photo is at least {size} pixels on each side at scales {scales}")
    out = np.empty((n, 3, size, size), np.float32)
    for k in range(n):
        levels = pyramids[rng.integers(len(pyramids))]
        img = levels[rng.integers(len(levels))]
        i, j = rng.integers(0, img.shape[0] - size + 1), rng.integers(0, img.shape[1] - size + 1)
        patch = img[i:i + size, j:j + size]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        out[k] = patch.transpose(2, 0, 1)
    return out


def downsample(img: np.ndarray, scale: float) -> np.ndarray:
    """Shrink ``(H, W, 3)`` by an integer factor ``1 / scale`` by averaging blocks (scale 1: unchanged)."""
    f = int(round(1 / scale))
    if f <= 1:
        return img
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    return img[:h, :w].reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3))


def rotation_batch(patches: np.ndarray, rng):
    """Rotate each patch by a random multiple of 90 degrees: ``(rotated, k)`` with ``k`` in 0..3."""
    k = rng.integers(0, 4, len(patches))
    out = np.stack([np.rot90(p, int(r), axes=(1, 2)) for p, r in zip(patches, k)]).astype(np.float32)
    return np.ascontiguousarray(out), k.astype(np.int64)


def train_feature_net(model: FeatureNet, photos, steps: int, batch_size: int = 32, patch: int = 32, lr: float = 2e-3,
                      seed: int = 0, log=print, log_every: int = 100) -> list:
    """Pretrain ``model`` on rotation prediction over patches of ``photos``; returns per-step
    ``(loss, accuracy)``. Adam with a cosine schedule."""
    from .. import optim

    rng = np.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1), eta_min=lr * 0.02)
    hist = []
    for step in range(1, steps + 1):
        x, k = rotation_batch(photo_patches(photos, batch_size, patch, rng), rng)
        logits = model(Tensor._wrap(x))
        loss = ops.cross_entropy(logits, k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hist.append((float(loss.data), float(np.mean(logits.data.argmax(1) == k))))
        if log and (step % log_every == 0 or step == steps):
            recent = np.array(hist[-log_every:])
            log(f"feature net step {step}/{steps}: rotation loss {recent[:, 0].mean():.3f}, "
                f"accuracy {recent[:, 1].mean():.3f}")
    return hist


# ----- the transfer ------------------------------------------------------------------------------
def style_transfer(net: FeatureNet, content: np.ndarray, style: np.ndarray, steps: int = 300, lr: float = 0.02,
                   content_layer: str = "conv3_1", style_layers=None, alpha: float = 10.0, beta: float = 40.0,
                   tv_weight: float = 0.0, noise: float = 0.2, seed: int = 0, log=print, log_every: int = 50):
    """Optimize the pixels of a generated image (Adam, kept in [0, 1]).

    ``content``, ``style``: ``(3, H, W)`` float32 in [0, 1] (the style image may have another size).
    ``style_layers``: ``{layer: weight}`` (default: each ``convB_1`` with equal weights that sum to 1,
    as the course's 5 x 0.2). Returns ``(image (3, H, W), history list of dicts)``; each
    history entry has ``step``, ``J``, ``J_content``, ``J_style``, ``J_tv``.
    """
    from .. import optim
    from ..autograd import no_grad
    from ..nn import Parameter

    if style_layers is None:
        firsts = [n for n in net.names if n.endswith("_1")]
        style_layers = {n: 1.0 / len(firsts) for n in firsts}
    layers = sorted(set(style_layers) | {content_layer}, key=lambda n: -1 if n == "pixels" else net.names.index(n))
    for p in net.parameters():
        p.requires_grad = False
    with no_grad():
        a_C = net.features(Tensor._wrap(content[None].astype(np.float32)), [content_layer])[content_layer].data
        fs = net.features(Tensor._wrap(style[None].astype(np.float32)), list(style_layers))
        grams = {n: gram_matrix(fs[n]).data for n in style_layers}
    rng = np.random.default_rng(seed)
    start = np.clip(content + rng.uniform(-noise, noise, content.shape), 0, 1).astype(np.float32)
    G = Parameter(start[None])
    opt = optim.Adam([G], lr=lr)
    history = []
    for step in range(0, steps + 1):
        feats = net.features(G, layers)
        jc = content_cost(a_C, feats[content_layer])
        js = style_cost(grams, feats, style_layers)
        jtv = total_variation(G)
        J = alpha * jc + beta * js + tv_weight * jtv
        history.append({"step": step, "J": float(J.data), "J_content": float(jc.data), "J_style": float(js.data),
                        "J_tv": float(jtv.data)})
        if log and (step % log_every == 0 or step == steps):
            h = history[-1]
            log(f"style transfer step {step}/{steps}: J {h['J']:.4g}  J_content {h['J_content']:.4g}  "
                f"J_style {h['J_style']:.4g}  J_tv {h['J_tv']:.3g}")
        if step == steps:
            break
        opt.zero_grad()
        J.backward()
        opt.step()
        np.clip(G.data, 0, 1, out=G.data)
    for p in net.parameters():
        p.requires_grad = True
    return G.data[0].copy(), history
