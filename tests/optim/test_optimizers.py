"""Optimizers against PyTorch (same init, same gradients, several steps, float64), and
the packed-buffer machinery: groups, frozen / grad-None parameters, zero_grad variants,
state_dict round trips (and loading torch's), replaced data, mixed dtypes."""
import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn, optim

torch = pytest.importorskip("torch")

SHAPES = [(5, 3), (5,), (2, 5), ()]

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.05)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.8)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
]


def _data(seed=0, steps=6):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return init, grads


def _train_both(model, tmodel, do, to, steps, batch, seed):
    """The torch-like loop (zero_grad -> forward -> backward -> step) on both libraries, same data."""
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x, y = rng.standard_normal((batch, 4)), rng.integers(0, 3, batch)
        do.zero_grad()
        nn.functional.cross_entropy(model(dg.tensor(x)), dg.tensor(y)).backward()
        do.step()
        to.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(torch.tensor(x)), torch.tensor(y)).backward()
        to.step()


def _assert_close(dps, tps, rtol=1e-6):
    for a, b in zip(dps, tps):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name,kw", CONFIGS)
def test_matches_torch(name, kw):
    init, grads = _data()
    dps = [nn.Parameter(a) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    do, to = getattr(optim, name)(dps, **kw), getattr(torch.optim, name)(tps, **kw)
    for gs in grads:
        do.zero_grad()
        to.zero_grad()
        for p, g in zip(dps, gs):
            p.grad = g.copy()
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        do.step()
        to.step()
        _assert_close(dps, tps)
    # state has torch's names and values
    sd, tsd = do.state_dict(), to.state_dict()
    assert set(sd["state"]) == set(tsd["state"])
    for k, st in tsd["state"].items():
        for name_, val in st.items():
            if val is None:
                continue
            np.testing.assert_allclose(np.asarray(sd["state"][k][name_]), np.asarray(val), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name,kw", [c for c in CONFIGS if c[0] in ("Adam", "SGD")][:6])
def test_real_backward_loop_matches_torch(name, kw):
    """The torch-like loop: zero_grad (grads to None) -> forward -> backward -> step."""
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    tmodel.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    do, to = getattr(optim, name)(model.parameters(), **kw), getattr(torch.optim, name)(tmodel.parameters(), **kw)
    _train_both(model, tmodel, do, to, steps=5, batch=16, seed=1)
    _assert_close(list(model.parameters()), list(tmodel.parameters()))


def test_param_groups_and_add_param_group():
    init, grads = _data()
    dps = [nn.Parameter(a) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    do = optim.Adam([{"params": dps[:2]}, {"params": dps[2:3], "lr": 0.1, "weight_decay": 0.5}], lr=0.01)
    to = torch.optim.Adam([{"params": tps[:2]}, {"params": tps[2:3], "lr": 0.1, "weight_decay": 0.5}], lr=0.01)
    assert do.param_groups[0]["lr"] == 0.01 and do.param_groups[1]["lr"] == 0.1
    for i, gs in enumerate(grads):
        if i == 3:  # add the last parameter later, with its own lr
            do.add_param_group({"params": [dps[3]], "lr": 0.05})
            to.add_param_group({"params": [tps[3]], "lr": 0.05})
        for p, g in zip(dps, gs):
            p.grad = g.copy()
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        do.step()
        to.step()
        _assert_close(dps, tps)
    with pytest.raises(ValueError, match="more than one parameter group"):
        do.add_param_group({"params": [dps[0]]})
    with pytest.raises(ValueError, match="unknown hyper-parameter"):
        optim.SGD([{"params": [nn.Parameter(np.ones(2))], "learning_rate": 0.1}])


def test_frozen_and_none_grads_are_skipped_with_state_untouched():
    init, grads = _data()
    dps = [nn.Parameter(a) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    do, to = optim.Adam(dps, lr=0.01, weight_decay=0.1), torch.optim.Adam(tps, lr=0.01, weight_decay=0.1)
    for i, gs in enumerate(grads):
        do.zero_grad()
        to.zero_grad()
        for j, (p, tp, g) in enumerate(zip(dps, tps, gs)):
            if (i + j) % 3 == 0:  # this parameter gets no gradient this step
                continue
            p.grad = g.copy()
            tp.grad = torch.tensor(g)
        do.step()
        to.step()
        _assert_close(dps, tps)
    for k, st in to.state_dict()["state"].items():
        assert do.state_dict()["state"][k]["step"] == float(st["step"])
    # requires_grad=False: skipped even with a stale gradient
    frozen = dps[0]
    frozen.requires_grad_(False)
    frozen.grad = np.ones_like(frozen.data)
    before = frozen.data.copy()
    do.step()
    np.testing.assert_array_equal(frozen.data, before)


def test_zero_grad_variants():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = dg.randn(5, 3)
    model(x).sum().backward()
    w = model[0].weight
    opt.step()
    opt.zero_grad()  # set_to_none=True by default
    assert all(p.grad is None for p in model.parameters())
    model(x).sum().backward()
    g1 = w.grad.copy()
    held = w.grad
    opt.zero_grad(set_to_none=False)  # zeroes the existing arrays in place
    assert w.grad is held and not held.any()
    assert all(p.grad is not None and not p.grad.any() for p in model.parameters())
    model(x).sum().backward()
    np.testing.assert_allclose(w.grad, g1, rtol=1e-6)
    model.zero_grad()  # the module's zero_grad (to None) works too
    model(x).sum().backward()
    np.testing.assert_allclose(w.grad, g1, rtol=1e-6)
    model(x).sum().backward()  # accumulation without zeroing
    np.testing.assert_allclose(w.grad, 2 * g1, rtol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "AdamW"])
def test_references_to_data_and_grad_stay_valid(name):
    """The optimizer's contract: it updates ``p.data`` in place and never replaces ``p.data``
    or ``p.grad``, so references taken before or after building it keep sharing memory."""
    dg.manual_seed(0)
    lin = nn.Linear(3, 2)
    w = lin.weight.data  # taken BEFORE the optimizer exists
    wt = lin.weight.data.T  # a view of it
    opt = getattr(optim, name)(lin.parameters(), lr=0.1)
    assert lin.weight.data is w
    before = w.copy()
    lin(dg.randn(4, 3)).sum().backward()
    g = lin.weight.grad
    opt.step()
    assert lin.weight.data is w and lin.weight.grad is g  # neither array was replaced
    assert not np.array_equal(w, before)  # ... and the update landed in the user's array
    np.testing.assert_array_equal(wt, w.T)
    b = lin.bias.data
    for _ in range(3):
        opt.zero_grad()
        lin(dg.randn(4, 3)).sum().backward()
        opt.step()
    assert lin.bias.data is b and lin.weight.data is w


def test_engine_knows_nothing_about_optimizers():
    import ast
    import pathlib

    src = (pathlib.Path(dg.__file__).parent / "autograd.py").read_text()
    names = {n.attr for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Attribute)}
    names |= {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    assert not any("buffer" in n.lower() or "optim" in n.lower() for n in names)


def test_strided_parameter_is_updated_in_place():
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    p = nn.Parameter(np.zeros((4, 3)))
    p.data = view = base.T  # a non-contiguous array
    assert not view.flags.c_contiguous
    opt = optim.SGD([p], lr=1.0)
    p.grad = np.ones((4, 3))
    opt.step()
    assert p.data is view
    np.testing.assert_array_equal(view, np.arange(12.0).reshape(3, 4).T - 1)
    assert np.shares_memory(view, base)


def test_shape_change_is_an_error_naming_the_shapes():
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p])
    p.data = np.ones(4)
    p.grad = np.ones(4)
    with pytest.raises(ValueError, match=r"changed shape from \(3,\) to \(4,\)"):
        opt.step()


def test_grad_assigned_from_elsewhere_and_data_replaced():
    init, grads = _data()
    dps = [nn.Parameter(a) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    do, to = optim.SGD(dps, lr=0.1, momentum=0.9), torch.optim.SGD(tps, lr=0.1, momentum=0.9)
    for i, gs in enumerate(grads):
        if i == 2:  # someone replaces a parameter's array (same shape and dtype)
            new = np.full(SHAPES[0], 0.5)
            dps[0].data = new.copy()
            with torch.no_grad():
                tps[0].copy_(torch.tensor(new))
        if i == 4:  # ... or with another dtype: the optimizer re-packs itself, keeping its state
            dps[1].data = dps[1].data.astype(np.float32).astype(np.float64)
            dps[1].data = dps[1].data.astype(np.float32)
            with torch.no_grad():
                tps[1].copy_(torch.tensor(dps[1].data.astype(np.float64)))
        for p, g in zip(dps, gs):
            p.grad = g.astype(p.data.dtype)
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        do.step()
        to.step()
        _assert_close(dps, tps, rtol=1e-5)
    assert dps[1].dtype == np.float32


def test_mixed_dtypes_in_one_group():
    a = nn.Parameter(np.ones((3, 2), dtype=np.float32))
    b = nn.Parameter(np.ones(4, dtype=np.float64))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = np.ones((3, 2), np.float32)
    b.grad = np.ones(4)
    opt.step()
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_allclose(a.data, 0.9, rtol=1e-6)
    np.testing.assert_allclose(b.data, 0.9, rtol=1e-8)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, amsgrad=True)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.3))])
