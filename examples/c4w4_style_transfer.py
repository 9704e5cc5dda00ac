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
# # Course 4, week 4: neural style transfer
#
# Generate an image G with the **content** of C and the **style** of S by optimizing G's
# pixels (not the network's weights) to lower `J(G) = alpha J_content(C, G) + beta
# J_style(S, G)`:
#
# * `J_content`: how different the activations of one layer are for C and G;
# * `J_style`: how different the **Gram matrices** are (which channels fire together,
#   layout thrown away) over several layers.
#
# The course uses VGG-19 trained on ImageNet, which cannot be had offline. We train a
# small VGG-style network here, on the two photographs that ship inside scikit-learn (a
# Chinese temple and a flower) cut into many 32x32 patches, with a self-supervised task:
# say by how much a patch was rotated (0/90/180/270 degrees). Telling "up" from "down"
# needs edge, orientation and colour detectors, the kind of features whose co-activation
# statistics describe a texture. The content image is the temple photo; the style a
# generated swirling blue-and-yellow "painting" (`deepgrad.recipes.style_transfer.waves`).

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
from deepgrad.recipes.style_transfer import resize, sklearn_photos, waves
from deepgrad.vision import style as ST

args = _common.parse_args("c4w4_style_transfer", "Neural style transfer with a small VGG-style network.",
                          steps=(int, 200, "pixel optimization steps (default 200)"),
                          feature_steps=(int, 400, "pretraining steps of the feature network (default 400)"))
dg.manual_seed(args.seed)
results = _common.Results(args)
size, steps, feature_steps = (40, 10, 8) if args.quick else (96, args.steps, args.feature_steps)

# %% [markdown]
# ## 1. The costs, as the course defines them
#
# `J_content = 1 / (4 n_H n_W n_C) sum (a_C - a_G)^2`;
# `J_style_layer = 1 / (4 n_C^2 (n_H n_W)^2) sum (G_S - G_G)^2` with `G = A A^T`, A the
# activations unrolled to `(n_C, n_H n_W)`; `J = alpha J_content + beta J_style`. The
# course checks its `total_cost` on `J_content, J_style = randn(), randn()` drawn after
# `np.random.seed(3)`, with alpha = 10 and beta = 40.

# %%
np.random.seed(3)
J_content, J_style = np.random.randn(), np.random.randn()
J = 10 * J_content + 40 * J_style
print(f"total_cost(J_content, J_style) = {J:.4f}")
results.add("total_cost on seed-3 random costs, alpha 10, beta 40", 35.35, round(float(J), 2))
a = dg.tensor(np.random.default_rng(0).standard_normal((1, 3, 4, 4)))
G = ST.gram_matrix(a)
print("Gram matrix of a (1, 3, 4, 4) activation:", G.shape, "symmetric:", bool(np.allclose(G.data, G.data.T)))
LAYERS = {"pixels": 0.25, "conv1_1": 0.25, "conv2_1": 0.25, "conv3_1": 0.25}
results.add("style layers x weights", "5 x 0.2", "4 x 0.25", note="the pixels, conv1_1, conv2_1, conv3_1")

# %% [markdown]
# ## 2. A VGG-style feature network, trained on real photographs

# %%
photos = sklearn_photos()
net = ST.FeatureNet((16, 32, 64), (2, 2, 2))
hist = ST.train_feature_net(net, list(photos.values()), feature_steps, 32, 32, 2e-3, args.seed,
                            log_every=100 if not args.quick else 4)
rot_acc = float(np.mean([acc for _, acc in hist[-100:]]))
results.add("feature network: rotation accuracy (last 100 batches)", None, rot_acc, pct=True, note="chance 25%")

# %% [markdown]
# ## 3. Optimizing the pixels
#
# G starts as the content image plus a little uniform noise; Adam (learning rate 0.02)
# updates its pixels, kept in [0, 1]; a total-variation term keeps it smooth.
#
# Two departures from the course, both measured. With its beta = 40 the content term
# dominates (our activations on [0, 1] images are far smaller than VGG's on 0-255
# images): the image only lost its starting noise. We use beta = 1000. And the small
# network's first layer detects edges more than colour blobs, so the image itself is a
# style "layer" too: its Gram matrix holds the colour statistics.

# %%
content = resize(photos["china"], size).transpose(2, 0, 1).copy()
style = resize(waves(), size).transpose(2, 0, 1).copy()
img, h = ST.style_transfer(net, content, style, steps=steps, lr=0.02, content_layer="conv3_1",
                           style_layers=LAYERS, alpha=10, beta=1000, tv_weight=20.0, noise=0.05,
                           log_every=50 if not args.quick else 5)
fall = h[0]["J_style"] / h[-1]["J_style"]
print(f"style cost {h[0]['J_style']:.4g} -> {h[-1]['J_style']:.4g} ({fall:.1f}x lower); "
      f"content cost {h[0]['J_content']:.4g} -> {h[-1]['J_content']:.4g}")
results.add("alpha, beta", "10, 40", "10, 1000")
results.add("style cost: start / end ratio", None, float(fall), note="`deepgrad run style-transfer`: 128 px")
results.add("content cost at the end", None, float(h[-1]["J_content"]))
with dg.no_grad():
    f_s, f_c = net.features(dg.tensor(style[None]), list(LAYERS)), net.features(dg.tensor(content[None]), list(LAYERS))
    own = float(ST.style_cost({k: ST.gram_matrix(v).data for k, v in f_s.items()}, f_c, LAYERS).data)
results.add("style cost: content image's own / generated image's", None, own / h[-1]["J_style"],
            note="how much closer to the style the result is than the photo")
results["history"] = h

plt = _common.pyplot()
if plt is not None:
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, im, t in zip(axes, (content, style, img), ("content (scikit-learn's china.jpg)", "style (generated)",
                                                      "generated image")):
        ax.imshow(np.clip(im.transpose(1, 2, 0), 0, 1))
        ax.set_title(t, fontsize=9)
        ax.axis("off")
    s = [r["step"] for r in h]
    axes[3].semilogy(s, [r["J_style"] for r in h], label="J_style")
    axes[3].semilogy(s, [max(r["J_content"], 1e-12) for r in h], label="J_content")
    axes[3].set_xlabel("step")
    axes[3].legend()
    axes[3].set_title(f"style cost {fall:.1f}x lower", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.out / "style_transfer.png", dpi=100)
    plt.close(fig)
    print(f"picture: {args.out / 'style_transfer.png'}")

# %%
results.finish()
