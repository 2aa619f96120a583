"""``isodesk replay PATH…``: run the desk over a price path as fast as the data allows.

Prints each event (level change, liquidation) as a JSON line with the tick time, then a summary
of the final book. It works on a copy of the database unless ``--commit`` is given.

The path is a ``ts,[venue,]symbol,price`` CSV, or one or more Binance mark-price kline files (one
per symbol: the symbol from the file name, ``BTCUSDT-1m-2024-01-01.csv``, or ``--symbol``; each bar
plays as four ticks, see :mod:`isodesk.feeds.klines`). By default the replay is the fast one
(:mod:`isodesk.desk.replay`): it streams the file in chunks (parsed ahead in a second thread) and
finds the instants where something happens with vectorized searches, and its events, alerts and
summary are the tick-by-tick desk's; ``--step`` steps the desk through every instant instead (the
reference; it holds the whole path in memory). A ``funding_rate`` column (see
:mod:`isodesk.feeds.replay`) is read by both: the desk settles funding at each funding time of the
venues' grids, and the fast replay plays those instants through the desk itself, so the ``funding``
rows and ledger entries are the same. A path that takes more than a second shows a progress bar on
a terminal (stderr). With ``--commit`` both write the same alerts, ledger, journal and statuses; the
fast replay keeps in the ``prices`` table only the prices the desk was stepped with (each series'
last price before every instant the desk played itself, and at the end), not every row of the path
as ``--step`` does.

Every row passes the feeds' tick guard: a bad row (unreadable, a NaN, 0 or 1e-300 price, a
millisecond timestamp, a row older than one already played, a lone spike the next price of its
market contradicts) is skipped, and the summary lists it by file line with the reason
(``rejected_rows``); a big move the next price confirms is a real move and is played. Symbols of
the path that no open position uses are listed as ``unknown_symbols`` (their prices move nothing:
often a typo); so is a venue's series no open position of that venue uses (``hyperliquid
ETHUSDT``). The file may carry a ``venue`` column (``ts,venue,symbol,price``): a venue's row marks
that venue's positions only; a row without a venue is a reference price, which marks every
venue's positions of its market until the venue's own rows begin (see :mod:`isodesk.desk.marks`);
kline files are reference prices unless ``--venue`` names whose marks they are.
Without ``--json`` both lists are also written out for a reader after the summary.
``--strict`` refuses a file with any bad row instead: every bad line listed, nothing run (exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from isodesk.cli import replay_topup
from isodesk.cli.common import add_db_options, json_number, store_from
from isodesk.cli.errors import UserError
from isodesk.desk import Desk, Snapshot
from isodesk.desk.replay import ChunkGuard, FastReplay, InstantFeed
from isodesk.desk.replay.source import opened
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import CsvChunks, PathChunk, SeriesTable
from isodesk.feeds.klines import KlineChunks, is_kline_file, merged
from isodesk.feeds.replay import PathRow, RejectedRow, ReplayFeed
from isodesk.margin.markets import series_of
from isodesk.paths import default_db_path
from isodesk.store import Store
from isodesk.store.db import copy_database

PROGRESS_AFTER_S = 1.0


def add_parser(sub: Any) -> None:
    """Register ``replay``."""
    p = sub.add_parser("replay", help="replay a price path (CSV ts,[venue,]symbol,price, or Binance mark-price "
                                      "klines) against the book",
                       description="Run the desk over a price path as fast as the data allows; print each event "
                                   "as a JSON line, then a summary of the final book. Works on a copy unless "
                                   "--commit.")
    p.add_argument("prices", metavar="PRICES.csv", nargs="+",
                   help="a CSV with columns ts,symbol,price or ts,venue,symbol,price (ts ISO 8601 or Unix s; a row "
                        "without a venue is a reference price for every venue), or Binance mark-price kline files "
                        "(open_time,open,high,low,close,…; one per symbol, named SYMBOL-INTERVAL-DATE.csv)")
    add_db_options(p)
    p.add_argument("--commit", action="store_true", help="write the outcome into the database itself")
    p.add_argument("--json", action="store_true", help="JSON lines only (the default prints them, then the "
                                                       "rejected rows and unknown symbols for a reader)")
    p.add_argument("--strict", action="store_true", help="refuse the whole file if any row is bad: every bad "
                                                         "line is listed, nothing is run (default: bad rows are "
                                                         "skipped and listed in the summary)")
    p.add_argument("--stale-after", type=float, default=3600.0, metavar="SECONDS",
                   help="a price older than this (path time) is stale and liquidates nothing (default 3600)")
    p.add_argument("--step", action="store_true", help="step the desk through every instant (the tick-by-tick "
                                                       "reference; slow, and it holds the path in memory)")
    p.add_argument("--symbol", help="the symbol of a kline file whose name does not say it")
    p.add_argument("--venue", help="kline files: the venue whose own mark prices they are (default: reference "
                                   "prices, which mark every venue's positions of the market)")
    replay_topup.add_options(p)  # --auto-add, --top-up POLICY (isodesk.cli.replay_topup)
    p.set_defaults(handler=run)


def _working_copy(args: argparse.Namespace, tmp: Path) -> argparse.Namespace:
    """The arguments pointed at a copy of the database (made with SQLite's backup API)."""
    source = Path(args.db) if args.db else default_db_path()
    store = store_from(args)  # creates and seeds as the rules say, then we copy it
    store.close()
    copy = tmp / "replay.db"
    copy_database(source, copy)
    return argparse.Namespace(**{**vars(args), "db": str(copy), "demo": False})


def summary(desk: Desk, snap: Snapshot, rejected: list[RejectedRow] | None = None,
            unknown: list[str] | None = None) -> dict[str, Any]:
    """The final book: per position status, isolated margin, liquidation price; per account totals.

    With the ``rejected`` rows of the play: ``rejected_rows`` (by line: reason, symbol, ts, price,
    why) and ``unknown_symbols`` (``unknown``: path symbols no open position used when the play began).
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
    if rejected is not None:
        out["rejected_rows"] = [row.as_json() for row in _by_line(rejected)]
        out["unknown_symbols"] = list(unknown or [])
    return {"summary": out}


def held_series(store: Store) -> set[tuple[str, str]]:
    """The series ``(venue, market)`` that mark the open positions of ``store``."""
    return {series_of(p.venue, p.symbol) for p in store.positions(("open",))}


def unknown_symbols(series: Iterable[tuple[str, str]], held: set[tuple[str, str]]) -> list[str]:
    """The ``series`` of a path (in path order) that no position of ``held`` (taken before the play:
    a position the path liquidates still counts) is marked by: a market (``ETHUSDT``) for reference
    rows no position of any venue uses, ``VENUE MARKET`` (``hyperliquid ETHUSDT``) for a venue's rows
    no position of that venue uses."""
    markets = {market for _venue, market in held}
    return [f"{venue} {market}" if venue else market for venue, market in series
            if (venue and (venue, market) not in held) or (not venue and market not in markets)]


def _by_line(rows: list[RejectedRow]) -> list[RejectedRow]:
    return sorted(rows, key=lambda r: r.line)


def readable(name: str, rejected: list[RejectedRow], unknown: list[str]) -> str:
    """The rejected rows and unknown symbols as lines for a reader (empty when there are none)."""
    lines = []
    rows = _by_line(rejected)
    if rows:
        lines.append(f"{name}: {len(rows)} row{'s' if len(rows) != 1 else ''} skipped:")
        lines += [f"  {row}" for row in rows]
    if unknown:
        lines.append(f"no open position uses {', '.join(unknown)}: {'its' if len(unknown) == 1 else 'their'} "
                     "prices moved nothing")
    return "\n".join(lines)


# -- the path ---------------------------------------------------------------------------------------


class PathFiles:
    """The files of a replay: one ``ts,[venue,]symbol,price`` CSV, or kline files merged by time."""

    def __init__(self, args: argparse.Namespace, table: SeriesTable):
        self.paths = [Path(p) for p in args.prices]
        self.table = table
        self.name = self.paths[0].name if len(self.paths) == 1 else ", ".join(p.name for p in self.paths)
        for path in self.paths:
            if not path.is_file():
                raise UserError(f"{path.name}: cannot open: no such file" if not path.exists()
                                else f"{path.name}: cannot open: not a file")
        self.klines = [is_kline_file(p) for p in self.paths]
        if len(self.paths) > 1 and not all(self.klines):
            raise UserError("prices: several files can only be Binance kline files (one per symbol); "
                            f"{next(p.name for p, k in zip(self.paths, self.klines, strict=True) if not k)} is not one")
        if not self.klines[0] and (args.symbol or args.venue):
            raise UserError(f"--{'symbol' if args.symbol else 'venue'}: only for Binance kline files; "
                            f"{self.name} says its symbols{' and venues' if args.venue else ''} itself")
        if args.symbol and len(self.paths) > 1:
            raise UserError("--symbol: only with one kline file (several files: each file's name gives its symbol)")
        self.symbol, self.venue = args.symbol, args.venue
        try:
            sources = self._sources()  # header and name problems now, before anything runs
        except FeedError as exc:
            raise UserError(str(exc)) from None
        # a ``funding_rate`` column: the desk settles funding at each funding time (fast or --step alike)
        self.funding = not self.klines[0] and "funding_rate" in getattr(sources[0], "columns", ())
        self.size = sum(p.stat().st_size for p in self.paths)

    def _sources(self) -> list[CsvChunks | KlineChunks]:
        if not self.klines[0]:
            return [CsvChunks(self.paths[0], self.table)]
        return [KlineChunks(p, self.table, symbol=self.symbol, venue=self.venue) for p in self.paths]

    def chunks(self) -> Iterator[PathChunk]:
        """The path's rows in play order, chunk by chunk (a new read each call)."""
        return merged(self._sources())

    def rows(self) -> list[PathRow]:
        """Every row, for the tick-by-tick replay feed."""
        return [chunk.path_row(i, self.table) for chunk in self.chunks() for i in range(len(chunk))]


class _Progress:
    """A progress bar on stderr when it is a terminal, shown once the play has taken a second."""

    def __init__(self, total: int, stream: TextIO):
        self.total = max(total, 1)
        self.stream = stream
        self.done = 0
        self.start = time.monotonic()
        self.shown = False
        self.enabled = stream.isatty()

    def __call__(self, nbytes: int) -> None:
        self.done += nbytes
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if elapsed < PROGRESS_AFTER_S:
            return
        frac = min(self.done / self.total, 1.0)
        width = 30
        bar = "#" * int(frac * width)
        self.stream.write(f"\rreplay [{bar:<{width}}] {frac * 100:5.1f} %  {elapsed:6.1f} s")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\r" + " " * 60 + "\r")
            self.stream.flush()


def _seen(chunks: Iterable[PathChunk], table: SeriesTable, order: list[tuple[str, str]]) -> Iterator[PathChunk]:
    """Pass ``chunks`` on, noting in ``order`` each series of a readable row, in order of first appearance."""
    seen = np.zeros(0, dtype=bool)
    for chunk in chunks:
        if len(seen) < len(table):
            seen = np.concatenate([seen, np.zeros(len(table) - len(seen), dtype=bool)])
        codes = chunk.code[chunk.code >= 0]
        new = codes[~seen[codes]]
        if new.size:
            _, first = np.unique(new, return_index=True)
            for code in new[np.sort(first)]:
                if not seen[code]:
                    seen[code] = True
                    order.append(table.keys[int(code)])
        yield chunk


def run(args: argparse.Namespace) -> int:
    """Replay the path and print events and the summary."""
    if replay_topup.wanted(args):  # top-ups: two runs on copies, on the step desk
        return replay_topup.run(args)
    table = SeriesTable()
    files = PathFiles(args, table)
    label = files.name
    step_feed: ReplayFeed | None = None
    chunks: Iterator[PathChunk] | None = None
    try:
        if args.step:
            step_feed = (ReplayFeed(files.paths[0], speed=None, strict=args.strict) if not files.klines[0] else
                         ReplayFeed(label, speed=None, strict=args.strict, _rows=files.rows(), _name=label))
        else:
            chunks = opened(files.chunks, table, label, strict=args.strict)
    except (FeedError, OSError) as exc:
        raise UserError(str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="isodesk-replay-") as tmp:
        work = args if args.commit else _working_copy(args, Path(tmp))
        store = store_from(work)
        if not args.commit:  # a throwaway copy: no need to wait for the disk at every alert
            store.db.execute("PRAGMA synchronous = OFF")
        held = held_series(store)
        if step_feed is not None:
            _run_step(store, step_feed, args, held)
        else:
            assert chunks is not None
            _run_fast(store, chunks, table, files, args, held)
    return 0


def _print_events(events: Iterable[Any]) -> None:
    for event in events:
        if event.kind.value in ("level", "liquidation"):
            print(json.dumps(event.as_json(), allow_nan=False), flush=True)


def _finish(desk: Desk, rejected: list[RejectedRow], unknown: list[str], name: str, args: argparse.Namespace) -> None:
    print(json.dumps(summary(desk, desk.snapshot, rejected, unknown), allow_nan=False))
    text = readable(name, rejected, unknown)
    if text and not args.json:
        print(text)


def _run_step(store: Store, feed: ReplayFeed, args: argparse.Namespace, held: set[tuple[str, str]]) -> None:
    unknown = unknown_symbols(feed.series, held)
    desk = Desk(store, feed, catalog=shipped_catalog(), stale_after_s=args.stale_after)
    try:
        while True:
            snap = desk.step()
            _print_events(desk.drain_events())
            if snap.feed.finished:
                break
        _finish(desk, feed.rejected_rows, unknown, feed.path.name if feed.path is not None else feed.name, args)
    finally:
        desk.close()


def _run_fast(store: Store, chunks: Iterator[PathChunk], table: SeriesTable, files: PathFiles,
              args: argparse.Namespace, held: set[tuple[str, str]]) -> None:
    name = f"replay:{files.name}"
    guard = ChunkGuard(table, feed_name=name)
    feed = InstantFeed(name, guard)
    desk = Desk(store, feed, catalog=shipped_catalog(), stale_after_s=args.stale_after)
    progress = _Progress(files.size, sys.stderr)
    order: list[tuple[str, str]] = []
    try:
        replay = FastReplay(desk, feed, guard, table)
        try:
            _print_events(replay.play(_seen(chunks, table, order), progress))
        except FeedError as exc:  # a problem found deep in the file (not UTF-8, a broken quote)
            raise UserError(str(exc)) from None
        finally:
            progress.close()
        _finish(desk, guard.rejected_rows, unknown_symbols(order, held), files.name, args)
    finally:
        desk.close()


__all__ = ["add_parser", "readable", "run", "summary", "unknown_symbols"]
