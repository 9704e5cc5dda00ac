"""Attribution and visualization: what in the input made the model decide, and what its layers see.

Attributions, for a batch ``x`` (what the model takes) and ``target`` classes (default: the
predicted ones), each returned as an ndarray shaped like ``x``:

* :func:`saliency` - |d score / d input| (Simonyan et al., 2013);
* :func:`smoothgrad` - the input gradient averaged over noisy copies of the input, then |.|;
* :func:`integrated_gradients` - (x - baseline) times the gradient averaged along the straight
  path from the baseline; its attributions add up to score(x) - score(baseline)
  (``completeness``, checked by :func:`completeness_error`);
* :func:`occlusion` - how much the target's probability drops when a patch is greyed out;
* :func:`grad_cam` - a conv layer's feature maps weighted by their average gradient, ReLU,
  upsampled to the input (Selvaraju et al., 2017).

Visualizations: :func:`first_layer_filters`, :func:`feature_maps`, :func:`activation_maximization`,
:func:`projection` (PCA always; t-SNE with scikit-learn) of penultimate-layer features. The
``plot_*`` functions write PNGs. :func:`object_mass_fraction` measures whether an attribution map
sits on the object (the non-zero pixels of a Fashion-MNIST image) rather than the background.
"""
from __future__ import annotations

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from ._trace import record_outputs


def _as_input(x, requires_grad=False) -> Tensor:
    arr = np.array(getattr(x, "data", x), dtype=np.float32, copy=True)
    return Tensor(arr, requires_grad=requires_grad)


def predict(model, x, batch: int = 256) -> np.ndarray:
    was = model.training
    model.eval()
    try:
        with no_grad():
            outs = [np.asarray(model(_as_input(x[i:i + batch])).data) for i in range(0, len(x), batch)]
    finally:
        model.train(was)
    return np.concatenate(outs)


def _targets(model, x, target):
    if target is None:
        return predict(model, x).argmax(axis=1)
    t = np.asarray(target)
    return np.full(len(x), int(t)) if t.ndim == 0 else t.astype(np.int64)


def input_gradient(model, x, target) -> np.ndarray:
    """d(score of ``target[i]`` for example i)/d x, in eval mode (each example's own score)."""
    was = model.training
    model.eval()
    try:
        xt = _as_input(x, requires_grad=True)
        out = model(xt)
        sel = np.zeros(out.shape, dtype=out.data.dtype)
        sel[np.arange(len(target)), target] = 1
        (out * Tensor(sel)).sum().backward()
        return np.asarray(xt.grad, dtype=np.float64)
    finally:
        model.train(was)


def saliency(model, x, target=None) -> np.ndarray:
    return np.abs(input_gradient(model, x, _targets(model, x, target)))


def smoothgrad(model, x, target=None, samples: int = 25, sigma: float = 0.15, seed: int = 0) -> np.ndarray:
    """``sigma`` is a fraction of the input's value range (max - min over the batch)."""
    target = _targets(model, x, target)
    rng = np.random.default_rng(seed)
    x = np.asarray(getattr(x, "data", x), dtype=np.float32)
    scale = sigma * float(x.max() - x.min())
    acc = np.zeros(x.shape)
    for _ in range(samples):
        acc += input_gradient(model, x + rng.normal(0, scale, x.shape).astype(np.float32), target)
    return np.abs(acc / samples)


def integrated_gradients(model, x, target=None, baseline=None, steps: int = 64, batch: int = 512) -> np.ndarray:
    """Midpoint Riemann sum of the gradient along baseline -> x, times (x - baseline).

    ``baseline`` defaults to the batch's minimum value everywhere (the background of a
    standardized Fashion-MNIST image: a blank picture)."""
    target = _targets(model, x, target)
    x = np.asarray(getattr(x, "data", x), dtype=np.float64)
    base = np.full_like(x, x.min()) if baseline is None else np.broadcast_to(np.asarray(baseline, np.float64), x.shape)
    alphas = (np.arange(steps) + 0.5) / steps
    out = np.zeros_like(x)
    for i in range(len(x)):
        path = base[i][None] + alphas.reshape((-1,) + (1,) * (x.ndim - 1)) * (x[i] - base[i])[None]
        g = np.concatenate([input_gradient(model, path[j:j + batch], np.full(len(path[j:j + batch]), target[i]))
                            for j in range(0, steps, batch)])
        out[i] = (x[i] - base[i]) * g.mean(axis=0)
    return out


