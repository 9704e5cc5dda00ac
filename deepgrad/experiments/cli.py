"""``deepgrad runs list|show|compare|best`` and ``deepgrad doctor``: the run store from the command line.

Every command takes ``--store PATH`` (default ``$DEEPGRAD_STORE``, else ``runs/runs.sqlite``)
and ``--json`` (machine-readable output on stdout). A RUN is a run id, a unique prefix of
one, a run's output directory, or ``-1`` / ``latest`` (the last run; ``-2`` the one before).
"""
from __future__ import annotations

import json
import os
import sys

#: the final metrics ``runs list`` shows when present
LIST_METRICS = ("train_accuracy", "dev_accuracy", "test_accuracy")


def _common(p, store_help=True):
    p.add_argument("--store", default=None, help="the run store (default $DEEPGRAD_STORE, else runs/runs.sqlite)")
    p.add_argument("--json", action="store_true", help="print JSON")


def add_parser(sub) -> None:
    r = sub.add_parser("runs", help="the run store: list, show, compare and pick runs")
    rs = r.add_subparsers(dest="runs_command")
    p = rs.add_parser("list", help="every recorded run, one line each")
    _common(p)
    p.add_argument("--recipe", default=None, help="only this recipe's runs")
    p = rs.add_parser("show", help="one run: config, splits, final metrics, per-epoch metrics")
    _common(p)
    p.add_argument("run", help="run id, unique prefix, output directory, or -1 (the last)")
    p = rs.add_parser("compare", help="runs side by side (a table) and their learning curves overlaid (a PNG)")
    _common(p)
    p.add_argument("runs", nargs="+", help="two or more runs")
    p.add_argument("--plot", default=None, help="the PNG to write (default: compare.png beside the store)")
    p.add_argument("--curve", default=None, help="the per-epoch metric to plot (default dev_accuracy, else dev_loss)")
    p = rs.add_parser("best", help="the best run by one metric among those meeting every constraint")
    _common(p)
    p.add_argument("--metric", default="dev_accuracy", help="the optimizing metric (default dev_accuracy)")
    p.add_argument("--constraint", action="append", default=[], metavar="KEY<=VALUE",
                   help='a satisficing constraint, e.g. "predict_ms<=5" or "params<=1e6" (repeatable)')
    p.add_argument("--mode", choices=("auto", "max", "min"), default="auto",
                   help="maximize or minimize the metric (auto: min for losses, errors, times, sizes)")
    p.add_argument("--recipe", default=None, help="only this recipe's runs")
    p.add_argument("--any-status", action="store_true", help="consider failed runs too (default: status ok only)")
    e = sub.add_parser("errors", help="error analysis of a run: confusion matrix, confident mistakes, a CSV to tag")
    _common(e)
    e.add_argument("run", help="run id, unique prefix, output directory, or -1 (the last)")
    e.add_argument("--split", choices=("dev", "test"), default="dev", help="the examples to analyze (default dev)")
    e.add_argument("--out", default=None, help="output folder (default: errors-<split>/ in the run's folder)")
    e.add_argument("--per-class", dest="per_class", type=int, default=4, help="mistakes shown per class (default 4)")
    e.add_argument("--tags", default="", help="comma-separated empty tag columns to add to the CSV (e.g. blurry,mislabeled)")
    e.add_argument("--tagged", default=None, metavar="CSV",
                   help="a tagged errors.csv: print each tag's share of the errors and the ceiling it puts on improvement")
    c = sub.add_parser("curves", help="learning curves: train and dev error against the training-set size")
    _common(c)
    c.add_argument("recipe", help="fashion-mlp or planar")
    c.add_argument("--sizes", default="0.1,0.25,0.5,1", help="fractions of the training set (default 0.1,0.25,0.5,1)")
    c.add_argument("--epochs", type=int, default=None, help="epochs per point (default: the recipe's)")
    c.add_argument("--seed", type=int, default=0, help="seed of the subsets and the models (default 0)")
    c.add_argument("--quick", action="store_true", help="the recipe's quick setting (a small training set, few epochs)")
    c.add_argument("--out", default=None, help="output folder (default runs/curves-<recipe>-<time>)")
    d = sub.add_parser("doctor", help="bias, variance, data mismatch of a recorded run, and what to do next")
    _common(d)
    d.add_argument("run", nargs="?", help="run id, unique prefix, output directory, or -1 (the last); "
                                          "or none, with the errors given as flags")
    for part in ("train", "train-dev", "dev", "test"):
        d.add_argument(f"--{part}-error", dest=f"{part.replace('-', '_')}_error", type=float, default=None,
                       help=f"the {part} error (a fraction; overrides the run's)")
    d.add_argument("--human-error", dest="human_error", type=float, default=None,
                   help="human-level error (a fraction, e.g. 0.05), the proxy for Bayes error")
    d.add_argument("--plot", default=None, help="the bar chart PNG (default: doctor.png in the run's folder)")


