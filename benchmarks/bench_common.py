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


# ----- each library alone: timing in fresh subprocesses -----------------------------------------------
# In one process, each library's idle threads get in the other's way (OpenBLAS's and OpenMP's
# workers spin after parallel work and take a core from whoever runs next), and PyTorch would
# run with deepgrad's allocator setting. So the benchmarks time each contender alone in a
# fresh subprocess of the same script (``--time-child NAME``), alternating the order round by
# round so that slow phases of a shared machine hit all alike (see docs/performance.md).


def child_env(name: str) -> dict:
    """The environment of a child process timing ``name``. A script that imports deepgrad
    asks glibc to keep freed memory (``deepgrad.ops.im2col.keep_freed_memory``); PyTorch's
    children turn that off, so that PyTorch runs with the allocator it has when used alone."""
    import os

    env = dict(os.environ)
    if name.startswith("torch"):
        env["DEEPGRAD_KEEP_FREED_MEMORY"] = "0"
    return env


def time_steps(step, steps: int, warmup: int, clock=None) -> list:
    """Seconds of each of ``steps`` calls of ``step``, back to back after ``warmup`` calls."""
    import time

    clock = clock or time.perf_counter
    for _ in range(warmup):
        step()
    out = []
    for _ in range(steps):
        t0 = clock()
        step()
        out.append(clock() - t0)
    return out


def isolated_times(script: str, names, args, rounds: int) -> dict:
    """``{name: [seconds, ...]}``: for each of ``rounds`` rounds, one fresh subprocess
    ``python script *args --time-child NAME`` per name (order reversed every other round),
    each printing its step times as a JSON list on its last line."""
    import json
    import subprocess
    import sys

    names = list(names)
    times: dict = {n: [] for n in names}
    for r in range(rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            cmd = [sys.executable, script, *map(str, args), "--time-child", name]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=3600, check=True, env=child_env(name)).stdout
            times[name] += json.loads(out.strip().splitlines()[-1])
    return times


def block_means_ms(times, steps: int) -> list:
    """Mean milliseconds per step of each consecutive block of ``steps`` step times (seconds)."""
    return [sum(times[i:i + steps]) / steps * 1e3 for i in range(0, len(times), steps)]


def hwm_growth_mib(step, steps: int = 3) -> float:
    """Growth of this process's peak resident set (VmHWM) over ``steps`` calls of ``step``, in
    MiB: in a fresh process, the memory a training step needs beyond the model and data."""
    h0 = hwm_kb()
    for _ in range(steps):
        step()
    return (hwm_kb() - h0) / 1024


def isolated_memory_mib(script: str, name: str, args) -> float | None:
    """``python script *args --memory-child NAME`` in a fresh subprocess: the MiB it prints
    on its last line (:func:`hwm_growth_mib` of that contender's step), or None if it failed."""
    import subprocess
    import sys

    cmd = [sys.executable, script, *map(str, args), "--memory-child", name]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=True, env=child_env(name)).stdout
        return round(float(out.strip().splitlines()[-1]), 1)
    except Exception:
        return None