def test_state_dict_round_trip_and_loading_torch_state(name, kw):
    init, grads = _data(steps=6)
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    to = getattr(torch.optim, name)(tps, **kw)
    dps = [nn.Parameter(a) for a in init]
    do = getattr(optim, name)(dps, **kw)
    for gs in grads[:3]:
        for p, g in zip(dps, gs):
            p.grad = g.copy()
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        do.step()
        to.step()
    sd = do.state_dict()
    # plain data only: numbers, strings, bools, lists, dicts and ndarrays (no pickle needed)
    def plain(x):
        if isinstance(x, dict):
            return all(isinstance(k, (int, str)) and plain(v) for k, v in x.items())
        if isinstance(x, (list, tuple)):
            return all(plain(v) for v in x)
        return isinstance(x, (int, float, bool, str, np.ndarray, type(None)))
    assert plain(sd)
    # a fresh optimizer restored from our state dict, and one from torch's, continue identically
    fresh = [nn.Parameter(p.data.copy()) for p in dps]
    fresh_t = [nn.Parameter(p.data.copy()) for p in dps]
    do2 = getattr(optim, name)(fresh, lr=123.0)
    do2.load_state_dict(sd)
    assert do2.param_groups[0]["lr"] == kw["lr"]
    do3 = getattr(optim, name)(fresh_t, **kw)
    do3.load_state_dict(to.state_dict())
    for gs in grads[3:]:
        for ps in (dps, fresh, fresh_t):
            for p, g in zip(ps, gs):
                p.grad = g.copy()
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        for o in (do, do2, do3, to):
            o.step()
    _assert_close(dps, tps)
    _assert_close(fresh, tps)
    _assert_close(fresh_t, tps)
    with pytest.raises(ValueError, match="parameter group"):
        getattr(optim, name)([{"params": fresh[:1]}, {"params": fresh[1:]}], **kw).load_state_dict(sd)


