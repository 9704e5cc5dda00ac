"""The checker's machinery: an exercise spec, the input generator, the property runner, the loader.

An :class:`Exercise` has a reference implementation in NumPy (the course's conventions),
a generator of inputs (``make_inputs(g)``, drawing sizes and values through :class:`Gen`)
and a list of properties. A property is a name and a set of overrides for the generator
("batch of one" forces the dimension called ``m`` to 1, "large logits" scales the arrays
tagged ``z`` by 1000, ...). ``check`` runs each property with hypothesis: random sizes and
values, the learner's function against the reference (or against the exercise's own
``verify`` for functions whose output is random), and on the first failure reports the
property, the shrunk minimal counterexample, the expected and the actual values.
"""
from __future__ import annotations

import ast
import copy
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class ExerciseError(Exception):
    """A problem with the learner's file or function (missing, wrong signature, does not parse)."""


@dataclass
class Property:
    name: str
    overrides: dict = field(default_factory=dict)
    examples: int = 25


RANDOM = Property("matches the reference on random inputs", {}, 40)
BATCH1 = Property("batch of one (m = 1)", {"m": 1})


@dataclass
class Exercise:
    name: str
    course: str  # e.g. "C1W4"
    signature: str  # e.g. "linear_forward(A, W, b)"
    shapes: str  # what goes in and out, with shapes
    doc: str  # what the function must do
    reference: Callable[..., Any]
    make_inputs: Callable[..., Any]  # (g: Gen) -> list of positional arguments
    properties: list = field(default_factory=lambda: [RANDOM])
    pick: Callable[[Any], Any] | None = None  # returned value -> what is compared (e.g. drop a cache)
    verify: Callable[[Any, Any, Any], str | None] | None = None  # (args, actual, expected) -> None or a message; default: compare with the reference
    rtol: float = 1e-6
    atol: float = 1e-9
    seeded: bool = False  # seed NumPy's global generator identically before calling each implementation
    outputs: tuple = ()  # names of the compared outputs, for the messages (e.g. ("dA_prev", "dW", "db"))

    @property
    def arg_names(self) -> list:
        inside = self.signature[self.signature.index("(") + 1: self.signature.rindex(")")]
        return [a.split("=")[0].strip() for a in inside.split(",") if a.strip()]

    @property
    def n_required(self) -> int:
        inside = self.signature[self.signature.index("(") + 1: self.signature.rindex(")")]
        return sum(1 for a in inside.split(",") if a.strip() and "=" not in a)

    def describe(self) -> str:
        return (f"{self.name}  ({self.course})\n\n  {self.signature}\n\nShapes:\n"
                + "\n".join("  " + line for line in self.shapes.strip().splitlines())
                + "\n\nWhat it must do:\n" + "\n".join("  " + line for line in self.doc.strip().splitlines())
                + "\n\nProperties checked:\n" + "\n".join(f"  - {p.name}" for p in self.properties))


class Gen:
    """Draws sizes and values for one example through hypothesis (so failures shrink).

    ``dim(name, lo, hi)`` draws an integer (a property may force it, e.g. ``m = 1``);
    ``randn``/``rand`` make arrays from a drawn seed; a property's ``scale`` and ``zeros``
    overrides act on arrays with a matching ``tag``.
    """

    def __init__(self, data, overrides):
        self.data = data
        self.o = overrides
        self._rng = None

    @property
    def rng(self):
        if self._rng is None:
            import hypothesis.strategies as st

            self._rng = np.random.default_rng(self.data.draw(st.integers(0, 2**31 - 1), label="seed"))
        return self._rng

    def dim(self, name, lo, hi):
        import hypothesis.strategies as st

        if name in self.o:
            return self.o[name]
        return self.data.draw(st.integers(lo, hi), label=name)

    def choice(self, name, options):
        import hypothesis.strategies as st

        if name in self.o:
            return self.o[name]
        return self.data.draw(st.sampled_from(list(options)), label=name)

    def uniform(self, name, lo, hi):
        if name in self.o:
            return self.o[name]
        return float(self.rng.uniform(lo, hi))

    def _finish(self, a, tag):
        if tag is not None and tag in self.o.get("zeros", ()):
            return np.zeros_like(a)
        if tag is not None and tag in self.o.get("scale", {}):
            return a * self.o["scale"][tag]
        return a

    def randn(self, *shape, scale=1.0, tag=None):
        return self._finish(self.rng.standard_normal(shape) * scale, tag)

    def rand(self, *shape, lo=0.0, hi=1.0, tag=None):
        return self._finish(self.rng.uniform(lo, hi, size=shape), tag)

    def integers(self, lo, hi, shape):
        return self.rng.integers(lo, hi, size=shape)


