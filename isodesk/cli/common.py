"""Options and helpers several subcommands share: ``--db``, ``--demo``, amounts, formatting."""

from __future__ import annotations

import argparse
import math
from decimal import Decimal
from typing import Any

from isodesk.cli.errors import UserError
from isodesk.desk.setup import open_book
from isodesk.formats import fmt_distance, fmt_money, fmt_price
from isodesk.margin.bounds import BoundsError, check_amount, printable
from isodesk.store import Store, StoreError


def add_db_options(parser: argparse.ArgumentParser, *, demo: bool = True) -> None:
    """``--db PATH`` (and ``--demo``) on a subcommand."""
    parser.add_argument("--db", metavar="PATH", help="the database (default: the per-user one, seeded with the demo)")
    if demo:
        parser.add_argument("--demo", action="store_true", help="seed a new, empty --db with the demo book")


def store_from(args: argparse.Namespace) -> Store:
    """Open the database the arguments name; a clear error when it cannot be opened."""
    try:
        return open_book(args.db, demo=getattr(args, "demo", False))
    except (StoreError, OSError) as exc:
        raise UserError(f"--db {args.db or '(default)'}: {exc}") from None


def reason(exc: BoundsError) -> str:
    """A bounds refusal without its leading ``field:`` (for a caller that names the field itself)."""
    return str(exc).removeprefix(f"{exc.field}: ")


def decimal_arg(text: str) -> Decimal:
    """An exact amount of money from the command line (``argparse`` type), within the bounds of
    :func:`isodesk.margin.bounds.check_amount`: written with a ``.`` decimal point (a comma is
    refused with the reason), finite, greater than 0, at most 10^12 and 8 decimal places.

    ``argparse`` names the argument (``argument AMOUNT: …``) and exits with status 2.
    """
    try:
        return check_amount(text, "amount")
    except BoundsError as exc:
        raise argparse.ArgumentTypeError(reason(exc)) from None


def num(value: float, digits: int = 2) -> str:
    """A number with thousands separators, or an em dash for NaN."""
    return "—" if value is None or not math.isfinite(value) else f"{value + 0.0:,.{digits}f}"


def money(value: float, currency: str) -> str:
    """An amount in its currency's precision, as the cards and the table show it
    (:func:`isodesk.formats.fmt_money`: 2 decimals for dollar coins, 8 for the rest), with a plain ``-``."""
    return fmt_money(value, currency, ascii=True)


def price_text(value: float) -> str:
    """A price with as many decimals as its size needs, as the cards and the table show it
    (:func:`isodesk.formats.fmt_price`), with a plain ``-``."""
    return fmt_price(value, ascii=True)


def distance_text(frac: float) -> str:
    """The distance to liquidation as every view shows it (:func:`isodesk.formats.fmt_distance`):
    ``3.34 % away``, ``0.52 % past``."""
    return fmt_distance(frac)


def json_number(value: Any) -> Any:
    """A float for JSON: None for NaN/inf (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A plain text table with aligned columns (``right``: indices of right-aligned columns).

    Every cell goes through :func:`~isodesk.margin.bounds.printable`: stored text written before the
    bounds existed (a label holding ``ESC[2J``) is shown as its escape, never sent to the terminal.
    """
    rows = [[printable(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                  strict=True)))
    return "\n".join([line(headers), line(["─" * w for w in widths]), *(line(r) for r in rows)])
