"""The command line: ``isodesk`` (the app) and its subcommands.

Every subcommand lives in its own module and registers itself through ``add_parser``; user
errors print one clear line to stderr and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from isodesk import __version__
from isodesk.cli import allocate, book, calc, check, config, desktop, keys, replay, screenshot, status, tiers, whatif
from isodesk.cli.app import add_app_options
from isodesk.cli.errors import UserError
from isodesk.desk.writer import BookBusy
from isodesk.store import StoreError

COMMANDS = (calc, status, replay, book, keys, screenshot, whatif, allocate, check, tiers, config, desktop)


class Parser(argparse.ArgumentParser):
    """``argparse`` with one-line refusals of a bad value: ``isodesk deposit: argument AMOUNT: …``
    and where to find the usage, instead of the whole usage block above the reason (missing or
    unknown arguments keep the usage, which is then the answer)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("argument "):
            self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(
        prog="isodesk", description="Risk dashboard for isolated-margin crypto-derivatives positions.")
    parser.add_argument("--version", action="version", version=f"isodesk {__version__}")
    add_app_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from isodesk.cli import app

        return app.run(args)
    from isodesk.logfile import start_logging

    start_logging()
    try:
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"isodesk {args.command}: {exc}", file=sys.stderr)
        return 2
    except (StoreError, BookBusy) as exc:  # a full disk, an I/O error, a book another isodesk holds
        print(f"isodesk {args.command}: {exc}; nothing was changed", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def gui_main() -> int:
    """Entry point of the ``isodesk-gui`` script: the app without a console on Windows."""
    return main([])