def _open(args):
    from ..errors import CLIError
    from .store import RunStore, RunStoreError, store_path

    path = store_path(args.store)
    if not os.path.exists(path):
        raise CLIError(f"--store {path}: no run store there (runs are recorded by `deepgrad run`; "
                       f"--store or ${'DEEPGRAD_STORE'} choose another)")
    try:
        return RunStore(path)
    except RunStoreError as e:
        raise CLIError(f"--store: {e}") from None


def _get(store, name):
    from ..errors import CLIError
    from .store import RunNotFound

    try:
        return store.get(name)
    except RunNotFound as e:
        raise CLIError(str(e)) from None


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if 0.01 <= abs(v) < 1e4 or v == 0 else f"{v:.4g}"
    return str(v)


def _table(header, rows) -> str:
    cells = [list(map(str, header))] + [[_fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)


def _dump(obj) -> None:
    print(json.dumps(obj, indent=2, sort_keys=False, default=str))


def run(args) -> int:
    if args.command == "doctor":
        return _doctor(args)
    if args.command == "errors":
        return _errors(args)
    if args.command == "curves":
        return _curves(args)
    cmd = getattr(args, "runs_command", None)
    if cmd is None:
        from ..errors import CLIError

        raise CLIError("name a subcommand: deepgrad runs list | show RUN | compare RUN RUN... | best --metric M")
    args.prog = f"deepgrad runs {cmd}"
    with _open(args) as store:
        return {"list": _list, "show": _show, "compare": _compare, "best": _best}[cmd](args, store)


def _list(args, store) -> int:
    runs = store.runs(recipe=args.recipe)
    if args.json:
        _dump([{k: r[k] for k in ("id", "recipe", "status", "created", "seed", "config_hash", "params",
                                  "predict_ms", "final", "out_dir")} for r in runs])
        return 0
    if not runs:
        print(f"no runs in {store.path}")
        return 0
    rows = [[r["id"], r["status"], r["seed"], *(r["final"].get(m) for m in LIST_METRICS), r["params"],
             r["predict_ms"]] for r in runs]
    print(_table(["run", "status", "seed", "train_acc", "dev_acc", "test_acc", "params", "predict_ms"], rows))
    print(f"{len(runs)} runs in {store.path}")
    return 0


def _show(args, store) -> int:
    run = _get(store, args.run)
    if args.json:
        _dump(run)
        return 0
    print(f"run {run['id']}  ({run['recipe']}, status {run['status']}"
          + (f": {run['status_message']}" if run["status_message"] else "") + ")")
    for k in ("created", "finished", "seed", "config_hash", "code_version", "params", "predict_ms", "model_path",
              "out_dir"):
        print(f"  {k:<13} {_fmt(run[k])}")
    print("config:")
    for k, v in sorted(run["config"].items()):
        print(f"  {k:<18} {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    if run["splits"]:
        print("splits: " + json.dumps(run["splits"]))
    print("final:")
    for k, v in sorted(run["final"].items()):
        print(f"  {k:<18} {_fmt(v)}")
    if run["durations"]:
        print("durations (s): " + "  ".join(f"{k} {v}" for k, v in run["durations"].items()))
    eps = run["epochs"]
    if eps:
        cols = [c for c in ("epoch", "train_loss", "train_accuracy", "dev_loss", "dev_accuracy", "lr", "time")
                if any(c in e for e in eps)]
        shown = eps if len(eps) <= 20 else eps[:5] + [None] + eps[-10:]
        print(f"epochs ({len(eps)}):")
        lines = _table(cols, [[e.get(c) for c in cols] if e else ["..."] + [""] * (len(cols) - 1) for e in shown])
        print("\n".join("  " + ln for ln in lines.splitlines()))
    return 0


def _compare(args, store) -> int:
    from ..errors import CLIError

    if len(args.runs) < 2:
        raise CLIError("compare needs two or more runs")
    runs = [_get(store, n) for n in args.runs]
    metrics = sorted({k for r in runs for k, v in r["final"].items() if isinstance(v, (int, float))})
    cfg_keys = sorted({k for r in runs for k in r["config"]})
    differing = [k for k in cfg_keys if k != "data_fingerprint"
                 and len({json.dumps(r["config"].get(k), sort_keys=True) for r in runs}) > 1]
    curve = args.curve or next((c for c in ("dev_accuracy", "dev_loss", "train_loss")
                                if any(c in e for r in runs for e in r["epochs"])), None)
    plot = args.plot or os.path.join(os.path.dirname(os.path.abspath(store.path)), "compare.png")
    written = _plot_curves(runs, curve, plot) if curve else None
    if args.json:
        _dump({"runs": [r["id"] for r in runs],
               "config_differences": {k: [r["config"].get(k) for r in runs] for k in differing},
               "metrics": {m: [r["final"].get(m) for r in runs] for m in metrics},
               "params": [r["params"] for r in runs], "predict_ms": [r["predict_ms"] for r in runs],
               "curve": curve, "plot": written})
        return 0
    header = ["", *[r["id"] for r in runs]]
    rows = [[f"config.{k}", *[json.dumps(r["config"].get(k)) for r in runs]] for k in differing]
    rows += [[m, *[r["final"].get(m) for r in runs]] for m in metrics]
    rows += [["params", *[r["params"] for r in runs]], ["predict_ms", *[r["predict_ms"] for r in runs]]]
    print(_table(header, rows))
    if written:
        print(f"learning curves ({curve}) -> {written}")
    return 0


def _plot_curves(runs, curve, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    train_curve = curve.replace("dev_", "train_", 1) if curve.startswith("dev_") else None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, r in enumerate(runs):
        color = f"C{i % 10}"
        ep = [e for e in r["epochs"] if isinstance(e.get(curve), (int, float))]
        if ep:
            ax.plot([e["epoch"] for e in ep], [e[curve] for e in ep], color=color, label=f"{r['id']} {curve}")
        tr = [e for e in r["epochs"] if train_curve and isinstance(e.get(train_curve), (int, float))]
        if tr:
            ax.plot([e["epoch"] for e in tr], [e[train_curve] for e in tr], color=color, ls="--", alpha=0.6,
                    label=f"{r['id']} {train_curve}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(curve.replace("dev_", ""))
    ax.set_title(f"{len(runs)} runs: {curve} (solid) and {train_curve or ''} (dashed)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _best(args, store) -> int:
    from ..errors import CLIError
    from .select import best_run

    try:
        sel = best_run(store, args.metric, args.constraint, mode=args.mode, recipe=args.recipe,
                       statuses=None if args.any_status else ("ok",))
    except ValueError as e:
        raise CLIError(f"--constraint: {e}") from None
    if args.json:
        _dump(sel.to_dict())
    else:
        print(sel.report())
    return 0 if sel.best is not None else 1


def _doctor(args) -> int:
    from ..errors import CLIError
    from .diagnose import diagnose, errors_from_metrics

    given = {p: getattr(args, f"{p}_error") for p in ("human", "train", "train_dev", "dev", "test")}
    for p, v in given.items():
        if v is not None and not v >= 0:
            raise CLIError(f"--{p.replace('_', '-')}-error: must be an error rate >= 0, got {v}")
    run, errs = None, {}
    if args.run is not None:
        with _open(args) as store:
            run = _get(store, args.run)
        errs = errors_from_metrics(run["final"])
    elif all(given[p] is None for p in ("train", "train_dev", "dev", "test")):
        raise CLIError("name a RUN, or give errors: --train-error, --train-dev-error, --dev-error, --test-error")
    errs.update({p: v for p, v in given.items() if v is not None and p != "human"})
    if not errs:
        assert run is not None  # without a RUN, at least one error rate was given (checked above)
        raise CLIError(f"run {run['id']}: no train/dev/test accuracy or error recorded to diagnose")
    d = diagnose(human=given["human"], **errs)
    plot = args.plot
    if plot is None:
        folder = run["out_dir"] if run and run["out_dir"] and os.path.isdir(run["out_dir"]) else "."
        plot = os.path.join(folder, "doctor.png")
    try:
        import matplotlib  # noqa: F401

        d.plot(plot)
    except ImportError:
        plot = None
    if args.json:
        _dump({"run": run and run["id"], **d.to_dict(), "plot": plot})
        return 0
    if run:
        print(f"run {run['id']} ({run['recipe']})")
    print(d.report())
    if plot:
        print(f"chart -> {plot}")
    return 0


def _errors(args) -> int:
    from ..errors import CLIError
    from .errors import analyze_errors, format_tag_report, recipe_data, tag_report

    with _open(args) as store:
        run = _get(store, args.run)
    acc = run["final"].get(f"{args.split}_accuracy")
    if args.tagged:
        if not os.path.isfile(args.tagged):
            raise CLIError(f"--tagged {args.tagged}: no such file")
        try:
            rep = tag_report(args.tagged, None if acc is None else 1.0 - float(acc))
        except (ValueError, csv_errors()) as e:
            raise CLIError(f"--tagged {e}") from None
        if args.json:
            _dump({"run": run["id"], **rep})
        else:
            print(f"run {run['id']} ({args.split})")
            print(format_tag_report(rep))
        return 0
    if args.per_class < 1:
        raise CLIError(f"--per-class: must be at least 1, got {args.per_class}")
    if not run["model_path"]:
        raise CLIError(f"run {run['id']}: no model file recorded (runs of `deepgrad run` have one; "
                       f"use deepgrad.experiments.analyze_errors from Python for others)")
    if not os.path.isfile(run["model_path"]):
        raise CLIError(f"run {run['id']}: its model file {run['model_path']} is missing")
    try:
        X, y, images, names, ids = recipe_data(run, args.split)
    except ValueError as e:
        raise CLIError(str(e)) from None
    outputs = _predict(run["model_path"], X)
    out = args.out or os.path.join(run["out_dir"] or ".", f"errors-{args.split}")
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    rep = analyze_errors(outputs, y, images=images, class_names=names, out_dir=out, per_class=args.per_class,
                         tags=tags, ids=ids)
    rep["recorded_accuracy"] = acc
    rep["reproduces_record"] = acc is None or abs((1 - rep["error_rate"]) - float(acc)) < 1e-6
    if args.json:
        _dump({"run": run["id"], "split": args.split, **rep})
    else:
        print(f"run {run['id']} ({run['recipe']}): {rep['errors']} errors in {rep['examples']} {args.split} "
              f"examples ({100 * rep['error_rate']:.2f}%)")
        for m in rep["most_confused"]:
            print(f"  {m['true']} -> {m['predicted']}: {m['count']}")
        for k, f in rep["files"].items():
            print(f"{k} -> {f}")
        print(f"tag the rows of {rep['files']['csv']} (add columns), then: deepgrad errors {run['id']} --tagged FILE")
    if not rep["reproduces_record"]:
        print(f"deepgrad errors: warning: the rebuilt {args.split} set gives accuracy {1 - rep['error_rate']:.6f}, "
              f"the run recorded {acc:.6f}: the data or the model file differ from the run's", file=sys.stderr)
    return 0


def csv_errors():
    import csv

    return csv.Error


def _predict(model_path, X, batch: int = 500):
    import numpy as np

    from ..autograd import no_grad
    from ..serialization import load_model
    from ..tensor import Tensor

    model = load_model(model_path)
    model.eval()
    outs = []
    with no_grad():
        for i in range(0, len(X), batch):
            outs.append(np.asarray(model(Tensor(np.ascontiguousarray(X[i:i + batch]))).data))
    return np.concatenate(outs)


def _curves(args) -> int:
    from datetime import datetime, timezone

    from ..errors import CLIError
    from .curves import learning_curve, recipe_setup
    from .store import RunStore, RunStoreError, store_path
    from .tracker import RunTracker

    args.prog = f"deepgrad curves {args.recipe}"
    try:
        sizes = [float(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise CLIError(f"--sizes {args.sizes!r}: expected fractions separated by commas, e.g. 0.1,0.25,0.5,1") from None
    if not sizes or any(not 0 < s <= 1 for s in sizes):
        raise CLIError(f"--sizes {args.sizes!r}: every size must be a fraction in (0, 1]")
    if args.epochs is not None and args.epochs < 1:
        raise CLIError(f"--epochs: must be at least 1, got {args.epochs}")
    if args.seed < 0:
        raise CLIError(f"--seed: must be at least 0, got {args.seed}")
    if args.recipe not in ("fashion-mlp", "planar"):
        raise CLIError(f"recipe {args.recipe!r} is not supported (fashion-mlp, planar)")
    try:
        store = RunStore(store_path(args.store))
    except RunStoreError as e:
        raise CLIError(f"--store: {e}") from None
    out = args.out or os.path.join("runs", f"curves-{args.recipe}-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}")
    os.makedirs(out, exist_ok=True)
    train, dev, fit, cfg = recipe_setup(args.recipe, args.quick, args.epochs, args.seed)

    def tracker(frac, n):
        return RunTracker(store, recipe=args.recipe, seed=args.seed, source="curves", out_dir=out,
                          config={**cfg, "train_fraction": frac, "train_examples": n, "seed": args.seed},
                          splits={"train": {"examples": n, "fraction": frac}, "dev": {"examples": len(dev[1])}})

    curve = learning_curve(fit, train, dev, sizes, seed=args.seed, tracker_fn=tracker)
    png = curve.plot(os.path.join(out, "curves.png"), f"{args.recipe}: learning curve")
    with open(os.path.join(out, "curves.json"), "w") as f:
        json.dump({"recipe": args.recipe, "config": cfg, "points": curve.points}, f, indent=2)
    store.close()
    if args.json:
        _dump({"recipe": args.recipe, "points": curve.points, "plot": png})
    else:
        print(curve.table())
        print(f"plot -> {png}  (each point is a run in {store.path})")
    return 0