def completeness_error(model, x, attributions, target=None, baseline=None) -> np.ndarray:
    """Per example |sum(attributions) - (score(x) - score(baseline))| / |score(x) - score(baseline)|."""
    target = _targets(model, x, target)
    x = np.asarray(getattr(x, "data", x), dtype=np.float64)
    base = np.full_like(x, x.min()) if baseline is None else np.broadcast_to(np.asarray(baseline, np.float64), x.shape)
    idx = np.arange(len(x))
    delta = predict(model, x)[idx, target] - predict(model, base)[idx, target]
    total = attributions.reshape(len(x), -1).sum(axis=1)
    return np.abs(total - delta) / np.maximum(np.abs(delta), 1e-12)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def occlusion(model, x, target=None, patch: int = 6, stride: int = 2, image_shape=None, fill=None) -> np.ndarray:
    """Drop of the target's probability when a ``patch`` x ``patch`` square is set to ``fill``
    (default: the batch's minimum, the background), averaged over the patches covering each pixel."""
    target = _targets(model, x, target)
    x = np.asarray(getattr(x, "data", x), dtype=np.float32)
    shape = image_shape or x.shape[-2:]
    imgs = x.reshape((len(x), -1) + tuple(shape))  # (N, C, H, W) view
    fill = float(x.min()) if fill is None else fill
    H, W = shape
    p0 = _softmax(predict(model, x))[np.arange(len(x)), target]
    heat = np.zeros((len(x), H, W))
    count = np.zeros((H, W))
    for top in range(0, max(H - patch, 0) + 1, stride):
        for left in range(0, max(W - patch, 0) + 1, stride):
            occ = imgs.copy()
            occ[..., top:top + patch, left:left + patch] = fill
            p = _softmax(predict(model, occ.reshape(x.shape)))[np.arange(len(x)), target]
            heat[:, top:top + patch, left:left + patch] += (p0 - p)[:, None, None]
            count[top:top + patch, left:left + patch] += 1
    return heat / np.maximum(count, 1)


def conv_layers(model) -> list:
    """Names of the modules whose output is a 4-D feature map (one forward on a zero image is not
    needed: Conv2d-like layers are found by their 4-D weight)."""
    return [n for n, m in model.named_modules()
            if n and getattr(getattr(m, "weight", None), "ndim", 0) == 4]


