"""The course examples: each runs end to end with ``--quick`` and writes results that make sense.

Each example is run as a user would (``python examples/<name>.py --quick --out DIR``) in
a subprocess; the test reads ``DIR/results.json`` and checks the course's qualitative
result on our figures (e.g. He initialization beats zeros, Adam beats plain gradient
descent at the course's small learning rate, the planted backward bug is named).
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("c[0-9]w[0-9]_*.py"))
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
NEEDS_FASHION = {"c1w2_logistic_regression", "c1w4_deep_network", "c2w3_batchnorm_softmax"}
QUICK_BUDGET_S = 20  # the quick mode's target on an idle 2-core machine
TIMEOUT_S = 300  # generous: the test machine may be busy


def _have_fashion() -> bool:
    if FASHION.exists():
        return True
    try:
        from deepgrad.data.datasets import fashion_mnist

        fashion_mnist.find_files(download=False)
        return True
    except Exception:
        return False


def run_example(name: str, out: Path) -> tuple[dict, str]:
    if name in NEEDS_FASHION and not _have_fashion():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    res = json.loads((out / "results.json").read_text())
    res["_wall"], res["_cpu"] = wall, cpu
    return res, proc.stdout


def figure(res: dict, prefix: str) -> dict:
    rows = [r for r in res["figures"] if r["what"].startswith(prefix)]
    assert len(rows) == 1, f"expected one figure starting with {prefix!r}, got {[r['what'] for r in res['figures']]}"
    return rows[0]


def ours(res, prefix):
    return figure(res, prefix)["ours"]


def test_every_example_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    assert len(NAMES) == 10, NAMES
    for name in NAMES:
        assert f"examples/{name}.py" in readme, name


@pytest.mark.parametrize("name", NAMES)
def test_example_is_a_jupytext_notebook(name):
    jupytext = pytest.importorskip("jupytext")
    nb = jupytext.read(EXAMPLES / f"{name}.py")
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") >= 2 and kinds.count("code") >= 3, kinds
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.lstrip().startswith("# Course")


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_example_runs_quick(name, tmp_path):
    res, stdout = run_example(name, tmp_path)
    assert res["example"] == name and res["quick"] is True
    assert "course vs deepgrad" in stdout
    assert res["figures"], "no figures recorded"
    for row in res["figures"]:  # every printed figure of ours is a real number (or a name)
        assert row["ours"] is None or isinstance(row["ours"], (int, float, str)), row
        if isinstance(row["ours"], float):
            assert row["ours"] == row["ours"], f"NaN in {row}"  # not NaN
    # CPU seconds, not wall time: a busy machine slows the wall clock, not the work done.
    # Two BLAS threads may run at once, hence the factor 2.
    assert res["_cpu"] < 2 * QUICK_BUDGET_S, f"{name} --quick used {res['_cpu']:.0f} CPU s (target {QUICK_BUDGET_S} s wall)"
    CHECKS[name](res, tmp_path)


# ----- what each example must show ------------------------------------------------------
def _pictures(tmp_path, *names):
    pytest.importorskip("matplotlib")
    for n in names:
        assert (tmp_path / n).stat().st_size > 1000, n


def check_c1w2(res, tmp_path):
    assert ours(res, "train accuracy (lr 0.005") > 0.7
    assert ours(res, "test accuracy (lr 0.005") > 0.6
    sweep = res["sweep"]
    # a larger learning rate lowers the cost further within the same number of iterations
    assert sweep["0.01"]["costs"][-1] < sweep["0.001"]["costs"][-1] < sweep["0.0001"]["costs"][-1]
    assert all(a >= b for a, b in zip(res["costs"], res["costs"][1:])), "cost must decrease"
    _pictures(tmp_path, "learning_curves.png")


def check_c1w3(res, tmp_path):
    logreg = ours(res, "logistic regression")
    hidden = ours(res, "4 tanh hidden units")
    assert logreg < 0.7 and hidden > 0.85 and hidden > logreg + 0.2
    assert ours(res, "sweep: 1 hidden") < ours(res, "sweep: 5 hidden")
    _pictures(tmp_path, "decision_boundaries.png")


def check_c1w4(res, tmp_path):
    for prefix in ("2-layer: train", "2-layer: test", "4-layer: train", "4-layer: test"):
        assert 0.6 < ours(res, prefix) <= 1.0, prefix
    assert res["costs_4_layer"][-1] < res["costs_4_layer"][0]
    _pictures(tmp_path, "deep_network.png")


def check_c2w1_init(res, tmp_path):
    assert ours(res, "zeros: train") == pytest.approx(0.5)  # symmetry never broken
    # --quick trains 5,000 of the course's 15,000 iterations: He is ahead, not yet at 96%
    assert ours(res, "He: train") > max(0.75, ours(res, "large random (x10): train"))
    assert res["costs large random (x10)"][0] > 10 * res["costs He"][0]  # saturated sigmoid: huge initial cost
    _pictures(tmp_path, "initialization.png")


def check_c2w1_reg(res, tmp_path):
    for row in res["figures"]:
        assert 0.8 < row["ours"] <= 1.0, row
    _pictures(tmp_path, "regularization.png")


def check_c2w1_gradcheck(res, tmp_path):
    assert res["correct_passed"] is True
    assert sorted(res["buggy_failed"]) == ["0.bias", "2.weight"]
    assert ours(res, "all parameters as one vector, correct") < 1e-7
    assert ours(res, "all parameters as one vector, planted") > 1e-2
    assert ours(res, "1-D check") < 1e-7


def check_c2w2(res, tmp_path):
    # at the course's small learning rate Adam gets much further than plain gradient descent
    assert ours(res, "adam, lr 0.0007 (") > ours(res, "gd, lr 0.0007 (") + 0.05
    assert ours(res, "adam, lr 0.01, with decay") > 0.85
    # on the narrow valley every adaptive/momentum method beats plain gradient descent
    gd = ours(res, "valley J(w) after 60 steps: gradient descent")
    for name in ("momentum", "RMSprop", "Adam"):
        assert ours(res, f"valley J(w) after 60 steps: {name}") < gd / 5, name
    paths = res["paths"]
    assert all(len(p) == 61 for p in paths.values())
    _pictures(tmp_path, "optimizers.png", "decision_boundaries.png")


def check_c2w3(res, tmp_path):
    for name in ("without batch norm", "with batch norm"):
        h = res[name]
        losses = [row["train_loss"] for row in h["rows"]]
        assert len(losses) == 2
        assert losses[-1] < losses[0], name
        assert ours(res, f"{name}: test accuracy") > 0.65, name
    assert abs(sum(res["per_class_accuracy_bn"].values()) / 10 - ours(res, "with batch norm: test accuracy")) < 0.05
    _pictures(tmp_path, "batchnorm.png")


def check_c4w1_step(res, tmp_path):
    assert ours(res, "conv_single_step") == pytest.approx(-6.99908945068)
    assert ours(res, "conv_forward: Z's mean") == pytest.approx(0.0489952035289)
    assert ours(res, "conv_forward: loops and F.conv2d agree") < 1e-10
    for prefix, course in (("conv_backward: dA_mean", 1.45243777754), ("conv_backward: dW_mean", 1.72699145831),
                           ("conv_backward: db_mean", 7.83923256462)):
        assert ours(res, prefix) == pytest.approx(course)
    for prefix in ("pool_forward max", "pool_forward average", "pool_backward max", "pool_backward average"):
        row = figure(res, prefix)
        assert row["ours"] == row["course"], row
    assert ours(res, "conv forward") > 5  # the vectorized op beats the course's loops


def check_c4w1_app(res, tmp_path):
    assert ours(res, "LeNet-5 parameters") == 61706
    assert ours(res, "test accuracy after 1 epoch") > 0.5  # --quick: 3,000 images, one epoch; chance is 0.1


CHECKS = {
    "c4w1_convolution_step_by_step": check_c4w1_step,
    "c4w1_convolution_application": check_c4w1_app,
    "c1w2_logistic_regression": check_c1w2,
    "c1w3_planar": check_c1w3,
    "c1w4_deep_network": check_c1w4,
    "c2w1_initialization": check_c2w1_init,
    "c2w1_regularization": check_c2w1_reg,
    "c2w1_gradient_checking": check_c2w1_gradcheck,
    "c2w2_optimization": check_c2w2,
    "c2w3_batchnorm_softmax": check_c2w3,
}
