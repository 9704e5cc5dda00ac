"""Errors shared by the command line's modules (``deepgrad.cli`` and the modules that
add its subcommands), kept below every layer so that any of them can raise one."""
from __future__ import annotations


class CLIError(SystemExit):
    """A bad flag, value or file on the command line: printed as one line, exit status 2.

    A ``SystemExit``, as argparse's own usage errors are (code parsers that call
    ``parse_args`` directly still see one)."""

    exit_status = 2
