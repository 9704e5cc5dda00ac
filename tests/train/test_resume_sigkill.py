"""A run killed with SIGKILL mid-epoch resumes from its last checkpoint and ends with
exactly the same weights and History as a run that was never interrupted."""
import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from deepgrad.serialization import load_weights

SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys, time
    import numpy as np
    import deepgrad as dg
    from deepgrad import nn, optim
    from deepgrad.serialization import save_weights
    from deepgrad.train import LambdaCallback, Trainer

    ckdir, out, kill, sleep = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    kill_where, _, kill_at = kill.partition(":")
    kill_at = int(kill_at or 0)
    lr = float(sys.argv[5]) if len(sys.argv) > 5 else 1e-2
    rng = np.random.default_rng(0)
    X = rng.standard_normal((480, 12)).astype(np.float32)
    y = (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 1)
    dg.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)

    def on_batch_end(step, logs):
        print("step", step, flush=True)
        if kill_where == "step" and step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(sleep)

    def on_epoch_end(epoch, logs):
        # runs before the epoch's own checkpoint: the last one is the step checkpoint
        # taken after the epoch's final batch
        if kill_where == "epoch_end" and epoch == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    tr = Trainer(model, opt, "cross_entropy", scheduler=sched, seed=0, batch_size=32, progress=False,
                 callbacks=[LambdaCallback(on_batch_end=on_batch_end, on_epoch_end=on_epoch_end)])
    h = tr.fit((X, y), dev=(X[:96], y[:96]), epochs=4, checkpoint_dir=None if ckdir == "-" else ckdir,
               checkpoint_every=5, run_config={"recipe": "sigkill-test", "seed": 0, "lr": lr, "epochs": 4})
    save_weights(model, out)
    rows = [{k: v for k, v in r.items() if k != "time"} for r in h.rows]
    print("HISTORY", json.dumps(rows), flush=True)
    """
)
STEPS_PER_EPOCH = 15  # 480 / 32


def _run(tmp_path, ckdir, out, kill="none", sleep=0.0, lr=None):
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    extra = [] if lr is None else [str(lr)]
    return subprocess.run([sys.executable, str(script), str(ckdir), str(out), kill, str(sleep), *extra],
                          capture_output=True, text=True, timeout=120)


def _steps(proc):
    """The step numbers a training script printed ("step N ...")."""
    return [int(ln.split()[1]) for ln in proc.stdout.splitlines() if ln.startswith("step ")]


def _history(proc):
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("HISTORY "))
    return json.loads(line[len("HISTORY "):])


def _assert_same_weights(a_path, b_path):
    a, b = load_weights(None, a_path), load_weights(None, b_path)
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    proc = _run(tmp, "-", tmp / "ref.safetensors")
    assert proc.returncode == 0, proc.stderr
    return tmp / "ref.safetensors", _history(proc)


@pytest.mark.slow
def test_self_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, reference):
    ref_weights, ref_history = reference
    ckdir = tmp_path / "ck"
    kill_at = STEPS_PER_EPOCH + 12  # epoch 2, batch 12; last checkpoint at step 25 (every 5 steps)
    proc = _run(tmp_path, ckdir, tmp_path / "w.safetensors", kill=f"step:{kill_at}")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert f"step {kill_at}" in proc.stdout and "HISTORY" not in proc.stdout
    assert (ckdir / "checkpoint.safetensors").exists()
    assert not (tmp_path / "w.safetensors").exists()

    from deepgrad.train import load_checkpoint

    ck = load_checkpoint(ckdir / "checkpoint.safetensors")
    assert (ck["epoch"], ck["step"]) == (1, 25)  # mid-epoch 2: resumes 10 batches into it
    assert ck["loader"]["skip"] == 25 - STEPS_PER_EPOCH

    proc2 = _run(tmp_path, ckdir, tmp_path / "w.safetensors")
    assert proc2.returncode == 0, proc2.stderr
    steps = _steps(proc2)
    assert steps[0] == 26 and steps[-1] == 4 * STEPS_PER_EPOCH  # resumed, not restarted
    _assert_same_weights(ref_weights, tmp_path / "w.safetensors")
    assert _history(proc2) == ref_history


@pytest.mark.slow
def test_sigkill_from_outside_at_any_moment_then_resume(tmp_path, reference):
    ref_weights, ref_history = reference
    ckdir = tmp_path / "ck"
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), str(ckdir), str(tmp_path / "w.safetensors"), "none", "0.01"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:
            if line.startswith("step ") and int(line.split()[1]) >= 2 * STEPS_PER_EPOCH + 7:
                os.kill(p.pid, signal.SIGKILL)
                break
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
        p.stdout.close()
        p.stderr.close()
    assert p.returncode == -signal.SIGKILL
    proc2 = _run(tmp_path, ckdir, tmp_path / "w.safetensors")
    assert proc2.returncode == 0, proc2.stderr
    steps = _steps(proc2)
    assert steps[0] > 2 * STEPS_PER_EPOCH
    _assert_same_weights(ref_weights, tmp_path / "w.safetensors")
    assert _history(proc2) == ref_history


@pytest.mark.slow
def test_sigkill_between_last_batch_checkpoint_and_epoch_end(tmp_path, reference):
    ref_weights, ref_history = reference
    ckdir = tmp_path / "ck"
    proc = _run(tmp_path, ckdir, tmp_path / "w.safetensors", kill="epoch_end:2")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    from deepgrad.train import load_checkpoint

    ck = load_checkpoint(ckdir / "checkpoint.safetensors")
    assert (ck["epoch"], ck["step"]) == (1, 2 * STEPS_PER_EPOCH)  # all batches of epoch 2 done, epoch not closed
    proc2 = _run(tmp_path, ckdir, tmp_path / "w.safetensors")
    assert proc2.returncode == 0, proc2.stderr
    steps = _steps(proc2)
    assert steps[0] == 2 * STEPS_PER_EPOCH + 1  # epoch 2 is closed, not repeated
    _assert_same_weights(ref_weights, tmp_path / "w.safetensors")
    assert _history(proc2) == ref_history


@pytest.mark.slow
def test_finished_run_resumes_to_nothing(tmp_path, reference):
    ref_weights, _ = reference
    ckdir = tmp_path / "ck"
    assert _run(tmp_path, ckdir, tmp_path / "a.safetensors").returncode == 0
    proc = _run(tmp_path, ckdir, tmp_path / "b.safetensors")
    assert proc.returncode == 0 and "step " not in proc.stdout
    _assert_same_weights(ref_weights, tmp_path / "b.safetensors")


@pytest.mark.slow
def test_killed_run_resumed_with_another_config_is_refused(tmp_path, reference):
    ref_weights, ref_history = reference
    ckdir = tmp_path / "ck"
    proc = _run(tmp_path, ckdir, tmp_path / "w.safetensors", kill=f"step:{STEPS_PER_EPOCH + 12}")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    before = (ckdir / "checkpoint.safetensors").read_bytes()
    other = _run(tmp_path, ckdir, tmp_path / "w.safetensors", lr=0.05)  # another learning rate: another run
    assert other.returncode == 1 and "RunConfigMismatch" in other.stderr
    assert "lr: 0.01 -> 0.05" in other.stderr and "step " not in other.stdout
    assert (ckdir / "checkpoint.safetensors").read_bytes() == before  # untouched
    assert not (tmp_path / "w.safetensors").exists()
    proc2 = _run(tmp_path, ckdir, tmp_path / "w.safetensors")  # the same run resumes as if never interrupted
    assert proc2.returncode == 0, proc2.stderr
    _assert_same_weights(ref_weights, tmp_path / "w.safetensors")
    assert _history(proc2) == ref_history


@pytest.mark.slow
def test_two_concurrent_runs_on_one_checkpoint_dir(tmp_path, reference):
    """A second live run on the same checkpoint directory is refused; once the first is
    killed (SIGKILL: its lock file stays behind) the next run takes the stale lock over
    and finishes exactly as an uninterrupted run."""
    ref_weights, ref_history = reference
    ckdir = tmp_path / "ck"
    script = tmp_path / "train_script.py"
    script.write_text(SCRIPT)
    first = subprocess.Popen([sys.executable, str(script), str(ckdir), str(tmp_path / "a.safetensors"), "none", "0.1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in first.stdout:
            if line.startswith("step ") and int(line.split()[1]) >= 7:
                break
        second = _run(tmp_path, ckdir, tmp_path / "b.safetensors")
        assert second.returncode == 1 and "RunLockedError" in second.stderr
        assert f"pid {first.pid}" in second.stderr and "step " not in second.stdout
        assert first.poll() is None  # the first run was not disturbed
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
        first.stdout.close()
        first.stderr.close()
    assert (ckdir / ".deepgrad.lock").exists()  # left behind by the killed run
    third = _run(tmp_path, ckdir, tmp_path / "c.safetensors")
    assert third.returncode == 0, third.stderr
    assert _steps(third)[0] > 5
    _assert_same_weights(ref_weights, tmp_path / "c.safetensors")
    assert _history(third) == ref_history
    assert not (ckdir / ".deepgrad.lock").exists()
