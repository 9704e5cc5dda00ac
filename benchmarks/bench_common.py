"""Pieces the benchmark scripts share. deepgrad and PyTorch have the same API for these, so
one function serves both libraries: the measured step is literally the same code."""
from __future__ import annotations


def train_step(model, opt, x, y, loss_fn):
    """A closure running one training step: zero_grad, forward, loss, backward, optimizer step."""

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def mlp(nn, sizes):
    """``nn.Sequential`` of Linear layers of the given sizes with a ReLU between each two,
    built from either library's ``nn`` module."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def rss_kb() -> int:
    """This process's resident set now, in KiB (Linux)."""
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def hwm_kb() -> int:
    """This process's peak resident set so far (VmHWM), in KiB (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
