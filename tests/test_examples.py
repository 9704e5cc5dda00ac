"""The course examples: each runs end to end with ``--quick`` and writes results that make sense.

Each example is run as a user would (``python examples/<name>.py --quick --out DIR``) in
a subprocess; the test reads ``DIR/results.json`` and checks the course's qualitative
result on our figures (e.g. He initialization beats zeros, Adam beats plain gradient
descent at the course's small learning rate, the planted backward bug is named).
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
NAMES = sorted(p.stem for p in EXAMPLES.glob("c[0-9]*_*.py"))  # cNwW_<name>, and c3_case_study
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
NEEDS_FASHION = {"c1w2_logistic_regression", "c1w4_deep_network", "c2w3_batchnorm_softmax", "c4w2_transfer_learning"}
NEEDS_FASHION |= {"c4w2_resnets", "c4w2_mobilenet", "c4w2_augmentation"}
NEEDS_FASHION |= {"c4w4_face_recognition"}
NEEDS_FASHION |= {"c3_case_study", "c2w3_tuning"}
NEEDS_ESPEAK = {"c5w3_trigger_word"}  # speaks its words with espeak-ng (CI installs it with scripts/get-data.sh)
NEEDS_DATES = {"c5w3_nmt_dates"}  # writes its dates with faker and babel (pip install -e ".[dates]")
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
    if name == "c2w3_tuning":
        pytest.importorskip("optuna")  # the tune extra
    if name in NEEDS_ESPEAK and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install espeak-ng, or bash scripts/get-data.sh)")
    if name in NEEDS_DATES:
        pytest.importorskip("faker")
        pytest.importorskip("babel")
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    res = json.loads((out / "results.json").read_text())
    return res, proc.stdout


def figure(res: dict, prefix: str) -> dict:
    rows = [r for r in res["figures"] if r["what"].startswith(prefix)]
    assert len(rows) == 1, f"expected one figure starting with {prefix!r}, got {[r['what'] for r in res['figures']]}"
    return rows[0]


def ours(res, prefix):
    return figure(res, prefix)["ours"]


def _tables():
    """``scripts/example_tables.py`` as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_tables", ROOT / "scripts" / "example_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# the examples whose full runs' figures are committed in examples/results/ (others add theirs as they land).
WITH_RESULTS = ["c1w2_logistic_regression", "c1w3_planar", "c1w4_deep_network", "c2w1_gradient_checking",
                "c2w1_initialization", "c2w1_regularization", "c2w2_optimization", "c2w3_batchnorm_softmax",
                "c4w1_convolution_application", "c4w1_convolution_step_by_step", "c4w2_mobilenet", "c4w2_resnets",
                "c4w2_transfer_learning", "c4w2_augmentation", "c2w3_tuning", "c3_case_study", "c5w3_nmt_dates",
                "c5w4_transformer"]


def test_readme_tables_are_generated_from_the_result_files():
    """examples/README.md's tables (and the docs pages' copies) are exactly what
    ``scripts/example_tables.py write`` makes of examples/results/*.json: a hand edit, or a
    result file committed without regenerating, fails here."""
    tables = _tables()
    stale = [str(path.relative_to(ROOT)) for path, text in tables.generated_files().items() if path.read_text() != text]
    assert not stale, f"run: python scripts/example_tables.py write  (stale: {stale})"
    readme = (EXAMPLES / "README.md").read_text()
    assert readme.count(tables.BEGIN) == 1 and readme.count(tables.END) == 1


def test_result_files_are_full_runs_of_the_examples():
    tables = _tables()
    loaded = tables.load()  # validates each file; refuses --quick runs
    results = {r["example"]: r for r in loaded if not r["_variant"]}
    missing = [n for n in WITH_RESULTS if n not in results]
    assert not missing, f"no examples/results/<name>.json for {missing}"
    for res in loaded:
        name = res["example"]
        assert (EXAMPLES / f"{name}.py").exists(), name
        assert res["quick"] is False and "--quick" not in res["argv"], name
        if not res["_variant"]:  # the main tables are measured on one BLAS thread; <name>.tN.json on N
            assert res["threads"] == "1", (name, res["threads"])
        # the course column holds figures (numbers, or the course's threshold), never a prose target
        for row in res["figures"]:
            c = row["course"]
            assert c is None or isinstance(c, (int, float)) or c.startswith("< "), (name, row)


