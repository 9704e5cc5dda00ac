"""TensorBoard and MLflow bridges: what they write is read back with the tools' own readers
(TensorBoard's EventAccumulator, MLflow's MlflowClient) and compared with the Trainer's History."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import cli, nn, optim
from deepgrad.train import Trainer
from deepgrad.train.run import run_config


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] - X[:, 2] > 0).astype(np.int64)
    return X, y


def _fit(callbacks, epochs=3, config=None):
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.2), "cross_entropy", seed=0, batch_size=32,
                      progress=False, callbacks=callbacks)
    X, y = _data()
    cfg = run_config("toy", config or {"lr": 0.2, "hidden": 8}, 0)
    history = trainer.fit((X[:64], y[:64]), dev=(X[64:], y[64:]), epochs=epochs, run_config=cfg)
    return trainer, history


def _accumulator(path):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                 reason="TensorBoard (the reader) is not installed: pip install 'deepgrad[tensorboard]'")
    acc = ea_mod.EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


# ----- TensorBoard ---------------------------------------------------------------------------------
def test_tensorboard_scalars_equal_the_history_and_histograms_count_every_parameter(tmp_path):
    pytest.importorskip("tensorboardX", reason="tensorboardX is not installed: pip install 'deepgrad[tensorboard]'")
    from deepgrad.experiments.bridges import TensorBoardLogger

    logger = TensorBoardLogger(tmp_path / "tb")
    trainer, history = _fit([logger])
    train, dev = _accumulator(tmp_path / "tb" / "train"), _accumulator(tmp_path / "tb" / "dev")
    for split, acc in (("train", train), ("dev", dev)):
        for key in [k for k in history.columns() if k.startswith(split + "_")]:
            events = acc.Scalars("epoch_" + key[len(split) + 1:])
            assert [e.step for e in events] == [1, 2, 3]
            np.testing.assert_allclose([e.value for e in events], history[key], rtol=1e-6)  # float32 in the file
    assert [e.value for e in train.Scalars("lr")] == pytest.approx(history["lr"])
    assert "time" not in train.Tags()["scalars"] and "epoch_time" not in train.Tags()["scalars"]

    params = dict(trainer.model.named_parameters())
    hist_tags = set(train.Tags()["histograms"])
    assert hist_tags == {f"{kind}/{n}" for n in params for kind in ("weights", "gradients")}
    for name, p in params.items():
        weights = train.Histograms(f"weights/{name}")
        assert [h.step for h in weights] == [1, 2, 3]
        last = weights[-1].histogram_value
        assert last.num == p.data.size  # one count per number of the parameter
        assert sum(last.bucket) == p.data.size
        assert last.min == pytest.approx(float(p.data.min())) and last.max == pytest.approx(float(p.data.max()))
        grads = train.Histograms(f"gradients/{name}")
        assert [h.step for h in grads] == [1, 2, 3] and grads[-1].histogram_value.num == p.data.size
        assert grads[-1].histogram_value.sum == pytest.approx(float(np.asarray(p.grad, np.float64).sum()), abs=1e-6)
    # the run's configuration is there as text
    assert "config" in {t.split("/")[0] for t in train.Tags()["tensors"]}


def test_tensorboard_histograms_can_be_sparser_or_off(tmp_path):
    pytest.importorskip("tensorboardX")
    from deepgrad.experiments.bridges import TensorBoardLogger

    _fit([TensorBoardLogger(tmp_path / "every2", histogram_every=2),
          TensorBoardLogger(tmp_path / "off", histograms=False)], epochs=3)
    every2 = _accumulator(tmp_path / "every2" / "train")
    assert [h.step for h in every2.Histograms("weights/0.weight")] == [2, 3]  # every 2nd epoch and the last
    off = _accumulator(tmp_path / "off" / "train")
    assert off.Tags()["histograms"] == [] and len(off.Scalars("epoch_loss")) == 3
    with pytest.raises(ValueError, match="histogram_every"):
        TensorBoardLogger(tmp_path / "bad", histogram_every=0)


def test_bridges_need_their_library_and_say_which_extra(monkeypatch, tmp_path):
    from deepgrad.experiments import bridges

    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"deepgrad\[tensorboard\]"):
        bridges.TensorBoardLogger(tmp_path)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    with pytest.raises(ImportError, match=r"deepgrad\[mlflow\]"):
        bridges.MLflowLogger(f"file:{tmp_path}/mlruns")


def test_tag_mapping_and_param_flattening():
    from deepgrad.experiments.bridges import file_store_path, flatten_params, is_file_uri, tensorboard_tag

    assert tensorboard_tag("train_loss") == ("train", "epoch_loss")
    assert tensorboard_tag("dev_f1") == ("dev", "epoch_f1")
    assert tensorboard_tag("lr") == ("train", "lr")
    assert tensorboard_tag("epoch") is None and tensorboard_tag("time") is None
    assert flatten_params({"a": 1, "b": {"c": [1, 2], "d": "x"}, "e": None}) == {
        "a": "1", "b.c": "[1, 2]", "b.d": "x", "e": "null"}
    assert is_file_uri("file:./mlruns") and is_file_uri("mlruns") and not is_file_uri("sqlite:///m.db")
    assert not is_file_uri("http://localhost:5000")
    assert file_store_path("file:///tmp/x") == "/tmp/x" and file_store_path("file:./m") == "./m"


# ----- MLflow --------------------------------------------------------------------------------------
@pytest.fixture
def mlflow_client():
    pytest.importorskip("mlflow", reason="MLflow is not installed: pip install 'deepgrad[mlflow]'")
    from deepgrad.experiments.bridges import mlflow_client

    return mlflow_client


def test_mlflow_params_metrics_model_and_final_metrics(tmp_path, mlflow_client):
    from deepgrad.experiments.bridges import MLflowLogger, flatten_params

    uri = f"file:{tmp_path}/mlruns"
    logger = MLflowLogger(uri, experiment="toy-exp", run_name="first")
    trainer, history = _fit([logger])
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name("toy-exp")
    assert exp is not None
    run = client.get_run(logger.run_id)
    assert run.info.experiment_id == exp.experiment_id and run.info.run_name == "first"
    assert run.info.status == "FINISHED"
    assert run.data.params == flatten_params(trainer.run_record["config"])
    assert run.data.params["lr"] == "0.2" and run.data.params["recipe"] == "toy"
    for key in ("train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "lr", "time"):
        metric = client.get_metric_history(logger.run_id, key)
        assert [m.step for m in metric] == [1, 2, 3]
        assert [m.value for m in metric] == pytest.approx(history[key], rel=1e-12)
    artifacts = {a.path for a in client.list_artifacts(logger.run_id)}
    assert artifacts == {"model.safetensors"}
    model_file = client.download_artifacts(logger.run_id, "model.safetensors", str(tmp_path / "dl"))
    from deepgrad.serialization import load_weights

    state = load_weights(None, model_file)  # the trained weights, exactly
    for name, p in trainer.model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(state[name]), np.asarray(getattr(p, "data", p)))
    # what is known after fit: test metrics and files
    png = tmp_path / "curves.png"
    png.write_bytes(b"\x89PNG fake")
    logger.complete(final={"test_accuracy": 0.75, "note": "text is not a metric"}, files=[png])
    run = client.get_run(logger.run_id)
    assert run.data.metrics["test_accuracy"] == 0.75 and "note" not in run.data.metrics
    assert [m.step for m in client.get_metric_history(logger.run_id, "test_accuracy")] == [3]
    assert {a.path for a in client.list_artifacts(logger.run_id)} == {"model.safetensors", "curves.png"}


def test_mlflow_run_continues_when_fit_resumes_from_a_checkpoint(tmp_path, mlflow_client):
    from deepgrad.experiments.bridges import MLflowLogger

    uri = f"file:{tmp_path}/mlruns"
    first = MLflowLogger(uri, experiment="resume", log_model=False)
    X, y = _data()

    def trainer_with(logger):
        dg.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        return Trainer(model, optim.SGD(model.parameters(), lr=0.2), seed=0, batch_size=32, progress=False,
                       callbacks=[logger])

    ck = tmp_path / "ck"
    trainer_with(first).fit((X, y), epochs=2, checkpoint_dir=ck)
    second = MLflowLogger(uri, experiment="resume", log_model=False)  # a new process would make a new logger
    h = trainer_with(second).fit((X, y), epochs=4, checkpoint_dir=ck)
    assert second.run_id == first.run_id
    client = mlflow_client(uri)
    assert len(client.search_runs([client.get_experiment_by_name("resume").experiment_id])) == 1
    metric = client.get_metric_history(first.run_id, "train_loss")
    assert [m.step for m in metric] == [1, 2, 3, 4]
    assert [m.value for m in metric] == pytest.approx(h["train_loss"], rel=1e-12)
    assert client.get_run(first.run_id).info.status == "FINISHED"


def test_mlflow_touches_no_network(tmp_path):
    """In a fresh process, every socket connection is refused and recorded: a whole logged run
    (import, experiment, params, metrics, model artifact) makes none."""
    pytest.importorskip("mlflow")
    code = f"""
