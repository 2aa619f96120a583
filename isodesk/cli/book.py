"""``isodesk import``, ``export``, ``deposit`` and ``withdraw``: the book from the command line.

Every change goes through the desk (the only writer) as one command and one transaction.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from isodesk.cli.common import add_db_options, decimal_arg, store_from
from isodesk.cli.errors import UserError
from isodesk.desk import Deposit, Desk, Withdraw
from isodesk.desk.importing import import_book_file
from isodesk.desk.setup import shipped_catalog
from isodesk.store import StoreError
from isodesk.store.portfolio_io import ImportProblems, write_positions


def add_parser(sub: Any) -> None:
    """Register ``import``, ``export``, ``deposit`` and ``withdraw``."""
    p = sub.add_parser("import", help="add positions from a CSV or JSON file (all rows or none), or from a venue",
                       description="Import positions: columns label,venue,symbol,contract,side,quantity,"
                                   "entry_price,leverage,isolated_margin[,account]. Every row is checked first; one "
                                   "bad row rejects the whole file and nothing is written. With --venue VENUE, read "
                                   "the account's isolated positions with the read-only API keys kept in the "
                                   "keyring (`isodesk keys set VENUE`); importing again updates them in place.")
    p.add_argument("file", metavar="FILE", nargs="?", help="a .csv or .json file")
    p.add_argument("--venue", metavar="VENUE", help="import from a venue: binance-usdm, bybit, okx, hyperliquid")
    p.add_argument("--base-url", metavar="URL", help=argparse.SUPPRESS)  # a local recorded venue (tests), a proxy
    add_db_options(p)
    p.set_defaults(handler=run_import)

    p = sub.add_parser("keys", help="keep a venue's read-only API keys in the system keyring",
                       description="Store (prompting, nothing echoed), or delete, the API keys `isodesk import "
                                   "--venue` reads; they live in the operating system's keyring only.")
    p.add_argument("action", choices=("set", "delete"), help="set or delete")
    p.add_argument("venue", metavar="VENUE", help="binance-usdm, bybit, okx or hyperliquid")
    p.set_defaults(handler=run_keys)

    p = sub.add_parser("export", help="write the book's positions to a CSV or JSON file")
    p.add_argument("file", metavar="FILE", help="a .csv or .json file to write")
    p.add_argument("--all", action="store_true", help="include closed and liquidated positions")
    add_db_options(p)
    p.set_defaults(handler=run_export)

    for name, verb in (("deposit", "into"), ("withdraw", "out of")):
        p = sub.add_parser(name, help=f"move free balance {verb} an account")
        p.add_argument("amount", type=decimal_arg, metavar="AMOUNT", help="exact amount in the account's currency")
        p.add_argument("--account", metavar="NAME", help="the account (may be left out when there is only one)")
        if name == "deposit":
            p.add_argument("--venue", help="venue of a new account")
            p.add_argument("--currency", help="currency of a new account")
        add_db_options(p)
        p.set_defaults(handler=run_transfer)


def run_import(args: argparse.Namespace) -> int:
    """Import a position file, or a venue account, in one transaction."""
    if (args.file is None) == (args.venue is None):
        raise UserError("give exactly one of FILE or --venue VENUE")
    if args.venue is not None:
        return run_venue_import(args)
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    store = store_from(args)
    try:
        ids = import_book_file(store, path, shipped_catalog(), ts=time.time())
    except ImportProblems as exc:
        raise UserError(f"{path}: nothing imported; fix these and try again:\n" + "\n".join(
            f"  {p}" for p in exc.problems)) from None
    except (StoreError, ValueError) as exc:
        raise UserError(f"{path}: nothing imported: {exc}") from None
    finally:
        store.close()
    print(f"imported {len(ids)} position{'s' if len(ids) != 1 else ''} from {path}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Write the book's positions to a file."""
    store = store_from(args)
    try:
        positions = store.positions(statuses=None if args.all else ("open",))
        names = {a.id: a.name for a in store.accounts()}
        write_positions(args.file, positions, names)
    except (ValueError, OSError) as exc:
        raise UserError(f"{args.file}: {exc}") from None
    finally:
        store.close()
    print(f"exported {len(positions)} position{'s' if len(positions) != 1 else ''} to {args.file}")
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """Deposit into or withdraw from an account's free balance through the desk."""
    store = store_from(args)
    desk = Desk(store, None, catalog=shipped_catalog())
    try:
        if args.command == "deposit":
            command = Deposit(args.amount, account=args.account, venue=args.venue, currency=args.currency)
        else:
            command = Withdraw(args.amount, account=args.account)
        result = desk.apply(command)
        if not result.accepted:
            raise UserError(result.reason)
        account = args.account or (store.accounts()[0].name if len(store.accounts()) == 1 else "")
        acct = store.account(account) if account else None
        tail = f"; free balance now {store.free_balance(acct.id)} {acct.currency}" if acct else ""
        print(result.reason + tail)
    finally:
        desk.close()
    return 0


def run_venue_import(args: argparse.Namespace) -> int:
    """Import (or re-sync) a venue account's isolated positions and show the reconciliation."""
    from isodesk.desk.venue_sync import import_from_venue
    from isodesk.venues.errors import VenueError

    store = store_from(args)
    try:
        report = import_from_venue(store, args.venue, shipped_catalog(), ts=time.time(), base_url=args.base_url)
    except VenueError as exc:
        raise UserError(f"--venue {args.venue}: nothing imported: {exc}") from None
    except (StoreError, ValueError) as exc:
        raise UserError(f"--venue {args.venue}: nothing imported: {exc}") from None
    finally:
        store.close()
    for item in report.synced:
        r = item.reconciliation
        ours = "—" if r.isodesk_liquidation_price is None else f"{r.isodesk_liquidation_price:,.6g}"
        theirs = "—" if r.venue_liquidation_price is None else f"{r.venue_liquidation_price:,.6g}"
        diff = "" if r.diff_pct is None else f" ({r.diff_pct:+.2f} %)"
        flag = "  MISMATCH" if r.flagged else ""
        what = "new" if item.created else ("updated: " + ", ".join(
            f"{k} {a} → {b}" for k, (a, b) in item.changes.items()) if item.changes else "unchanged")
        print(f"{item.label}: {what}; liq isodesk {ours} vs venue {theirs}{diff}{flag}")
    for symbol, reason in report.skipped:
        print(f"skipped {symbol}: {reason}")
    for label in report.missing:
        print(f"{label}: no longer open on {report.venue}; left as it is (close it in the app)")
    n = len(report.synced)
    print(f"imported {n} position{'s' if n != 1 else ''} from {report.venue} "
          f"({len(report.created)} new, {len(report.updated)} updated, {len(report.flagged)} flagged)")
    return 0


def run_keys(args: argparse.Namespace) -> int:
    """Set (prompting with getpass) or delete a venue's keys in the keyring."""
    import getpass

    from isodesk.venues.errors import VenueError
    from isodesk.venues.keys import PROMPTS, delete_credentials, save_credentials
    from isodesk.venues.registry import venue_spec

    try:
        spec = venue_spec(args.venue)
        if args.action == "delete":
            found = delete_credentials(spec)
            print(f"{spec.venue}: keys {'deleted' if found else 'were not set'}")
            return 0
        values = {name: getpass.getpass(f"{spec.venue} {PROMPTS.get(name, name)}: ").strip()
                  for name in spec.credentials}
        save_credentials(spec, values)
    except VenueError as exc:
        raise UserError(str(exc)) from None
    print(f"{spec.venue}: keys saved in the system keyring (service 'isodesk'); use read-only keys")
    return 0
