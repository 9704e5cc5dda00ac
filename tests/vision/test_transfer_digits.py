"""transfer-digits: the digits' 8x8 pipeline applied to the source images, the paired
scratch/transfer statistics, and the quick recipe end to end."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import recipes
from deepgrad.recipes import transfer_digits as T

from . import needs_fashion


def _images(n=12, seed=0):
    """Fashion-sized test images: random noise, smooth ramps and blobs, in [0, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 1, 28, 28)).astype(np.float32)
    ramp = np.linspace(0, 1, 28, dtype=np.float32)
    x[0, 0] = ramp[None, :]  # a horizontal ramp: every grey level appears at 8x8
    x[1, 0] = ramp[:, None]
    x[2] = 0.0
    x[3] = 1.0
    return x


# ----- the pipeline ---------------------------------------------------------------------------
def test_to_8x8_has_the_digits_17_grey_levels():
    x8 = T.to_8x8(_images())
    assert x8.shape == (12, 1, 8, 8) and x8.dtype == np.float32
    assert np.all(x8[2] == 0) and np.all(x8[3] == 1)  # black stays black, white stays white
    # images of every grey in [0, 1] (a smooth gradient plus noise) land on exactly the 17 levels 0..16
    rng = np.random.default_rng(1)
    grey = np.linspace(0, 1, 200, dtype=np.float32)[:, None, None, None] + np.zeros((1, 1, 28, 28), np.float32)
    grey = np.clip(grey + 0.01 * rng.standard_normal(grey.shape).astype(np.float32), 0, 1)
    levels = np.concatenate([T.to_8x8(grey), x8]) * 16
    assert np.array_equal(levels, np.round(levels))  # exactly k/16, k integer
    assert set(np.unique(levels).astype(int)) == set(range(17))  # all 17 levels of the digits, no others


def test_to_8x8_of_a_constant_image_is_that_constant_quantized():
    for c in (0.1, 0.37, 0.5, 0.93):
        x8 = T.to_8x8(np.full((1, 1, 28, 28), c, np.float32))
        assert np.allclose(x8, np.round(c * 16) / 16, atol=1e-7), c


def test_pipeline_is_the_digits_upsampling_of_the_8x8_images():
    x = _images()
    out = T.digits_pipeline(x)
    assert out.shape == x.shape and out.dtype == np.float32
    assert np.array_equal(out, T.upsample_8x8(T.to_8x8(x)))
    assert np.array_equal(T.digits_pipeline(x, chunk=5), out)  # chunking changes nothing
    assert out.min() >= 0 and out.max() <= 1
    # MNIST's layout, like the digits: the image lives in the 20x20 box, the 4-pixel margin is zero
    assert np.all(out[:, :, :4] == 0) and np.all(out[:, :, 24:] == 0)
    assert np.all(out[:, :, :, :4] == 0) and np.all(out[:, :, :, 24:] == 0)
    assert out[0, 0, 4:24, 4:24].max() > 0.9
    # a constant 8x8 image comes back constant inside the box (away from its edge, blended with zeros)
    assert np.allclose(out[3, 0, 6:22, 6:22], 1.0)
    assert T.digits_pipeline(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 1, 28, 28)


def test_upsample_8x8_is_the_digits_own_step():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    X, y = T.digits_28x28()
    d = load_digits()
    assert np.array_equal(X, T.upsample_8x8((d.images.astype(np.float32) / 16)[:, None]))
    # the digits' 8x8 images have the same 17 levels the pipeline quantizes to
    assert set(np.unique(d.images).astype(int)) == set(range(17))