def test_course_column_figures_are_the_courses_own():
    """Every number in the course column is one that ``shared/COURSE.md`` prints (the course's
    own notebooks' outputs), in any of the ways the tables write it (0.915 as 91.5, ...).
    COURSE.md is the project's shared note beside the repository; without it there is nothing
    to compare with."""
    course_md = ROOT.parent / "shared" / "COURSE.md"
    if not course_md.exists():
        pytest.skip(f"{course_md} is not on this machine (the project's shared notes)")
    text = course_md.read_text()
    unknown = []
    for res in _tables().load():
        for row in res["figures"]:
            c = row["course"]
            if c is None:
                continue
            if isinstance(c, str):
                forms = {c[2:] if c.startswith("< ") else c}
            else:
                forms = {f"{c}", f"{c:g}", f"{c:,}", f"{c:.2f}", f"{100 * c:.1f}", f"{100 * c:.2f}", f"{100 * c:g}"}
            if not any(f in text for f in forms):
                unknown.append((res["example"], row["what"], c))
    assert not unknown, f"course figures not in COURSE.md: {unknown}"


def test_table_rendering_matches_the_printed_table(tmp_path):
    """The README's cells are the example's own formatting (``examples/_common.py``)."""
    tables = _tables()
    res = {"example": "c1w3_planar", "quick": False, "seed": 1, "seconds": 12.5, "threads": "1", "argv": [],
           "figures": [{"what": "a | b", "course": 0.9075, "ours": 0.94, "pct": True, "note": "", "expected": None},
                       {"what": "shape", "course": None, "ours": "(3, 6, 2, 2)", "pct": False, "note": "NCHW",
                        "expected": "(3, 6, 2, 2)"}]}
    tables.validate(res)
    text = tables.section(res)
    assert "| a \\| b | 90.75% | 94.0% |  |" in text
    assert "| shape | - | (3, 6, 2, 2) | NCHW; expected (3, 6, 2, 2) |" in text
    with pytest.raises(ValueError, match="missing keys"):
        tables.validate({"example": "x", "figures": []})


def test_every_example_is_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    assert len(NAMES) >= 13, NAMES
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
    figures = json.loads((out_figures := tmp_path / "figures.json").read_text())
    _tables().validate(figures)  # the format scripts/example_tables.py makes the README's tables from
    assert figures["quick"] is True and figures["figures"] == res["figures"], out_figures
    for row in res["figures"]:  # every printed figure of ours is a real number (or a name)
        assert row["ours"] is None or isinstance(row["ours"], (int, float, str)), row
        if isinstance(row["ours"], float):
            assert row["ours"] == row["ours"], f"NaN in {row}"  # not NaN
    # Speed is not asserted here (timings belong in benchmarks); TIMEOUT_S only stops a hung run.
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
    # --quick: 2 seeds, 800 of the course's 2,500 iterations, 400 test images
    assert res["seeds"] == [1, 2] and res["n_test"] == 400
    runs = res["runs"]
    for name in ("2-layer", "4-layer", "2-layer, 1/sqrt(n) init"):
        r = runs[name]
        assert r["seed"] == [1, 2], name
        for costs in r["costs"]:  # every network trains: the cost falls well below log(2) = 0.693
            assert costs[0] > 0.65 and costs[-1] < 0.5, (name, costs[0], costs[-1])
        for acc in r["train"] + r["test"]:  # and beats chance (0.5) on a balanced task
            assert 0.65 < acc <= 1.0, (name, r["train"], r["test"])
    # the table shows the mean over the seeds, and the gap is the mean of per-seed gaps
    for net in ("2-layer", "4-layer"):
        for split in ("train", "test"):
            assert ours(res, f"{net}: {split} accuracy") == pytest.approx(sum(runs[net][split]) / 2)
    gaps = [a - b for a, b in zip(runs["4-layer"]["test"], runs["2-layer"]["test"])]
    assert ours(res, "4-layer minus 2-layer") == pytest.approx(sum(gaps) / 2)
    g = res["gaps_50_images"]  # 50-image test sets: the gap is noisy (a spread of several points)
    assert g["p95"] - g["p5"] >= 0.04
    _pictures(tmp_path, "deep_network.png")


