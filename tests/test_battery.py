"""The bad-input and fault battery of issue 15: what a hostile but realistic user tries.

Each case either expects a clear error (its type, and a message that names the cause)
or a correct behaviour (checked by the case itself). A case is classified as

    clear      the expected error with a message naming the cause, or the correct behaviour
    silent     bad input accepted or a wrong result (no error where one was due)
    traceback  another exception escaped, or the error does not name the cause
               (for the command line: not exactly one line on stderr)

``python tests/test_battery.py`` prints the counts (the issue's closing note lists them
before and after); pytest asserts every case is clear. The data-set cases write small
IDX files in the real Fashion-MNIST layout into a temporary root (a stand-in for a
damaged download: the real files are intact).
"""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import pytest


class Silent(AssertionError):
    """Bad input accepted, or a wrong result."""


class Unclear(AssertionError):
    """An error that does not name the cause (or not one line on the command line)."""


CASES: dict = {}


def case(name):
    def deco(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn

    return deco


def expect_error(fn, types, *words):
    try:
        fn()
    except types as e:
        msg = str(e).lower()
        missing = [w for w in words if w.lower() not in msg]
        if missing:
            raise Unclear(f"{type(e).__name__} does not name {missing}: {e}") from e
        return e
    except Exception as e:  # noqa: BLE001
        raise Unclear(f"expected {types}, got {type(e).__name__}: {e}") from e
    raise Silent(f"no error (expected {types})")


def cli_run(*argv):
    from deepgrad import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main([str(a) for a in argv])
        except SystemExit as e:
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def expect_cli_error(argv, *words):
    rc, out, err = cli_run(*argv)
    if rc in (0, None):
        raise Silent(f"exit status 0: {err[-300:]!r}")
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    if "Traceback" in err or len(lines) != 1:
        raise Unclear(f"not one line: {err[-500:]!r}")
    missing = [w for w in words if w.lower() not in lines[0].lower()]
    if missing:
        raise Unclear(f"does not name {missing}: {lines[0]!r}")
    return rc, lines[0]


_TMP = []


def tmpdir():
    d = tempfile.mkdtemp(prefix="deepgrad-battery-")
    if not _TMP:
        import atexit
        import shutil

        atexit.register(lambda: [shutil.rmtree(x, ignore_errors=True) for x in _TMP])
    _TMP.append(d)
    return d


def planar(*extra, out=None, epochs=3):
    out = out or os.path.join(tmpdir(), "out")
    return ["run", "planar", "--epochs", str(epochs), "--out", out, *extra]


# ----- 2. flags checked before any work ----------------------------------------------------------
for _name, _argv, _words in [
    ("flag epochs 0", planar()[:3] + ["0"] + planar()[4:], ["--epochs"]),
    ("flag epochs negative", ["run", "planar", "--epochs", "-2"], ["--epochs"]),
    ("flag batch-size 0", ["run", "fashion-mlp", "--quick", "--batch-size", "0"], ["--batch-size"]),
    ("flag seed negative", planar("--seed", "-1"), ["--seed"]),
    ("flag lr nan", planar("--lr", "nan"), ["--lr"]),
    ("flag lr inf", planar("--lr", "inf"), ["--lr"]),
    ("flag lr negative", planar("--lr", "-0.5"), ["--lr"]),
    ("flag lr not a number", planar("--lr", "fast"), ["--lr"]),
    ("flag unused by recipe (planar --batch-size)", planar("--batch-size", "8"), ["--batch-size", "planar"]),
    ("flag unused by recipe (planar --source)", planar("--source", "raw"), ["--source", "planar"]),
    ("flag checkpoint-every-steps without a directory", planar("--checkpoint-every-steps", "3"),
     ["--checkpoint-every-steps"]),
]:
    case(_name)(lambda argv=_argv, words=_words: expect_cli_error(argv, *words))


@case("flag --out is a file")
def _():
    d = tmpdir()
    f = os.path.join(d, "file")
    open(f, "w").close()
    expect_cli_error(planar(out=f), "--out", f)


@case("flag --out under a file")
def _():
    d = tmpdir()
    f = os.path.join(d, "file")
    open(f, "w").close()
    expect_cli_error(planar(out=os.path.join(f, "sub")), "--out", f)
    assert not os.path.exists(os.path.join(f, "sub"))


@case("flag --checkpoint-dir is a file (checked before the first epoch)")
def _():
    d = tmpdir()
    f = os.path.join(d, "file")
    open(f, "w").close()
    out = os.path.join(d, "out")
    expect_cli_error(planar("--checkpoint-dir", f, out=out), "--checkpoint-dir", f)
    if os.path.exists(os.path.join(out, "history.csv")) or os.path.exists(os.path.join(out, "metrics.json")):
        raise Silent("the run trained before the checkpoint directory was checked")


@case("flag --lr 0 warns and runs")
def _():
    rc, out, err = cli_run(*planar("--lr", "0"))
    if rc != 0:
        raise Unclear(f"status {rc}: {err!r}")
    if "--lr 0" not in err:
        raise Silent("no warning for --lr 0")


# ----- 1. run identity, safe resume, locks ------------------------------------------------------------
def _two_runs(first, second):
    d = tmpdir()
    ck = os.path.join(d, "ck")
    rc, _, err = cli_run(*planar("--checkpoint-dir", ck, *first, out=os.path.join(d, "a")))
    assert rc == 0, err
    return d, ck, planar("--checkpoint-dir", ck, *second, out=os.path.join(d, "b"))


@case("resume with another seed is refused, naming the difference")
def _():
    d, ck, argv = _two_runs(["--seed", "0"], ["--seed", "3"])
    expect_cli_error(argv, "seed", "--force-resume")
    if os.path.exists(os.path.join(d, "b", "metrics.json")):
        raise Silent("the refused run wrote metrics.json")


@case("resume with another learning rate is refused, naming the difference")
def _():
    _, _, argv = _two_runs(["--lr", "1.2"], ["--lr", "0.5"])
    expect_cli_error(argv, "lr", "1.2", "0.5")


@case("--force-resume resumes and the record says so")
def _():
    d, ck, argv = _two_runs(["--seed", "0"], ["--seed", "3", "--force-resume"])
    rc, _, err = cli_run(*argv)
    if rc != 0:
        raise Unclear(f"status {rc}: {err!r}")
    m = json.load(open(os.path.join(d, "b", "metrics.json")))
    resumes = (m.get("run") or {}).get("resumes") or []
    if not any(r.get("forced") and any("seed" in x for x in r.get("differences", [])) for r in resumes):
        raise Silent(f"metrics.json does not record the forced resume: {m.get('run')}")


@case("a resumed run's metrics.json and history.csv describe that run")
def _():
    import csv

    d, ck, argv = _two_runs([], [])
    argv[argv.index("--epochs") + 1] = "5"  # extend the finished 3-epoch run to 5
    rc, _, err = cli_run(*argv)
    assert rc == 0, err
    m = json.load(open(os.path.join(d, "b", "metrics.json")))
    rows = list(csv.DictReader(open(os.path.join(d, "b", "history.csv"))))
    if not (m["epochs"] == len(rows) == 5 and [int(r["epoch"]) for r in rows] == [1, 2, 3, 4, 5]):
        raise Silent(f"metrics epochs {m['epochs']}, history epochs {[r['epoch'] for r in rows]}")
    run = m.get("run") or {}
    if not run.get("resumes") or run["resumes"][0].get("at_epoch") != 3:
        raise Silent(f"metrics.json does not say the run resumed at epoch 3: {run}")


@case("extending a finished run holds the schedule (no cosine wrap-around)")
def _():
    import deepgrad as dg
    from deepgrad import nn, optim
    from deepgrad.train import Trainer

    ck = os.path.join(tmpdir(), "ck")
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((64, 4)).astype(np.float32), rng.integers(0, 2, 64)
    lrs = []
    for epochs in (4, 8):
        dg.manual_seed(0)
        model = nn.Linear(4, 2)
        opt = optim.SGD(model.parameters(), lr=0.1)
        sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        tr = Trainer(model, opt, scheduler=sched, seed=0, batch_size=16, progress=False)
        h = tr.fit((X, y), epochs=epochs, checkpoint_dir=ck)
        lrs = h["lr"]
    if len(lrs) != 8:
        raise Silent(f"{len(lrs)} epochs")
    if any(b > a + 1e-12 for a, b in zip(lrs, lrs[1:])):
        raise Silent(f"the learning rate went back up after the extension: {lrs}")


def _sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def _write_lock(directory, pid):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, ".deepgrad.lock"), "w") as f:
        json.dump({"pid": pid, "host": os.uname().nodename}, f)