def test_state_property_is_torch_like():
    p = nn.Parameter(np.ones(3))
    opt = optim.Adam([p], lr=0.1)
    assert opt.state == {}
    p.grad = np.ones(3)
    opt.step()
    st = opt.state[p]
    assert st["step"] == 1 and st["exp_avg"].shape == (3,)
    np.testing.assert_allclose(st["exp_avg"], 0.1)


def test_float32_training_stays_float32():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters())
    for _ in range(2):
        opt.zero_grad()
        model(dg.randn(5, 3)).sum().backward()
        opt.step()
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert all(a.dtype == np.float32 for st in opt.state.values() for a in st.values() if isinstance(a, np.ndarray))


def test_argument_errors():
    p = nn.Parameter(np.ones(2))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="single Tensor"):
        optim.Adam(p)


def test_closure_and_lr_change_take_effect():
    p = nn.Parameter(np.array([1.0]))
    opt = optim.SGD([p], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (dg.tensor(p.data) * 0).sum()  # dummy loss; the gradient is set by hand
        p.grad = np.array([1.0])
        return loss

    opt.step(closure)
    assert p.data[0] == pytest.approx(0.5)
    opt.param_groups[0]["lr"] = 0.25
    p.grad = np.array([1.0])
    opt.step()
    assert p.data[0] == pytest.approx(0.25)


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_hyperparameters_changed_mid_training(name):
    """Adam keeps its moments scaled by 1/(1 - beta); changing betas must re-express them."""
    init, grads = _data(steps=8)
    dps = [nn.Parameter(a) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    do, to = getattr(optim, name)(dps, lr=0.01, amsgrad=True), getattr(torch.optim, name)(tps, lr=0.01, amsgrad=True)
    for i, gs in enumerate(grads):
        if i == 3:
            for o in (do, to):
                o.param_groups[0]["betas"] = (0.5, 0.9)
                o.param_groups[0]["lr"] = 0.03
        for p, g in zip(dps, gs):
            p.grad = g.copy()
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g)
        do.step()
        to.step()
        _assert_close(dps, tps)
    for k, st in to.state_dict()["state"].items():
        np.testing.assert_allclose(do.state_dict()["state"][k]["exp_avg_sq"], st["exp_avg_sq"].numpy(), rtol=1e-10)


def test_adam_float32_close_to_torch_float32():
    init, grads = _data(steps=20)
    dps = [nn.Parameter(a.astype(np.float32)) for a in init]
    tps = [torch.nn.Parameter(torch.tensor(a, dtype=torch.float32)) for a in init]
    do, to = optim.Adam(dps, lr=0.01), torch.optim.Adam(tps, lr=0.01)
    for gs in grads:
        for p, g in zip(dps, gs):
            p.grad = g.astype(np.float32)
        for p, g in zip(tps, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        do.step()
        to.step()
    for a, b in zip(dps, tps):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=2e-5, atol=1e-6)


def test_plain_tensor_parameters():
    w = dg.tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, 0.8 * 0.8)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                                     ("SGD", dict(lr=0.1, momentum=0.9)), ("RMSprop", dict(lr=0.01, centered=True))])
