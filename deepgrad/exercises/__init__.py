"""The learner's checker: ``deepgrad exercise list | show NAME | check NAME FILE.py``.

For each graded function of the five courses there is a NumPy reference in the course's
conventions and a set of properties; ``check`` runs them with hypothesis against the
learner's own function (random sizes and values, batch of one, large logits, zeros, odd
sizes) and prints the first broken property with a shrunk counterexample.

>>> from deepgrad import exercises
>>> ex = exercises.get("sigmoid")
>>> exercises.check(ex, ex.reference).passed
True
"""
from __future__ import annotations

from . import c1, c2, c4, c5
from ._core import (
    CheckResult,
    Exercise,
    ExerciseError,
    Failure,
    Property,
    check_function,
    load_definitions,
    load_function,
)

EXERCISES: dict[str, Exercise] = {ex.name: ex for mod in (c1, c2, c4, c5) for ex in mod.EXERCISES}


def names() -> list[str]:
    return list(EXERCISES)


def get(name: str) -> Exercise:
    if name not in EXERCISES:
        import difflib

        close = difflib.get_close_matches(name, EXERCISES, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `deepgrad exercise list`"
        raise ExerciseError(f"unknown exercise {name!r}{hint}")
    return EXERCISES[name]


def check(exercise, fn, max_examples: int | None = None) -> CheckResult:
    """Check ``fn`` (a function) against ``exercise`` (an Exercise or its name)."""
    ex = get(exercise) if isinstance(exercise, str) else exercise
    return check_function(ex, fn, max_examples)


def check_file(name: str, path, max_examples: int | None = None) -> CheckResult:
    """Load the function ``name`` from the learner's file (definitions only) and check it."""
    ex = get(name)
    return check_function(ex, load_function(path, name), max_examples)


__all__ = ["EXERCISES", "Exercise", "ExerciseError", "CheckResult", "Failure", "Property", "names", "get", "check",
           "check_file", "load_definitions", "load_function"]
