"""Shared plumbing of the course examples: command line, results table, data, pictures.

Nothing here is course content. Each example keeps its model and training loop in its
own file so it reads top to bottom; this module only holds what all of them repeat:

* ``parse_args(name)``: ``--quick`` (small, fast settings for the tests), ``--out DIR``
  (default ``runs/examples/<name>/``), ``--seed``;
* ``Results``: the course's reference figures beside ours, printed as a table at the
  end and written to ``DIR/results.json``;
* ``fashion_binary``: the small two-class image task of course 1 (from ``deepgrad.data``);
* ``make_goalkeeper``: a stand-in for the noisy 2-D "football" set of course 2's
  regularization exercise (the library's ``deepgrad.data.datasets`` has the flower,
  circles and moons);
* ``pyplot()`` (matplotlib if installed, else ``None``: pictures are skipped) and
  ``plot_decision_boundary``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


# ----- command line ---------------------------------------------------------------------
def parse_args(name: str, description: str = "", argv=None, seed: int = 1, **extra):
    """``--quick``, ``--out``, ``--seed`` plus ``extra`` options given as ``flag=(type, default, help)``."""
    p = argparse.ArgumentParser(prog=f"python examples/{name}.py", description=description)
    p.add_argument("--quick", action="store_true", help="small settings (seconds), used by the tests")
    p.add_argument("--out", default=None, help=f"output folder (default runs/examples/{name}/)")
    p.add_argument("--seed", type=int, default=seed, help=f"random seed (default {seed})")
    for flag, (typ, default, help_) in extra.items():
        p.add_argument(f"--{flag.replace('_', '-')}", type=typ, default=default, help=help_)
    # Inside Jupyter (the scripts open as notebooks through jupytext) argv holds the
    # kernel's own flags: ignore them.
    if argv is None and "ipykernel" in sys.modules:
        argv = []
    args = p.parse_args(argv)
    given = list(sys.argv[1:] if argv is None else argv)
    # the flags of the run, as recorded with its figures (not --out: where it wrote is not what it did)
    args.argv = [a for i, a in enumerate(given) if a != "--out" and (i == 0 or given[i - 1] != "--out")
                 and not a.startswith("--out=")]
    args.out = Path(args.out) if args.out else Path("runs") / "examples" / name
    args.out.mkdir(parents=True, exist_ok=True)
    args.name = name
    return args


# ----- results --------------------------------------------------------------------------
def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.2e}"
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10000:
        return f"{v:,}"
    return str(v)


class Results:
    """Rows of (what, course figure, our figure) plus any extra data, saved as JSON.

    ``add("test accuracy, He init", course=0.96, ours=0.955)``. Accuracies are fractions
    in [0, 1]; pass ``pct=True`` to show them as percentages in the printed table.
    """

    def __init__(self, args):
        self.args = args
        self.rows = []
        self.data = {}
        self.t0 = time.perf_counter()

    def add(self, what, course=None, ours=None, pct=False, note="", expected=None):
        """One figure. ``course``: the course's own figure, only one printed in the published
        notebooks' expected outputs as collected in the project's course notes (else ``None``);
        ``expected``: a value ours must equal that is not such a figure (a shape, a count, a
        notebook's test value), checked by the tests and shown in the note."""
        self.rows.append({"what": what, "course": course, "ours": ours, "pct": pct, "note": note,
                          "expected": expected})

    def __setitem__(self, key, value):
        self.data[key] = value

    def table(self) -> str:
        lines = [("", "course", "deepgrad", "")] + [
            (r["what"], show(r["course"], r["pct"], course=True), show(r["ours"], r["pct"]), note_of(r))
            for r in self.rows
        ]
        w = [max(len(str(line[i])) for line in lines) for i in range(4)]
        out = []
        for k, line in enumerate(lines):
            out.append(f"{line[0]:<{w[0]}}  {line[1]:>{w[1]}}  {line[2]:>{w[2]}}  {line[3]}".rstrip())
            if k == 0:
                out.append("-" * (sum(w[:3]) + 4))
        return "\n".join(out)

    def finish(self) -> dict:
        """Print the table; write ``DIR/results.json`` (everything) and ``DIR/figures.json``
        (the table alone: what ``scripts/example_tables.py`` turns into examples/README.md)."""
        seconds = time.perf_counter() - self.t0
        figures = {
            "example": self.args.name,
            "quick": bool(self.args.quick),
            "seed": self.args.seed,
            "seconds": round(seconds, 1),
            "threads": os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "default",
            "argv": list(self.args.argv),
            "figures": [{k: r[k] for k in ("what", "course", "ours", "pct", "note", "expected")} for r in self.rows],
        }
        payload = {**figures, **self.data}
        path = self.args.out / "results.json"
        path.write_text(json.dumps(payload, indent=2, default=_jsonable))
        (self.args.out / "figures.json").write_text(json.dumps(figures, indent=1, default=_jsonable) + "\n")
        print()
        print(f"== {self.args.name}{' (--quick)' if self.args.quick else ''}: course vs deepgrad ==")
        print(self.table())
        print(f"({seconds:.1f} s; results in {path})")
        return payload


def show(v, pct=False, course=False) -> str:
    """A figure as the tables print it: fractions as percentages when ``pct`` (the course's
    figures with their own digits, ours to 0.1), ``-`` for none."""
    if pct and isinstance(v, (int, float)) and not isinstance(v, bool):
        if course:
            return f"{round(100 * v, 2):g}%"
        return f"{100 * v:.1f}%"
    if course and isinstance(v, float):
        return f"{v:g}"  # the course's figure with its own digits
    return _fmt(v)


def note_of(row) -> str:
    """The row's note, with its ``expected`` value (if any) appended."""
    note = row.get("note") or ""
    if row.get("expected") is not None:
        exp = f"expected {show(row['expected'], row.get('pct'), course=True)}"
        note = f"{note}; {exp}" if note else exp
    return note


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


# ----- pictures -------------------------------------------------------------------------
def pyplot():
    """``matplotlib.pyplot`` with a file backend, or ``None`` if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: pictures skipped; pip install matplotlib)")
        return None
    return plt


def plot_decision_boundary(ax, predict, X, y, title="", h=None):
    """Shade the plane by ``predict(points (n, 2)) -> labels (n,)`` and scatter ``X`` (m, 2) coloured by ``y``."""
    pad = 0.5
    x0min, x0max = X[:, 0].min() - pad, X[:, 0].max() + pad
    x1min, x1max = X[:, 1].min() - pad, X[:, 1].max() + pad
    h = h or max(x0max - x0min, x1max - x1min) / 300
    xx, yy = np.meshgrid(np.arange(x0min, x0max, h), np.arange(x1min, x1max, h))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, zz, cmap="Spectral", alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=np.asarray(y).ravel(), cmap="Spectral", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


# ----- data -----------------------------------------------------------------------------

def plot_boundaries(models: dict, predict, X, y, path, title) -> None:
    """One decision-boundary panel per ``name -> (model, train_acc, test_acc)``, saved to ``path``
    (``title(name, train_acc, test_acc)`` gives each panel's title); nothing without matplotlib."""
    plt = pyplot()
    if plt is None:
        return
    fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4))
    for ax, (name, (model, tr, te)) in zip(axes, models.items()):
        plot_decision_boundary(ax, lambda P, m=model: predict(m, P), X, y, title(name, tr, te))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    print(f"picture: {path}")