@case("two live runs on one checkpoint directory: the second is refused")
def _():
    d = tmpdir()
    ck = os.path.join(d, "ck")
    other = _sleeper()
    try:
        _write_lock(ck, other.pid)  # a live run holds it
        expect_cli_error(planar("--checkpoint-dir", ck, out=os.path.join(d, "b")), "--checkpoint-dir", "in use",
                         str(other.pid))
    finally:
        other.kill()
        other.wait()


@case("two live runs on one --out directory: the second is refused")
def _():
    d = tmpdir()
    out = os.path.join(d, "out")
    other = _sleeper()
    try:
        _write_lock(out, other.pid)
        expect_cli_error(planar(out=out), "--out", "in use")
    finally:
        other.kill()
        other.wait()


@case("a stale lock of a killed run is taken over")
def _():
    d = tmpdir()
    ck = os.path.join(d, "ck")
    dead = _sleeper()
    dead.kill()
    dead.wait()
    _write_lock(ck, dead.pid)
    rc, _, err = cli_run(*planar("--checkpoint-dir", ck, out=os.path.join(d, "b")))
    if rc != 0:
        raise Unclear(f"status {rc}: {err!r}")
    if os.path.exists(os.path.join(ck, ".deepgrad.lock")):
        raise Silent("the lock was not released at the end")


