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
# # Diagnostics: explaining a Fashion-MNIST CNN
#
# Which pixels made LeNet-5 call this image a sneaker? `deepgrad.check.explain` answers in
# several ways, each with a picture (top row: the image; bottom row: the map laid over it):
#
# * **saliency**: |d score / d pixel|, the pixels whose change would move the score most;
# * **SmoothGrad**: the same gradient averaged over noisy copies of the image;
# * **integrated gradients**: (pixel - baseline) times the gradient averaged along the path
#   from a blank image; the attributions add up to score(image) - score(blank) (checked);
# * **occlusion**: how much the class probability drops when a 6x6 patch is blanked;
# * **Grad-CAM**: the last conv stage's feature maps weighted by their average gradient;
#   **HiResCAM**: the gradient times the feature map, position by position.
#
# Then what the network has learned: the first layer's filters, one image's feature maps,
# inputs that maximize each class score, and a 2-D projection (PCA, t-SNE with
# scikit-learn) of the penultimate layer's features coloured by class.
#
# How do we know a map "shows the object"? A measurable proxy: per image, the mean
# attribution on the object's silhouette (the pixels between the first and last non-zero
# pixel of each row) over the mean on the background; 1 means no preference.
#
# Run: `python examples/explain_fashion_cnn.py [--quick] [--out DIR]`; or on a run
# directory: `deepgrad run fashion-lenet` then `deepgrad explain RUN --method all`.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad import optim
from deepgrad.check import explain as E
from deepgrad.data.datasets import load_fashion_mnist
from deepgrad.data.datasets.fashion_mnist import CLASSES
from deepgrad.recipes._common import normalize_fashion
from deepgrad.recipes.fashion_cnn import make_model
from deepgrad.train import Trainer

args = _common.parse_args("explain_fashion_cnn", "Saliency, Grad-CAM and friends on a Fashion-MNIST LeNet-5.")
results = _common.Results(args)
n_train, epochs, n_eval = (6000, 1, 16) if args.quick else (60000, 4, 200)

# %% [markdown]
# ## The model: LeNet-5 (fused conv-ReLU-pool stages), trained with Adam

# %%
X, y = load_fashion_mnist("train")
Xt, yt = load_fashion_mnist("test")
dg.manual_seed(args.seed)
model = make_model({"name": "lenet5"})
trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-3), "cross_entropy", seed=args.seed, batch_size=64,
                  progress=False)
trainer.fit((normalize_fashion(X[:n_train]), y[:n_train]), epochs=epochs)
acc = trainer.evaluate((normalize_fashion(Xt[:2000]), yt[:2000]))["accuracy"]
print(f"test accuracy (2,000 images): {acc:.3f}")
results.add("LeNet-5 test accuracy (2,000 test images)", None, acc, pct=True)
model.eval()
imgs, x, labels = Xt[:n_eval, 0], normalize_fashion(Xt[:n_eval]), yt[:n_eval]
preds = E.predict(model, x).argmax(axis=1)

# %% [markdown]
# ## Attribution maps, for the predicted class

# %%
maps = {
    "saliency": E.saliency(model, x, preds),
    "smoothgrad": E.smoothgrad(model, x, preds, samples=10 if args.quick else 25),
    "integrated-gradients": E.integrated_gradients(model, x, preds, steps=64 if args.quick else 256),
    "occlusion": E.occlusion(model, x, preds, patch=6, stride=2),
    "grad-cam": E.grad_cam(model, x, preds),
    "hirescam (first stage)": E.grad_cam(model, x, preds, layer="features.0", variant="hires"),
}
plt = _common.pyplot()
for name, m in maps.items():
    m = np.abs(m).reshape(len(x), 28, 28)
    c = E.object_contrast(m, imgs)
    mass, area = E.object_mass_fraction(m, imgs)
    print(f"{name:24s} object/background contrast: median {np.median(c):7.2f}, above 1 for {np.mean(c > 1):.0%} "
          f"of the images; mass on the object {mass.mean():.0%} (it covers {area.mean():.0%})")
    results.add(f"{name}: object/background contrast (median)", None, float(np.median(c)))
    results[f"contrast_{name}"] = c.tolist()
    if plt is not None:
        E.plot_attributions(imgs[:10], m[:10], str(args.out / f"{name.split()[0]}.png"), labels[:10], preds[:10],
                            CLASSES, f"{name} (LeNet-5, predicted class)")
