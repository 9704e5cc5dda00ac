"""diagnose(): the right component on planted cases for each of the four (course 3's examples)."""
import pytest

from deepgrad.experiments import best_run, diagnose
from deepgrad.experiments.diagnose import REMEDIES
from deepgrad.experiments.select import Constraint


@pytest.mark.parametrize("errors, primary", [
    (dict(human=0.01, train=0.15, train_dev=0.16, dev=0.17, test=0.17), "avoidable_bias"),  # high bias
    (dict(human=0.01, train=0.02, train_dev=0.10, dev=0.11, test=0.11), "variance"),
    (dict(human=0.01, train=0.02, train_dev=0.03, dev=0.12, test=0.12), "data_mismatch"),
    (dict(human=0.01, train=0.02, train_dev=0.025, dev=0.03, test=0.10), "dev_overfitting"),
    (dict(human=0.075, train=0.08, dev=0.10), "variance"),  # the course's 7.5% human level example
    (dict(human=0.01, train=0.08, dev=0.10), "avoidable_bias"),  # ... and its 1% human level twin
])
def test_planted_cases(errors, primary, tmp_path):
    d = diagnose(**errors)
    assert d.primary == primary
    assert d.remedies == REMEDIES[primary]
    text = d.report()
    assert "primary" in text and REMEDIES[primary][0] in text
    assert (tmp_path / "d.png").exists() is False
    d.plot(tmp_path / "d.png")
    assert (tmp_path / "d.png").stat().st_size > 5000


def test_components_and_missing_values():
    d = diagnose(human=1, train=8, train_dev=10, dev=12, test=15)  # percentages work too
    assert d.components == {"avoidable_bias": 7, "variance": 2, "data_mismatch": 2, "dev_overfitting": 3}
    d = diagnose(train=0.1, dev=0.2)
    assert d.components["variance"] == pytest.approx(0.1) and d.components["data_mismatch"] is None
    assert any("no train-dev" in n for n in d.notes) and any("human-level" in n for n in d.notes)
    d = diagnose(train=0.0, dev=0.0)
    assert d.primary is None and "no gap" in d.report()
    assert diagnose(test=0.1).primary is None
    with pytest.raises(ValueError, match="train must be an error rate"):
        diagnose(train=-0.1)
    with pytest.raises(ValueError, match="dev must be a number"):
        diagnose(dev="high")


def _run(i, acc, ms, params, status="ok"):
    return {"id": f"r{i}", "recipe": "x", "status": status, "final": {"dev_accuracy": acc}, "predict_ms": ms,
            "params": params, "config": {"lr": 0.1 * (i + 1)}}


def test_best_run_with_satisficing_constraints():
    runs = [_run(0, 0.90, 2.0, 5e5), _run(1, 0.95, 8.0, 5e5), _run(2, 0.93, 1.0, 2e6), _run(3, 0.91, 3.0, 9e5),
            _run(4, 0.99, 1.0, 1e5, status="diverged"), {**_run(5, None, 1.0, 1)}]
    sel = best_run(runs, "dev_accuracy", ["predict_ms<=5", "params<=1e6"])
    assert sel.best["id"] == "r3"
    assert [i for i, _ in sel.ruled_out["predict_ms<=5"]] == ["r1"]
    assert [i for i, _ in sel.ruled_out["params<=1e6"]] == ["r2"]
    assert [i for i, _ in sel.ruled_out["status"]] == ["r4"] and [i for i, _ in sel.ruled_out["has dev_accuracy"]] == ["r5"]
    assert [i for i, _ in sel.candidates] == ["r3", "r0"]
    assert best_run(runs, "predict_ms", ["dev_accuracy>=0.9"]).best["id"] == "r2"  # min for times
    assert best_run(runs, "dev_accuracy", statuses=None).best["id"] == "r4"
    assert best_run(runs, "dev_accuracy", ["lr<0.2"]).best["id"] == "r0"
    assert best_run(runs, "dev_accuracy", ["recipe==y"]).best is None


@pytest.mark.parametrize("bad", ["predict_ms", "params<=lots", "<=5", "a ~ 3"])
def test_bad_constraints(bad):
    with pytest.raises(ValueError, match="constraint"):
        Constraint.parse(bad)