@case("step-level checkpoint interval")
def _():
    d = tmpdir()
    ck = os.path.join(d, "ck")
    rc, _, err = cli_run(*planar("--checkpoint-dir", ck, "--checkpoint-every-steps", "1", out=os.path.join(d, "o")))
    if rc != 0:
        raise Unclear(f"status {rc}: {err[-300:]!r}")
    from deepgrad.train import load_checkpoint

    assert load_checkpoint(os.path.join(ck, "checkpoint.safetensors"))["step"] == 3


@case("flag --out empty")
def _():
    expect_cli_error(["run", "planar", "--epochs", "2", "--out", ""], "--out", "empty")


@case("resume with --quick toggled is refused")
def _():
    _, _, argv = _two_runs([], ["--quick"])
    expect_cli_error(argv, "quick", "False", "True")


@case("a damaged checkpoint in --checkpoint-dir: one line naming the file")
def _():
    d = tmpdir()
    ck = os.path.join(d, "ck")
    os.makedirs(ck)
    with open(os.path.join(ck, "checkpoint.safetensors"), "wb") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1")  # truncated
    expect_cli_error(planar("--checkpoint-dir", ck, out=os.path.join(d, "o")), "checkpoint.safetensors", "truncated")


@case("a model file where the checkpoint should be: one line")
def _():
    from deepgrad import nn
    from deepgrad.serialization import save_model

    d = tmpdir()
    ck = os.path.join(d, "ck")
    os.makedirs(ck)
    save_model(nn.Linear(2, 3), os.path.join(ck, "checkpoint.safetensors"))
    expect_cli_error(planar("--checkpoint-dir", ck, out=os.path.join(d, "o")), "not a deepgrad checkpoint")