def test_resume_from_state_dict_is_bit_exact(name, kw):
    """Checkpoint/resume must continue the very same float32 trajectory (regression: storing
    rescaled moments made save/load round off)."""
    init, grads = _data(steps=6)
    a = [nn.Parameter(x.astype(np.float32)) for x in init]
    oa = getattr(optim, name)(a, **kw)
    for gs in grads[:3]:
        for p, g in zip(a, gs):
            p.grad = g.astype(np.float32)
        oa.step()
    b = [nn.Parameter(p.data.copy()) for p in a]
    ob = getattr(optim, name)(b, **kw)
    ob.load_state_dict(oa.state_dict())
    for gs in grads[3:]:
        for ps, o in ((a, oa), (b, ob)):
            for p, g in zip(ps, gs):
                p.grad = g.astype(np.float32)
            o.step()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p.data, q.data)


def test_frozen_backbone_skipped_head_updated():
    """Frozen parameters get no update and no state; the trainable ones match torch."""
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 8), torch.nn.Tanh(),
                                 torch.nn.Linear(8, 3)).double()
    tmodel.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    model[0].requires_grad_(False)
    tmodel[0].requires_grad_(False)
    do, to = optim.Adam(model.parameters(), lr=0.01), torch.optim.Adam(tmodel.parameters(), lr=0.01)
    calls = []
    orig = do._update
    do._update = lambda group, ch, sl, step: (calls.append(ch.param), orig(group, ch, sl, step))
    _train_both(model, tmodel, do, to, steps=4, batch=8, seed=0)
    _assert_close(list(model.parameters()), list(tmodel.parameters()))
    assert len(calls) == 4 * 4  # the four trainable tensors, each step
    assert not any(c is model[0].weight or c is model[0].bias for c in calls)
    assert model[0].weight not in do.state
