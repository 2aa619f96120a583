"""The whole-path outcome of a price path against the book, by the fast replay: who is liquidated
when, each position's first crossings into WARNING and DANGER, its worst distance to liquidation.

:func:`path_outcome` plays the path as ``isodesk replay`` does (the same files, guard, desk and
events: :mod:`isodesk.desk.replay`) on a copy of the book made with SQLite's backup API, so the
book itself is never written. The What-if page asks for it through the desk
(:class:`~isodesk.desk.scenario_jobs.ReplayPath`): the desk's thread runs it, never the GUI's.

With top-ups (the venues' auto-add, a policy of the trader's own: :mod:`isodesk.desk.topup`) the
path is played a second time, on a second copy and on the step desk (the fast replay assumes the
book does not change between instants; a top-up changes it), and :attr:`PathOutcome.top_ups`
says which positions they save and what they cost.
"""

from __future__ import annotations

import math
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from isodesk.desk.desk import Desk
from isodesk.desk.events import EventKind, PositionEvent
from isodesk.desk.replay.engine import FastReplay, InstantFeed
from isodesk.desk.replay.guard import ChunkGuard
from isodesk.desk.replay.source import opened
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import CsvChunks, PathChunk, SeriesTable
from isodesk.feeds.klines import KlineChunks, is_kline_file, merged
from isodesk.margin.topup import TopUpPolicy
from isodesk.store import Store


@dataclass(frozen=True, slots=True)
class PositionPath:
    """One open position's fate along the path. Times are the path's (Unix s), prices quote per
    coin; ``first_warning_ts`` / ``first_danger_ts``: the first level change of the path that
    raised it to WARNING or worse / to DANGER (None if none; a position already there at the start
    did not cross); ``liquidated_ts`` / ``liquidated_price``: its first liquidation (None if none);
    ``worst_distance``: the smallest distance to liquidation over its marks while open (fraction of
    the mark; ≤ 0 once a price crossed; NaN if never priced); ``status`` at the path's end."""

    position_id: int
    label: str
    symbol: str
    venue: str
    side: str
    status: str
    liquidated_ts: float | None
    liquidated_price: float | None
    first_warning_ts: float | None
    first_danger_ts: float | None
    worst_distance: float


@dataclass(frozen=True, slots=True)
class PathOutcome:
    """:func:`path_outcome`'s answer: ``positions`` (the book's open positions at the start, by id),
    ``events`` (the level and liquidation events as ``isodesk replay`` prints them), the ticks
    played and rejected, and the path's last time (Unix s; None without ticks)."""

    name: str
    positions: tuple[PositionPath, ...]
    events: tuple[dict[str, Any], ...]
    ticks: int
    rejected: int
    end_ts: float | None
    top_ups: dict[str, Any] | None = None
    """With top-ups asked for: ``saved`` and ``lost_anyway`` (labels), ``spent`` (``policy`` and
    ``auto_add``: account → exact amount as text), ``cap_bound_days`` and the options; else None."""

    @property
    def liquidated(self) -> tuple[PositionPath, ...]:
        """The positions the path liquidates, in the order it does."""
        hit = [p for p in self.positions if p.liquidated_ts is not None]
        return tuple(sorted(hit, key=lambda p: (p.liquidated_ts or 0.0, p.position_id)))

    def worst(self) -> PositionPath | None:
        """The open position that came closest to (or went furthest through) its liquidation price."""
        priced = [p for p in self.positions if not math.isnan(p.worst_distance)]
        return min(priced, key=lambda p: p.worst_distance) if priced else None

    def text(self, shown: int = 3) -> str:
        """One line for a reader: how many of the open positions the path liquidates, the first
        ``shown`` of them with their time (UTC) and price, and the closest call among the survivors."""
        gone = self.liquidated
        parts = [f"As recorded, by the desk's rules: {len(gone)} of {len(self.positions)} liquidated"]
        if gone:
            named = [f"{p.label} at {_utc(p.liquidated_ts)} ({p.liquidated_price:,.6g})" for p in gone[:shown]]
            more = f" and {len(gone) - shown} more" if len(gone) > shown else ""
            parts[0] += ": " + ", ".join(named) + more
        survivors = [p for p in self.positions if p.liquidated_ts is None and not math.isnan(p.worst_distance)]
        if survivors:
            close = min(survivors, key=lambda p: p.worst_distance)
            parts.append(f"closest call {close.label}, {close.worst_distance * 100:.2f} % from liquidation")
        danger = sum(1 for p in self.positions if p.first_danger_ts is not None)
        if danger:
            parts.append(f"{danger} reached DANGER")
        if self.rejected:
            parts.append(f"{self.rejected} rows skipped")
        if self.top_ups is not None:
            saved = self.top_ups["saved"]
            spent = [f"{amount} from {account}" for source in ("policy", "auto_add")
                     for account, amount in self.top_ups["spent"][source].items()]
            parts.append(f"top-ups save {len(saved)}" + (f" ({', '.join(saved[:shown])})" if saved else "")
                         + (f", spending {', '.join(spent)}" if spent else ", spending nothing"))
        return " · ".join(parts)