@case("--checkpoint-dir equal to --out works")
def _():
    d = os.path.join(tmpdir(), "same")
    rc, _, err = cli_run(*planar("--checkpoint-dir", d, out=d))
    if rc != 0:
        raise Unclear(f"status {rc}: {err!r}")
    assert os.path.exists(os.path.join(d, "checkpoint.safetensors")) and os.path.exists(os.path.join(d, "metrics.json"))


@case("a checkpoint of another model in --checkpoint-dir is refused")
def _():
    from deepgrad import nn, optim
    from deepgrad.train import Trainer

    d = tmpdir()
    ck = os.path.join(d, "ck")
    m = nn.Linear(3, 5)  # somebody's own script, without a run configuration
    Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False).fit(
        (np.zeros((8, 3), np.float32), np.zeros(8, np.int64)), epochs=1, checkpoint_dir=ck)
    expect_cli_error(planar("--checkpoint-dir", ck, out=os.path.join(d, "o")), "checkpoint", "run configuration")


@case("a log file that cannot be written fails before the first step")
def _():
    from deepgrad import optim
    from deepgrad.train import CSVLogger, LambdaCallback, Trainer

    d = tmpdir()
    blocker = os.path.join(d, "file")
    open(blocker, "w").close()
    steps = []
    m = _lin()
    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False,
                 callbacks=[CSVLogger(os.path.join(blocker, "history.csv")),
                            LambdaCallback(on_batch_end=lambda s, logs: steps.append(s))])
    expect_error(lambda: tr.fit((np.zeros((8, 2), np.float32), np.zeros(8, np.int64)), epochs=2), (OSError,),
                 "CSVLogger", "history.csv")
    if steps:
        raise Silent(f"{len(steps)} steps were trained before the error")


# ----- 3. divergence is a failure ------------------------------------------------------------------------
@case("an exploding loss: non-zero exit, said in the output and metrics.json")
def _():
    out = os.path.join(tmpdir(), "out")
    rc, stdout, err = cli_run(*planar("--lr", "1000", out=out, epochs=30))
    m = json.load(open(os.path.join(out, "metrics.json"))) if os.path.exists(os.path.join(out, "metrics.json")) else {}
    if rc == 0 or m.get("status") != "diverged":
        raise Silent(f"status {rc}, metrics status {m.get('status')!r}")
    if "diverged" not in (stdout + err):
        raise Unclear("the output does not say the run diverged")


@case("a NaN loss: NaNGuard stops the run, non-zero exit, the record says why")
def _():
    out = os.path.join(tmpdir(), "out")
    rc, stdout, err = cli_run(*planar("--lr", "1e38", out=out, epochs=30))
    m = json.load(open(os.path.join(out, "metrics.json"))) if os.path.exists(os.path.join(out, "metrics.json")) else {}
    if rc == 0:
        raise Silent(f"exit 0; stop_reason {m.get('stop_reason')!r}")
    if m.get("status") not in ("diverged", "nan") or "NaNGuard" not in str(m.get("stop_reason")) \
            and "diverged" not in str(m.get("stop_reason")):
        raise Silent(f"metrics: {m.get('status')!r} {m.get('stop_reason')!r}")


@case("a run that does not learn is reported as such")
def _():
    out = os.path.join(tmpdir(), "out")
    rc, stdout, err = cli_run(*planar("--lr", "1e-9", out=out, epochs=5))
    m = json.load(open(os.path.join(out, "metrics.json")))
    if m.get("status") != "did_not_learn":
        raise Silent(f"metrics status {m.get('status')!r}")
    if "did not learn" not in (stdout + err):
        raise Unclear("the output does not say so")


