"""The fashion-lenet / fashion-resnet / transfer-digits recipes: pieces and quick end-to-end runs."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import recipes

from . import needs_fashion


def _args(recipe, tmp_path, **kw):
    base = dict(recipe=recipe, quick=True, seed=0, out=str(tmp_path), epochs=None, lr=None, batch_size=None,
                checkpoint_dir=None)
    base.update(kw)
    return SimpleNamespace(**base)


# ----- fashion_cnn pieces -------------------------------------------------------------------
def test_recipes_registered_and_described():
    for name in ("fashion-lenet", "fashion-resnet", "transfer-digits"):
        assert name in recipes.names()
    assert "LeNet" in recipes.describe("fashion-lenet")
    assert "ResNet" in recipes.describe("fashion-resnet")
    assert "scratch" in recipes.describe("transfer-digits")


def test_lenet_default_is_lenet5():
    from deepgrad.recipes.fashion_cnn import DEFAULTS, make_model
    from deepgrad.vision import LeNet5, count_parameters

    model = make_model(DEFAULTS["fashion-lenet"]["model"])
    assert isinstance(model, LeNet5) and count_parameters(model) == 61706


def test_fashion_resnet_shapes_and_residual_blocks():
    from deepgrad.recipes.fashion_cnn import fashion_resnet
    from deepgrad.vision import ResidualBlock

    dg.manual_seed(0)
    model = fashion_resnet(width=8, blocks=(1, 2))
    blocks = [m for _, m in model.named_modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 3
    assert [b.is_identity for b in blocks] == [True, False, True]  # stride-2 entry block projects
    out = model(dg.tensor(np.random.default_rng(0).standard_normal((3, 1, 28, 28)).astype(np.float32)))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad).all() for p in model.parameters())


def test_make_augment():
    from deepgrad.recipes.fashion_cnn import make_augment

    assert make_augment([], 2, 0) is None
    aug = make_augment(["shift", "flip"], 2, 0)
    x = np.random.default_rng(0).random((16, 1, 28, 28)).astype(np.float32)
    y = aug(x)
    assert y.shape == x.shape and not np.array_equal(x, y)
    with pytest.raises(ValueError, match="unknown augmentation"):
        make_augment(["rotate90"], 2, 0)


# ----- transfer_digits pieces ---------------------------------------------------------------
def test_digits_28x28_layout():
    pytest.importorskip("sklearn")
    from deepgrad.recipes.transfer_digits import digits_28x28

    X, y = digits_28x28()
    assert X.shape == (1797, 1, 28, 28) and X.dtype == np.float32 and y.shape == (1797,)
    assert X.min() >= 0 and X.max() <= 1 and X.max() > 0.9
    assert np.all(X[:, :, :4] == 0) and np.all(X[:, :, 24:] == 0)  # the 4-pixel margin of MNIST's layout
    assert np.all(X[:, :, :, :4] == 0) and np.all(X[:, :, :, 24:] == 0)
    # bright ink on a dark background, like Fashion-MNIST: the border of the 20x20 box is mostly dark
    assert X[:, 0, 4:24, 4:24].mean() > X[:, 0, 4, 4:24].mean()
    assert sorted(np.unique(y)) == list(range(10))


def test_split_few_labels():
    from deepgrad.recipes.transfer_digits import split_few_labels

    y = np.repeat(np.arange(10), 150)
    tr, te = split_few_labels(y, 5, 100, seed=3)
    assert len(tr) == 50 and np.all(np.bincount(y[tr]) == 5)
    assert len(te) == 500 and not set(tr) & set(te)
    tr2, te2 = split_few_labels(y, 50, 100, seed=3)
    assert np.array_equal(np.sort(te), np.sort(te2)) and set(tr) <= set(tr2)  # one test set per seed
    with pytest.raises(ValueError):
        split_few_labels(y, 101, 100, seed=0)


def test_fine_tune_keeps_body_near_pretrained_and_trains_head():
    """Freeze then unfreeze with a low body LR: the body moves a little, the head a lot."""
    from deepgrad.recipes.transfer_digits import DEFAULTS, fine_tune
    from deepgrad.vision import LeNet5

    dg.manual_seed(0)
    pre = LeNet5()
    state = {k: v.copy() for k, v in pre.state_dict().items()}
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    cfg = dict(DEFAULTS, head_steps=5, finetune_steps=5, shift=0)
    model = fine_tune(state, X, y, cfg, seed=0, num_classes=4)
    assert model(dg.tensor(X[:2])).shape == (2, 4)
    assert all(p.requires_grad for p in model.parameters())  # unfrozen at the end
    after = model.state_dict()
    body_key = "features.0.weight"
    assert not np.array_equal(after[body_key], state[body_key])  # fine-tuned
    body_change = np.abs(after[body_key] - state[body_key]).max()
    assert body_change < 10 * 5 * cfg["body_lr_scale"] * cfg["lr"]  # Adam moves a weight by about lr per step
    assert np.array_equal(pre.state_dict()[body_key], state[body_key])  # the pretrained model is untouched


# ----- end to end (quick) --------------------------------------------------------------------
@pytest.mark.slow
@needs_fashion
def test_fashion_lenet_quick_learns(tmp_path):
    metrics = recipes.get("fashion-lenet").run(_args("fashion-lenet", tmp_path))
    assert metrics["test_accuracy"] > 0.5  # 10 classes: chance is 0.1; ~0.65 after one quick epoch
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["recipe"] == "fashion-lenet" and (tmp_path / "model.safetensors").exists()
    assert saved["config"]["augment"] == ["flip"]


@pytest.mark.slow
@needs_fashion
def test_fashion_resnet_quick_learns(tmp_path, monkeypatch):
    from deepgrad.recipes import fashion_cnn

    # the recipe's network at half width (a quarter of the cost): 4,000 images, one epoch
    spec = {**fashion_cnn.DEFAULTS["fashion-resnet"]["model"], "width": 16}
    monkeypatch.setitem(fashion_cnn.DEFAULTS["fashion-resnet"], "model", spec)
    metrics = recipes.get("fashion-resnet").run(_args("fashion-resnet", tmp_path))
    assert metrics["test_accuracy"] > 0.4  # chance 0.1
    assert metrics["config"]["model"] == {"name": "fashion-resnet", "width": 16, "blocks": [2, 2]}
    assert metrics["config"]["augment"] == ["shift", "flip"]
    assert 0.4 < metrics["test_accuracy_flip_tta"] <= 1.0  # flip test-time augmentation reported beside


def test_flip_tta_averages_the_softmax_of_image_and_mirror():
    from deepgrad import nn
    from deepgrad.recipes.fashion_cnn import flip_tta_accuracy
    from deepgrad.train import Trainer

    rng = np.random.default_rng(0)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    X = rng.standard_normal((50, 1, 3, 4)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    trainer = Trainer(model, None, "cross_entropy", progress=False)

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    by_hand = softmax(trainer.predict(X)) + softmax(trainer.predict(np.ascontiguousarray(X[..., ::-1])))
    assert flip_tta_accuracy(trainer, X, y) == pytest.approx(np.mean(by_hand.argmax(1) == y))
    # on mirror-symmetric images the mirrored view adds nothing: same as plain accuracy
    Xs = np.concatenate([X[..., :2], X[..., :2][..., ::-1]], axis=-1)
    plain = np.mean(trainer.predict(Xs).argmax(1) == y)
    assert flip_tta_accuracy(trainer, Xs, y) == pytest.approx(plain)