# ----- comparing ------------------------------------------------------------------------------
def _fmt(a, limit=900) -> str:
    """A readable, bounded rendering of an input or output (small arrays in full)."""
    if isinstance(a, np.ndarray):
        if a.size > 1 and a.dtype.kind in "fiub" and not np.any(a):
            s = f"array{a.shape} of zeros"
        elif a.ndim == 2 and a.shape[1] == 1 and 1 < a.size <= 36:
            s = f"array{a.shape} (a column) " + np.array2string(a.ravel(), precision=5, max_line_width=100, separator=", ")
        elif a.ndim >= 3 and a.size <= 36 and 1 in a.shape:
            sq = a.squeeze()
            body = np.array2string(sq, precision=5, max_line_width=100, separator=", ")
            s = f"array{a.shape}, its {sq.ndim}-D content {sq.shape}: " + body.replace("\n", "\n  ")
        elif a.size <= 36:
            body = np.array2string(a, precision=5, suppress_small=False, max_line_width=100, separator=", ")
            s = f"array{a.shape} " + body.replace("\n", "\n  ")
        else:
            flat = a.ravel()
            s = (f"array{a.shape} [{', '.join(f'{v:.5g}' for v in flat[:6])}, ...] "
                 f"(min {np.nanmin(a):.5g}, max {np.nanmax(a):.5g})" if a.dtype.kind in "fiu" else f"array{a.shape}")
    elif isinstance(a, dict):
        s = "{" + ",\n ".join(f"{k!r}: " + _fmt(v, 400).replace("\n", "\n   ") for k, v in a.items()) + "}"
    elif isinstance(a, (list, tuple)) and any(isinstance(x, (np.ndarray, dict)) for x in a):
        s = ("(" if isinstance(a, tuple) else "[") + ",\n ".join(_fmt(x, 400).replace("\n", "\n  ") for x in a) \
            + (")" if isinstance(a, tuple) else "]")
    elif callable(a) and not isinstance(a, type):
        s = repr(a)
    else:
        s = repr(a)
    return s if len(s) <= limit else s[:limit] + " ..."


def compare(expected, actual, rtol, atol, where="output", names=()) -> str | None:
    """None when ``actual`` matches ``expected``; else one sentence saying where and how they differ."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected a dict with keys {sorted(expected)}, got {type(actual).__name__}"
        missing = [k for k in expected if k not in actual]
        if missing:
            return f"{where}: missing key(s) {missing}"
        for k in expected:
            msg = compare(expected[k], actual[k], rtol, atol, f"{where}[{k!r}]")
            if msg:
                return msg
        return None
    if isinstance(expected, (tuple, list)) and not _is_numeric_list(expected):
        if not isinstance(actual, (tuple, list)) or len(actual) != len(expected):
            n = len(actual) if isinstance(actual, (tuple, list)) else "not a tuple"
            return f"{where}: expected {len(expected)} values, got {n}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            label = names[i] if i < len(names) else f"{where}[{i}]"
            msg = compare(e, a, rtol, atol, label)
            if msg:
                return msg
        return None
    try:
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return None if expected == actual else f"{where}: expected {expected!r}, got {actual!r}"
    if e.size == 1 and a.size == 1:  # a scalar: () or (1, 1) alike
        e, a = e.reshape(()), a.reshape(())
    if e.shape != a.shape:
        return f"{where}: expected shape {e.shape}, got shape {a.shape}"
    bad = ~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=False)
    if not bad.any():
        return None
    idx = np.unravel_index(int(np.argmax(bad)), e.shape) if e.ndim else ()
    n = int(bad.sum())
    where_idx = f" at index {tuple(int(i) for i in idx)}" if e.ndim else ""
    return f"{where}: {n} of {e.size} values differ; first{where_idx}: expected {float(e[idx]):.10g}, got {float(a[idx]):.10g}"


def _is_numeric_list(x) -> bool:
    return isinstance(x, list) and all(isinstance(v, (int, float, np.integer, np.floating)) for v in x)


# ----- running the properties -------------------------------------------------------------------
@dataclass
class Failure:
    property: str
    problem: str
    inputs: list
    expected: object
    actual: object
    arg_names: list
    random_output: bool = False

    def __str__(self) -> str:
        lines = [f"FAILED property: {self.property}", f"  {self.problem}", "", "Minimal counterexample (shrunk):"]
        for name, v in zip(self.arg_names, self.inputs):
            lines.append(f"  {name} = " + _fmt(v).replace("\n", "\n    "))
        label = "Reference (its own random draw)" if self.random_output else "Expected"
        lines += ["", f"{label}:", "  " + _fmt(self.expected).replace("\n", "\n  "),
                  "Actual:", "  " + _fmt(self.actual).replace("\n", "\n  ")]
        return "\n".join(lines)


@dataclass
class CheckResult:
    exercise: str
    passed: bool
    properties: list  # (name, passed) in order
    failure: Failure | None = None

    def __str__(self) -> str:
        head = [f"{'ok  ' if ok else 'FAIL'} {name}" for name, ok in self.properties]
        if self.passed:
            return "\n".join(head + [f"{self.exercise}: all {len(self.properties)} properties hold"])
        return "\n".join(head + ["", str(self.failure)])


def _call(fn, args, seeded, seed):
    args = copy.deepcopy(args)
    if seeded:
        np.random.seed(seed)
    import warnings

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args)


def _run_property(ex: Exercise, fn, prop: Property, max_examples: int | None):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    state = {"last": None}

    @settings(max_examples=max_examples or prop.examples, deadline=None, database=None, derandomize=True,
              report_multiple_bugs=False, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def prop_test(data):
        g = Gen(data, prop.overrides)
        args = ex.make_inputs(g)
        seed = int(g.rng.integers(0, 2**31 - 1)) if ex.seeded else 0
        expected = _call(ex.reference, args, ex.seeded, seed)
        try:
            actual = _call(fn, args, ex.seeded, seed)
        except Exception as e:  # the learner's code raised: that is a failure with a message
            state["last"] = Failure(prop.name, f"raised {type(e).__name__}: {e}", args, expected, None, ex.arg_names)
            raise AssertionError(state["last"].problem) from None
        if ex.verify is not None:
            problem = ex.verify(copy.deepcopy(args), actual, expected)
        else:
            e_cmp = ex.pick(expected) if ex.pick else expected
            try:
                a_cmp = ex.pick(actual) if ex.pick else actual
            except Exception as e:
                a_cmp = None
                problem = f"the returned value has the wrong structure ({type(e).__name__}: {e}); expected {ex.signature} to return {_structure(expected)}"
            else:
                problem = compare(e_cmp, a_cmp, ex.rtol, ex.atol, names=ex.outputs)
            expected, actual = e_cmp, a_cmp
        if problem:
            state["last"] = Failure(prop.name, problem, args, expected, actual, ex.arg_names, ex.seeded)
            raise AssertionError(problem)

    try:
        prop_test()
    except Exception:
        if state["last"] is None:
            raise
        return state["last"]
    return None


def _structure(x) -> str:
    if isinstance(x, tuple):
        return "a tuple of " + str(len(x))
    return type(x).__name__


def check_function(ex: Exercise, fn, max_examples: int | None = None) -> CheckResult:
    """Run every property of ``ex`` on ``fn``; stop at the first failing one."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ExerciseError("checking needs hypothesis: pip install hypothesis "
                            "(or pip install -e '.[diagnostics]')") from None
    check_signature(ex, fn)
    done = []
    for prop in ex.properties:
        failure = _run_property(ex, fn, prop, max_examples)
        done.append((prop.name, failure is None))
        if failure is not None:
            return CheckResult(ex.name, False, done, failure)
    return CheckResult(ex.name, True, done)


