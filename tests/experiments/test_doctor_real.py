"""doctor on a real run: clean Fashion-MNIST for training, a noisy dev/test set -> data mismatch."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import optim
from deepgrad.cli import main
from deepgrad.data import make_splits
from deepgrad.experiments import RunStore, RunTracker
from deepgrad.train import Trainer


@pytest.mark.slow
def test_doctor_finds_the_data_mismatch_of_a_shifted_dev_set(tmp_path, capsys):
    from deepgrad.data.datasets import load_fashion_mnist
    from deepgrad.recipes._common import normalize_fashion
    from deepgrad.recipes.fashion_mlp import build_model

    try:
        X, y = load_fashion_mnist("train", flatten=True)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
    X, y = normalize_fashion(X[:6000]), y[:6000]
    s = make_splits(y, train_dev=0.1, dev=0.1, test=0.1, seed=0)
    rng = np.random.default_rng(0)

    def shifted(idx):  # the distribution we care about: noisy, low-contrast photos
        return (0.4 * X[idx] + rng.normal(0, 1.2, size=X[idx].shape)).astype(np.float32), y[idx]

    parts = {"train": (X[s.train], y[s.train]), "train_dev": (X[s.train_dev], y[s.train_dev]),
             "dev": shifted(s.dev), "test": shifted(s.test)}
    dg.manual_seed(0)
    model = build_model((128,), 0.0)
    tracker = RunTracker(tmp_path / "s.sqlite", recipe="shifted-fashion", splits=s, config={"hidden": [128]}, seed=0)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-3), batch_size=128, callbacks=[tracker],
                      progress=False, seed=0)
    trainer.fit(parts["train"], epochs=3)
    final = {f"{k}_accuracy": trainer.evaluate(v)["accuracy"] for k, v in parts.items()}
    tracker.complete(final=final)
    assert main(["doctor", tracker.run_id, "--store", str(tmp_path / "s.sqlite"), "--human-error", "0.05",
                 "--plot", str(tmp_path / "d.png"), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    print(json.dumps({k: round(v, 4) for k, v in rep["errors"].items() if v is not None}))
    e = rep["errors"]
    assert rep["primary"] == "data_mismatch", rep
    assert e["dev"] - e["train_dev"] > 0.1 and abs(e["test"] - e["dev"]) < 0.05
    assert RunStore(tmp_path / "s.sqlite").get(tracker.run_id)["splits"]["train_dev"]["examples"] == 600
