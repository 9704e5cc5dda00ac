import csv
import json
import os
import subprocess
import sys

import pytest

from deepgrad import cli, recipes
from deepgrad.data.datasets import fashion_mnist


def test_list(capsys):
    assert cli.main(["run", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("fashion-mlp", "planar"):
        assert name in out
    assert "Fashion-MNIST" in out


def test_unknown_recipe_lists_known_ones(capsys):
    assert cli.main(["run", "no-such-recipe"]) == 2
    err = capsys.readouterr().err
    assert "unknown recipe 'no-such-recipe'" in err
    for name in recipes.names():
        assert name in err


def test_registry_entries_import_and_have_run():
    for name in recipes.names():
        mod = recipes.get(name)
        assert callable(mod.run) and recipes.describe(name)
    with pytest.raises(KeyError, match="known recipes"):
        recipes.get("nope")


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "deepgrad.cli", "run", "--list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "planar" in proc.stdout


def test_missing_data_gives_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DEEPGRAD_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("DEEPGRAD_NO_DOWNLOAD", "1")
    monkeypatch.setattr(fashion_mnist, "SYSTEM_DIR", str(tmp_path / "system"))
    assert cli.main(["run", "fashion-mlp", "--quick", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err and str(tmp_path / "system") in err


def _check_run_dir(out, recipe, epochs):
    m = json.loads((out / "metrics.json").read_text())
    assert m["recipe"] == recipe and m["epochs"] == epochs and m["seed"] == 0
    for k in ("test_accuracy", "train_accuracy", "dev_accuracy", "train_loss", "dev_loss", "wall_time_s", "config"):
        assert k in m
    rows = list(csv.DictReader(open(out / "history.csv")))
    assert len(rows) == epochs and {"train_loss", "dev_accuracy"} <= set(rows[0])
    assert (out / "model.safetensors").exists()
    return m


@pytest.mark.slow
def test_planar_recipe_small(tmp_path):
    from deepgrad.serialization import load_model

    out = tmp_path / "planar"
    assert cli.main(["run", "planar", "--epochs", "400", "--out", str(out)]) == 0
    m = _check_run_dir(out, "planar", 400)
    assert m["train_accuracy"] > 0.8 and m["test_accuracy"] > 0.75  # logistic regression: ~0.5
    model = load_model(out / "model.safetensors")
    assert model[0].out_features == 4
    pytest.importorskip("matplotlib")
    assert (out / "curves_loss.png").exists() and (out / "curves_accuracy.png").exists()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(fashion_mnist.SYSTEM_DIR, "train-images-idx3-ubyte.gz"))
                    and not os.environ.get("DEEPGRAD_DATA"), reason="Fashion-MNIST not installed")
def test_fashion_mlp_quick(tmp_path):
    out = tmp_path / "fm"
    assert cli.main(["run", "fashion-mlp", "--quick", "--out", str(out)]) == 0
    m = _check_run_dir(out, "fashion-mlp", 2)
    assert m["test_accuracy"] > 0.75


@pytest.mark.slow
def test_same_seed_same_run(tmp_path):
    from deepgrad.serialization import load_weights

    for name in ("a", "b"):
        assert cli.main(["run", "planar", "--epochs", "60", "--seed", "3", "--out", str(tmp_path / name)]) == 0
    ma, mb = (json.loads((tmp_path / n / "metrics.json").read_text()) for n in ("a", "b"))
    for k in ("test_accuracy", "train_loss", "dev_loss"):
        assert ma[k] == mb[k]
    wa, wb = (load_weights(None, tmp_path / n / "model.safetensors") for n in ("a", "b"))
    for k in wa:
        assert (wa[k] == wb[k]).all()


# ----- flags checked before any work: one line naming the flag, exit status 2 ----------------
@pytest.mark.parametrize("argv, names", [
    (["run", "planar", "--epochs", "0"], ["--epochs", "at least 1"]),
    (["run", "planar", "--epochs", "-3"], ["--epochs", "at least 1"]),
    (["run", "planar", "--epochs", "two"], ["--epochs", "whole number"]),
    (["run", "fashion-mlp", "--batch-size", "0"], ["--batch-size", "at least 1"]),
    (["run", "planar", "--seed", "-1"], ["--seed", "at least 0"]),
    (["run", "planar", "--lr", "nan"], ["--lr", "finite"]),
    (["run", "planar", "--lr", "inf"], ["--lr", "finite"]),
    (["run", "planar", "--lr", "-0.1"], ["--lr", "positive"]),
    (["run", "planar", "--lr", "fast"], ["--lr", "number"]),
    (["run", "planar", "--batch-size", "8"], ["--batch-size", "not used by recipe 'planar'"]),
    (["run", "planar", "--source", "raw"], ["--source", "not used by recipe 'planar'"]),
    (["run", "fashion-mlp", "--source", "raw"], ["--source", "not used"]),
    (["run", "transfer-digits", "--checkpoint-dir", "x"], ["--checkpoint-dir", "not used"]),
    (["run", "planar", "--force-resume"], ["--force-resume", "needs --checkpoint-dir"]),
    (["run", "planar", "--checkpoint-every-steps", "5"], ["--checkpoint-every-steps", "needs --checkpoint-dir"]),
    (["run", "planar", "--checkpoint-every-steps", "0", "--checkpoint-dir", "x"], ["--checkpoint-every-steps", "at least 1"]),
    (["frobnicate"], ["invalid choice", "frobnicate"]),
])
def test_bad_flags_one_line(argv, names, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    for n in names:
        assert n in err, err
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_unwritable_out_is_refused_before_work(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["run", "planar", "--epochs", "2", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--out" in err and str(blocker) in err and "\n" not in err
    assert cli.main(["run", "planar", "--epochs", "2", "--out", str(blocker)]) == 2
    assert "not a directory" in capsys.readouterr().err
    ck = tmp_path / "ck"
    ck.mkdir()
    ck.chmod(0o500)
    try:
        if os.access(ck, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: permissions are not enforced")
        assert cli.main(["run", "planar", "--epochs", "2", "--out", str(tmp_path / "o"), "--checkpoint-dir", str(ck)]) == 2
        err = capsys.readouterr().err
        assert "--checkpoint-dir" in err and "not writable" in err
        assert not (tmp_path / "o" / "metrics.json").exists()
    finally:
        ck.chmod(0o700)


def test_lr_zero_warns(tmp_path, capsys):
    assert cli.main(["run", "planar", "--epochs", "2", "--lr", "0", "--out", str(tmp_path / "o")]) == 0
    assert "--lr 0" in capsys.readouterr().err


def test_debug_shows_traceback(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["run", "planar", "--out", str(blocker), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("DEEPGRAD_DEBUG", "1")
    assert cli.main(["run", "planar", "--out", str(blocker)]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_subcommand_registry(monkeypatch, capsys):
    import types

    mod = types.ModuleType("deepgrad_test_subcommand")
    mod.add_parser = lambda sub: sub.add_parser("hello").add_argument("--name", default="world")

    def run(args):
        if args.name == "boom":
            raise RuntimeError("exploded\non two lines")
        print(f"hello {args.name}")
        return 0

    mod.run = run
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + [mod.__name__])
    assert cli.main(["hello", "--name", "you"]) == 0
    assert capsys.readouterr().out == "hello you\n"
    assert cli.main(["hello", "--name", "boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "deepgrad hello: RuntimeError: exploded on two lines" in err
    assert cli.main(["run", "--list"]) == 0  # the built-in commands still there


def test_console_one_line_errors_and_exit_status():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-m", "deepgrad.cli", "run", "planar", "--epochs", "0"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and proc.stderr.strip() == "deepgrad run: argument --epochs: must be at least 1, got 0"
    proc = subprocess.run([sys.executable, "-m", "deepgrad.cli", "run", "planar", "--seed", "x", "--debug"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and "Traceback" in proc.stderr and proc.stderr.strip().endswith("got 'x'")


def test_default_out_dirs_are_distinct(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert cli.main(["run", "planar", "--epochs", "2"]) == 0
    dirs = sorted(d for d in os.listdir(tmp_path / "runs") if os.path.isdir(tmp_path / "runs" / d))  # and runs.sqlite
    assert len(dirs) == 2 and all(d.startswith("planar-") for d in dirs)
    assert all((tmp_path / "runs" / d / "metrics.json").exists() for d in dirs)


def test_every_recipe_declares_the_flags_it_reads():
    """The recipe contract: ``FLAGS`` lists exactly the command-line options its module reads
    (``setting(args, "x", ...)`` / ``getattr(args, "x")``; ``checkpoint_dir`` through
    ``fit_options``), so that a flag it does not use is refused, never silently ignored."""
    import importlib
    import inspect
    import re

    from deepgrad.recipes._cli import RECIPE_FLAGS

    for name in recipes.names():
        mod = recipes.get(name)
        assert hasattr(mod, "FLAGS"), f"recipe {name} declares no FLAGS"
        src = inspect.getsource(mod)
        # a recipe's own helper module (``from ._wordvec import run_embedding``, ``.shapes_common``) may read the
        # flags for it: add the source of the helper functions the recipe hands ``args`` to
        for helper in set(re.findall(r"from \.(_\w+|\w+_common) import", src)) - {"_common", "_cli"}:
            hmod = importlib.import_module(f"deepgrad.recipes.{helper}")
            for fname in set(re.findall(r"(\w+)\(args\b", src)):
                if callable(getattr(hmod, fname, None)):
                    src += inspect.getsource(getattr(hmod, fname))
        read = set(re.findall(r'(?:setting|getattr)\(args, "(\w+)"', src)) & set(RECIPE_FLAGS)
        if "fit_options(args" in src:
            read.add("checkpoint_dir")
        if "config_overrides(args" in src:  # --config FILE: the recipe applies the overrides
            read.add("config")
        assert set(mod.FLAGS) == read, (name, sorted(mod.FLAGS), sorted(read))