def load_fashion_mnist(split: str = "train"):
    """Fashion-MNIST ``(N, 784)`` uint8 pixels and ``(N,)`` int64 labels, via ``deepgrad.data.datasets``."""
    from deepgrad.data.datasets import load_fashion_mnist as load

    return load(split, normalize=False, flatten=True)


def class_names():
    from deepgrad.data.datasets import FASHION_MNIST_CLASSES

    return list(FASHION_MNIST_CLASSES)


def fashion_binary(pos: int, neg: int, n_train: int, n_test: int, seed: int = 0):
    """A small "class ``pos`` vs class ``neg``" image task, the course's cat/non-cat in Fashion-MNIST.

    Returns ``X_train (n_train, 784)``, ``y_train (n_train, 1)``, ``X_test``, ``y_test``,
    float32, pixels scaled to [0, 1] (the course divides by 255 too). Classes are
    balanced; training images come from the training split, test images from the test split.
    """
    rng = np.random.default_rng(seed)
    out = []
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_fashion_mnist(split)
        idx_p = rng.choice(np.flatnonzero(labels == pos), n // 2, replace=False)
        idx_n = rng.choice(np.flatnonzero(labels == neg), n - n // 2, replace=False)
        idx = rng.permutation(np.concatenate([idx_p, idx_n]))
        X = images[idx].reshape(len(idx), -1).astype(np.float32) / 255.0
        y = (labels[idx] == pos).astype(np.float32).reshape(-1, 1)
        out += [X, y]
    return tuple(out)


def column(y) -> np.ndarray:
    """Labels ``(n,)`` of the library's toy sets as the ``(n, 1)`` float32 targets of a sigmoid output."""
    return np.asarray(y, dtype=np.float32).reshape(-1, 1)


def accuracy(pred, y) -> float:
    """Fraction of equal entries of two label arrays (any shapes with the same size)."""
    return float(np.mean(np.asarray(pred).ravel() == np.asarray(y).ravel()))


def make_goalkeeper(n: int, seed: int = 1, flip: float = 0.08):
    """A stand-in for course 2's "football" set: where the goalkeeper should kick the ball.

    ``X (n, 2)`` float32: positions on the field, uniform in [-0.75, 0.75]^2; ``y (n, 1)``
    float32: 1 where the French player headed the ball (above the wavy line
    ``x1 = 0.15 sin(4 x0) + 0.1``), with labels flipped near the line (about ``3 flip`` at
    the line, fading with distance), the noise a large network learns by heart: the
    course's regularization exercise needs a set that overfits.
    """
    rng = np.random.default_rng(seed)
    X = rng.uniform(-0.75, 0.75, (n, 2))
    line = 0.15 * np.sin(4 * X[:, 0]) + 0.1
    y = (X[:, 1] > line).astype(np.float32)
    flip_p = 3 * flip * np.exp(-np.abs(X[:, 1] - line) / 0.15)
    flipped = rng.random(n) < flip_p
    y[flipped] = 1 - y[flipped]
    return X.astype(np.float32), y.reshape(-1, 1)