def check_c2w1_init(res, tmp_path):
    assert ours(res, "zeros: train") == pytest.approx(0.5)  # symmetry never broken
    # --quick trains 5,000 of the course's 15,000 iterations: He is ahead, not yet at 96%
    assert ours(res, "He: train") > max(0.75, ours(res, "large random (x10): train"))
    assert res["costs large random (x10)"][0] > 10 * res["costs He"][0]  # saturated sigmoid: huge initial cost
    _pictures(tmp_path, "initialization.png")


def check_c2w1_reg(res, tmp_path):
    assert res["seeds"] == [1]  # --quick: the first seed, a tenth of the iterations
    for name, r in res["per_seed"].items():
        assert len(r["train"]) == len(r["test"]) == 1, name
        assert 0.8 < r["train"][0] <= 1.0 and 0.8 < r["test"][0] <= 1.0, (name, r["train"], r["test"])
        assert r["costs"][0][-1] < r["costs"][0][0], name  # training lowers the cost
        assert res["gaps"][name] == pytest.approx([r["train"][0] - r["test"][0]])
        assert ours(res, f"{name}: train accuracy") == pytest.approx(r["train"][0])
    # the lesson's count is computed from the gaps (the full run shows it holds: README)
    assert ours(res, "seeds where the unregularized") == f"{res['lesson_holds_in']} of 1"
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
        assert row["ours"] == row["expected"], row
    for row in res["figures"]:  # the notebook's expected outputs are checks, not course-column figures
        assert row["course"] is None, row
        if isinstance(row["expected"], float):
            assert row["ours"] == pytest.approx(row["expected"]), row
    assert ours(res, "conv forward") > 5  # the vectorized op beats the course's loops


def check_c4w1_app(res, tmp_path):
    assert ours(res, "LeNet-5 parameters") == 61706
    history = (tmp_path / "history.csv").read_text().splitlines()
    assert history[0] == "epoch,train_loss,test_accuracy,seconds" and len(history) == 2  # --quick: one epoch
    _pictures(tmp_path, "learning_curves.png")
    assert ours(res, "test accuracy after 1 epoch") > 0.5  # --quick: 3,000 images, one epoch; chance is 0.1


def check_c4w2_resnets(res, tmp_path):
    assert ours(res, "identity block output shape") == "(3, 3, 4, 4)"
    assert ours(res, "convolutional block output shape") == "(3, 6, 2, 2)"
    assert ours(res, "gamma=0 block") < 1e-6  # the block is exactly relu(x)
    for name in ("identity", "convolutional"):
        assert ours(res, f"gradient check, {name} block") < 1e-6
        assert res[f"gradcheck_failed_{name}"] == []
    assert ours(res, "ResNet-50 weight layers") == 50
    for prefix in ("ResNet-50 trainable", "ResNet-50 total"):  # Keras' counts, reconciled exactly
        row = figure(res, prefix)
        assert row["ours"] == row["expected"], row
    runs, d, seeds = res["runs"], res["depth"], res["seeds"]
    assert d == 14 and seeds == [1]  # --quick: one seed, depth 14, two short epochs
    assert set(runs) == {"plain-8", f"plain-{d}", f"resnet-{d}"}
    for label, rs in runs.items():
        assert [r["seed"] for r in rs] == seeds, label
        for r in rs:
            assert len(r["epoch_train_error"]) == 2 and 0 <= r["train_error"] <= 1, label
            assert 0 <= r["test_accuracy"] <= 1 and r["losses"][-1] == r["losses"][-1], label
    # every network learns something in 20 steps: the training loss falls (test accuracy in eval mode is not
    # meaningful yet: batch norm's running statistics lag after so few steps)
    for label in runs:
        r = runs[label][0]
        assert r["epoch_train_loss"][-1] < r["epoch_train_loss"][0], label
    # the table's differences are computed from the runs (the lesson itself needs the full run: see README)
    gap = runs[f"plain-{d}"][0]["train_error"] - runs[f"resnet-{d}"][0]["train_error"]
    assert ours(res, f"plain-{d} minus resnet-{d}") == f"{100 * gap:.1f}%"
    assert res["lesson_holds_in"] in (0, 1)
    _pictures(tmp_path, "plain_vs_resnet.png")