@case("NaNGuard is on in a plain Trainer")
def _():
    from deepgrad import nn, optim
    from deepgrad.train import Trainer

    X = np.ones((8, 2), np.float32)
    X[3, 0] = np.nan
    model = nn.Linear(2, 2)
    h = Trainer(model, optim.SGD(model.parameters(), lr=0.1), batch_size=4, progress=False).fit((X, np.zeros(8, np.int64)), epochs=3)
    if not (h.stop_reason and "NaN" in h.stop_reason):
        raise Silent(f"training went on through a NaN loss (stop_reason {h.stop_reason!r})")
    if not np.isfinite(model.weight.data).all():
        raise Silent("the weights became NaN")


# ----- 4. hardened readers ---------------------------------------------------------------------------
def _idx(path, arr, code=0x08):
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, dtype=">u4").tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()))


def _fake_fashion(images=None, labels=None, code=0x08):
    """A root with the four files, small (n=20), possibly damaged."""
    from deepgrad.data.datasets.fashion_mnist import FILES

    root = tmpdir()
    n = 20
    img = np.zeros((n, 28, 28), np.uint8) if images is None else images
    lab = (np.arange(n) % 10).astype(np.uint8) if labels is None else labels
    for split in ("train", "test"):
        _idx(os.path.join(root, FILES[split][0]), img, code)
        _idx(os.path.join(root, FILES[split][1]), lab)
    return root


@case("fashion-mnist: an explicit root that does not exist is an error")
def _():
    from deepgrad.data.datasets import load_fashion_mnist

    root = os.path.join(tmpdir(), "nowhere")
    expect_error(lambda: load_fashion_mnist("test", root=root, download=False), (FileNotFoundError,), root)


@case("fashion-mnist: labels out of range")
def _():
    from deepgrad.data.datasets import load_fashion_mnist

    root = _fake_fashion(labels=np.full(20, 12, np.uint8))
    expect_error(lambda: load_fashion_mnist("test", root=root, download=False), (ValueError,), "label", "12")


@case("fashion-mnist: images of the wrong shape")
def _():
    from deepgrad.data.datasets import load_fashion_mnist

    root = _fake_fashion(images=np.zeros((20, 27, 28), np.uint8))
    expect_error(lambda: load_fashion_mnist("test", root=root, download=False), (ValueError,), "28", "27")


@case("fashion-mnist: images of the wrong dtype")
def _():
    from deepgrad.data.datasets import load_fashion_mnist

    root = _fake_fashion(images=np.zeros((20, 28, 28), np.float32), code=0x0D)
    expect_error(lambda: load_fashion_mnist("test", root=root, download=False), (ValueError,), "uint8")


@case("fashion-mnist: image and label counts differ")
def _():
    from deepgrad.data.datasets import load_fashion_mnist

    root = _fake_fashion(labels=np.zeros(19, np.uint8))
    expect_error(lambda: load_fashion_mnist("test", root=root, download=False), (ValueError,), "20", "19")


def _safetensors(header: dict, data: bytes = b"") -> bytes:
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


@case("safetensors: a negative dimension")
def _():
    from deepgrad.serialization import ModelFileError, parse_safetensors

    raw = _safetensors({"w": {"dtype": "F32", "shape": [-2, -2], "data_offsets": [0, 16]}}, bytes(16))
    expect_error(lambda: parse_safetensors(raw, "f"), (ModelFileError,), "w", "-2")


@case("safetensors: a size that overflows")
def _():
    from deepgrad.serialization import ModelFileError, parse_safetensors

    raw = _safetensors({"w": {"dtype": "F32", "shape": [2**32, 2**32, 2**2], "data_offsets": [0, 0]}})
    expect_error(lambda: parse_safetensors(raw, "f"), (ModelFileError,), "w")


@case("safetensors: a dimension that is not a whole number")
def _():
    from deepgrad.serialization import ModelFileError, parse_safetensors

    raw = _safetensors({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}}, bytes(4))
    expect_error(lambda: parse_safetensors(raw, "f"), (ModelFileError,), "w")


def _model_file(arch, tensors):
    from deepgrad.serialization import save_tensors

    path = os.path.join(tmpdir(), "m.safetensors")
    save_tensors(path, tensors, {"format": "deepgrad-model", "format_version": "1", "architecture": json.dumps(arch)})
    return path


