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
# # Course 2, week 1: gradient checking
#
# Backpropagation is easy to get subtly wrong: a model with a wrong gradient often
# still trains, just worse. Gradient checking compares backprop's gradient `g` with the
# two-sided difference
#
# $$g_{approx,i} = \frac{J(\theta + \varepsilon e_i) - J(\theta - \varepsilon e_i)}{2\varepsilon}$$
#
# through the relative difference `||g - g_approx|| / (||g|| + ||g_approx||)`. With
# `eps = 1e-7` in float64 a correct backward gives well under `1e-7`; a wrong one gives
# something near `1e-1`. The course plants two bugs in a 3-layer network's hand-written
# backward (`dW2` doubled, `db1` scaled by 4/m instead of 1/m) and gets a difference of
# 0.285.
#
# In deepgrad the backward is written once per op, so the bug is planted the way it
# would creep in for real: a custom `deepgrad.Function` with a wrong `backward`, used by a
# layer. We then check the model three ways:
#
# 1. the 1-D warm-up `J(theta) = theta * x` with `deepgrad.check.gradcheck`;
# 2. the course's `gradient_check_n` written out: all parameters as one vector `theta`;
# 3. `deepgrad.check.gradcheck_model`, which checks parameter by parameter and **names
#    the parameter** whose gradient is wrong.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent) if "__file__" in globals() else "examples")

import _common
import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.check import gradcheck, gradcheck_model

args = _common.parse_args("c2w1_gradient_checking", "Gradient checking: a correct model passes, a planted bug is named.")
dg.manual_seed(args.seed)
results = _common.Results(args)
EPS, TOL = 1e-7, 1e-7

# %% [markdown]
# ## 1. One dimension: `J(theta) = theta x`, so `dJ/dtheta = x`

# %%
x = dg.tensor(2.0, dtype=np.float64)
theta = dg.tensor(4.0, dtype=np.float64, requires_grad=True)
report_1d = gradcheck(lambda t: t * x, theta, eps=EPS, tol=TOL, names=["theta"])
print(report_1d)
results.add("1-D check J = theta x: relative difference", 2.6e-10, report_1d["theta"].relative_difference)


# %% [markdown]
# ## 2. The layer with a planted bug
#
# `LinearFn` is `x @ W.T + b` with its backward written by hand, the way a new op is
# added to deepgrad. `bug` plants one of the course's two mistakes: `"weight"` doubles
# `dW`, `"bias"` scales `db` by 4. With `bug=None` it is correct.


# %%
class LinearFn(dg.Function):
    @staticmethod
    def forward(ctx, x, W, b, bug=None):
        ctx.x, ctx.W, ctx.bug = x, W, bug
        return x @ W.T + b

    @staticmethod
    def backward(ctx, grad):  # grad: (m, out)
        dx = grad @ ctx.W
        dW = grad.T @ ctx.x
        db = grad.sum(axis=0)
        if ctx.bug == "weight":
            dW = dW * 2  # the course's bug: dW2 = 1/m * dZ2 A1^T * 2
        if ctx.bug == "bias":
            db = db * 4  # the course's bug: db1 = 4/m * sum(dZ1)
        return dx, dW, db


class HandLinear(nn.Linear):
    """``nn.Linear`` whose forward goes through ``LinearFn`` (optionally with a bug)."""

    def __init__(self, n_in, n_out, bug=None):
        super().__init__(n_in, n_out, dtype=np.float64)
        self.bug = bug

    def forward(self, x):
        return LinearFn.apply(x, self.weight, self.bias, bug=self.bug)


def three_layer_net(bugs=(None, None, None)):
    """The course's LINEAR -> RELU -> LINEAR -> RELU -> LINEAR (-> sigmoid in the loss), 4-5-3-1 units."""
    return nn.Sequential(
        HandLinear(4, 5, bugs[0]), nn.ReLU(), HandLinear(5, 3, bugs[1]), nn.ReLU(), HandLinear(3, 1, bugs[2])
    )


# The course's data: 3 examples with 4 features, labels 1, 1, 0 (float64 for the check).
rng = np.random.default_rng(args.seed)
X = dg.tensor(rng.standard_normal((3, 4)))
Y = dg.tensor(np.array([[1.0], [1.0], [0.0]]))


def cost(model):
    return F.binary_cross_entropy_with_logits(model(X), Y)


correct = three_layer_net()
buggy = three_layer_net(bugs=("bias", "weight", None))  # db1 and dW2 wrong, as in the course
buggy.load_state_dict(correct.state_dict())  # same weights: only the backward differs


# %% [markdown]
# ## 3. The course's `gradient_check_n`: every parameter in one vector
#
# `parameters_to_vector` is the course's `dictionary_to_vector`,
# `vector_to_parameters` its `vector_to_dictionary`.


# %%
def gradient_check_n(model, epsilon=EPS):
    params = list(model.parameters())
    model.zero_grad()
    cost(model).backward()
    grad = np.concatenate([p.grad.ravel() for p in params])
    theta = nn.utils.parameters_to_vector(params).numpy().astype(np.float64)
    gradapprox = np.zeros_like(theta)
    with dg.no_grad():
        for i in range(theta.size):
            t = theta.copy()
            t[i] += epsilon
            nn.utils.vector_to_parameters(dg.tensor(t), params)
            J_plus = cost(model).item()
            t[i] -= 2 * epsilon
            nn.utils.vector_to_parameters(dg.tensor(t), params)
            J_minus = cost(model).item()
            gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
        nn.utils.vector_to_parameters(dg.tensor(theta), params)  # restore
    return np.linalg.norm(grad - gradapprox) / (np.linalg.norm(grad) + np.linalg.norm(gradapprox))


diff_correct = gradient_check_n(correct)
diff_buggy = gradient_check_n(buggy)
print(f"correct backward: difference = {diff_correct:.3e}  ({'passes' if diff_correct < TOL else 'FAILS'})")
print(f"planted bug:      difference = {diff_buggy:.3e}  ({'passes' if diff_buggy < TOL else 'FAILS'})")
results.add("all parameters as one vector, correct backward", "< 1e-7", diff_correct)
results.add("all parameters as one vector, planted bug", 0.285, diff_buggy)

# %% [markdown]
# ## 4. Which parameter is wrong? `gradcheck_model` checks them one by one
#
# The single vector says *that* something is wrong; checking each parameter on its own
# says *where*. The report names the parameters as `model.named_parameters()` does.

# %%
report_ok = gradcheck_model(correct, cost, eps=EPS, tol=TOL, max_elements=None)
report_bug = gradcheck_model(buggy, cost, eps=EPS, tol=TOL, max_elements=None)
print(report_ok)
print(report_bug)
assert report_ok.passed and set(report_bug.failed) == {"0.bias", "2.weight"}, report_bug.failed
results.add("per parameter, correct model: max relative difference", "< 1e-7", report_ok.max_relative_difference)
results.add("per parameter, planted bug: parameters flagged", None, ", ".join(report_bug.failed),
            note="(layer 1 bias, layer 2 weight)")
results["correct_passed"] = report_ok.passed
results["buggy_failed"] = report_bug.failed
results["per_parameter"] = {r.name: r.relative_difference for r in report_bug.inputs}

# %%
results.finish()
