"""``isodesk import``, ``export``, ``deposit`` and ``withdraw``: the book from the command line.

Every change goes through the desk (the only writer) as one command and one transaction.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from isodesk.cli.common import add_db_options, decimal_arg, store_from
from isodesk.cli.deliver import JOB_WAIT_S, add_request_id_option, send
from isodesk.cli.errors import UserError
from isodesk.desk import Deposit, Desk, Result, Withdraw
from isodesk.desk.commands import ImportPositions, Reply
from isodesk.store.portfolio_io import write_positions
from isodesk.store.tier_tables import position_rates


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
    add_request_id_option(p)
    p.set_defaults(handler=run_import)

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
        add_request_id_option(p)
        p.set_defaults(handler=run_transfer)


def run_import(args: argparse.Namespace) -> int:
    """Import a position file, or a venue account, through the book's desk in one transaction."""
    if (args.file is None) == (args.venue is None):
        raise UserError("give exactly one of FILE or --venue VENUE")
    if args.venue is not None:
        return run_venue_import(args)
    path = Path(args.file)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    result = send(args, ImportPositions(str(path.resolve())))
    if not result.accepted:
        raise UserError(result.reason if result.reason.startswith(str(path.resolve()))
                        else f"{path}: nothing imported: {result.reason}")
    print(_said(result))
    return 0


def _said(result: Result) -> str:
    """A result's text, saying when it is the answer to an earlier sending of the same request."""
    if result.reply is Reply.REPEATED:
        return f"{result.reason} (answered before under request {result.request_id}; nothing done again)"
    return result.reason


def _finish_job(desk: Desk, started: Result) -> Result:
    """Step a short-lived desk until its background venue read is written; the final result."""
    deadline = time.monotonic() + JOB_WAIT_S
    while time.monotonic() < deadline:
        desk.step()
        for result in desk.drain_results():
            if result.request_id == started.request_id:
                return result
        time.sleep(0.02)
    return Result(started.request_id, False, f"the venue did not answer within {JOB_WAIT_S:g} s; nothing imported",
                  kind=started.kind)


def run_export(args: argparse.Namespace) -> int:
    """Write the book's positions to a file."""
    store = store_from(args)
    try:
        positions = store.positions(statuses=None if args.all else ("open",))
        names = {a.id: a.name for a in store.accounts()}
        write_positions(args.file, positions, names, position_rates(store))
    except (ValueError, OSError) as exc:
        raise UserError(f"{args.file}: {exc}") from None
    finally:
        store.close()
    print(f"exported {len(positions)} position{'s' if len(positions) != 1 else ''} to {args.file}")
    return 0


def run_transfer(args: argparse.Namespace) -> int:
    """Deposit into or withdraw from an account's free balance through the book's desk (the running
    app's when it is open)."""
    if args.command == "deposit":
        command: Deposit | Withdraw = Deposit(args.amount, account=args.account, venue=args.venue,
                                              currency=args.currency)
    else:
        command = Withdraw(args.amount, account=args.account)
    result = send(args, command)
    if not result.accepted:
        raise UserError(result.reason)
    store = store_from(args)
    try:
        account = args.account or (store.accounts()[0].name if len(store.accounts()) == 1 else "")
        acct = store.account(account) if account else None
        tail = f"; free balance now {store.free_balance(acct.id)} {acct.currency}" if acct else ""
    finally:
        store.close()
    print(_said(result) + tail)
    return 0


def run_venue_import(args: argparse.Namespace) -> int:
    """Import (or re-sync) a venue account's isolated positions through the book's desk and show the
    reconciliation (the running app's desk when it is open: then its one-line answer)."""
    from isodesk.desk.venue_jobs import ImportFromVenue

    result = send(args, ImportFromVenue(args.venue, base_url=args.base_url), wait_s=JOB_WAIT_S, after=_finish_job)
    if not result.accepted:
        raise UserError(f"--venue {args.venue}: nothing imported: {result.reason}")
    report = result.payload
    if report is None:  # answered by the running app: its summary line
        print(_said(result))
        return 0
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