import socket, sys, json
attempts = []
def refuse(self, address, *a, **k):
    attempts.append(repr(address))
    raise OSError("network disabled in this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
import numpy as np, deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import Trainer
from deepgrad.experiments.bridges import MLflowLogger, mlflow_client
m = nn.Linear(3, 2)
logger = MLflowLogger("file:{tmp_path}/mlruns", experiment="offline")
Trainer(m, optim.SGD(m.parameters(), lr=0.1), seed=0, progress=False, callbacks=[logger]).fit(
    (np.ones((8, 3), np.float32), np.zeros(8, np.int64)), epochs=2)
logger.complete(final={{"test_accuracy": 1.0}})
run = mlflow_client("file:{tmp_path}/mlruns").get_run(logger.run_id)
import threading, time
time.sleep(0.5)
print(json.dumps({{"attempts": attempts, "error": logger.error, "status": run.info.status,
                  "metrics": sorted(run.data.metrics)}}))
"""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    env["PYTHONPATH"] = os.getcwd() + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["attempts"] == [] and result["error"] is None
    assert result["status"] == "FINISHED" and "test_accuracy" in result["metrics"]


def test_a_failing_store_warns_once_and_training_goes_on(tmp_path, mlflow_client, capsys):
    from deepgrad.experiments.bridges import MLflowLogger

    logger = MLflowLogger(f"file:{tmp_path}/mlruns", experiment="x", log_model=False)

    class Broken:
        def __getattr__(self, name):
            def fail(*a, **k):
                raise OSError("disk full")
            return fail

    logger._client = Broken()
    _, history = _fit([logger], epochs=2)
    assert len(history) == 2 and "disk full" in logger.error
    assert capsys.readouterr().err.count("MLflowLogger") == 1


def test_final_metrics_in_the_same_second_keep_the_epochs(tmp_path, monkeypatch):
    """tensorboardX names an event file by the second and the host: the final metrics' writer,
    opened in the same second as training's (a fast run), must not overwrite its file."""
    pytest.importorskip("tensorboardX")
    import types

    from tensorboardX import event_file_writer

    from deepgrad.experiments.bridges import TensorBoardLogger

    monkeypatch.setattr(event_file_writer, "time", types.SimpleNamespace(time=lambda: 1764000000.25))
    logger = TensorBoardLogger(tmp_path / "tb", histograms=False)
    _, history = _fit([logger], epochs=3)
    logger.complete({"test_accuracy": 0.75})
    acc = _accumulator(tmp_path / "tb" / "train")
    assert [e.value for e in acc.Scalars("epoch_loss")] == pytest.approx(history["train_loss"], rel=1e-6)
    assert [e.value for e in acc.Scalars("final/test_accuracy")] == [0.75]


# ----- deepgrad run --tensorboard DIR --mlflow URI -------------------------------------------------
def test_recipe_run_writes_both(tmp_path, monkeypatch, capsys, mlflow_client):
    pytest.importorskip("tensorboardX")
    monkeypatch.chdir(tmp_path)
    uri = f"file:{tmp_path}/mlruns"
    assert cli.main(["run", "planar", "--epochs", "3", "--out", "runs/p1", "--tensorboard", "tb", "--mlflow", uri]) == 0
    with open("runs/p1/history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    metrics = json.load(open("runs/p1/metrics.json"))
    # TensorBoard: tb/<run folder name>
    acc = _accumulator(tmp_path / "tb" / "p1" / "train")
    np.testing.assert_allclose([e.value for e in acc.Scalars("epoch_loss")], [float(r["train_loss"]) for r in rows],
                               rtol=1e-6)
    final = {e.step: e.value for e in acc.Scalars("final/test_accuracy")}
    assert final == {3: pytest.approx(metrics["test_accuracy"], rel=1e-6)}
    assert len(acc.Histograms("weights/" + next(t.split("/", 1)[1] for t in acc.Tags()["histograms"]))) == 3
    # MLflow: experiment named after the recipe, run named after the folder
    client = mlflow_client(uri)
    exp = client.get_experiment_by_name("planar")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.run_name == "p1" and run.info.status == "FINISHED"
    assert run.data.params["recipe"] == "planar" and run.data.params["epochs"] == "3"
    assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert run.data.metrics["params"] == metrics["params"]
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.value for m in history] == pytest.approx([float(r["train_loss"]) for r in rows], rel=1e-9)
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.safetensors", "history.csv", "metrics.json"} <= artifacts
    assert {p for p in metrics["files"]["plots"]} <= artifacts


def test_recipe_flags_are_checked_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    # a recipe that does not train through the common fit options refuses them
    assert cli.main(["run", "word2vec", "--tensorboard", "tb"]) == 2
    assert "--tensorboard is not used by recipe 'word2vec'" in capsys.readouterr().err
    assert cli.main(["run", "planar", "--mlflow", " "]) == 2
    assert "--mlflow: empty URI" in capsys.readouterr().err
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboardX" else real(name, *a))
    assert cli.main(["run", "planar", "--tensorboard", "tb"]) == 2
    err = capsys.readouterr().err
    assert "--tensorboard needs tensorboardX" in err and "deepgrad[tensorboard]" in err
    assert not os.path.exists("runs") or not any(f.startswith("planar") for f in os.listdir("runs"))