def _upsample(maps, H, W):
    """Bilinear resize of (N, h, w) maps to (N, H, W), align_corners=False."""
    n, h, w = maps.shape
    ys = np.clip((np.arange(H) + 0.5) * h / H - 0.5, 0, h - 1)
    xs = np.clip((np.arange(W) + 0.5) * w / W - 0.5, 0, w - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    wy, wx = (ys - y0)[None, :, None], (xs - x0)[None, None, :]
    top = maps[:, y0][:, :, x0] * (1 - wx) + maps[:, y0][:, :, x1] * wx
    bot = maps[:, y1][:, :, x0] * (1 - wx) + maps[:, y1][:, :, x1] * wx
    return top * (1 - wy) + bot * wy


def feature_layers(model, x) -> list:
    """Names of the modules whose output on ``x`` is a spatial feature map (N, C, H, W) with H W > 1,
    in the order they finish (the last one is the deepest: Grad-CAM's default)."""
    was = model.training
    model.eval()
    try:
        with no_grad(), record_outputs(model) as outs:
            model(_as_input(np.asarray(getattr(x, "data", x))[:1]))
    finally:
        model.train(was)
    return [n for n, o in outs.items() if n and o.ndim == 4 and o.shape[2] * o.shape[3] > 1]


def grad_cam(model, x, target=None, layer: str | None = None, variant: str = "grad-cam") -> np.ndarray:
    """Grad-CAM heat maps (N, H, W) in [0, 1] from ``layer`` (default: the last module whose output
    is a spatial feature map, e.g. the ReLU after the last convolution or the last residual block).

    ``variant="hires"``: HiResCAM (Draelos & Carin, 2020), the gradient times the feature map
    element by element before summing over channels instead of Grad-CAM's spatially averaged
    gradient; faithful when a dense layer follows the feature maps (LeNet), where Grad-CAM's
    averaging mixes up positions."""
    if variant not in ("grad-cam", "hires"):
        raise ValueError(f"grad_cam: variant must be 'grad-cam' or 'hires', got {variant!r}")
    target = _targets(model, x, target)
    layers = feature_layers(model, x)
    if layer is None:
        if not layers:
            raise ValueError("grad_cam: the model has no layer with a spatial feature map (Grad-CAM needs conv layers)")
        layer = layers[-1]
    was = model.training
    model.eval()
    try:
        xt = _as_input(x, requires_grad=True)
        with record_outputs(model, names={layer}, retain_grad=True) as outs:
            out = model(xt)
        if layer not in outs:
            raise ValueError(f"grad_cam: layer {layer!r} did not run (layers with feature maps: {', '.join(layers)})")
        sel = np.zeros(out.shape, dtype=out.data.dtype)
        sel[np.arange(len(target)), target] = 1
        (out * Tensor(sel)).sum().backward()
        A = np.asarray(outs[layer].data, dtype=np.float64)
        G = np.asarray(outs[layer].grad, dtype=np.float64)
    finally:
        model.train(was)
    if A.ndim != 4:
        raise ValueError(f"grad_cam: layer {layer!r} outputs shape {A.shape}, not (N, C, H, W) feature maps")
    if variant == "hires":
        cam = np.maximum((G * A).sum(axis=1), 0)
    else:
        weights = G.mean(axis=(2, 3))
        cam = np.maximum((weights[:, :, None, None] * A).sum(axis=1), 0)
    H, W = np.asarray(getattr(x, "data", x)).shape[-2:]
    cam = _upsample(cam, H, W)
    top = cam.reshape(len(cam), -1).max(axis=1)
    return cam / np.maximum(top, 1e-12)[:, None, None]


def silhouette(images, threshold: float = 0.0) -> np.ndarray:
    """The object's extent in each (N, H, W) image: in every row, the pixels from the first to the last
    one above ``threshold`` (so the gap between trouser legs or a sleeve and the body counts as object,
    the empty surroundings do not)."""
    obj = np.asarray(images).reshape(len(images), *np.asarray(images).shape[-2:]) > threshold
    cols = np.arange(obj.shape[-1])
    any_ = obj.any(axis=-1, keepdims=True)
    first = np.where(any_, np.argmax(obj, axis=-1)[..., None], obj.shape[-1])
    last = np.where(any_, obj.shape[-1] - 1 - np.argmax(obj[..., ::-1], axis=-1)[..., None], -1)
    return (cols >= first) & (cols <= last)


def object_mass_fraction(maps, images, threshold: float = 0.0, region: str = "silhouette"):
    """(share of the attribution mass on the object, share of the image the object covers) per image.

    ``region="pixels"``: the object is the pixels above ``threshold`` in the raw [0, 1] image
    (Fashion-MNIST's background is exactly 0); ``"silhouette"``: its row-wise extent
    (:func:`silhouette`). A map that highlights the object has the first well above the second
    (a uniform map has them equal); :func:`object_contrast` turns the pair into one number."""
    n = len(images)
    maps = np.abs(np.asarray(maps, dtype=np.float64)).reshape(n, -1)
    if region == "silhouette":
        obj = silhouette(images, threshold).reshape(n, -1)
    elif region == "pixels":
        obj = np.asarray(images).reshape(n, -1) > threshold
    else:
        raise ValueError(f"object_mass_fraction: region must be 'silhouette' or 'pixels', got {region!r}")
    mass = (maps * obj).sum(axis=1) / np.maximum(maps.sum(axis=1), 1e-300)
    return mass, obj.mean(axis=1)


def object_contrast(maps, images, threshold: float = 0.0, region: str = "silhouette") -> np.ndarray:
    """Per image: the mean attribution per object pixel over the mean per background pixel (1 = no
    preference; higher = the map sits on the object)."""
    mass, area = object_mass_fraction(maps, images, threshold, region)
    c = (mass / np.maximum(area, 1e-12)) / np.maximum((1 - mass) / np.maximum(1 - area, 1e-12), 1e-12)
    return np.minimum(c, 1000.0)  # a map with (almost) nothing on the background: capped at 1000


# ----- what the layers see ------------------------------------------------------------------------------
def first_layer_filters(model, image_shape=(28, 28)) -> np.ndarray:
    """The first layer's filters as images: a conv's (K, kh, kw) kernels (channel-mean), or a dense
    first layer's rows reshaped to ``image_shape``."""
    for _, m in model.named_modules():
        w = getattr(m, "weight", None)
        if w is None or not hasattr(w, "data"):
            continue
        w = np.asarray(w.data)
        if w.ndim == 4:
            return w.mean(axis=1)
        if w.ndim == 2 and w.shape[1] == int(np.prod(image_shape)):
            return w.reshape((-1,) + tuple(image_shape))
    raise ValueError("first_layer_filters: no conv layer and no dense layer on the flattened image")


def feature_maps(model, x, layer: str | None = None) -> tuple[str, np.ndarray]:
    """(layer, its output for the first example of ``x``): (C, H, W) maps of a conv layer (default the first)."""
    layers = conv_layers(model)
    layer = layer or (layers[0] if layers else None)
    if layer is None:
        raise ValueError("feature_maps: the model has no convolutional layer")
    was = model.training
    model.eval()
    try:
        with no_grad(), record_outputs(model, names={layer}) as outs:
            model(_as_input(np.asarray(getattr(x, "data", x))[:1]))
    finally:
        model.train(was)
    return layer, np.asarray(outs[layer].data[0])


def activation_maximization(model, input_shape, layer: str | None = None, unit: int = 0, steps: int = 150,
                            lr: float = 0.05, l2: float = 1e-2, seed: int = 0, value_range=(-1.0, 2.0)) -> np.ndarray:
    """An input that maximizes the mean activation of ``unit`` (a channel of a conv output or a
    feature of a dense one) of ``layer`` (default: the model's output, so ``unit`` is a class):
    gradient ascent with normalized steps, an L2 penalty, clipped to ``value_range``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, (1,) + tuple(input_shape)).astype(np.float32)
    was = model.training
    model.eval()
    try:
        for _ in range(steps):
            xt = Tensor(x, requires_grad=True)
            if layer is None:
                out = model(xt)
            else:
                with record_outputs(model, names={layer}) as outs:
                    model(xt)
                out = outs[layer]
            a = out[:, unit]
            obj = a.mean() - (xt * xt).mean() * l2
            obj.backward()
            g = np.asarray(xt.grad)
            x = np.clip(x + lr * g / (np.abs(g).mean() + 1e-12), *value_range).astype(np.float32)
    finally:
        model.train(was)
    return x[0]


def penultimate_features(model, x, batch: int = 256) -> np.ndarray:
    """The input of the model's last Linear layer (the features the classifier separates)."""
    from ..nn import Linear

    last = [n for n, m in model.named_modules() if isinstance(m, Linear)]
    if not last:
        raise ValueError("penultimate_features: the model has no Linear layer")
    name = last[-1]
    feats = []
    was = model.training
    model.eval()
    try:
        for i in range(0, len(x), batch):
            with no_grad(), record_outputs(model, names={name}, inputs=True) as (outs, ins):
                model(_as_input(x[i:i + batch]))
            feats.append(np.asarray(ins[name][0].data).reshape(len(x[i:i + batch]), -1))
    finally:
        model.train(was)
    return np.concatenate(feats)


def projection(features, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2-D coordinates of ``features`` (N, D): PCA (always), or t-SNE (scikit-learn)."""
    f = np.asarray(features, dtype=np.float64)
    if method == "pca":
        f = f - f.mean(axis=0)
        _, _, vt = np.linalg.svd(f, full_matrices=False)
        return f @ vt[:2].T
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError as e:
            raise ImportError("projection(method='tsne') needs scikit-learn (pip install scikit-learn); "
                              "method='pca' needs nothing") from e
        return TSNE(2, init="pca", random_state=seed, perplexity=min(30, max(5, len(f) // 4))).fit_transform(f)
    raise ValueError(f"projection: method must be 'pca' or 'tsne', got {method!r}")


# ----- pictures ---------------------------------------------------------------------------------------------
def _plt():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("the pictures need matplotlib: pip install matplotlib") from None

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_attributions(images, maps, path, labels=None, preds=None, classes=None, title="", overlay=True):
    """Two rows per group of images: the image, then the map laid over it (hot colours = high)."""
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.8 * n, 4.0), squeeze=False)
    for i in range(n):
        img = np.asarray(images[i]).reshape(np.asarray(images[i]).shape[-2:])
        m = np.asarray(maps[i]).reshape(img.shape)
        axes[0, i].imshow(img, cmap="gray")
        if labels is not None and classes is not None:
            name = classes[labels[i]]
            pred = "" if preds is None else f"\npred {classes[preds[i]]}"
            axes[0, i].set_title(f"{name}{pred}", fontsize=7)
        if overlay:
            axes[1, i].imshow(img, cmap="gray")
            axes[1, i].imshow(m, cmap="jet", alpha=0.5)
        else:
            axes[1, i].imshow(m, cmap="hot")
        for a in axes[:, i]:
            a.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_grid(arrays, path, title="", cmap="gray", cols: int = 8, labels=None):
    plt = _plt()
    arrays = np.asarray(arrays)
    n = len(arrays)
    cols = min(cols, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows + 0.5), squeeze=False)
    for i, a in enumerate(axes.ravel()):
        a.axis("off")
        if i < n:
            a.imshow(arrays[i], cmap=cmap)
            if labels is not None:
                a.set_title(str(labels[i]), fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_projection(coords, labels, path, classes=None, title=""):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    labels = np.asarray(labels)
    for c in np.unique(labels):
        sel = labels == c
        ax.scatter(coords[sel, 0], coords[sel, 1], s=8, label=classes[c] if classes else str(c))
    ax.legend(fontsize=7, markerscale=2)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