err = E.completeness_error(model, x, maps["integrated-gradients"], preds)
print(f"integrated gradients: completeness error max {err.max():.2%}, median {np.median(err):.2%}")
results.add("integrated gradients: completeness error (max)", "< 1%", float(err.max()))

# %% [markdown]
# What the numbers say. Saliency and occlusion sit on the object. Integrated gradients puts
# nothing on the background by construction (a background pixel equals the blank
# baseline). Plain **Grad-CAM does not** highlight the object on this network: LeNet's last
# stage is a 5x5 map followed by a dense layer with a weight per position, and Grad-CAM
# averages the gradient over positions, so a channel that matters at one place is painted
# wherever it fires, including on the (standardized, non-zero) background; some maps are
# empty after the ReLU. HiResCAM keeps the gradient position by position and, on the
# 14x14 first stage, highlights the object. On networks that end with global average
# pooling (the ResNets) Grad-CAM is exact (see `tests/check/test_explain.py`): next section.

# %% [markdown]
# ## Grad-CAM on a network that ends with global average pooling
#
# A small ResNet (`deepgrad.recipes.fashion_cnn.fashion_resnet`: a conv-ReLU-pool stem, one
# residual block at 14x14 and one at 7x7, global average pooling, a dense layer), trained
# the same way. Here the class score is a weighted sum of the channels' spatial means, and
# Grad-CAM's averaged gradient is exact.

# %%
from deepgrad.recipes.fashion_cnn import fashion_resnet

dg.manual_seed(args.seed)
resnet = fashion_resnet(16, (1, 1))
Trainer(resnet, optim.Adam(resnet.parameters(), lr=2e-3), "cross_entropy", seed=args.seed, batch_size=64,
        progress=False).fit((normalize_fashion(X[:n_train]), y[:n_train]), epochs=epochs)
resnet.eval()
r_preds = E.predict(resnet, x).argmax(axis=1)
cam = E.grad_cam(resnet, x, r_preds)
c = E.object_contrast(cam, imgs)
print(f"ResNet Grad-CAM: object/background contrast median {np.median(c):.2f}, above 1 for {np.mean(c > 1):.0%}")
results.add("ResNet (global average pooling) grad-cam: object/background contrast (median)", None, float(np.median(c)))
if plt is not None:
    E.plot_attributions(imgs[:10], cam[:10], str(args.out / "grad-cam-resnet.png"), labels[:10], r_preds[:10], CLASSES,
                        "Grad-CAM, small ResNet (last residual block)")

# %% [markdown]
# ## What the layers have learned

# %%
if plt is not None:
    E.plot_grid(E.first_layer_filters(model), str(args.out / "filters.png"), "first-layer filters (5x5)", cmap="bwr")
    layer, fm = E.feature_maps(model, x[:1], "features.0")
    E.plot_grid(fm, str(args.out / "feature_maps.png"), f"feature maps of {layer} ({CLASSES[labels[0]]})", cmap="viridis")
steps = 40 if args.quick else 200
maxed = [E.activation_maximization(model, (1, 28, 28), unit=c, steps=steps) for c in range(10)]
scores = E.predict(model, np.stack(maxed))
gain = float(np.mean([scores[c, c] - np.delete(scores[c], c).max() for c in range(10)]))
print(f"activation maximization: each image's own class leads the other classes by {gain:.1f} logits on average")
results.add("activation maximization: own-class logit margin (mean)", None, gain)
feats = E.penultimate_features(model, normalize_fashion(Xt[:1000]))
xy = E.projection(feats, "pca")
if plt is not None:
    E.plot_grid([m[0] for m in maxed], str(args.out / "maximize.png"), "inputs that maximize each class score",
                labels=list(CLASSES), cols=5)
    E.plot_projection(xy, yt[:1000], str(args.out / "projection_pca.png"), list(CLASSES), "penultimate features, PCA")
    try:
        n_tsne = 200 if args.quick else 1000
        E.plot_projection(E.projection(feats[:n_tsne], "tsne"), yt[:n_tsne], str(args.out / "projection_tsne.png"),
                          list(CLASSES), "penultimate features, t-SNE")
    except ImportError:
        print("scikit-learn is not installed: no t-SNE picture")
# a measurable check of the projection: nearest class centre in PCA space
centres = np.stack([xy[yt[:1000] == c].mean(axis=0) for c in range(10)])
nearest = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
results.add("PCA of penultimate features: nearest-class-centre accuracy", None, float(np.mean(nearest == yt[:1000])),
            pct=True)

# %%
results.finish()