def chunks_of(paths: Sequence[str | Path], table: SeriesTable, *, symbol: str | None = None,
              venue: str | None = None) -> Iterator[PathChunk]:
    """The rows of a path as ``isodesk replay`` reads them: one ``ts,[venue,]symbol,price`` CSV, or
    Binance mark-price kline files merged by time (:class:`FeedError` for a file it cannot read)."""
    files = [Path(p) for p in paths]
    if not files:
        raise FeedError("prices: no file given")
    if all(is_kline_file(p) for p in files):
        return merged([KlineChunks(p, table, symbol=symbol, venue=venue) for p in files])
    if len(files) > 1:
        raise FeedError("prices: several files can only be Binance kline files (one per symbol)")
    return iter(CsvChunks(files[0], table))


def path_outcome(store: Store, paths: Sequence[str | Path], *, stale_after_s: float = 3600.0,
                 symbol: str | None = None, venue: str | None = None, auto_add: bool = False,
                 policy: TopUpPolicy | None = None) -> PathOutcome:
    """Replay ``paths`` against a copy of ``store``'s book with the fast replay and report each
    open position's fate (:class:`PathOutcome`); the store is only read. ``stale_after_s``: a
    price older than this (path time, s) is stale and liquidates nothing, as ``--stale-after``.
    ``auto_add``/``policy``: also play it with top-ups (module docstring; :attr:`PathOutcome.top_ups`).
    :class:`FeedError` for a path that cannot be played (the words ``isodesk replay`` uses)."""
    outcome = _fast_outcome(store, paths, stale_after_s=stale_after_s, symbol=symbol, venue=venue)
    if not (auto_add or policy is not None):
        return outcome
    return replace(outcome, top_ups=_with_top_ups(store, paths, outcome, stale_after_s=stale_after_s, symbol=symbol,
                                                  venue=venue, auto_add=auto_add, policy=policy))


def _with_top_ups(store: Store, paths: Sequence[str | Path], outcome: PathOutcome, *, stale_after_s: float,
                  symbol: str | None, venue: str | None, auto_add: bool, policy: TopUpPolicy | None) -> dict[str, Any]:
    """The path on the step desk with top-ups, on a copy: saved (liquidated by ``outcome``, alive
    here), lost anyway, spent (exact text per account), the days the cap bound."""
    from isodesk.desk.topup import TopUpRunner
    from isodesk.feeds.replay import ReplayFeed

    table = SeriesTable()
    rows = [chunk.path_row(i, table) for chunk in chunks_of(paths, table, symbol=symbol, venue=venue)
            for i in range(len(chunk))]
    feed = ReplayFeed(outcome.name, speed=None, _rows=rows, _name=outcome.name)
    runner = TopUpRunner(policy=policy, auto_add=auto_add)
    with tempfile.TemporaryDirectory(prefix="isodesk-pathoutcome-topup-") as tmp:
        work = _copy_of(store, Path(tmp) / "book.db")
        desk = Desk(work, runner.wrap(feed), catalog=shipped_catalog(), stale_after_s=stale_after_s,
                    program="a path outcome with top-ups")
        runner.desk = desk
        try:
            while not desk.step().feed.finished:
                pass
            statuses = {r.id: r.status for r in work.positions(statuses=None)}
            cap_days = [{"account": name, "day": datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()}
                        for name, day in runner.cap_days()]
        finally:
            desk.close()
    before = {p.position_id: p for p in outcome.positions}
    saved = [p.label for pid, p in before.items() if p.liquidated_ts is not None and statuses.get(pid) != "liquidated"]
    lost = [p.label for pid, p in before.items() if p.liquidated_ts is not None and statuses.get(pid) == "liquidated"]
    return {"auto_add": auto_add, "policy": policy.as_text() if policy else None, "saved": saved, "lost_anyway": lost,
            "spent": {source: {a: format(v, "f") for a, v in sorted(by.items())}
                      for source, by in runner.spent.items()},
            "cap_bound_days": cap_days}