@case("model file: a huge architecture with small weights is refused before allocating")
def _():
    from deepgrad.serialization import ModelFileError, load_model

    arch = {"class": "deepgrad.nn.linear.Linear", "args": [10**9, 10**9], "kwargs": {}}
    path = _model_file(arch, {"weight": np.zeros((3, 2), np.float32), "bias": np.zeros(3, np.float32)})
    expect_error(lambda: load_model(path), (ModelFileError,), "weight")


@case("model file: architecture and weight shapes disagree")
def _():
    from deepgrad.serialization import ModelFileError, load_model

    arch = {"class": "deepgrad.nn.linear.Linear", "args": [2, 3], "kwargs": {}}
    path = _model_file(arch, {"weight": np.zeros((5, 4), np.float32), "bias": np.zeros(5, np.float32)})
    expect_error(lambda: load_model(path), (ModelFileError,), "weight", "(5, 4)")


# ----- 5. the remaining raw errors (run/optimizer side) ---------------------------------------------
def _lin():
    from deepgrad import nn

    return nn.Linear(2, 3)


@case("optimizer: a learning rate that is not a number")
def _():
    from deepgrad import optim

    expect_error(lambda: optim.SGD(_lin().parameters(), lr="0.1"), (TypeError,), "lr", "str")


@case("optimizer: a NaN learning rate")
def _():
    from deepgrad import optim

    expect_error(lambda: optim.SGD(_lin().parameters(), lr=float("nan")), (ValueError,), "learning rate", "nan")


@case("optimizer: an infinite learning rate")
def _():
    from deepgrad import optim

    expect_error(lambda: optim.Adam(_lin().parameters(), lr=math.inf), (ValueError,), "learning rate", "inf")


@case("load_state_dict: a value that is not an array")
def _():
    m = _lin()
    expect_error(lambda: m.load_state_dict({"weight": "abc", "bias": np.zeros(3, np.float32)}), (TypeError,),
                 "weight", "str")


@case("load_state_dict: None as a value")
def _():
    m = _lin()
    expect_error(lambda: m.load_state_dict({"weight": None, "bias": np.zeros(3, np.float32)}), (TypeError,), "weight")


@case("load_state_dict: values that overflow float32")
def _():
    m = _lin()
    w = np.full((3, 2), 1e300)
    expect_error(lambda: m.load_state_dict({"weight": w, "bias": np.zeros(3)}), (ValueError,), "weight", "float32")


@case("Trainer.fit(epochs=-1)")
def _():
    from deepgrad import optim
    from deepgrad.train import Trainer

    m = _lin()
    tr = Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False)
    expect_error(lambda: tr.fit((np.zeros((4, 2), np.float32), np.zeros(4, np.int64)), epochs=-1), (ValueError,), "epochs", "-1")


@case("Trainer(batch_size=0)")
def _():
    from deepgrad import optim
    from deepgrad.train import Trainer

    m = _lin()
    expect_error(lambda: Trainer(m, optim.SGD(m.parameters(), lr=0.1), batch_size=0, progress=False)
                 .fit((np.zeros((4, 2), np.float32), np.zeros(4, np.int64))), (ValueError,), "batch_size", "0")


@case("clip_grad_norm_ with a negative norm")
def _():
    from deepgrad.nn.utils import clip_grad_norm_

    m = _lin()
    for p in m.parameters():
        p.grad = np.ones_like(p.data)
    expect_error(lambda: clip_grad_norm_(m.parameters(), -1.0), (ValueError,), "max_norm", "-1")


@case("Trainer.fit on empty data")
def _():
    from deepgrad import optim
    from deepgrad.train import Trainer

    m = _lin()
    expect_error(lambda: Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False)
                 .fit((np.zeros((0, 2), np.float32), np.zeros(0, np.int64))), (ValueError,), "no batches", "0 examples")


