"""``isodesk replay PRICES.csv``: run the desk over a price path as fast as it can.

Prints each event (level change, liquidation) as a JSON line with the tick time, then a summary
of the final book. It works on a copy of the database unless ``--commit`` is given.

Every row passes the feeds' tick guard: a bad row (unreadable, a NaN, 0 or 1e-300 price, a
millisecond timestamp, a row older than one already played, a lone spike the next price of its
market contradicts) is skipped, and the summary lists it by file line with the reason
(``rejected_rows``); a big move the next price confirms is a real move and is played. Symbols of
the path that no open position uses are listed as ``unknown_symbols`` (their prices move nothing:
often a typo); so is a venue's series no open position of that venue uses (``hyperliquid
ETHUSDT``). The file may carry a ``venue`` column (``ts,venue,symbol,price``): a venue's row marks
that venue's positions only; a row without a venue is a reference price, which marks every
venue's positions of its market until the venue's own rows begin (see :mod:`isodesk.desk.marks`).
Without ``--json`` both lists are also written out for a reader after the summary.
``--strict`` refuses a file with any bad row instead: every bad line listed, nothing run (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.cli.common import add_db_options, json_number, store_from
from isodesk.cli.errors import UserError
from isodesk.desk import Desk, Snapshot
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedError
from isodesk.feeds.replay import RejectedRow, ReplayFeed
from isodesk.margin.markets import series_of
from isodesk.paths import default_db_path
from isodesk.store import Store


def add_parser(sub: Any) -> None:
    """Register ``replay``."""
    p = sub.add_parser("replay", help="replay a price path (CSV ts,[venue,]symbol,price) against the book",
                       description="Run the desk over a price path as fast as it can; print each event as a JSON "
                                   "line, then a summary of the final book. Works on a copy unless --commit.")
    p.add_argument("prices", metavar="PRICES.csv", help="CSV with columns ts,symbol,price or ts,venue,symbol,price "
                                                        "(ts ISO 8601 or Unix s; a row without a venue is a "
                                                        "reference price for every venue)")
    add_db_options(p)
    p.add_argument("--commit", action="store_true", help="write the outcome into the database itself")
    p.add_argument("--json", action="store_true", help="JSON lines only (the default prints them, then the "
                                                       "rejected rows and unknown symbols for a reader)")
    p.add_argument("--strict", action="store_true", help="refuse the whole file if any row is bad: every bad "
                                                         "line is listed, nothing is run (default: bad rows are "
                                                         "skipped and listed in the summary)")
    p.add_argument("--stale-after", type=float, default=3600.0, metavar="SECONDS",
                   help="a price older than this (path time) is stale and liquidates nothing (default 3600)")
    p.set_defaults(handler=run)


def _working_copy(args: argparse.Namespace, tmp: Path) -> argparse.Namespace:
    """The arguments pointed at a copy of the database (made with SQLite's backup API)."""
    source = Path(args.db) if args.db else default_db_path()
    store = store_from(args)  # creates and seeds as the rules say, then we copy it
    store.close()
    copy = tmp / "replay.db"
    src = sqlite3.connect(source)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return argparse.Namespace(**{**vars(args), "db": str(copy), "demo": False})


def summary(desk: Desk, snap: Snapshot, feed: ReplayFeed | None = None,
            unknown: list[str] | None = None) -> dict[str, Any]:
    """The final book: per position status, isolated margin, liquidation price; per account totals.

    With the ``feed`` that was played: ``rejected_rows`` (by line: reason, symbol, ts, price, why)
    and ``unknown_symbols`` (``unknown``: path symbols no open position used when the play began).
    """
    store: Store = desk.store
    liq = {int(pid): json_number(float(snap.cols["liquidation_price"][row]))
           for row, pid in enumerate(snap.book.position_ids)}
    mark = {int(pid): json_number(float(snap.cols["mark"][row])) for row, pid in enumerate(snap.book.position_ids)}
    positions = []
    for record in store.positions(statuses=None):
        positions.append({
            "label": record.label, "symbol": record.symbol, "side": record.side, "venue": record.venue,
            "status": record.status, "isolated_margin": format(record.isolated_margin, "f"),
            "liquidation_price": liq.get(record.id), "mark": mark.get(record.id),
            "close_price": None if record.close_price is None else str(record.close_price),
        })
    accounts = []
    for account in store.accounts():
        margin = sum((p.isolated_margin for p in store.positions(("open",)) if p.account_id == account.id),
                     Decimal(0))
        accounts.append({"name": account.name, "currency": account.currency,
                         "free_balance": format(store.free_balance(account.id), "f"),
                         "total_isolated_margin": format(margin, "f"),
                         "realized_loss": format(store.realized_loss(account.id), "f")})
    out = {"positions": positions, "accounts": accounts, "ticks": snap.feed.accepted,
           "rejected_ticks": snap.feed.rejected, "clock": snap.clock}
    if feed is not None:
        out["rejected_rows"] = [row.as_json() for row in _by_line(feed.rejected_rows)]
        out["unknown_symbols"] = list(unknown or [])
    return {"summary": out}


def unknown_symbols(feed: ReplayFeed, store: Store) -> list[str]:
    """The series of ``feed``'s path that no open position of ``store`` is marked by, in path order
    (call it before the play: a position the path liquidates still counts): a market (``ETHUSDT``)
    for reference rows no position of any venue uses, ``VENUE MARKET`` (``hyperliquid ETHUSDT``) for a
    venue's rows no position of that venue uses."""
    held = {series_of(p.venue, p.symbol) for p in store.positions(("open",))}
    markets = {market for _venue, market in held}
    return [f"{venue} {market}" if venue else market for venue, market in feed.series
            if (venue and (venue, market) not in held) or (not venue and market not in markets)]


def _by_line(rows: list[RejectedRow]) -> list[RejectedRow]:
    return sorted(rows, key=lambda r: r.line)


def readable(feed: ReplayFeed, unknown: list[str]) -> str:
    """The rejected rows and unknown symbols as lines for a reader (empty when there are none)."""
    lines = []
    rows = _by_line(feed.rejected_rows)
    if rows:
        name = feed.path.name if feed.path is not None else feed.name
        lines.append(f"{name}: {len(rows)} row{'s' if len(rows) != 1 else ''} skipped:")
        lines += [f"  {row}" for row in rows]
    if unknown:
        lines.append(f"no open position uses {', '.join(unknown)}: {'its' if len(unknown) == 1 else 'their'} "
                     "prices moved nothing")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Replay the path and print events and the summary."""
    path = Path(args.prices)
    try:
        feed = ReplayFeed(path, speed=None, strict=args.strict)
    except (FeedError, OSError) as exc:
        raise UserError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="isodesk-replay-") as tmp:
        work = args if args.commit else _working_copy(args, Path(tmp))
        store = store_from(work)
        unknown = unknown_symbols(feed, store)
        desk = Desk(store, feed, catalog=shipped_catalog(), stale_after_s=args.stale_after)
        try:
            while True:
                snap = desk.step()
                for event in desk.drain_events():
                    if event.kind.value in ("level", "liquidation"):
                        print(json.dumps(event.as_json(), allow_nan=False), flush=True)
                if snap.feed.finished:
                    break
            print(json.dumps(summary(desk, desk.snapshot, feed, unknown), allow_nan=False))
            text = readable(feed, unknown)
            if text and not args.json:
                print(text)
        finally:
            desk.close()
    return 0
