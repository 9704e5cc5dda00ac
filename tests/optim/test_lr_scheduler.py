"""LR schedules against PyTorch (per-epoch values), the course's inverse-time decay, state_dict."""
import json
import math

import numpy as np
import pytest

from deepgrad import nn, optim
from deepgrad.optim import lr_scheduler as S


def _opt(lr=0.1, groups=1):
    ps = [nn.Parameter(np.ones(2)) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(ps)], lr=lr)


CASES = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 6], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=7, eta_min=0.01)),
    ("LinearLR", dict(start_factor=0.25, end_factor=1.0, total_iters=4)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e) ** 0.5)),
]


@pytest.mark.parametrize("name,kw", CASES)
def test_matches_torch(name, kw):
    torch = pytest.importorskip("torch")
    opt = _opt(groups=2)
    tparams = [torch.nn.Parameter(torch.ones(2)) for _ in range(2)]
    topt = torch.optim.SGD([{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(tparams)], lr=0.1)
    sched, tsched = getattr(S, name)(opt, **kw), getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for epoch in range(12):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-12), epoch
        assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-12)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()


def test_inverse_time_decay_course_formulas():
    opt = _opt(lr=0.5)
    s = S.InverseTimeDecay(opt, decay_rate=1.0)
    lrs = [s.get_last_lr()[0]]
    for _ in range(4):
        s.step()
        lrs.append(s.get_last_lr()[0])
    assert lrs == pytest.approx([0.5 / (1 + 1.0 * e) for e in range(5)])
    opt = _opt(lr=0.5)
    s = S.InverseTimeDecay(opt, decay_rate=0.3, time_interval=1000, staircase=True)
    seen = {}
    for epoch in range(2500):
        seen[epoch] = s.get_last_lr()[0]
        s.step()
    for epoch in (0, 999, 1000, 1999, 2000, 2499):
        assert seen[epoch] == pytest.approx(0.5 / (1 + 0.3 * math.floor(epoch / 1000)))
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 / (1 + 0.3 * 2))


def test_linear_warmup():
    opt = _opt(lr=1.0)
    s = S.LinearWarmup(opt, warmup_steps=4)
    got = []
    for _ in range(6):
        got.append(opt.param_groups[0]["lr"])
        s.step()
    assert got == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_state_dict_is_plain_and_resumes():
    opt = _opt(lr=0.2)
    s = S.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        s.step()
    sd = s.state_dict()
    json.dumps(sd)  # numbers and lists only
    opt2 = _opt(lr=0.2)
    s2 = S.StepLR(opt2, step_size=2, gamma=0.1)
    s2.load_state_dict(sd)
    s.step()
    s2.step()
    assert s2.get_last_lr() == pytest.approx(s.get_last_lr())
    assert s2.last_epoch == 4
    lam = S.LambdaLR(_opt(), lambda e: 0.5)
    assert "lr_lambdas" not in lam.state_dict()
    json.dumps(lam.state_dict())


def test_schedule_changes_the_update():
    p = nn.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=1.0)
    sched = S.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        p.grad = np.ones(1)
        opt.step()
        sched.step()
    assert p.data[0] == pytest.approx(-(1 + 0.5 + 0.25))


def test_errors():
    with pytest.raises(ValueError, match="step_size"):
        S.StepLR(_opt(), step_size=0)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="lr_lambdas"):
        S.LambdaLR(_opt(groups=2), [lambda e: 1.0])


@pytest.mark.parametrize("kw", [dict(patience=2, factor=0.5), dict(mode="max", patience=1, cooldown=2, min_lr=0.02),
                                dict(patience=0, threshold=0.1, threshold_mode="abs")])
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    opt = _opt(lr=0.1)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(2))], lr=0.1)
    s, ts = S.ReduceLROnPlateau(opt, **kw), torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.7, 0.71, 0.72, 0.73]
    for m in metrics:
        s.step(m)
        ts.step(m)
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    json.dumps(s.state_dict())
