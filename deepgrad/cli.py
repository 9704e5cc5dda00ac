"""The ``deepgrad`` command.

    deepgrad run --list                     the recipes, one line each
    deepgrad run <recipe> [--epochs N] [--seed S] [--out DIR] [--quick] [--checkpoint-dir DIR] ...

A run writes ``DIR/metrics.json``, ``DIR/history.csv``, ``DIR/model.safetensors`` and
loss/accuracy plots (with matplotlib) to ``DIR`` (default ``runs/<recipe>-<timestamp>``).

Errors: every failure prints ONE line on stderr naming the flag or file and the cause,
and exits non-zero (2: a bad flag or usage, 1: an error while running, 3: the run
diverged, 130: interrupted). ``--debug`` (anywhere on the command line) or
``DEEPGRAD_DEBUG=1`` prints the traceback as well.

Subcommands: each comes from a module named in ``COMMANDS`` that has

    add_parser(sub)   add its subparser(s) to ``sub`` (argparse's ``add_subparsers()`` object)
    run(args) -> int  do the work of any subparser it added; return the exit status

so that adding a subcommand is one line in ``COMMANDS``. A module raises
:class:`CLIError` (``from deepgrad.cli import CLIError``) for a bad flag or file: it is
printed as one line and the exit status is 2. Any other exception is printed as one
line too (status 1), or with its ``exit_status`` attribute (an int) when it has one.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .errors import CLIError  # noqa: F401  (re-exported: deepgrad.cli.CLIError)

#: modules that provide subcommands (see the module docstring); one line each
COMMANDS: list[str] = [
    "deepgrad.recipes._cli",  # run, list
    "deepgrad.check.cli",  # inspect, explain, exercise
    "deepgrad.experiments.cli",  # runs list|show|compare|best, doctor, errors, curves
    "deepgrad.tune.cli",  # tune
]

DEBUG_ENV = "DEEPGRAD_DEBUG"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error raises :class:`CLIError` (one line) instead of printing usage."""

    def error(self, message):
        raise CLIError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    """The ``deepgrad`` argument parser, with every registered subcommand."""
    return _build()[0]


def _build():
    p = ArgumentParser(prog="deepgrad", description="deep learning from the computational graph, on NumPy",
                       epilog="--debug (or DEEPGRAD_DEBUG=1): show the traceback of an error")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=ArgumentParser)
    handlers = {}
    for name in COMMANDS:
        mod = importlib.import_module(name)
        before = set(sub.choices)
        mod.add_parser(sub)
        for cmd in set(sub.choices) - before:
            handlers[cmd] = mod.run
    return p, handlers


def _debug(argv) -> tuple[list, bool]:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    return [a for a in argv if a != "--debug"], debug


def _one_line(text) -> str:
    return " ".join(str(text).split())


def main(argv=None) -> int:
    argv, debug = _debug(argv)
    parser, handlers = _build()
    prog, args = "deepgrad", None
    try:
        args = parser.parse_args(argv)
        args.debug = debug
        args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, recorded with a run
        if args.version:
            from . import __version__

            print(f"deepgrad {__version__}")
            return 0
        if args.command not in handlers:
            parser.print_help()
            return 2
        prog = args.prog = f"deepgrad {args.command}"  # a handler may make it more precise
        return int(handlers[args.command](args) or 0)
    except CLIError as e:
        prog = getattr(args, "prog", prog)
        if debug:
            import traceback

            traceback.print_exc()
        msg = _one_line(str(e))
        print(msg if msg.startswith("deepgrad") else f"{prog}: {msg}", file=sys.stderr)
        return e.exit_status
    except KeyboardInterrupt:
        prog = getattr(args, "prog", prog)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the command line shows one line, --debug the rest
        prog = getattr(args, "prog", prog)
        if debug:
            import traceback

            traceback.print_exc()
        status = getattr(e, "exit_status", None)
        if isinstance(status, int) and status > 0:  # a command's own failure with its exit status
            print(f"{prog}: {_one_line(e)}", file=sys.stderr)
            return status
        hint = "" if debug else " (--debug shows the traceback)"
        print(f"{prog}: {type(e).__name__}: {_one_line(e)}{hint}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    from deepgrad.cli import main as _main  # the importable module's, so that CLIError is one class

    sys.exit(_main())
