"""Style transfer costs: the course's formulas against NumPy, gradients with respect to the
pixels through the feature network (float64 finite differences), and a short transfer."""
from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.check import gradcheck
from deepgrad.vision import style as ST


def _a(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def test_costs_match_numpy_formulas():
    aC, aG = _a((1, 3, 4, 5), 0), _a((1, 3, 4, 5), 1)
    c, h, w = 3, 4, 5
    assert float(ST.content_cost(aC, dg.tensor(aG)).data) == pytest.approx(((aC - aG) ** 2).sum() / (4 * c * h * w))
    A = aG.reshape(c, h * w)
    np.testing.assert_allclose(ST.gram_matrix(dg.tensor(aG)).data, A @ A.T)
    GS = aC.reshape(c, -1) @ aC.reshape(c, -1).T
    want = ((GS - A @ A.T) ** 2).sum() / (4 * c * c * (h * w) ** 2)
    assert float(ST.style_layer_cost(dg.tensor(aC), dg.tensor(aG)).data) == pytest.approx(want)
    assert float(ST.style_layer_cost(GS, dg.tensor(aG)).data) == pytest.approx(want)  # precomputed Gram
    img = _a((1, 3, 4, 5), 2)
    tv = np.mean((img[:, :, 1:] - img[:, :, :-1]) ** 2) + np.mean((img[:, :, :, 1:] - img[:, :, :, :-1]) ** 2)
    assert float(ST.total_variation(dg.tensor(img)).data) == pytest.approx(tv)


def test_gradients_with_respect_to_pixels():
    net = ST.FeatureNet((2, 3), (1, 1)).double()
    content, style = np.random.default_rng(3).random((2, 1, 3, 6, 6))
    with dg.no_grad():
        aC = net.features(dg.tensor(content), ["conv2_1"])["conv2_1"].data
        grams = {k: ST.gram_matrix(v).data
                 for k, v in net.features(dg.tensor(style), ["pixels", "conv1_1", "conv2_1"]).items()}
    weights = {"pixels": 0.2, "conv1_1": 0.4, "conv2_1": 0.4}

    def J(g):
        f = net.features(g, ["pixels", "conv1_1", "conv2_1"])
        return 10 * ST.content_cost(aC, f["conv2_1"]) + 40 * ST.style_cost(grams, f, weights) + ST.total_variation(g)

    g = dg.tensor(np.random.default_rng(4).random((1, 3, 6, 6)), requires_grad=True)
    rep = gradcheck(J, g)
    assert rep.passed, rep
    with pytest.raises(ValueError, match="unknown layers"):
        net.features(g, ["conv9_9"])
    np.testing.assert_allclose(net.features(g, ["pixels"])["pixels"].data, g.data - ST.PIXEL_MEAN)


def test_transfer_lowers_the_style_cost_and_keeps_pixels_in_range():
    dg.manual_seed(0)
    net = ST.FeatureNet((4, 8), (1, 1))
    rng = np.random.default_rng(0)
    content = rng.random((3, 16, 16)).astype(np.float32)
    yy, xx = np.mgrid[0:16, 0:16]
    style = np.stack([0.5 + 0.5 * np.sin(xx), 0.5 + 0.5 * np.cos(yy), np.full((16, 16), 0.2)]).astype(np.float32)
    img, h = ST.style_transfer(net, content, style, steps=40, lr=0.05, content_layer="conv2_1",
                               style_layers={"conv1_1": 0.5, "conv2_1": 0.5}, alpha=1.0, beta=1e4, log=None)
    assert img.shape == (3, 16, 16) and img.min() >= 0 and img.max() <= 1
    assert h[-1]["J_style"] < 0.5 * h[0]["J_style"] and h[-1]["J"] < h[0]["J"]
    assert all(p.requires_grad for p in net.parameters())  # the network is handed back trainable


def test_patches_and_rotations():
    rng = np.random.default_rng(0)
    photo = rng.random((40, 50, 3)).astype(np.float32)
    p = ST.photo_patches([photo], 5, 8, rng)  # the 1/8 scale (5x6) is too small for 8x8 patches: skipped
    with pytest.raises(ValueError, match="at least 64 pixels"):
        ST.photo_patches([photo], 1, 64, rng)
    assert p.shape == (5, 3, 8, 8) and p.dtype == np.float32
    x, k = ST.rotation_batch(p, rng)
    for i in range(5):
        np.testing.assert_array_equal(x[i], np.rot90(p[i], k[i], axes=(1, 2)))
    np.testing.assert_allclose(ST.downsample(photo, 0.5)[0, 0], photo[:2, :2].mean(axis=(0, 1)), rtol=1e-6)


def test_cli_names_a_missing_image(tmp_path, capsys):
    from deepgrad.cli import main

    rc = main(["run", "style-transfer", "--quick", "--content", str(tmp_path / "nope.png"), "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 1 and "nope.png" in err and "not found" in err and "Traceback" not in err


def test_bundled_images():
    from deepgrad.recipes.style_transfer import load_image, resize, waves

    w = waves(32, 48)
    assert w.shape == (32, 48, 3) and w.min() >= 0 and w.max() <= 1
    np.testing.assert_array_equal(w, waves(32, 48))  # seeded
    r = resize(load_image("waves"), 40)
    assert max(r.shape[:2]) == 40 and r.shape[0] % 4 == 0 and r.shape[1] % 4 == 0
