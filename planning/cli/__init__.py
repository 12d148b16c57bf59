"""Command line: ``python -m planning <command> ...``.

Each concern registers its own subcommands (the modules of ``planning/cli/`` expose ``register``);
every command calls the same library functions the dashboard uses. Errors the user can fix
(bad file, bad argument) print one line to stderr and exit with status 2, never a traceback; faults of
the store (read-only, disk full, corrupted or locked SQLite, unreachable PostgreSQL) print one Chinese line
with the cause and what to do (:func:`core.trust.faults.describe_fault`) and exit with status 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from planning.cli import analysis, audit, data, db, persons, plan, reference, users


class UserError(Exception):
    """An error caused by the user's input; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(prog="python -m planning", description="医院周边警情研判与巡防排班 命令行")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (data, db, reference, analysis, plan, users, audit, persons):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError, PermissionError, ValueError) as exc:
        print(f"错误: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        from core.trust.faults import describe_fault

        message = describe_fault(exc)
        if message is None:
            raise
        print(f"错误: {message}（{type(exc).__name__}）", file=sys.stderr)
        return 3


def run() -> None:
    """Console-script entry point (``hospital-hotspots …``, same as ``python -m planning …``)."""
    sys.exit(main())
