"""Bias, variance, data mismatch: the course's basic recipe (course 3, weeks 1 and 2).

    d = diagnose(human=0.01, train=0.08, train_dev=0.10, dev=0.11, test=0.12)
    d.primary          # "avoidable_bias"
    print(d.report())  # the gaps, the largest, and the course's remedies for it
    d.plot("doctor.png")

Arguments are ERRORS (fractions or percentages, all in the same unit), any of them may be
missing (None). The components:

* avoidable bias = train - human (human-level error as the proxy for Bayes error; without
  it, 0 is assumed and the report says so);
* variance = train-dev - train (or dev - train when there is no train-dev set: then it also
  holds any data mismatch, and the report says so);
* data mismatch = dev - train-dev;
* overfitting to dev = test - dev.

``primary`` is the largest component (None when no component is positive).
"""
from __future__ import annotations

from dataclasses import dataclass, field

COMPONENTS = ("avoidable_bias", "variance", "data_mismatch", "dev_overfitting")
LABELS = {"avoidable_bias": "avoidable bias", "variance": "variance", "data_mismatch": "data mismatch",
          "dev_overfitting": "overfitting to dev"}

#: the course's remedies (course 3: "Improving your model performance", "Addressing data mismatch")
REMEDIES = {
    "avoidable_bias": ["train a bigger model (more hidden units or layers)",
                       "train longer, or with a better optimization algorithm (momentum, RMSprop, Adam)",
                       "search for a better architecture or hyperparameters"],
    "variance": ["get more training data (or augment it)",
                 "regularize: L2, dropout, data augmentation",
                 "search for a better architecture or hyperparameters"],
    "data_mismatch": ["carry out manual error analysis to understand how the training set differs from dev/test",
                      "make the training data more like dev/test: artificial data synthesis "
                      "(beware of synthesizing from a small subset of possible examples)",
                      "collect more training data like the dev/test data"],
    "dev_overfitting": ["get a bigger dev set (you have tuned to this one)"],
}


def _num(name, v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"diagnose: {name} must be a number (an error rate), got {v!r}") from None
    if f != f or f < 0:
        raise ValueError(f"diagnose: {name} must be an error rate >= 0, got {v!r}")
    return f


@dataclass
class Diagnosis:
    """The errors given, the components computed from them, the largest (``primary``) and notes."""

    errors: dict
    components: dict
    primary: str | None
    notes: list = field(default_factory=list)

    @property
    def remedies(self) -> list[str]:
        return list(REMEDIES.get(self.primary, [])) if self.primary is not None else []

    def to_dict(self) -> dict:
        return {"errors": self.errors, "components": self.components, "primary": self.primary,
                "remedies": self.remedies, "notes": self.notes}

    def report(self) -> str:
        pct = max((v for v in self.errors.values() if v is not None), default=0) <= 1

        def f(v):
            return "-" if v is None else (f"{100 * v:.2f}%" if pct else f"{v:.4g}")

        lines = ["errors:     " + "  ".join(f"{k.replace('_', '-')} {f(v)}" for k, v in self.errors.items()
                                            if v is not None)]
        for c in COMPONENTS:
            v = self.components.get(c)
            mark = "  <- primary" if c == self.primary else ""
            lines.append(f"  {LABELS[c]:<19} {f(v) if v is None or v >= 0 else '-' + f(-v)}{mark}")
        for n in self.notes:
            lines.append(f"note: {n}")
        if self.primary is None:
            lines.append("no gap to close: every component is zero or negative (or could not be computed)")
        else:
            lines.append(f"largest: {LABELS[self.primary]}. What the course suggests:")
            lines += [f"  - {r}" for r in self.remedies]
        return "\n".join(lines)

    def plot(self, path) -> str:
        """A bar chart: the error levels (left) and the components, the primary one highlighted (right)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 4))
        names = [k for k, v in self.errors.items() if v is not None]
        a0.bar([n.replace("_", "-") for n in names], [self.errors[n] for n in names], color="#4c72b0")
        a0.set_ylabel("error")
        a0.set_title("error levels")
        comps = [c for c in COMPONENTS if self.components.get(c) is not None]
        vals = [self.components[c] for c in comps]
        colors = ["#c44e52" if c == self.primary else "#8c8c8c" for c in comps]
        a1.bar([LABELS[c] for c in comps], vals, color=colors)
        a1.axhline(0, color="black", lw=0.8)
        a1.set_title("gaps" + (f" (largest: {LABELS[self.primary]})" if self.primary else ""))
        for ax in (a0, a1):
            ax.grid(axis="y", alpha=0.3)
            ax.tick_params(axis="x", labelrotation=15)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return str(path)


def diagnose(human=None, train=None, train_dev=None, dev=None, test=None) -> Diagnosis:
    """Avoidable bias, variance, data mismatch and overfitting to dev from ERROR rates (see the module doc)."""
    errors = {"human": _num("human", human), "train": _num("train", train), "train_dev": _num("train_dev", train_dev),
              "dev": _num("dev", dev), "test": _num("test", test)}
    h, tr, td, dv, te = errors.values()
    comps, notes = {}, []
    if tr is not None:
        if h is None:
            notes.append("no human-level error given: 0 assumed, so avoidable bias is the training error "
                         "(an upper bound); give it to separate avoidable from unavoidable error")
        comps["avoidable_bias"] = tr - (h or 0.0)
        if td is not None:
            comps["variance"] = td - tr
        elif dv is not None:
            comps["variance"] = dv - tr
            notes.append("no train-dev error: variance is dev - train, which also holds any data mismatch "
                         "(carve a train-dev set out of the training data to separate them)")
    if td is not None and dv is not None:
        comps["data_mismatch"] = dv - td
    if dv is not None and te is not None:
        comps["dev_overfitting"] = te - dv
    comps = {c: (round(comps[c], 12) if c in comps else None) for c in COMPONENTS}
    present = {c: v for c, v in comps.items() if v is not None and v > 0}
    primary = max(present, key=present.__getitem__) if present else None
    return Diagnosis(errors, comps, primary, notes)


def errors_from_metrics(final: dict) -> dict:
    """Error rates from a run's final metrics: ``<part>_error``, else ``1 - <part>_accuracy``,
    for train, train_dev, dev and test."""
    out = {}
    for part in ("train", "train_dev", "dev", "test"):
        if final.get(f"{part}_error") is not None:
            out[part] = float(final[f"{part}_error"])
        elif isinstance(final.get(f"{part}_accuracy"), (int, float)):
            out[part] = 1.0 - float(final[f"{part}_accuracy"])
    return out