def test_pipeline_shape_errors_name_the_function():
    with pytest.raises(ValueError, match="to_8x8.*28, 28"):
        T.to_8x8(np.zeros((2, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match="upsample_8x8.*8, 8"):
        T.upsample_8x8(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="unknown source"):
        T.pretrain(source="sharpened")


@needs_fashion
def test_piped_fashion_statistics_match_the_digits():
    """The pipeline makes the source look like the target: mean brightness and the share of
    the 28x28 frame used by the image move from Fashion-MNIST's to the digits'."""
    pytest.importorskip("sklearn")
    from deepgrad.data.datasets import load_fashion_mnist

    F, _ = load_fashion_mnist("test")
    F = F[:1000]
    P = T.digits_pipeline(F)
    D, _ = T.digits_28x28()
    assert abs(P.mean() - D.mean()) < 0.03 < abs(F.mean() - D.mean())  # ~0.145 and 0.151 vs raw 0.29
    assert np.all(P[:, :, :4] == 0) and np.all(P[:, :, 24:] == 0)  # raw Fashion-MNIST uses the whole frame
    assert (F[:, :, :4] > 0).any()
    assert len(np.unique(T.to_8x8(F))) == 17


# ----- paired statistics ----------------------------------------------------------------------
def test_summarize_is_paired_and_computed_from_the_accuracies():
    r = T.summarize(5, [0.80, 0.90, 0.85], [0.90, 0.88, 0.95], test_examples=797)
    assert r["scratch"] == pytest.approx(0.85) and r["transfer"] == pytest.approx(0.91)
    assert r["scratch_std"] == pytest.approx(np.std([0.80, 0.90, 0.85], ddof=1))
    assert r["gain"] == pytest.approx(0.06) and r["gain_std"] == pytest.approx(np.std([0.1, -0.02, 0.1], ddof=1))
    assert r["wins"] == 2 and r["seeds"] == 3  # the second seed lost
    assert T.summarize(5, [0.8], [0.9], 10)["scratch_std"] == 0.0
    assert T.beats([r]) is True
    assert T.beats([r, T.summarize(10, [0.9, 0.9], [0.95, 0.85], 10)]) is False  # mean gain 0: not a win
    assert T.beats([T.summarize(10, [0.9, 0.9, 0.9], [0.99, 0.89, 0.89], 10)]) is False  # mean up, 1 of 3 seeds
    assert T.beats([]) is False
    assert "2/3" in T.table([r])


def test_compare_several_bodies_share_the_scratch_runs():
    pytest.importorskip("sklearn")
    from deepgrad.vision import LeNet5

    states = {}
    for i, name in enumerate(("a", "b")):
        dg.manual_seed(i)
        states[name] = LeNet5().state_dict()
    cfg = dict(T.DEFAULTS, labels_per_class=[2], seeds=[0, 1], head_steps=1, finetune_steps=1, shift=0)
    scratch = {}
    res = T.compare(states, cfg, log=None, scratch=scratch)
    assert set(res["rows"]) == {"a", "b"} and set(scratch) == {(2, 0), (2, 1)}
    ra, rb = res["rows"]["a"][0], res["rows"]["b"][0]
    assert ra["scratch_seeds"] == rb["scratch_seeds"] == [scratch[(2, 0)], scratch[(2, 1)]]
    assert ra["seeds"] == 2 and 0 <= ra["wins"] <= 2 and ra["test_examples"] == 797
    assert ra["wins"] == sum(t > s for s, t in zip(ra["scratch_seeds"], ra["transfer_seeds"]))
    # scratch accuracies already measured are reused, not retrained
    scratch[(2, 0)] = -1.0
    one = T.compare(states["a"], dict(cfg, seeds=[0]), log=None, scratch=scratch)
    assert one["rows"][0]["scratch_seeds"] == [-1.0]
    assert one["rows"][0]["transfer_seeds"] == [ra["transfer_seeds"][0]]  # same seed, same split: same run


def test_cli_has_source_flag():
    from deepgrad.cli import _parser

    assert _parser().parse_args(["run", "transfer-digits"]).source is None
    assert _parser().parse_args(["run", "transfer-digits", "--source", "raw"]).source == "raw"
    with pytest.raises(SystemExit):
        _parser().parse_args(["run", "transfer-digits", "--source", "sharp"])


# ----- the recipe, quick --------------------------------------------------------------------
def _args(tmp_path, **kw):
    base = dict(recipe="transfer-digits", quick=True, seed=0, out=str(tmp_path), epochs=None, lr=None,
                batch_size=None, checkpoint_dir=None)
    base.update(kw)
    return SimpleNamespace(**base)


@pytest.mark.slow
@needs_fashion
def test_transfer_digits_quick_writes_paired_metrics(tmp_path):
    pytest.importorskip("sklearn")
    metrics = recipes.get("transfer-digits").run(_args(tmp_path))
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["source"] == "digits-pipeline" == saved["pretrain"]["source"] == saved["config"]["source"]
    assert saved["config"]["pretrain_epochs"] == 1 and saved["ablation"] == {}  # --quick: no ablation
    assert saved["pretrain"]["fashion_test_accuracy"] > 0.3  # chance 0.1
    rows = saved["rows"]
    assert [r["labels_per_class"] for r in rows] == T.QUICK["labels_per_class"]
    for r in rows:
        for k in ("scratch", "scratch_std", "transfer", "transfer_std", "gain", "gain_std", "wins", "seeds"):
            assert k in r, k
        assert 0.3 < r["scratch"] <= 1 and 0.3 < r["transfer"] <= 1
        assert r["gain"] == pytest.approx(r["transfer"] - r["scratch"])
    assert saved["transfer_beats_scratch"] == T.beats(rows) == metrics["transfer_beats_scratch"]
    assert saved["pairs"] == len(rows) and saved["wins"] == sum(r["wins"] for r in rows)
    assert (tmp_path / "pretrained_lenet5.safetensors").exists()


@pytest.mark.slow
@needs_fashion
def test_transfer_digits_quick_raw_source(tmp_path):
    pytest.importorskip("sklearn")
    saved = recipes.get("transfer-digits").run(_args(tmp_path, source="raw"))
    assert saved["source"] == "raw" == saved["pretrain"]["source"]
    with pytest.raises(ValueError, match="unknown --source"):
        recipes.get("transfer-digits").run(_args(tmp_path, source="blurred"))
