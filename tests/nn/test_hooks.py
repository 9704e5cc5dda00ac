"""Module hooks with PyTorch's signatures: forward pre-hooks, forward hooks, full backward
hooks, the global module hooks, handles that remove them; compared with torch where it is installed."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


def _model():
    dg.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))


def test_forward_pre_hook_sees_and_replaces_args():
    m = _model()
    seen = []

    def pre(mod, args):
        seen.append((mod, args))
        return args[0] * 0  # a non-tuple return is wrapped in one

    x = dg.randn(2, 4)
    h = m[0].register_forward_pre_hook(pre)
    out = m(x)
    assert seen[0][0] is m[0] and isinstance(seen[0][1], tuple) and seen[0][1][0] is x
    zero_in = m[2](m[1](m[0].forward(dg.zeros(2, 4))))
    np.testing.assert_allclose(out.data, zero_in.data)
    h.remove()
    np.testing.assert_allclose(m(x).data, m[2](m[1](m[0].forward(x))).data)
    assert len(seen) == 1


def test_forward_hook_sees_and_replaces_output_in_order():
    m = _model()
    calls = []
    m[0].register_forward_hook(lambda mod, args, out: calls.append("a"))
    m[0].register_forward_hook(lambda mod, args, out: calls.append("first"), prepend=True)
    h = m[2].register_forward_hook(lambda mod, args, out: out * 2)
    x = dg.randn(2, 4)
    out = m(x)
    assert calls == ["first", "a"]
    np.testing.assert_allclose(out.data, 2 * m[2].forward(m[1](m[0].forward(x))).data, rtol=1e-6)
    h.remove()
    assert not m[2]._forward_hooks


def test_hooks_with_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    s = Scale()
    s.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"factor": 3.0}), with_kwargs=True)
    got = []
    s.register_forward_hook(lambda mod, args, kwargs, out: got.append(kwargs["factor"]), with_kwargs=True)
    np.testing.assert_allclose(s(dg.ones(2), factor=5.0).data, [3.0, 3.0])
    assert got == [3.0]


def test_handle_as_context_manager():
    m = _model()
    got = []
    with m.register_forward_hook(lambda mod, args, out: got.append(out.shape)):
        m(dg.randn(3, 4))
    m(dg.randn(3, 4))
    assert got == [(3, 3)]


def test_global_hooks_give_the_running_module_path_and_are_removed():
    m = _model()
    names = {mod: name for name, mod in m.named_modules()}
    stack, visited = [], []

    def pre(mod, args):
        stack.append(names.get(mod, "?"))
        visited.append("/".join(s or "model" for s in stack))

    def post(mod, args, out):
        stack.pop()

    h1 = nn.register_module_forward_pre_hook(pre)
    h2 = nn.register_module_forward_hook(post)
    try:
        m(dg.randn(2, 4))
    finally:
        h1.remove()
        h2.remove()
    assert visited == ["model", "model/0", "model/1", "model/2"]
    assert stack == []
    m(dg.randn(2, 4))
    assert len(visited) == 4


def test_full_backward_hook_matches_torch_and_can_replace_grad_input():
    torch = pytest.importorskip("torch")
    m = _model()
    tm = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3)).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(m.named_parameters(), tm.named_parameters()):
            q.copy_(torch.tensor(p.data, dtype=torch.float64))
    m.double()
    ours, theirs = [], []
    m[2].register_full_backward_hook(lambda mod, gi, go: ours.append((gi[0].copy(), go[0].copy())))
    tm[2].register_full_backward_hook(lambda mod, gi, go: theirs.append((gi[0].clone(), go[0].clone())))
    x = np.random.default_rng(0).normal(size=(6, 4))
    xd = dg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (m(xd) ** 2).sum().backward()
    (tm(xt) ** 2).sum().backward()
    assert len(ours) == 1 and len(theirs) == 1
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-10)
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), rtol=1e-10)

    # a hook's return value replaces the gradient flowing into the module's input
    m.zero_grad()
    xd2 = dg.tensor(x, requires_grad=True)
    m[0].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 0 + 1,))
    (m(xd2) ** 2).sum().backward()
    np.testing.assert_array_equal(xd2.grad, np.ones_like(x))


def test_full_backward_hook_on_first_layer_gets_none_grad_input():
    m = _model()
    got = []
    m[0].register_full_backward_hook(lambda mod, gi, go: got.append((gi, go)))
    m(dg.randn(2, 4)).sum().backward()  # the input needs no gradient
    (gi, go), = got
    assert gi == (None,) and go[0].shape == (2, 5)
    assert m[0].weight.grad is not None


def test_full_backward_hook_two_inputs_called_once():
    class Add(nn.Module):
        def forward(self, a, b):
            return a * 2 + b

    mod = Add()
    got = []
    mod.register_full_backward_hook(lambda m, gi, go: got.append(gi))
    a, b = dg.randn(3, requires_grad=True), dg.randn(3, requires_grad=True)
    mod(a, b).sum().backward()
    assert len(got) == 1
    np.testing.assert_allclose(got[0][0], 2 * np.ones(3))
    np.testing.assert_allclose(got[0][1], np.ones(3))
    np.testing.assert_allclose(a.grad, 2 * np.ones(3))


def test_no_backward_hook_under_no_grad_and_no_hooks_means_plain_forward():
    m = _model()
    got = []
    m.register_full_backward_hook(lambda mod, gi, go: got.append(1))
    with dg.no_grad():
        out = m(dg.randn(2, 4))
    assert out._ctx is None and got == []
    plain = _model()
    x = dg.randn(2, 4)
    # without hooks, calling a module is exactly its forward (no wrapper ops in the graph)
    y = plain(x)
    assert y._ctx.fn.__name__ != "_BackwardHookFn"
    assert all(not mm._forward_hooks and not mm._forward_pre_hooks for mm in plain.modules())
