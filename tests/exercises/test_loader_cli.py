"""The learner's file is loaded without running it; the CLI prints one line for bad input."""
import textwrap

import pytest

from deepgrad import cli, exercises
from deepgrad.exercises import ExerciseError, load_definitions


def _write(tmp_path, text, name="solution.py"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


GOOD = """
import numpy as np
from math import sqrt  # imports are kept
EPS = 1e-12            # constants are kept
print("top-level code must not run")
open(__file__ + ".ran", "w").write("side effect")
raise SystemExit("nor this")

def softmax(Z):
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)

if __name__ == "__main__":
    softmax(1 / 0)
"""


def test_only_definitions_run(tmp_path, capsys):
    p = _write(tmp_path, GOOD)
    ns = load_definitions(p)
    assert callable(ns["softmax"]) and ns["EPS"] == 1e-12 and "sqrt" in ns
    assert not (tmp_path / "solution.py.ran").exists()
    assert "must not run" not in capsys.readouterr().out
    assert exercises.check_file("softmax", p).passed


def test_cli_check_passes_and_fails(tmp_path, capsys):
    p = _write(tmp_path, GOOD)
    assert cli.main(["exercise", "check", "softmax", str(p)]) == 0
    assert "all 3 properties hold" in capsys.readouterr().out
    bad = _write(tmp_path, "import numpy as np\ndef softmax(Z):\n    return np.exp(Z) / np.exp(Z).sum(axis=0)\n", "bad.py")
    assert cli.main(["exercise", "check", "softmax", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAILED property: large logits" in out and "Minimal counterexample (shrunk):" in out
    assert "expected 1, got nan" in out


@pytest.mark.parametrize("text,needle", [
    ("def softmax(Z, axis):\n    return Z\n", "wrong signature: expected softmax(Z)"),
    ("def soft_max(Z):\n    return Z\n", "defines no function 'softmax' (it defines: soft_max)"),
    ("def softmax(Z)\n    return Z\n", "line 1: syntax error"),
    ("import numpy_does_not_exist\ndef softmax(Z):\n    return Z\n", "an import failed"),
])
def test_clear_errors(tmp_path, capsys, text, needle):
    p = _write(tmp_path, text)
    assert cli.main(["exercise", "check", "softmax", str(p)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_cli_list_show_and_unknown(tmp_path, capsys):
    assert cli.main(["exercise", "list"]) == 0
    out = capsys.readouterr().out
    assert "Course 5:" in out and "scaled_dot_product_attention" in out and "42 exercises" in out
    assert cli.main(["exercise", "show", "conv_forward"]) == 0
    out = capsys.readouterr().out
    assert "conv_forward(A_prev, W, b, hparameters)" in out and "n_H = floor" in out
    assert cli.main(["exercise", "show", "sigmod"]) == 2
    assert "did you mean sigmoid" in capsys.readouterr().err
    assert cli.main(["exercise", "check", "sigmoid", str(tmp_path / "nope.py")]) == 2
    assert "nope.py: no such file" in capsys.readouterr().err


def test_raising_function_is_a_readable_failure():
    def conv_single_step(a, W, b):
        return np.dot(a, W)  # noqa: F821 - NameError inside the learner's function

    res = exercises.check("conv_single_step", conv_single_step)
    assert not res.passed and "raised NameError" in str(res)


def test_signature_error_from_api():
    with pytest.raises(ExerciseError, match="wrong signature"):
        exercises.check("sigmoid", lambda: 0)
