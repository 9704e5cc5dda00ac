"""At least two realistic planted bugs per exercise, each caught with a readable message."""
import pytest

from deepgrad import exercises

from .planted import PLANTED

CASES = [(name, what, fn) for name, bugs in PLANTED.items() for what, fn in bugs]


def test_every_exercise_has_at_least_two_planted_bugs():
    for name in exercises.names():
        assert len(PLANTED.get(name, ())) >= 2, name
    assert set(PLANTED) == set(exercises.names())


@pytest.mark.parametrize("name,what,fn", CASES, ids=[f"{n}:{w}" for n, w, _ in CASES])
def test_planted_bug_is_caught(name, what, fn):
    res = exercises.check(name, fn, max_examples=15)
    assert not res.passed, f"{name}: planted bug not caught: {what}"
    text = str(res)
    f = res.failure
    assert f.property in [p.name for p in exercises.get(name).properties]
    assert text.count("FAILED property: ") == 1 and "Minimal counterexample (shrunk):" in text
    assert ("Expected:" in text or "Reference (its own random draw):" in text) and "Actual:" in text
    for arg in exercises.get(name).arg_names:  # the counterexample names every argument
        assert f"  {arg} = " in text
    assert f.problem and "Traceback" not in text
