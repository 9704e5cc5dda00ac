"""Progress: a tqdm bar on a terminal, plain lines (no carriage returns) anywhere else."""
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.train import ProgressBar, Trainer
from deepgrad.train.progress import Progress, have_tqdm, is_terminal, use_bar


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    return X, y


def _trainer(stream, tty=None, seed=0):
    dg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    return Trainer(model, optim.SGD(model.parameters(), lr=0.1), "cross_entropy", seed=seed, batch_size=16,
                   callbacks=[ProgressBar(stream=stream, tty=tty)])


def test_not_a_terminal_gives_one_plain_line_per_epoch():
    out = io.StringIO()
    X, y = _data()
    history = _trainer(out).fit((X, y), dev=(X[:32], y[:32]), epochs=3)
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert [ln.split()[1] for ln in lines] == ["1/3", "2/3", "3/3"]
    for line, row in zip(lines, history.rows):  # each line carries the epoch's numbers as the History has them
        assert f"train_loss {row['train_loss']:.4f}" in line
        assert f"dev_accuracy {row['dev_accuracy']:.4f}" in line
        assert re.search(r"\(\d+\.\d s\)$", line)


def test_stream_kind_decides_bar_or_lines():
    assert not is_terminal(io.StringIO()) and is_terminal(FakeTerminal())
    assert not use_bar(io.StringIO()) and not use_bar(FakeTerminal(), tty=False)
    assert use_bar(FakeTerminal()) == have_tqdm()


@pytest.mark.skipif(not have_tqdm(), reason="tqdm is not installed (the train extra)")
def test_a_terminal_gets_a_tqdm_bar_of_batches_per_epoch():
    out = FakeTerminal()
    X, y = _data()
    _trainer(out).fit((X, y), epochs=2)
    text = out.getvalue()
    assert "\r" in text  # tqdm redraws in place
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "6/6" in text  # 96 examples in batches of 16: the bar counts the batches


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    for name in [m for m in sys.modules if m == "tqdm" or m.startswith("tqdm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm -> ImportError
    assert not have_tqdm()
    out = FakeTerminal()
    X, y = _data()
    _trainer(out, tty=True).fit((X, y), epochs=2)
    text = out.getvalue()
    assert "\r" not in text and len(text.splitlines()) == 2


def test_the_core_imports_and_trains_without_tqdm():
    """tqdm is in the train extra only: with it unimportable, deepgrad imports and a Trainer
    (progress on by default) writes plain lines."""
    code = (
        "import sys; sys.modules['tqdm'] = None\n"
        "import numpy as np, deepgrad as dg\n"
        "from deepgrad import nn, optim\n"
        "from deepgrad.train import Trainer\n"
        "import deepgrad.tune.study, deepgrad.experiments.bridges\n"
        "m = nn.Linear(3, 2)\n"
        "X = np.ones((8, 3), np.float32); y = np.zeros(8, np.int64)\n"
        "Trainer(m, optim.SGD(m.parameters(), lr=0.1), seed=0).fit((X, y), epochs=2)\n"
        "assert 'tqdm' not in sys.modules or sys.modules['tqdm'] is None\n"
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "\r" not in r.stderr
    assert [ln.split()[:2] for ln in r.stderr.splitlines()] == [["epoch", "1/2"], ["epoch", "2/2"]]


def test_progress_plain_lines_count_and_estimate():
    out = io.StringIO()
    with Progress(total=3, desc="tune planar", stream=out, unit="trial") as bar:
        for i in range(3):
            bar.update(status=f"best {0.5 + i / 10:.2f}")
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [ln.split("  ")[0] for ln in lines] == ["tune planar: 1/3 trials", "tune planar: 2/3 trials",
                                                    "tune planar: 3/3 trials"]
    assert "best 0.50" in lines[0] and "left)" in lines[0] and "left" not in lines[2]
    assert bar.done == 3


@pytest.mark.skipif(not have_tqdm(), reason="tqdm is not installed (the train extra)")
def test_progress_writer_prints_above_the_bar():
    out = FakeTerminal()
    bar = Progress(total=2, desc="tune x", stream=out, unit="trial")
    assert bar.bar is not None
    log = bar.writer(out)
    print("trial 0 dev accuracy 0.9", file=log)
    bar.update()
    bar.close()
    text = out.getvalue()
    assert "trial 0 dev accuracy 0.9\n" in text and "\r" in text and "1/2" in text


@pytest.mark.slow
def test_tune_prints_a_plain_line_per_trial_when_not_a_terminal(tmp_path, capsys, monkeypatch):
    pytest.importorskip("optuna")
    from deepgrad.tune.study import run_study

    monkeypatch.chdir(tmp_path)
    run_study("planar", 2, epochs=3, storage=f"sqlite:///{tmp_path / 'study.sqlite'}", out=str(tmp_path / "tune"),
              store=str(tmp_path / "runs.sqlite"))
    captured = capsys.readouterr()
    assert "\r" not in captured.err and "\r" not in captured.out
    counts = re.findall(r"^tune planar: (\d)/2 trials", captured.err, flags=re.M)
    assert counts == ["1", "2"]
    assert "best dev accuracy" in captured.err
    assert len(re.findall(r"^tune planar: trial \d", captured.out, flags=re.M)) == 2
