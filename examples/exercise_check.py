# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Diagnostics: checking your own implementation with `deepgrad exercise`
#
# A notebook grader runs your function on one input and compares one number. A function
# can pass that and still be wrong: a missing `1/m` that the test input's `m = 1` hides,
# a softmax that overflows only on large logits, Adam without bias correction that only
# shows in the first steps. `deepgrad exercise check NAME FILE.py` tests your function
# against the library's reference on hundreds of random inputs (hypothesis), including the
# edge cases (batch of one, large logits, zeros, odd sizes), and when it fails prints the
# property that broke, the smallest input that breaks it, and the expected and actual values.
#
# Your file is never run as a script: the checker keeps only its imports, function
# definitions and constants (parsed with `ast`), so a notebook export with test calls at the
# bottom is fine.
#
# Run: `python examples/exercise_check.py [--quick] [--out DIR]`.

# %%
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common

from deepgrad import exercises

args = _common.parse_args("exercise_check", "Check a learner's implementation with deepgrad exercise.")
results = _common.Results(args)
ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path(".")


def deepgrad_cli(*argv):
    """Run `deepgrad ...` as a user would (``python -m deepgrad.cli``); returns (exit code, output)."""
    proc = subprocess.run([sys.executable, "-m", "deepgrad.cli", *argv], capture_output=True, text=True, cwd=ROOT)
    return proc.returncode, proc.stdout + proc.stderr


# %% [markdown]
# ## What is there to check: `deepgrad exercise list` and `show`

# %%
code, out = deepgrad_cli("exercise", "list")
print(out)
results.add("exercises available", ">= 30", len(exercises.names()))
code, out = deepgrad_cli("exercise", "show", "linear_backward")
print(out)

# %% [markdown]
# ## A learner's first attempt at `linear_backward`
#
# Two classic slips: `dW` without the `1/m`, and `db` summed without `keepdims` (shape
# `(n,)` instead of `(n, 1)`). The notebook-style test at the bottom would even pass for
# `m = 1`; the checker never runs it.

# %%
attempt = args.out / "my_linear_backward.py"
attempt.write_text(textwrap.dedent('''
    import numpy as np

    def linear_backward(dZ, cache):
        A_prev, W, b = cache
        m = A_prev.shape[1]
        dW = np.dot(dZ, A_prev.T)            # forgot the 1/m
        db = np.sum(dZ, axis=1, keepdims=True) / m
        dA_prev = np.dot(W.T, dZ)
        return dA_prev, dW, db

    # a notebook's test cell: never executed by the checker
    print(linear_backward(np.ones((1, 1)), (np.ones((1, 1)), np.ones((1, 1)), np.zeros((1, 1)))))
'''))
code1, out1 = deepgrad_cli("exercise", "check", "linear_backward", str(attempt))
print(out1)
results.add("first attempt: exit code (1 = a property failed)", None, code1)
results["first_attempt"] = out1

# %% [markdown]
# The checker found the smallest failing input (shapes shrunk to 1 x 2), says which output
# is wrong (`dW`) and by how much: exactly a factor m. Fix it:

# %%
fixed = args.out / "my_linear_backward_fixed.py"
fixed.write_text(attempt.read_text().replace("np.dot(dZ, A_prev.T)            # forgot the 1/m",
                                             "np.dot(dZ, A_prev.T) / m"))
code2, out2 = deepgrad_cli("exercise", "check", "linear_backward", str(fixed))
print(out2)
results.add("fixed: exit code (0 = every property holds)", None, code2)

# %% [markdown]
# ## Edge cases a single test misses: softmax on large logits, Adam's first step
#
# The same checks from Python: `deepgrad.exercises.check(name, function)`.

# %%
import numpy as np


def softmax(Z):  # correct on small numbers, NaN on large ones
    e = np.exp(Z)
    return e / e.sum(axis=0, keepdims=True)


res = exercises.check("softmax", softmax)
print(res)
results.add("naive softmax: first failing property", None, res.failure.property)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            d = f"d{p}{l}"
            v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
            s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2
            parameters[f"{p}{l}"] = parameters[f"{p}{l}"] - learning_rate * v[d] / (np.sqrt(s[d]) + epsilon)  # no bias correction
    return parameters, v, s, v, s


res = exercises.check("update_parameters_with_adam", update_parameters_with_adam)
print(res)
results.add("Adam without bias correction: first failing property", None, res.failure.property)

# %% [markdown]
# ## Every reference passes its own checks
#
# (The test suite also plants two or more realistic bugs per exercise and checks that each
# is caught.)

# %%
names = exercises.names()[:8] if args.quick else exercises.names()
passed = sum(exercises.check(n, exercises.get(n).reference, max_examples=10 if args.quick else None).passed
             for n in names)
print(f"{passed} of {len(names)} references pass")
results.add("references checked / passing", None, f"{passed} / {len(names)}")
results["exercises"] = exercises.names()

# %%
results.finish()