def check_signature(ex: Exercise, fn) -> None:
    if not callable(fn):
        raise ExerciseError(f"{ex.name} is not a function (it is a {type(fn).__name__})")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    params = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values())
    required = [p for p in params if p.default is p.empty]
    n = len(ex.arg_names)
    if len(required) > n or (len(params) < n and not varargs):
        raise ExerciseError(
            f"{ex.name} has the wrong signature: expected {ex.signature}, got {fn.__name__}{sig} "
            f"({len(required)} required positional parameter(s); the checker passes {n})")


# ----- loading the learner's file -----------------------------------------------------------------
def _is_constant(node) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def load_definitions(path) -> dict:
    """The learner's file, reduced to its imports, function and class definitions and
    constant assignments (``EPS = 1e-8``), executed in a fresh namespace. Nothing else in
    the file runs (no top-level calls, no ``if __name__ == "__main__":`` block)."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except OSError as e:
        raise ExerciseError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        raise ExerciseError(f"{path}, line {e.lineno}: syntax error: {e.msg}") from None
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_constant(node.value):
            kept.append(node)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            kept.append(node)  # a docstring
    module = ast.Module(body=kept, type_ignores=[])
    ns = {"__name__": "learner_solution", "__file__": path}
    try:
        exec(compile(module, path, "exec"), ns)  # noqa: S102 - only imports, definitions and constants
    except ImportError as e:
        raise ExerciseError(f"{path}: an import failed: {e}") from None
    except Exception as e:
        raise ExerciseError(f"{path}: defining the functions failed: {type(e).__name__}: {e}") from None
    return ns


def load_function(path, name: str):
    ns = load_definitions(path)
    fn = ns.get(name)
    if fn is None:
        defined = sorted(k for k, v in ns.items() if inspect.isfunction(v) and not k.startswith("_"))
        raise ExerciseError(f"{path} defines no function {name!r}"
                            + (f" (it defines: {', '.join(defined)})" if defined else " (it defines no functions)"))
    return fn