@case("Trainer.fit given a file name as data")
def _():
    from deepgrad import optim
    from deepgrad.train import Trainer

    m = _lin()
    expect_error(lambda: Trainer(m, optim.SGD(m.parameters(), lr=0.1), progress=False).fit("train.csv"),
                 (TypeError,), "file name", "train.csv")


@case("split: a negative size")
def _():
    from deepgrad.data import split_indices

    expect_error(lambda: split_indices(10, (-1, 5)), (ValueError,), "sizes", "-1")


@case("split: a NaN fraction")
def _():
    from deepgrad.data import train_dev_test_split

    X = np.zeros((10, 2), np.float32)
    expect_error(lambda: train_dev_test_split(X, np.zeros(10), dev=float("nan"), test=0.1), (ValueError,), "nan")


@case("split: stratify on continuous values")
def _():
    from deepgrad.data import split_indices

    expect_error(lambda: split_indices(np.linspace(0, 1, 10), (5, 5), stratify=True), (ValueError,), "class labels")


@case("DataLoader: a fractional batch size")
def _():
    from deepgrad.data import DataLoader

    expect_error(lambda: DataLoader((np.zeros((10, 2)),), batch_size=2.5), (TypeError,), "batch_size", "2.5")


@case("DataLoader: a batch size given as a string")
def _():
    from deepgrad.data import DataLoader

    expect_error(lambda: DataLoader((np.zeros((10, 2)),), batch_size="8"), (TypeError,), "batch_size", "'8'")


@case("DataLoader over something that is not a data set")
def _():
    from deepgrad.data import DataLoader

    expect_error(lambda: list(DataLoader(5, batch_size=2)), (TypeError,), "Dataset", "int")


# ----- Trainer seams that were wrong results (issue 14, item 6) -------------------------------------
@case("Trainer: a regression loss reports no accuracy")
def _():
    from deepgrad import nn, optim
    from deepgrad.train import Trainer

    m = nn.Linear(2, 1)
    X, y = np.random.default_rng(0).standard_normal((16, 2)).astype(np.float32), np.zeros((16, 1), np.float32)
    res = Trainer(m, optim.SGD(m.parameters(), lr=0.1), "mse", progress=False).evaluate((X, y))
    if "accuracy" in res:
        raise Silent(f"mse evaluation reports accuracy {res['accuracy']}")


@case("Trainer.evaluate on unlabelled batches")
def _():
    from deepgrad import nn, optim
    from deepgrad.train import Trainer

    m = nn.Linear(2, 2)

    def loss(out, target=None):
        return (out * out).mean()

    res = Trainer(m, optim.SGD(m.parameters(), lr=0.1), loss, metrics=(), progress=False).evaluate(np.ones((6, 2), np.float32))
    assert math.isfinite(res["loss"])


# ----- the harness -------------------------------------------------------------------------------------
def classify(name) -> tuple[str, str]:
    try:
        CASES[name]()
    except Silent as e:
        return "silent", str(e)
    except Unclear as e:
        return "traceback", str(e)
    except AssertionError as e:  # a case's own check of the result failed: a wrong result
        return "silent", f"wrong result: {e}"
    except Exception as e:  # noqa: BLE001
        return "traceback", f"{type(e).__name__}: {e}"
    return "clear", ""


@pytest.mark.parametrize("name", list(CASES))
def test_case(name, monkeypatch):
    import warnings

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the diverging runs overflow on purpose
        kind, why = classify(name)
    assert kind == "clear", f"{name}: {kind}: {why}"


if __name__ == "__main__":  # counts for the closing note
    counts = {"clear": 0, "silent": 0, "traceback": 0}
    for n in CASES:
        kind, why = classify(n)
        counts[kind] += 1
        print(f"{kind:9}  {n}" + (f"   [{why[:150]}]" if why else ""), flush=True)
    print(json.dumps({"cases": len(CASES), **counts}))
