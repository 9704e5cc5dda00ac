"""The diagnostics' commands (registered into ``deepgrad``'s parser by ``add_parsers``):

    deepgrad inspect RUN [--n 256] [--out FILE.png]      network health table + PNG
    deepgrad explain RUN --method M[,M...] [--n 8]       attribution / visualization PNGs
    deepgrad exercise list                               the graded functions of the courses
    deepgrad exercise show NAME                          signature, shapes, what it must do
    deepgrad exercise check NAME FILE.py                 property-based check of your function

Errors print one line naming the file or flag (exit status 2); a failed check exits with 1.
"""
from __future__ import annotations

import os
import sys

COMMANDS = ("inspect", "explain", "exercise")
METHODS = ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "grad-cam", "hirescam", "filters",
           "feature-maps", "maximize", "projection")
ALIASES = {"ig": "integrated-gradients", "gradcam": "grad-cam", "featuremaps": "feature-maps", "tsne": "projection",
           "pca": "projection", "activation-maximization": "maximize"}


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="network health of a run: activations, dead units, gradients, update ratios")
    p.add_argument("run", help="a run directory (written by `deepgrad run`)")
    p.add_argument("--n", type=int, default=256, help="examples in the batch (default 256)")
    p.add_argument("--out", default=None, help="PNG to write (default RUN/health.png)")
    p.add_argument("--lr", type=float, default=None, help="learning rate for the update/weight ratio (default: the run's)")
    p.add_argument("--seed", type=int, default=0, help="which examples (default 0)")

    p = subparsers.add_parser("explain", help="attribution maps and visualizations of a run's model (PNGs)")
    p.add_argument("run", help="a run directory (written by `deepgrad run`)")
    p.add_argument("--method", required=True,
                   help="one or more of " + ", ".join(METHODS) + " (comma-separated), or 'all'")
    p.add_argument("--n", type=int, default=8, help="images to explain (default 8; projection uses 100x this)")
    p.add_argument("--out", default=None, help="directory for the PNGs (default: the run directory)")
    p.add_argument("--layer", default=None,
                   help="layer name for grad-cam/hirescam (default: the last feature map), feature-maps, maximize")
    p.add_argument("--unit", type=int, default=0, help="maximize: the channel/feature (or class) to maximize")
    p.add_argument("--tsne", action="store_true", help="projection: t-SNE (scikit-learn) besides PCA")
    p.add_argument("--seed", type=int, default=0, help="which test images (default 0)")

    p = subparsers.add_parser("exercise", help="check your own implementation of a course's graded function")
    sub = p.add_subparsers(dest="exercise_action")
    sub.add_parser("list", help="the exercises")
    s = sub.add_parser("show", help="signature, shapes and what the function must do")
    s.add_argument("name")
    c = sub.add_parser("check", help="run the property-based checks on FILE.py's function NAME")
    c.add_argument("name")
    c.add_argument("file")
    c.add_argument("--examples", type=int, default=None, help="random examples per property (default: each property's own)")


def run(args) -> int:
    try:
        if args.command == "exercise":
            return _exercise(args)
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "explain":
            return _explain(args)
    except _Fail as e:
        print(f"deepgrad {args.command}: {e}", file=sys.stderr)
        return 2
    raise ValueError(f"not a diagnostics command: {args.command}")


class _Fail(Exception):
    pass


# ----- exercise ---------------------------------------------------------------------------------------
def _exercise(args) -> int:
    from .. import exercises

    action = getattr(args, "exercise_action", None)
    if action in (None, "list"):
        if action is None:
            print("usage: deepgrad exercise list | show NAME | check NAME FILE.py", file=sys.stderr)
            return 2
        course = None
        for name in exercises.names():
            ex = exercises.get(name)
            if ex.course[:2] != course:
                course = ex.course[:2]
                print(f"Course {course[1]}:")
            print(f"  {name:<38} {ex.course}  {ex.signature}")
        print(f"{len(exercises.names())} exercises; `deepgrad exercise show NAME` for details")
        return 0
    try:
        ex = exercises.get(args.name)
        if action == "show":
            print(ex.describe())
            return 0
        if not os.path.exists(args.file):
            raise _Fail(f"{args.file}: no such file")
        res = exercises.check_file(args.name, args.file, max_examples=args.examples)
    except exercises.ExerciseError as e:
        raise _Fail(str(e)) from None
    print(res)
    return 0 if res.passed else 1


# ----- inspect ---------------------------------------------------------------------------------------------
def _load(path, n, seed):
    from .rundir import RunError, load_run, recipe_batch

    try:
        run = load_run(path)
        batch = recipe_batch(run.recipe, n, seed=seed)
    except RunError as e:
        raise _Fail(str(e)) from None
    return run, batch


