"""Shared checker: an op's values and gradients against finite differences and, when
installed, against PyTorch (float64, relative error below 1e-7)."""

import numpy as np

import deepgrad as dg
from deepgrad.check import gradcheck

try:
    import torch
except ImportError:  # the torch comparison is skipped; finite differences still run
    torch = None

RTOL = 1e-7


def run_dg(fn, arrays, v_seed=0):
    ts = [dg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    v = np.random.default_rng(v_seed).standard_normal(out.shape)
    (out * dg.tensor(v)).sum().backward()
    return out.data, [t.grad for t in ts], v


def run_torch(fn, arrays, v):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out = fn(*ts)
    (out * torch.tensor(v)).sum().backward()
    return out.detach().numpy(), [np.zeros(a.shape) if t.grad is None else t.grad.numpy() for a, t in zip(arrays, ts)]


def assert_close(a, b, what):
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-10, err_msg=what)


def check_op(dg_fn, torch_fn, *arrays, fd=True, fd_tol=1e-6):
    """Compare with torch (if present) and run gradcheck in float64."""
    out, grads, v = run_dg(dg_fn, arrays)
    if torch is not None and torch_fn is not None:
        t_out, t_grads = run_torch(torch_fn, arrays, v)
        assert out.shape == t_out.shape, f"shape {out.shape} vs torch {t_out.shape}"
        assert_close(out, t_out, "forward")
        for i, (g, tg) in enumerate(zip(grads, t_grads)):
            assert g.shape == arrays[i].shape
            assert_close(g, tg, f"gradient of input {i}")
    if fd:
        report = gradcheck(dg_fn, *[dg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays], tol=fd_tol)
        assert report.passed, str(report)
    return out, grads
