"""inspect: the table's numbers and flags mean what they say; HealthMonitor; `deepgrad inspect` on a run directory."""
import json

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import cli, nn, optim
from deepgrad.check import HealthMonitor, inspect, plot_health_history
from deepgrad.train import Trainer

rng = np.random.default_rng(0)
X = rng.standard_normal((128, 20)).astype(np.float32)
Y = rng.integers(0, 3, 128)


def deep(act, std, depth=6, width=32):
    dg.manual_seed(0)
    r = np.random.default_rng(1)
    layers, w = [], 20
    for _ in range(depth):
        lin = nn.Linear(w, width)
        with dg.no_grad():
            lin.weight.data[...] = r.normal(0, std if std else np.sqrt(2 / w), lin.weight.shape)
            lin.bias.data[...] = 0
        layers += [lin, act()]
        w = width
    layers.append(nn.Linear(w, 3))
    return nn.Sequential(*layers)


def test_small_init_flags_vanishing_and_lost_signal_he_init_is_clean():
    bad = inspect(deep(nn.Tanh, 0.01), (X, Y), lr=0.1)
    assert "vanishing" in bad.param("0.weight").flags
    assert "signal lost" in bad.layer("5").flags and "signal lost" not in bad.layer("1").flags
    assert bad.layer("11").std < 1e-3 * bad.layer("1").std
    good = inspect(deep(nn.ReLU, None), (X, Y), lr=0.1)
    assert not any("vanishing" in f or "signal" in f or "exploding" in f for f in good.flags), good.flags
    assert 1e-4 < good.param("0.weight").update_ratio < 1e-1


def test_dead_relu_units_counted_exactly():
    m = deep(nn.ReLU, None, depth=2)
    with dg.no_grad():
        m[0].bias.data[:24] = -1e3  # 24 of 32 units can never fire
    rep = inspect(m, (X, Y))
    assert rep.layer("1").dead_fraction == pytest.approx(24 / 32)
    assert any(f.startswith("dead") for f in rep.layer("1").flags)
    assert rep.layer("1").zero_fraction >= 24 / 32


def test_saturated_tanh_and_exploding_gradient():
    m = deep(nn.Tanh, 3.0, depth=3)
    rep = inspect(m, (X, Y))
    assert rep.layer("1").saturated_fraction > 0.5 and any("saturated" in f for f in rep.layer("1").flags)
    m = nn.Sequential(nn.Linear(20, 3))
    with dg.no_grad():
        m[0].weight.data *= 1e4
    rep = inspect(m, (X * 100, np.zeros((128, 3), np.float32)), "mse")
    assert "exploding" in rep.param("0.weight").flags and "fast updates" in rep.param("0.weight").flags


@pytest.mark.slow
def test_inspect_leaves_the_model_as_it_was_and_draws(tmp_path):
    pytest.importorskip("matplotlib")
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(20, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    m.eval()
    before = {k: v.copy() for k, v in m.state_dict().items()}
    rep = inspect(m, (X, Y), out=str(tmp_path / "h.png"))
    assert not m.training and all(p.grad is None for p in m.parameters())
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    assert (tmp_path / "h.png").stat().st_size > 10000
    assert [r.name for r in rep.layers] == ["0", "1", "2", "3", "4"]
    text = rep.table()
    assert "update/weight" in text and "dead" in text and "flags:" in text


def test_health_monitor_records_real_update_ratio_per_epoch(tmp_path):
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    mon = HealthMonitor(probe=X[:32])
    lr = 0.05
    tr = Trainer(m, optim.SGD(m.parameters(), lr=lr), progress=False, batch_size=32, callbacks=[mon])
    h = tr.fit((X, Y), epochs=3)
    cols = h.columns()
    for c in ("grad_rms/0.weight", "update_ratio/2.weight", "act_std/0", "zero_frac/1", "dead/1"):
        assert c in cols, c
    assert len(mon.reports) == 3
    # plain SGD: the measured step is lr * grad, so the ratio is lr |g| / |W| exactly
    rep = mon.reports[3]
    p = rep.params[0]
    assert p.update_ratio == pytest.approx(lr * p.grad_norm / p.weight_norm, rel=1e-4)
    assert all(np.isfinite(v) for v in h["update_ratio/0.weight"])
    assert all(0 <= v <= 1 for v in h["dead_epoch/1"])
    csv = h.to_csv()
    assert "grad_rms/0.weight" in csv.splitlines()[0]
    pytest.importorskip("matplotlib")
    plot_health_history(h, str(tmp_path / "hh.png"))
    assert (tmp_path / "hh.png").stat().st_size > 10000


def _planar_run(tmp_path):
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    run = tmp_path / "run"
    run.mkdir()
    dg.save_model(m, str(run / "model.safetensors"), metadata={"recipe": "planar"})
    (run / "metrics.json").write_text(json.dumps({"recipe": "planar", "config": {"lr": 1.2}}))
    return run


@pytest.mark.slow
def test_cli_inspect_and_explain_on_a_run_directory(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = _planar_run(tmp_path)
    assert cli.main(["inspect", str(run), "--n", "64"]) == 0
    out = capsys.readouterr().out
    assert "planar run" in out and "update/weight (SGD step, lr 1.2)" in out and (run / "health.png").exists()
    assert cli.main(["explain", str(run), "--method", "pca"]) == 0
    assert (run / "explain-projection.png").stat().st_size > 5000
    assert cli.main(["explain", str(run), "--method", "saliency"]) == 2
    assert "not images" in capsys.readouterr().err


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["inspect", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and len(err.strip().splitlines()) == 1
    run = _planar_run(tmp_path)
    assert cli.main(["explain", str(run), "--method", "bogus"]) == 2
    assert "unknown method 'bogus'" in capsys.readouterr().err
    (run / "model.safetensors").write_bytes(b"garbage")
    assert cli.main(["inspect", str(run)]) == 2
    err = capsys.readouterr().err
    assert "cannot load the model" in err and len(err.strip().splitlines()) == 1


def test_run_dir_standardization_matches_the_recipes():
    from deepgrad.check import rundir
    from deepgrad.recipes import _common

    assert (rundir.FASHION_MEAN, rundir.FASHION_STD) == (_common.FASHION_MEAN, _common.FASHION_STD)
    assert set(rundir.FASHION_RECIPES) <= set(__import__("deepgrad.recipes", fromlist=["RECIPES"]).RECIPES)


def test_dead_units_over_the_epoch():
    dg.manual_seed(0)
    m = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 3))
    with dg.no_grad():
        m[0].bias.data[:5] = -1e3  # 5 of 16 units never fire on any batch
    mon = HealthMonitor()
    tr = Trainer(m, optim.SGD(m.parameters(), lr=1e-4), progress=False, batch_size=16, callbacks=[mon])
    h = tr.fit((X, Y), epochs=2)
    assert h["dead_epoch/1"] == [pytest.approx(5 / 16)] * 2
    assert mon.reports[2].dead_over_epoch == {"1": pytest.approx(5 / 16)}
    assert not m[1].__dict__.get("_forward_hooks")  # the monitor's hooks are gone after fit