def check_c4w2_mobilenet(res, tmp_path):
    assert ours(res, "normal conv cost") == 2160 and ours(res, "depthwise-separable cost") == 672
    assert ours(res, "cost ratio separable") == pytest.approx(1 / 5 + 1 / 9, abs=1e-3)
    assert ours(res, "cost ratio at 14x14") == pytest.approx(1 / 128 + 1 / 9, abs=1e-3)
    c = res["cost"]["14x14x64_to_128"]
    assert c["standard_params"] == 64 * 128 * 9 and c["separable_params"] == 64 * 9 + 64 * 128
    # 16 -> 96 (1x1) -> 96 (3x3 depthwise) -> 16 (1x1), each followed by batch norm (2 parameters per channel)
    assert ours(res, "inverted residual") == 16 * 96 + 2 * 96 + 96 * 9 + 2 * 96 + 96 * 16 + 2 * 16
    for key, acc in res["accuracy"].items():
        assert 0.0 <= acc <= 1.0, key
    for key, losses in res["losses"].items():
        assert all(x == x and x < 10 for x in losses), key  # finite
    assert res["losses"]["scratch"][-1] < res["losses"]["scratch"][0]
    _pictures(tmp_path, "transfer.png")


def check_c4w2_augmentation(res, tmp_path):
    runs = res["runs"]
    assert len(runs["plain"]) == len(runs["augmented"]) == 1  # --quick: one seed
    for name in ("plain", "augmented"):
        r = runs[name][0]
        assert r["final_test"] > 0.15 and r["test_at_best_dev"] > 0.15, name  # chance is 0.1
        assert r["best_dev"] == max(row["dev"] for row in r["rows"])
    assert runs["plain"][0]["rows"][-1]["train_loss"] < runs["plain"][0]["rows"][0]["train_loss"]
    gain = runs["augmented"][0]["final_test"] - runs["plain"][0]["final_test"]
    assert ours(res, "augmentation gain, test, last epoch") == pytest.approx(gain)
    _pictures(tmp_path, "augmentation.png", "augmented_samples.png")


def check_c4w2_transfer(res, tmp_path):
    assert ours(res, "pretraining: Fashion-MNIST test accuracy") > 0.5  # --quick: 6,000 images, one epoch
    # phase 1 trains only the new head (fc 400-120-84-10) of LeNet-5's 61,706 parameters
    assert res["trainable_parameters_frozen_phase"] == 59134
    head_only, tuned = ours(res, "10 labels/class: head only"), ours(res, "10 labels/class: after fine-tuning")
    assert 0.5 < head_only <= 1 and 0.5 < tuned <= 1  # 10 digit classes: chance is 0.1
    for row in res["rows"]:
        assert 0.5 < row["scratch"] <= 1 and 0.5 < row["transfer"] <= 1, row
    _pictures(tmp_path, "data.png", "transfer.png")


def check_c5w2_word_vectors(res, tmp_path):
    assert ours(res, "cosine(father, mother)") > 0.3
    w = res["neutralized_word"]
    assert abs(ours(res, f"neutralize {w}: cosine with g after")) < 1e-6 < abs(ours(res, f"neutralize {w}: cosine with g before"))
    assert ours(res, "equalize man: cosine with g after") == pytest.approx(-ours(res, "equalize woman: cosine with g after"))
    assert ours(res, f"equalized pair: |cos({w}, man) - cos({w}, woman)|") < 1e-9
    assert ours(res, "hard debias: largest |projection|") < 1e-6
    assert ours(res, "hard debias: largest |cos(w, he) - cos(w, she)|") < 1e-9
    assert ours(res, "analogy man:woman::boy:?") == "girl"
    _pictures(tmp_path, "debias.png")


def check_c5w2_emojify(res, tmp_path):
    major = figure(res, "majority class")["ours"]
    assert ours(res, "V1 averaged embeddings: test accuracy") > major + 0.1  # 24 classes; the largest is ~14%
    assert 0 <= ours(res, "V2 LSTM: test accuracy") <= 1
    assert res["curves"]["v1"][-1]["train_loss"] < res["curves"]["v1"][0]["train_loss"]
    assert res["curves"]["v2"][-1]["train_loss"] < res["curves"]["v2"][0]["train_loss"]
    _pictures(tmp_path, "confusion.png")