def _copy_of(store: Store, path: Path) -> Store:
    """A copy of ``store``'s database at ``path`` (SQLite's backup API), opened for throwaway writes."""
    target = sqlite3.connect(path)
    try:
        store.db.conn.backup(target)
    finally:
        target.close()
    work = Store.open(path)
    work.db.execute("PRAGMA synchronous = OFF")  # a throwaway copy
    return work


def _fast_outcome(store: Store, paths: Sequence[str | Path], *, stale_after_s: float, symbol: str | None,
                  venue: str | None) -> PathOutcome:
    """The fast replay's outcome of ``paths`` on a copy of ``store`` (see :func:`path_outcome`)."""
    name = ", ".join(Path(p).name for p in paths)
    table = SeriesTable()
    chunks = opened(lambda: chunks_of(paths, table, symbol=symbol, venue=venue), table, name)
    with tempfile.TemporaryDirectory(prefix="isodesk-pathoutcome-") as tmp:
        work = _copy_of(store, Path(tmp) / "book.db")
        feed_name = f"replay:{name}"
        guard = ChunkGuard(table, feed_name=feed_name)
        feed = InstantFeed(feed_name, guard)
        desk = Desk(work, feed, catalog=shipped_catalog(), stale_after_s=stale_after_s, program="a path outcome")
        try:
            start = desk.book
            open_rows = [int(r) for r in range(len(start)) if start.open_rows[r]]
            replay = FastReplay(desk, feed, guard, table, track_worst=True)
            events = [e for e in replay.play(chunks) if e.kind in (EventKind.LEVEL, EventKind.LIQUIDATION)]
            statuses = {r.id: r.status for r in work.positions(statuses=None)}
            positions = tuple(_fate(start.info, row, events, statuses, replay.worst) for row in open_rows)
            return PathOutcome(name=name, positions=positions, events=tuple(e.as_json() for e in events),
                               ticks=guard.accepted, rejected=guard.rejected, end_ts=guard.newest_ts)
        finally:
            desk.close()


def _fate(info: Any, row: int, events: list[PositionEvent], statuses: dict[int, str],
          worst: dict[int, float]) -> PositionPath:
    pid = int(info.position_ids[row])
    mine = [e for e in events if e.position_id == pid]
    liquidation = next((e for e in mine if e.kind is EventKind.LIQUIDATION), None)
    rises = [e for e in mine if e.kind is EventKind.LEVEL and _rank(e.level) > _rank(e.previous)]
    warning = next((e.ts for e in rises if _rank(e.level) >= _rank("warning")), None)
    danger = next((e.ts for e in rises if e.level == "danger"), None)
    return PositionPath(position_id=pid, label=info.labels[row], symbol=info.symbols[row], venue=info.venues[row],
                        side=info.sides[row], status=statuses.get(pid, "open"),
                        liquidated_ts=None if liquidation is None else float(liquidation.ts),
                        liquidated_price=None if liquidation is None else float(liquidation.price),
                        first_warning_ts=warning, first_danger_ts=danger, worst_distance=worst.get(pid, math.nan))


def _utc(ts: float | None) -> str:
    """``2024-06-01 12:03:05`` (UTC) of a Unix time."""
    return "?" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _rank(level: str) -> int:
    return {"safe": 0, "warning": 1, "danger": 2}.get(level, -1)


__all__ = ["PathOutcome", "PositionPath", "chunks_of", "path_outcome"]