def _inspect(args) -> int:
    from .health import inspect
    from .rundir import loss_for

    run, batch = _load(args.run, args.n, args.seed)
    lr = args.lr if args.lr is not None else float((run.metrics.get("config") or {}).get("lr", 1e-3))
    out = args.out or os.path.join(run.path, "health.png")
    try:
        report = inspect(run.model, (batch.x, batch.y), loss_for(batch), lr=lr, out=None)
    except Exception as e:  # a model that cannot run on its recipe's data: one line
        raise _Fail(f"{run.path}: the model failed on {run.recipe}'s data: {type(e).__name__}: {e}") from None
    print(f"{run.recipe} run {run.path}: {args.n} test examples, training mode, one backward pass")
    print(report.table())
    try:
        report.plot(out, f"{run.recipe}: network health")
        print(f"wrote {out}")
    except ImportError:
        print("matplotlib is not installed: no picture (pip install matplotlib)")
    return 0


# ----- explain ---------------------------------------------------------------------------------------------
def _methods(text) -> list:
    if text == "all":
        return list(METHODS)
    out = []
    for m in text.split(","):
        m = ALIASES.get(m.strip().lower(), m.strip().lower())
        if m not in METHODS:
            raise _Fail(f"--method: unknown method {m!r}; known: {', '.join(METHODS)}")
        out.append(m)
    return out


def _explain(args) -> int:
    import numpy as np

    from . import explain as E

    methods = _methods(args.method)
    run, batch = _load(args.run, max(args.n, 100 * args.n if "projection" in methods else args.n), args.seed)
    if batch.images is None and set(methods) - {"projection"}:
        raise _Fail(f"{run.recipe}: its inputs are not images; only --method projection applies")
    out_dir = args.out or run.path
    os.makedirs(out_dir, exist_ok=True)
    model = run.model.eval()
    x, y, imgs = batch.x[: args.n], batch.y[: args.n], None if batch.images is None else batch.images[: args.n]
    shape = None if imgs is None else imgs.shape[-2:]
    preds = E.predict(model, x).argmax(axis=1) if imgs is not None else None
    written = []
    for method in methods:
        path = os.path.join(out_dir, f"explain-{method}.png")
        try:
            if method in ("saliency", "smoothgrad", "integrated-gradients", "occlusion", "grad-cam", "hirescam"):
                assert shape is not None  # inputs that are not images were refused above
                raw = _attribution(E, method, model, x, preds, args.layer, shape)
                maps = np.abs(raw).reshape((len(x),) + tuple(shape))
                contrast = E.object_contrast(maps, imgs)
                mass, area = E.object_mass_fraction(maps, imgs)
                extra = ""
                if method == "integrated-gradients":
                    err = E.completeness_error(model, x, raw, preds)
                    extra = f"; completeness error max {err.max():.2%}"
                print(f"{method}: attribution mass on the object {mass.mean():.0%} (it covers {area.mean():.0%} of the "
                      f"image); object/background contrast median {np.median(contrast):.2f}{extra}")
                E.plot_attributions(imgs, maps, path, y, preds, batch.classes,
                                    f"{run.recipe}: {method} (for the predicted class)")
            elif method == "filters":
                f = E.first_layer_filters(model, shape)
                E.plot_grid(f[:32], path, f"{run.recipe}: first-layer filters ({len(f)})", cmap="bwr")
            elif method == "feature-maps":
                layer, maps = E.feature_maps(model, x, args.layer)
                E.plot_grid(maps[:32], path, f"{run.recipe}: feature maps of {layer} ({batch.classes[y[0]]})", cmap="viridis")
            elif method == "maximize":
                imgs_max = [E.activation_maximization(model, x.shape[1:], args.layer, u) for u in
                            ([args.unit] if args.layer else range(len(batch.classes)))]
                names = [f"{args.layer}[{args.unit}]"] if args.layer else list(batch.classes)
                E.plot_grid([np.asarray(a).reshape(shape) for a in imgs_max], path,
                            f"{run.recipe}: inputs that maximize " + (f"{args.layer} unit {args.unit}" if args.layer else "each class score"),
                            cmap="gray", labels=names, cols=5)
            elif method == "projection":
                feats = E.penultimate_features(model, batch.x)
                for kind in ("pca", "tsne") if args.tsne else ("pca",):
                    p = path if kind == "pca" else os.path.join(out_dir, "explain-projection-tsne.png")
                    E.plot_projection(E.projection(feats, kind), batch.y, p, list(batch.classes),
                                      f"{run.recipe}: penultimate features, {kind.upper()} ({len(feats)} test examples)")
                    if p != path:
                        written.append(p)
        except (ValueError, KeyError) as e:
            raise _Fail(f"--method {method}: {e}") from None
        except ImportError as e:
            raise _Fail(str(e)) from None
        written.append(path)
    for p in written:
        print(f"wrote {p}")
    return 0


def _attribution(E, method, model, x, target, layer, shape):
    if method == "saliency":
        return E.saliency(model, x, target)
    if method == "smoothgrad":
        return E.smoothgrad(model, x, target)
    if method == "integrated-gradients":
        return E.integrated_gradients(model, x, target, steps=256)
    if method == "occlusion":
        return E.occlusion(model, x, target, image_shape=shape)
    return E.grad_cam(model, x, target, layer, variant="hires" if method == "hirescam" else "grad-cam")
