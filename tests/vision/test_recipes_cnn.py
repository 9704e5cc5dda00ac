"""The fashion-lenet / fashion-resnet recipes run end to end (quick mode) and learn."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from deepgrad import recipes


def _have_fashion() -> bool:
    try:
        from deepgrad.data.datasets import fashion_mnist

        fashion_mnist.find_files(download=False)
        return True
    except Exception:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _have_fashion(), reason="Fashion-MNIST is not installed")
def test_fashion_lenet_quick_learns(tmp_path):
    assert "fashion-lenet" in recipes.names() and "fashion-resnet" in recipes.names()
    assert "LeNet" in recipes.describe("fashion-lenet")
    args = SimpleNamespace(recipe="fashion-lenet", quick=True, seed=0, out=str(tmp_path), epochs=None, lr=None,
                           batch_size=None, checkpoint_dir=None)
    metrics = recipes.get("fashion-lenet").run(args)
    assert metrics["test_accuracy"] > 0.5  # 10 classes: chance is 0.1; ~0.65 after one quick epoch
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["recipe"] == "fashion-lenet" and (tmp_path / "model.safetensors").exists()