CHECKS = {
    "c5w2_word_vectors": check_c5w2_word_vectors,
    "c5w2_emojify": check_c5w2_emojify,
    "c4w2_transfer_learning": check_c4w2_transfer,
    "c4w2_resnets": check_c4w2_resnets,
    "c4w2_mobilenet": check_c4w2_mobilenet,
    "c4w2_augmentation": check_c4w2_augmentation,
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


# ----- course 4, weeks 3-4 (detection, segmentation, verification, style transfer) -------------
def check_c4w3_detection(res, tmp_path):
    assert ours(res, "IoU of two 2x2 boxes") == pytest.approx(1 / 7, abs=1e-4)
    assert ours(res, "NMS keeps") == "[3, 0]"  # 3 (0.95) suppresses 2; 0 (0.9) suppresses 1
    assert ours(res, "output per image") == "6x6x2x8"
    assert 0.0 <= ours(res, "test mAP@0.5") <= 1.0
    assert res["losses"][-1] < res["losses"][0]  # --quick: one epoch on 160 images, the loss falls
    _pictures(tmp_path, "detections.png")


def check_c4w3_unet(res, tmp_path):
    assert ours(res, "ConvTranspose2d(k=2, s=2): 2x2 -> shape") == "(4, 4)"
    assert res["losses"][-1] < res["losses"][0]
    for v in res["iou"].values():
        assert v != v or 0.0 <= v <= 1.0  # NaN (class absent) or a fraction
    _pictures(tmp_path, "segmentation.png")


def check_c4w4_face(res, tmp_path):
    assert ours(res, "triplet loss margin") == 0.2
    # --quick: 12 steps; the encoder already separates unseen classes better than chance (1/3)
    assert ours(res, "one-shot identification") > 0.45
    assert ours(res, "verification accuracy, test pairs of seen") > 0.6  # chance 0.5
    _pictures(tmp_path, "verification.png")


def check_c4w4_style(res, tmp_path):
    assert ours(res, "total_cost on seed-3") == 35.35  # the course's own check, reproduced exactly
    h = res["history"]
    assert h[-1]["J"] < h[0]["J"]  # the pixels' optimization lowers the total cost
    _pictures(tmp_path, "style_transfer.png")


# ----- course 3 and course 2, week 3: the case study and tuning -------------------------------------
def check_c3_case_study(res, tmp_path):
    before, after = res["doctor_before"], res["doctor_after"]
    # doctor, run on the recorded runs, finds the planted shift, and synthesis removes most of it
    assert ours(res, "clean training images: doctor's primary") == before["primary"] == "data_mismatch"
    assert before["components"]["data_mismatch"] > 0.1
    assert after["components"]["data_mismatch"] < before["components"]["data_mismatch"] / 2
    assert res["errors_after"]["dev"] < res["errors_before"]["dev"] - 0.05
    assert ours(res, "share of the data mismatch closed") > 0.5
    for tag, doc, err in (("clean", before, res["errors_before"]), ("synth", after, res["errors_after"])):
        assert doc["errors"]["human"] == 0.037, tag
        for part in ("train", "train_dev", "dev", "test"):  # the store's record is the run's evaluation
            assert doc["errors"][part] == pytest.approx(err[part]), (tag, part)
    assert set(res["recorded"]) == {res["runs"]["before"], res["runs"]["after"]}
    # the tagged spreadsheet: every error of the clean model carries the camera's tags
    rep = res["tag_report_before"]
    rows = list(csv.DictReader((tmp_path / "errors-before" / "errors-tagged.csv").open()))
    assert rep["errors"] == len(rows) > 0
    for t, v in rep["tags"].items():
        assert v["count"] == sum(1 for r in rows if r[t] == "yes"), t
        assert v["ceiling"] == pytest.approx(v["share"] * res["errors_before"]["dev"]), t
    _pictures(tmp_path, "camera.png", "before_after.png", "doctor-before.png", "doctor-after.png", "compare.png",
              "errors-before/confusion.png", "errors-before/mistakes.png")


def check_c2w3_tuning(res, tmp_path):
    uni, logu = res["share_per_decade"]["uniform"], res["share_per_decade"]["log_uniform"]
    assert uni[-1] > 0.8 and all(0.15 < s < 0.35 for s in logu)  # 90% vs 25% per decade, 1,000 draws
    assert ours(res, "grid 3x3: distinct learning rates") == 3 and ours(res, "random 9: distinct learning") == 9
    labels = [r["label"] for r in res["runs"]]
    assert labels.count("grid") == labels.count("random") == 9
    assert labels.count("coarse") == labels.count("fine") == labels.count("control") == 4
    for r in res["runs"]:
        assert 0.0 <= r["dev_accuracy"] <= 1.0
    fine = res["fine_space"]
    for r in res["runs"]:
        if r["label"] == "fine":  # stage 2 samples inside the narrowed ranges only
            assert fine["lr"]["low"] <= r["lr"] <= fine["lr"]["high"]
            assert fine["units"]["low"] <= r["units"] <= fine["units"]["high"]
    assert 1e-4 <= fine["lr"]["low"] < fine["lr"]["high"] <= 0.3
    best = max(r["dev_accuracy"] for r in res["runs"])
    assert best > 0.5  # the small network learns (chance is 0.1)
    _pictures(tmp_path, "tuning.png")


CHECKS.update({
    "c3_case_study": check_c3_case_study,
    "c2w3_tuning": check_c2w3_tuning,
})
CHECKS.update({
    "c4w3_car_detection": check_c4w3_detection,
    "c4w3_image_segmentation_unet": check_c4w3_unet,
    "c4w4_face_recognition": check_c4w4_face,
    "c4w4_style_transfer": check_c4w4_style,
})
# ----- the diagnostics examples (deepgrad.check, deepgrad.exercises) -------------------------------
DIAGNOSTICS = ["debug_nan_hunt", "debug_not_learning", "exercise_check", "explain_fashion_cnn"]
NEEDS_FASHION |= {"debug_nan_hunt", "debug_not_learning", "explain_fashion_cnn"}


def test_diagnostics_examples_are_notebooks_listed_in_the_readme():
    readme = (EXAMPLES / "README.md").read_text()
    jupytext = pytest.importorskip("jupytext")
    for name in DIAGNOSTICS:
        assert f"examples/{name}.py" in readme, name
        nb = jupytext.read(EXAMPLES / f"{name}.py")
        kinds = [c.cell_type for c in nb.cells]
        assert kinds.count("markdown") >= 2 and kinds.count("code") >= 3, (name, kinds)
        assert nb.cells[0].source.lstrip().startswith("# Diagnostics"), name


def check_debug_not_learning(res, tmp_path):
    bad, good = res["small_init"], res["he_init"]
    assert "vanishing" in " ".join(bad["flags"]) and "signal lost" in " ".join(bad["flags"])
    assert not any("vanishing" in f or "signal lost" in f for f in good["flags"]), good["flags"]
    assert bad["dev_accuracy"][-1] < 0.2 < 0.5 < good["dev_accuracy"][-1]  # stuck at chance vs learning
    assert ours(res, "small init: |grad| / |W|") < 1e-3 < ours(res, "He init: |grad| / |W|")
    assert "grad_rms/0.weight" in res["history_columns"] and "update_ratio/0.weight" in res["history_columns"]
    _pictures(tmp_path, "health_small_init.png", "health_he_init.png", "health_history_small_init.png")


def check_debug_nan_hunt(res, tmp_path):
    assert (res["bug1"]["phase"], res["bug1"]["op"], res["bug1"]["module"]) == ("forward", "Div", "blocks.0.norm")
    assert "(1, 64)" in res["bug1"]["message"] and "range [0," in res["bug1"]["message"]
    assert (res["bug2"]["phase"], res["bug2"]["op"], res["bug2"]["module"]) == ("backward", "Sqrt", "blocks.1.act")
    assert ours(res, "bug 1 fixed (eps = 1e-5): final train loss") < 1.5
    assert "NaNGuard" in ours(res, "bug 1, NaNGuard alone")


def check_exercise_check(res, tmp_path):
    assert ours(res, "exercises available") >= 30
    assert ours(res, "first attempt: exit code") == 1 and ours(res, "fixed: exit code") == 0
    assert "dW" in res["first_attempt"] and "Minimal counterexample (shrunk):" in res["first_attempt"]
    assert ours(res, "naive softmax: first failing property").startswith("large logits")
    passed, total = ours(res, "references checked").split(" / ")
    assert passed == total


def check_explain_fashion_cnn(res, tmp_path):
    assert ours(res, "LeNet-5 test accuracy") > 0.5
    for name in ("saliency", "occlusion", "hirescam (first stage)"):
        assert ours(res, f"{name}: object/background contrast") > 1.5, name
    assert ours(res, "integrated gradients: completeness error") < 0.01
    assert ours(res, "ResNet (global average pooling) grad-cam") > 1.0
    assert ours(res, "activation maximization: own-class logit margin") > 0
    assert ours(res, "PCA of penultimate features") > 0.3  # chance is 0.1
    _pictures(tmp_path, "saliency.png", "grad-cam.png", "hirescam.png", "grad-cam-resnet.png", "filters.png", "maximize.png",
              "projection_pca.png")


DIAGNOSTIC_CHECKS = {"debug_not_learning": check_debug_not_learning, "debug_nan_hunt": check_debug_nan_hunt,
                     "exercise_check": check_exercise_check, "explain_fashion_cnn": check_explain_fashion_cnn}


@pytest.mark.slow
@pytest.mark.parametrize("name", DIAGNOSTICS)
def test_diagnostics_example_runs_quick(name, tmp_path):
    res, stdout = run_example(name, tmp_path)
    assert res["example"] == name and res["quick"] is True
    DIAGNOSTIC_CHECKS[name](res, tmp_path)
# ----- course 5, week 1: recurrent networks -----------------------------------------------
def check_c5w1_step(res, tmp_path):
    for key in ("rnn_errors", "lstm_errors"):
        for what, err in res[key].items():
            assert err < 1e-10, (key, what, err)  # the course's NumPy loops and the fused layers agree
    assert ours(res, "exploding gradient") > 1e3
    assert ours(res, "after clip_grad_value_(5)") == pytest.approx(5.0)
    assert ours(res, "after clip_grad_norm_(1)") == pytest.approx(1.0, rel=1e-4)


def check_c5w1_char_lm(res, tmp_path):
    assert ours(res, "vocabulary size") == 27
    assert ours(res, "course RNN n_a=50") < 22.5  # the smoothed loss fell from 7 ln 27 = 23.07
    bits = res["bits"]
    assert 3.0 < bits["bigram"]["test"] < 4.2
    assert bits["course_rnn"]["test"] < 4.75  # below the uniform log2(27) = 4.75
    h = res["lstm_history"]
    assert h[-1]["dev_bits"] < h[0]["dev_bits"] and h[-1]["dev_bits"] < 4.75
    assert all(len(v) == 12 for v in res["samples"].values())
    _pictures(tmp_path, "char_lm.png")


def check_c5w1_textgen(res, tmp_path):
    bits = res["bits"]
    assert bits["lstm"] < 6.0 and 2.0 < bits["bigram"] < 5.0  # log2(vocabulary) ~ 6.2 is chance
    assert res["structure"]["real"][0] > 0.9  # real code: indentation in steps of 4
    assert (tmp_path / "generated.py.txt").stat().st_size > 500


CHECKS.update({
    "c5w1_rnn_step_by_step": check_c5w1_step,
    "c5w1_char_lm": check_c5w1_char_lm,
    "c5w1_text_generation": check_c5w1_textgen,
})


# ----- course 5, week 3: trigger word detection -------------------------------------------
def check_c5w3_trigger(res, tmp_path):
    assert ours(res, "parameters of the course's model") == 523329  # the course's layers, Keras's count
    assert ours(res, "output steps per clip") == 122
    zeros = res["dev_scores"]["zeros_event"]
    assert zeros["f1"] == 0 and zeros["fn"] > 0  # all zeros finds no word
    assert 0.7 < ours(res, "dev frame accuracy, all zeros") < 1
    assert res["losses"][-1] < res["losses"][0]
    assert (tmp_path / "dev_clip_chimes.wav").stat().st_size > 100000
    _pictures(tmp_path, "words.png", "trigger.png")


CHECKS["c5w3_trigger_word"] = check_c5w3_trigger


# ----- course 5, weeks 3-4: date translation with attention, the transformer from its parts ------------
def check_c5w3_nmt(res, tmp_path):
    # the course's one step of attention (NumPy, Dense over [a; s_prev], ReLU energy) is nn.AdditiveAttention,
    # and the model's split form W_s s + W_a a_t is the same Dense
    assert ours(res, "one step of attention") < 1e-12
    assert ours(res, "the model's split form") < 1e-12
    assert ours(res, "parameters of the course's layers") == 52960  # Keras's count, from the layers built here
    assert ours(res, "parameters of DateTranslator") == 54079
    assert ours(res, "output characters") == 11 and ours(res, "output length") == 10
    h = res["history"]
    assert len(h) == 6 and h[-1]["train_loss"] < h[0]["train_loss"] / 3  # --quick: 4,000 dates, 6 epochs
    em, chars = ours(res, "test exact match"), ours(res, "test per-character accuracy")
    assert 0.3 < em <= chars and chars > 0.9  # (66% exact, 96% per character when written)
    n_test = int(ours(res, "dates: train / dev / test").split(" / ")[2].replace(",", ""))
    assert len(res["test_errors"]) == round((1 - em) * n_test)
    assert all(e["output"] != e["target"] for e in res["test_errors"])
    assert ours(res, "beam search (width 3) gives the greedy output") == "200 of 200"  # greedy is exact here
    ya = res["year_attention"]  # the year outputs look at the year's digits
    assert ya["inputs"] > 300 and ya["share"] > 0.8 and ya["share"] > 2 * ya["uniform"]
    assert ours(res, "'3 May 1979'") == res["course_examples"]["3 May 1979"]
    assert all(len(o) == 10 for o in res["course_examples"].values())
    _pictures(tmp_path, "attention.png")


def check_c5w4_transformer(res, tmp_path):
    assert ours(res, "positional encoding: the course's NumPy") < 1e-12
    assert ours(res, "PE(p) . PE(p + k) varies") < 1e-9  # the dot product depends on the distance only
    assert ours(res, "|PE(p)|^2") == pytest.approx(256.0)
    assert ours(res, "softmax weight left on padding") < 1e-12
    assert res["padding_mask"] == [[1, 1, 0, 0, 1], [1, 1, 1, 0, 0], [0, 0, 0, 1, 1]]  # the course's example
    assert ours(res, "scaled dot-product attention: the course's NumPy") < 1e-12
    # the encoder layer assembled by hand is nn.TransformerEncoderLayer with the same weights (float64)
    for prefix in ("encoder layer by hand vs nn.TransformerEncoderLayer: output",
                   "encoder layer by hand vs nn.TransformerEncoderLayer: input gradient",
                   "in training mode, with dropout"):
        assert ours(res, prefix) < 1e-12, prefix
    assert ours(res, "words' outputs after the padding is replaced") < 1e-12  # padding is ignored
    assert ours(res, "look-ahead mask: word 3 changed") < 1e-12 < 1e-3 < res["look_ahead_least_change"]
    if res["torch"]:
        assert ours(res, "encoder layer by hand vs torch.nn.TransformerEncoderLayer: output") < 1e-10
        assert ours(res, "encoder layer by hand vs torch.nn.TransformerEncoderLayer: input gradient") < 1e-10
    else:
        assert not [r for r in res["figures"] if "torch." in r["what"]]
    # the order task: the positional encoding is what lets the encoder see word order
    acc, flips = res["accuracy"], res["flips"]
    assert flips["without positional encoding"] == 0  # a bag of words: swapping A and B changes no prediction
    assert 0.4 < acc["without positional encoding"] < 0.6
    assert acc["with positional encoding"] > 0.7 and flips["with positional encoding"] > 0.3  # --quick: 400 steps
    losses = res["losses"]["with positional encoding"]
    assert sum(losses[-20:]) < sum(losses[:20]) * 0.8
    _pictures(tmp_path, "positional_encoding.png", "order_task.png")


CHECKS.update({"c5w3_nmt_dates": check_c5w3_nmt, "c5w4_transformer": check_c5w4_transformer})
