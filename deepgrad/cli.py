"""The ``deepgrad`` command.

    deepgrad run --list                     the recipes, one line each
    deepgrad run <recipe> [--epochs N] [--seed S] [--out DIR] [--quick]

A run writes ``DIR/metrics.json``, ``DIR/history.csv``, ``DIR/model.safetensors`` and
loss/accuracy plots (with matplotlib) to ``DIR`` (default ``runs/<recipe>-<timestamp>``).
"""
from __future__ import annotations

import argparse
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deepgrad", description="deep learning from the computational graph, on NumPy")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command")
    r = sub.add_parser("run", help="run a recipe (a complete, repeatable experiment)")
    r.add_argument("recipe", nargs="?", help="recipe name (see --list)")
    r.add_argument("--list", action="store_true", help="list the recipes and exit")
    r.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the recipe's)")
    r.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same run")
    r.add_argument("--out", default=None, help="output directory (default runs/<recipe>-<timestamp>)")
    r.add_argument("--quick", action="store_true", help="a small, fast version (smoke test, CI)")
    r.add_argument("--batch-size", dest="batch_size", type=int, default=None, help="mini-batch size")
    r.add_argument("--lr", type=float, default=None, help="learning rate")
    r.add_argument("--source", default=None, choices=("digits-pipeline", "raw"),
                   help="transfer-digits: pretraining images, through the digits' 8x8 pipeline (default) or raw")
    r.add_argument("--checkpoint-dir", dest="checkpoint_dir", default=None,
                   help="save resumable checkpoints there and resume from them (recipes that support it)")
    r.add_argument("--lm-corpus", dest="lm_corpus", default=None, choices=("names", "words", "python"),
                   help="char-lm: names (default) or words from the English word list, or Python's standard library")
    sub.add_parser("list", help="same as `run --list`")
    return p


def _list(out) -> None:
    from . import recipes

    width = max(len(n) for n in recipes.names())
    for name in recipes.names():
        print(f"  {name:<{width}}  {recipes.describe(name)}", file=out)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.version:
        from . import __version__

        print(f"deepgrad {__version__}")
        return 0
    if args.command == "list" or (args.command == "run" and args.list):
        print("recipes:")
        _list(sys.stdout)
        return 0
    if args.command != "run":
        _parser().print_help()
        return 2
    from . import recipes

    if not args.recipe:
        print("deepgrad run: name a recipe; known recipes:", file=sys.stderr)
        _list(sys.stderr)
        return 2
    if args.recipe not in recipes.RECIPES:
        print(f"deepgrad run: unknown recipe {args.recipe!r}; known recipes:", file=sys.stderr)
        _list(sys.stderr)
        return 2
    try:
        recipes.get(args.recipe).run(args)
    except FileNotFoundError as e:  # missing data: the message says where we looked and how to get it
        print(f"deepgrad run {args.recipe}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
