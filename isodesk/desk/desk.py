"""The risk desk: owns the book, the feed and the engine, and is the only writer of the database.

``step(now)`` takes the feed's new ticks, stores them, recomputes every position in one engine
call, moves risk levels (with hysteresis; an easing is reported only once it held for the dwell,
:class:`~isodesk.desk.levels.LevelTrack`; alerts as :mod:`isodesk.desk.events` says: one summary per
risky position when first classified, flapping counted on one alert), liquidates positions whose
fresh mark has reached their liquidation price (alone: no other position and no free balance
changes) and publishes an immutable :class:`Snapshot`. ``apply(command)`` validates and executes one command in one
transaction and answers accepted or rejected with the reason. No Qt here: the worker thread,
a test or the command line drives it the same way.

One writer per book, across processes: a desk that may write holds the book's writer lock
(:mod:`isodesk.desk.writer`) for its whole life; a second one raises :class:`BookBusy`. Commands
from other processes arrive through the book's command queue (:mod:`isodesk.store.command_log`)
and are executed by ``step()`` through the same ``apply``. Building a desk only reads: it never
liquidates; only a fresh tick that passed the feed's guard, inside ``step()``, can. Every step
notices changes another process made to the file (``PRAGMA data_version``) and reloads.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

import numpy as np

from isodesk.desk import operations, registry, scenario_jobs
from isodesk.desk.allocation import PlanAllocation, plan_request
from isodesk.desk.book import LoadedBook, read_book
from isodesk.desk.book_rows import refreshed_book
from isodesk.desk.commands import (
    AcknowledgeAlert,
    Command,
    CommandRejected,
    JournalPage,
    ReadJournal,
    Reply,
    Result,
    SetPaused,
    SetSpeed,
    SetThresholds,
)
from isodesk.desk.events import EventKind, PositionEvent, collapses, new_event, summary_repeats
from isodesk.desk.funding import FundingDesk
from isodesk.desk.ladder import PartialLiquidations
from isodesk.desk.levels import Level, LevelTrack, Thresholds, risk_order
from isodesk.desk.marks import MarkBoard, RowMarks
from isodesk.desk.path_jobs import PathJobs
from isodesk.desk.rules_refresh import RefreshVenueRules, RulesRefresh
from isodesk.desk.scenario_jobs import ReplayPath
from isodesk.desk.settings import (
    DEFAULT_STALE_AFTER_S,
    DEFAULTS,
    THRESHOLDS_KEY,
    DeskSettings,
    SetSettings,
    apply_changes,
    describe_changes,
    load_settings,
    save_settings,
)
from isodesk.desk.snapshot import AccountTotals, Snapshot, freeze_columns, frozen
from isodesk.desk.stored_prices import guarded_latest_prices
from isodesk.desk.venue_jobs import ImportFromVenue, VenueJobs
from isodesk.desk.volatility import OddsDesk
from isodesk.desk.writer import BookBusy, WriterLock
from isodesk.feeds.base import Feed, FeedHealth, Tick
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import RiskArrays, RiskBuffers, mark_figures
from isodesk.margin.markets import REFERENCE, market_of
from isodesk.store import ALERT_LEVELS, Account, Alert, PositionRecord, Store, StoreError, command_log
from isodesk.store.liquidations import Liquidation
from isodesk.store.tier_tables import catalog_for

log = logging.getLogger("isodesk.desk")

COMPACT_EVERY_S = 60.0  # each call compacts a bounded slice (store.compact_prices), so it keeps up
__all__ = ["DEFAULT_STALE_AFTER_S", "BookBusy", "Desk", "price_decimal"]


def price_decimal(price: float) -> Decimal:
    """A float price as the shortest exact Decimal that prints the same (no binary noise)."""
    return Decimal(repr(float(price)))


class Desk:
    """The headless risk desk. Not thread-safe: one thread owns it (the worker, or the CLI).

    ``observe_only`` makes a desk that reads and recomputes but never writes (``isodesk status``
    beside a running app, a second window): no alerts, no liquidations, no stored ticks, no
    commands; ``writer_note`` says why it only observes. A writing desk takes the book's writer
    lock (``program`` names it for whoever finds the book busy) or raises :class:`BookBusy`.
    """

    def __init__(self, store: Store, feed: Feed | None, *, catalog: TierCatalog,
                 clock: Callable[[], float] = time.time, stale_after_s: float | None = None,
                 observe_only: bool = False, program: str = "an isodesk command", writer_note: str = ""):
        self.store = store
        self.observe_only = observe_only
        self.writer_note = writer_note
        self._lock: WriterLock | None = None
        if not observe_only and str(store.path) != ":memory:":
            self._lock = WriterLock.acquire(store.path, program)
        try:
            self._init(store, feed, catalog, clock, stale_after_s)
        except BaseException:
            self._release()
            raise

    def _init(self, store: Store, feed: Feed | None, catalog: TierCatalog, clock: Callable[[], float],
              stale_after_s: float | None) -> None:
        self.feed = feed
        self.catalog = catalog
        self._clock = clock
        self._stale_override = stale_after_s  # --stale-after: wins until the trader sets desk.stale_after_s
        self._odds = OddsDesk(DEFAULTS.odds_half_life_s)  # volatility, odds columns, odds alert (desk.volatility)
        self._take_settings(load_settings(store))
        self.paused = False
        self.version = 0
        self.rejected_commands = 0
        self.failures = 0
        self.last_failure: str | None = None
        self._events: list[PositionEvent] = []
        self._alert_cache: dict[int, Alert | None] | None = None  # newest alert per position, within a write
        self._alert_batch: _AlertBatch | None = None  # alerts written at the end of that write, in two statements
        # that cache and the next alert id kept after the write, valid while the book's change counter
        # is the one this desk's write left (:meth:`_alerts_known`)
        self._alerts_kept: tuple[int, dict[int, Alert | None], int] | None = None
        self._kept_after_write: tuple[dict[int, Alert | None], int] = ({}, 0)
        self._late_results: list[Result] = []
        self._venue_jobs = VenueJobs()
        self._rules_refresh = RulesRefresh()
        self._path_jobs = PathJobs()  # What-if path replays, off this thread (desk.path_jobs)
        self._queued_jobs: dict[str, str] = {}  # request id → origin, of queued venue imports running
        # the latest price of every series (venue, market) and which one marks each position (desk.marks)
        self._board = MarkBoard(tick_clock=feed is not None and feed.clock_from_ticks)
        self._row_marks: RowMarks | None = None
        self._take_stored_prices()
        self._last_clock: float | None = None
        self._last_tick_at: float | None = None
        self._last_compaction = self._clock()
        self._step_started = time.monotonic()
        self._data_version = command_log.data_version(store)
        self._book_version = command_log.book_version(store)
        self._last_alert_id = self._max_alert_id()
        self.book = self._load()
        self._follow_book()
        self._accounts = self._read_accounts()
        self._track = LevelTrack.fresh(self.book.open_rows)  # observed and reported levels (desk.levels)
        self._stale = np.zeros(len(self.book), dtype=bool)
        self._initial_levels = True
        self._start_ids = frozenset(int(p) for p in self.book.info.position_ids)  # "at start" in a summary
        # position id → (level, distance, mark, message) of a first classification, written with the next alerts
        self._summaries: dict[int, tuple[Level, float, float, str]] = {}
        self._settle: frozenset[int] = frozenset()  # position ids a command moved: their easing is reported at once
        self._partials = PartialLiquidations()  # venues that liquidate in steps (desk.ladder)
        self._funding = FundingDesk()  # funding quotes and settlements (desk.funding)
        self._odds.seed(self)
        self._margin_sums: tuple[LoadedBook, dict[str, float]] | None = None  # per account, of one book
        self._figures = RiskBuffers()  # the engine's buffers, written by every recompute: a snapshot copies
        self.snapshot: Snapshot = self._recompute(self._now(), fresh=frozenset())

    @property
    def _level(self) -> np.ndarray:
        """The reported level of each row (int8 :class:`Level`): what the snapshot shows and alerts say."""
        return self._track.reported

    @property
    def writer(self) -> bool:
        """True when this desk may change the book (it holds the writer lock)."""
        return not self.observe_only

    def _take_stored_prices(self) -> None:
        """Latest stored price of each series (venue, market) that passes the stored-price rule (never
        a future, a millisecond or an out-of-bounds row); a newer stored price replaces an older mark.
        A venue's stored price fresh now establishes its series (see :mod:`isodesk.desk.marks`)."""
        now = self._clock()
        stored = guarded_latest_prices(self.store, now)
        self._board.take_stored(stored, now, self.stale_after_s)
        guard = getattr(self.feed, "guard", None)
        if guard is not None and not self.feed.clock_from_ticks:  # type: ignore[union-attr]
            guard.seed(stored)  # a live feed's first tick is checked against the book's last price

    def _follow_book(self) -> None:
        """Tell a feed that follows the book (``follow_book``) the book's open price series."""
        hook = getattr(self.feed, "follow_book", None)
        if hook is None:
            return
        book = self.book
        open_rows = np.flatnonzero(book.open_rows)
        held, first = np.unique(book.series_index[open_rows], return_index=True)
        series: dict[tuple[str, str], float] = {}
        for index, row in zip(held, open_rows[first], strict=True):
            key = book.series[int(index)]
            known = self._board.price(key) or self._board.price((REFERENCE, key[1]))
            series[key] = known[1] if known is not None else float(book.batch.entry[row])
        hook(series)

    def _max_alert_id(self) -> int:
        return int(self.store.db.conn.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchall()[0][0])

    # -- the tick ---------------------------------------------------------------------------------

    def step(self, now: float | None = None) -> Snapshot:
        """Follow other processes' changes, take queued commands, take new ticks, store them,
        recompute, move levels, liquidate on fresh marks, publish a snapshot."""
        self._step_started = time.monotonic()
        wall = self._clock() if now is None else now
        self._follow()
        ticks: list[Tick] = []
        if self.feed is not None and not self.paused:
            ticks = self.feed.poll(wall)
        self._board.begin_step()
        if ticks:
            self._take_ticks(ticks)
            self._last_tick_at = wall
        fresh = self._board.fresh
        clock = wall
        if self.feed is not None and self.feed.clock_from_ticks:
            clock = self._last_clock if self._last_clock is not None else wall
        self._finish_jobs(clock)
        self._funding.settle(self, clock)  # never liquidates: a fresh tick does (desk.funding)
        self.snapshot = self._recompute(clock, fresh=fresh)
        if self.writer and not (self.feed is not None and self.feed.clock_from_ticks) \
                and wall - self._last_compaction >= COMPACT_EVERY_S:
            self._last_compaction = wall
            self.store.compact_prices(now=wall)
        return self.snapshot

    def _finish_jobs(self, clock: float) -> None:
        def answer(result: Result) -> None:  # inside the job's own write transaction
            origin = self._queued_jobs.pop(result.request_id, None)
            if origin is not None:
                command_log.record_answer(self.store, request_id=result.request_id, kind=result.kind, body={},
                                          origin=origin, ts=clock, accepted=result.accepted,
                                          reply=registry.result_to_json(result))

        for result in self._venue_jobs.finish(self, ts=clock, writing=self._writing, answer=answer):
            self._late_results.append(result)
        refreshed = self._rules_refresh.finish(self)
        if refreshed is not None:
            self._late_results.append(refreshed)
        self._late_results.extend(self._path_jobs.finish(self))

    # -- other processes ----------------------------------------------------------------------------

    def _follow(self) -> None:
        """Reload when another process changed the book, show the alerts it wrote, run queued commands."""
        if self.writer and command_log.has_queued(self.store):
            self.process_queue()
        version = command_log.data_version(self.store)
        if version == self._data_version:
            return
        self._data_version = version
        if not self.writer:
            self._take_stored_prices()
        book_version = command_log.book_version(self.store)
        if book_version != self._book_version:
            self._book_version = book_version
            log.info("the book changed in another process; reloading")
            self.reload()
            self._take_settings(load_settings(self.store))
            self._external_alerts()

    def _external_alerts(self) -> None:
        """Alerts another process wrote since the last look, as events (in order)."""
        for alert in reversed(self.store.alerts(limit=500)):
            if alert.id <= self._last_alert_id:
                continue
            self._last_alert_id = alert.id
            row = self.book.row_of(alert.position_id) if alert.position_id is not None else None
            self._events.append(PositionEvent(
                kind=EventKind.EXTERNAL, position_id=int(alert.position_id or 0),
                label=self.book.info.labels[row] if row is not None else "", symbol=self.book.info.symbols[row]
                if row is not None else "", level=alert.level, previous="", ts=alert.ts, price=math.nan,
                message=alert.message, alert_id=alert.id))

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One transaction of this desk's; before it commits, the file's change counters are noted
        (inside the transaction no other process can commit), so this desk's own writes never look
        like another process's and another process's never hide behind this desk's."""
        with self.store.transaction():
            yield
            self._note_own_writes()

    def _note_own_writes(self) -> None:
        self._data_version = command_log.data_version(self.store)
        self._book_version = command_log.book_version(self.store)
        self._last_alert_id = self._max_alert_id()

    def process_queue(self) -> list[Result]:
        """Execute the commands other processes queued for this book, oldest first; their results.

        Each is answered in the ``commands`` table in the same transaction as its effects; an
        expired one is never executed; one that does not decode is answered with the reason.
        """
        if not self.writer:
            return []
        now = self._clock()
        command_log.expire(self.store, now)
        results = []
        for row in command_log.queued(self.store):
            if row.request_id in self._queued_jobs:
                continue
            try:
                command = registry.decode(row.kind, row.body)
            except registry.BadCommand as exc:
                result = Result(row.request_id, False, str(exc), kind=row.kind)
                self._answer_queued(result, row.origin, now)
            else:
                result = self.apply(command, origin=row.origin)
                if result.reply is Reply.STARTED:
                    self._queued_jobs[row.request_id] = row.origin
                    command_log.mark_running(self.store, row.request_id)
                else:
                    answered = command_log.find(self.store, row.request_id)
                    if answered is not None and answered.state == command_log.QUEUED:
                        self._answer_queued(result, row.origin, now)
            log.info("queued %s %s from %s: %s", row.kind, row.request_id, row.origin or "?", result.reply)
            results.append(result)
        return results

    def _answer_queued(self, result: Result, origin: str, ts: float) -> None:
        try:
            with self._writing():
                command_log.record_answer(self.store, request_id=result.request_id, kind=result.kind, body={},
                                          origin=origin, ts=ts, accepted=result.accepted,
                                          reply=registry.result_to_json(result))
        except StoreError as exc:  # cancelled by its sender meanwhile
            log.info("answer to %s not recorded: %s", result.request_id, exc)

    @property
    def odds(self) -> OddsDesk:
        """The desk's realized volatility and odds of liquidation (:mod:`isodesk.desk.volatility`); others
        only read it."""
        return self._odds

    @property
    def funding(self) -> FundingDesk:
        """The desk's funding quotes and settlements (:mod:`isodesk.desk.funding`); others only read it."""
        return self._funding

    def board_copy(self) -> MarkBoard:
        """A copy of the desk's marking board (which price marks which position, its guard state), for
        asking how the next ticks would mark the book without changing the desk's own."""
        board: MarkBoard = copy.deepcopy(self._board)
        return board

    def drain_results(self) -> list[Result]:
        """Final results of background jobs (venue imports, path replays) finished since the last call."""
        results, self._late_results = self._late_results, []
        return results

    def _take_ticks(self, ticks: Sequence[Tick]) -> None:
        if not self.observe_only and (self.feed is None or not self.feed.writes_prices_table):
            self.store.insert_prices([(t.ts, t.symbol, t.price, t.venue) for t in ticks],
                                     source=self.feed.name if self.feed else "")
        self._board.take_ticks(ticks)
        self._odds.volatility.take(ticks)
        latest = max(t.ts for t in ticks)
        self._last_clock = latest if self._last_clock is None else max(self._last_clock, latest)

    def _now(self) -> float:
        return self._last_clock if (self.feed is not None and self.feed.clock_from_ticks
                                    and self._last_clock is not None) else self._clock()

    def _marks(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's mark and its time: its own venue's price, or the reference price until the
        venue's arrives (:mod:`isodesk.desk.marks`); a closed row's frozen mark."""
        book = self.book
        rows = self._row_marks = self._board.rows(book)
        mark, ts = rows.mark.copy(), rows.ts.copy()
        closed = ~book.open_rows
        mark[closed], ts[closed] = book.frozen_mark[closed], book.frozen_ts[closed]
        return mark, ts

    def _recompute(self, clock: float, *, fresh: frozenset[tuple[str, str]]) -> Snapshot:
        """Recompute every position; liquidate only positions whose marking series (venue, market)
        has a price in ``fresh`` (accepted by the feed's guard in this step). Commands and reloads
        pass an empty set."""
        book = self.book
        mark, mark_ts = self._marks()
        risk = mark_figures(book.batch, mark, book.levels, into=self._figures)  # valid until the next call
        crossed, worst = self._judge(risk, mark_ts, clock, fresh)
        if crossed.size:
            self._liquidate(crossed, risk, clock, worst)
            return self._recompute(clock, fresh=fresh)
        return self._publish(risk, clock, mark_ts)

    def _judge(self, risk: RiskArrays, mark_ts: np.ndarray, clock: float, fresh: frozenset[tuple[str, str]]
               ) -> tuple[np.ndarray, np.ndarray]:
        """Stale prices, levels and their alerts at ``clock`` from the figures ``risk`` and the marks'
        times ``mark_ts``; the rows to liquidate (:meth:`_crossed`) and the price each crossed at."""
        book = self.book
        open_rows = book.open_rows
        stale = open_rows & (np.isnan(risk.mark) | ~(clock - mark_ts <= self.stale_after_s))
        live = open_rows & ~stale
        previous = self._track.reported.copy()
        settle = np.isin(book.info.position_ids, list(self._settle)) if self._settle else None
        first = self._track.advance(risk.distance_frac, live, clock, self.thresholds, self.settings.dwell_s, settle)
        if not self.observe_only:
            self._note_summaries(first, risk)
        crossed, worst = self._crossed(risk, live, fresh)
        if self.observe_only:
            crossed = crossed[:0]
        else:
            self._record_transitions(previous, first, stale, risk, clock)
        self._stale = stale
        return crossed, worst

    def judge_replayed(self, risk: RiskArrays, mark_ts: np.ndarray, clock: float) -> np.ndarray:
        """One instant of a replay that the fast replay (:mod:`isodesk.desk.replay`) has shown to
        liquidate nothing, judged without a step: stale prices, levels and their alerts and events
        at ``clock`` (the path's time) from each row's mark and its time ``mark_ts``, exactly as
        :meth:`step` judges them. Of ``risk`` only ``mark``, ``distance_frac`` and
        ``liquidation_price`` are read. Nothing is published; returns the stale flags."""
        self._judge(risk, mark_ts, clock, frozenset())
        return self._stale

    @property
    def level_track(self) -> LevelTrack:
        """The desk's levels per row (observed, reported, easing timers): read it, never change it
        (the fast replay plans its searches from it)."""
        return self._track

    def _crossed(self, risk: RiskArrays, live: np.ndarray, fresh: frozenset[tuple[str, str]]
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Rows to liquidate and the price each crossed at: a live position whose marking series (its
        venue's own, or the reference until the venue's arrives) had accepted ticks in this step and
        whose worst price of the step (the lowest for a long, the highest for a short) reached its
        liquidation price. Every tick of the step counts, not only the last: a wick through the
        liquidation price liquidates even if the step ends above it. Another venue's price never does."""
        book = self.book
        marks = self._row_marks
        if not fresh or not len(book) or marks is None:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        ticked, low, high = marks.ticked, marks.low, marks.high
        long = book.batch.side > 0
        worst = np.where(long, low, high)
        liq = risk.liquidation_price
        with np.errstate(invalid="ignore"):
            through = np.where(long, worst <= liq, worst >= liq) & np.isfinite(liq)
        hit = live & ticked & (through | (risk.distance_frac <= 0))
        rows = np.flatnonzero(hit)
        return rows, np.where(np.isfinite(worst), worst, risk.mark)[rows]

    # -- levels, alerts, liquidation ------------------------------------------------------------

    def _record_transitions(self, previous: np.ndarray, first: np.ndarray, stale: np.ndarray, risk: RiskArrays,
                            clock: float) -> None:
        """Alerts and events of the reported level changes (a position's first classification is not
        a change: it gets a summary, :meth:`_write_summaries`), stale prices and prices back."""
        book = self.book
        level = self._track.reported
        if self._initial_levels:  # levels found at start-up are the book's state, not crossings
            self._initial_levels = False
            if self.feed is None:  # a command's short-lived desk: the book's state at its start is no news
                self._summaries.clear()
            return
        changed = np.flatnonzero((level != previous) & book.open_rows & ~first)
        went_stale = np.flatnonzero(stale & ~self._stale)
        # a position's first price is its summary (or nothing), not "prices flow again"
        recovered = np.flatnonzero(~stale & self._stale & book.open_rows & ~first)
        if not (changed.size or went_stale.size or recovered.size or self._summaries):
            return
        labels = book.info.labels
        sound = self.settings.sound
        with self._writing(), self._alerts_known([*book.info.position_ids[changed].tolist(), *self._summaries]):
            self._write_summaries(clock)
            # plain Python numbers, formatted as the numpy scalars format (the same doubles)
            for row, new, old, pct, liq, mark in zip(
                    changed.tolist(), level[changed].tolist(), previous[changed].tolist(),
                    (risk.distance_frac[changed] * 100).tolist(), risk.liquidation_price[changed].tolist(),
                    risk.mark[changed].tolist(), strict=True):
                verb = "rose" if new > old else "eased"
                message = (f"{labels[row]} {verb} to {_LABELS[new].upper()}: {pct:.2f} % from liquidation at "
                           f"{liq:,.6g} (mark {mark:,.6g})")
                self._event(_LEVEL, row, _LABELS[new], _LABELS[old], clock, mark, message,
                            sound=sound and new == _DANGER)
            # a feed that stops (or comes back) turns thousands of rows at once: plain lists again
            for row, now, mark, series in zip(went_stale.tolist(), level[went_stale].tolist(),
                                              risk.mark[went_stale].tolist(), self._series_texts(went_stale),
                                              strict=True):
                self._event(_STALE, row, "stale", _LABELS[now], clock, mark,
                            f"{labels[row]}: no fresh price for {series}")
            for row, now, mark in zip(recovered.tolist(), level[recovered].tolist(), risk.mark[recovered].tolist(),
                                      strict=True):
                self._event(_RECOVERED, row, _LABELS[now], "stale", clock, mark, f"{labels[row]}: prices flow again")
        # committed: what the batch knows stays true until the book's counter moves again
        self._alerts_kept = (self._book_version, *self._kept_after_write)

    def _series_texts(self, rows: np.ndarray) -> list[str]:
        """The price series that marks each of ``rows``, worded as :meth:`_series_text` words it
        (``BTCUSDT on hyperliquid``, ``BTCUSDT (reference price)``), each text made once per series."""
        book, marks = self.book, self._row_marks
        index = book.series_index[rows].tolist()
        own = marks.own[rows].tolist() if marks is not None else [False] * len(index)
        texts: dict[tuple[int, bool], str] = {}
        out = []
        for series, by_own in zip(index, own, strict=True):
            key = (series, bool(by_own))
            text = texts.get(key)
            if text is None:
                venue, market = book.series[series]
                text = texts[key] = _series_words(venue, market, key[1])
            out.append(text)
        return out

    def _event(self, kind: EventKind, row: int, level: str, previous: str, clock: float, price: float,
               message: str, *, sound: bool = False) -> None:
        """Keep one thing that happened as an alert (a level change that repeats the position's
        unacknowledged flapping counts on its alert, :func:`~isodesk.desk.events.collapses`) and
        deliver it as an event with the alert's id and count.

        Called for every alert of a step (thousands in a big one): the enum members are module
        constants, the alert and the event are built by :func:`_new_alert` and
        :func:`~isodesk.desk.events.new_event` (the same objects as their constructors give)."""
        info = self.book.info
        position_id = int(info.position_ids[row])
        cache = self._alert_cache
        if kind is _LEVEL:
            latest = cache[position_id] if cache is not None and position_id in cache else \
                self._latest_alert(position_id)
        else:
            latest = None
        batch = self._alert_batch
        if latest is not None and collapses(latest, level, previous):
            alert_id = latest.id
            if batch is not None:  # counted as repeat_alert counts it, written with the batch
                batch.repeated.append((float(clock), level, previous, message, alert_id))
                count = latest.count + 1
            else:
                count = self.store.repeat_alert(alert_id, ts=clock, level=level, previous=previous, message=message)
            written = _new_alert(alert_id, clock, position_id, level, latest.kind, message, latest.acknowledged, count,
                                 previous, latest.ts if latest.first_ts is None else latest.first_ts)
        else:
            kept = previous if previous in ALERT_LEVELS else None
            kind_value = kind._value_
            if batch is not None:  # the id SQLite would give it: the batch's next
                added = batch.added
                alert_id = batch.next_id + len(added)
                added.append((alert_id, float(clock), position_id, level, kind_value, message, kept))
            else:
                alert_id = self.store.add_alert(ts=clock, position_id=position_id, level=level, kind=kind_value,
                                                message=message, previous=kept)
            count = 1
            written = _new_alert(alert_id, clock, position_id, level, kind_value, message, False, 1, kept, None)
        if cache is not None and kind is not _ODDS:  # odds alerts: their own track
            cache[position_id] = written
        self._events.append(new_event(kind, position_id, info.labels[row], info.symbols[row], level, previous, clock,
                                      price, message, alert_id, count, sound))
        log.info("%s", message)

    @contextmanager
    def _alerts_known(self, position_ids: Sequence[int]) -> Iterator[None]:
        """Inside one write transaction: the newest alert of each of ``position_ids`` read in one
        query and kept up to date as alerts are written (:meth:`_latest_alert`), instead of one query
        per alert (a replay writes thousands)."""
        kept, self._alerts_kept = self._alerts_kept, None
        version = command_log.book_version(self.store)  # inside the write: no other process can move it
        if kept is not None and kept[0] == version:  # no alert written or acknowledged since this desk's last
            cache, next_id = kept[1], kept[2]
        else:
            cache, next_id = {}, self.store.next_alert_id()
        missing = {int(p) for p in position_ids} - cache.keys()
        if missing:
            cache.update(dict.fromkeys(missing))
            cache.update(self.store.latest_alerts(missing))
        self._alert_cache = cache
        self._alert_batch = _AlertBatch(next_id)
        try:
            yield
            self._flush_alerts()
            self._kept_after_write = (cache, self._alert_batch.next_id)
        finally:
            self._alert_cache = None
            self._alert_batch = None

    def _flush_alerts(self) -> None:
        """Write the alerts kept in :meth:`_alerts_known`'s batch (two statements, in the caller's
        transaction) and start a new batch after them."""
        batch = self._alert_batch
        if batch is None or not (batch.added or batch.repeated):
            return
        self.store.write_alerts(batch.added, batch.repeated)
        self._alert_batch = _AlertBatch(batch.next_id + len(batch.added))

    def _latest_alert(self, position_id: int) -> Alert | None:
        """The newest alert of a position (from :meth:`_alerts_known`'s cache when it holds it)."""
        cache = self._alert_cache
        if cache is not None and position_id in cache:
            return cache[position_id]
        self._flush_alerts()  # the book must hold what the batch keeps before it is read
        return self.store.latest_alert(position_id)

    def _note_summaries(self, first: np.ndarray, risk: RiskArrays) -> None:
        """Keep the summary of each position classified for the first time at WARNING or DANGER
        ("btc-long at start: DANGER, 1.92 % from liquidation …"), written with the next alerts.

        The figures are taken as plain Python floats of the step's arrays (``.tolist()``: the same
        doubles, formatted as their numpy scalars format), not one numpy scalar per row."""
        book, level = self.book, self._track.reported
        rows = np.flatnonzero(first & (level >= Level.WARNING) & (level <= Level.DANGER))
        if not rows.size:
            return
        info, start_ids, summaries = book.info, self._start_ids, self._summaries
        labels = info.labels
        distance = risk.distance_frac[rows]
        for row, position_id, found, dist, pct, liq, mark in zip(
                rows.tolist(), info.position_ids[rows].tolist(), level[rows].tolist(), distance.tolist(),
                (distance * 100).tolist(), risk.liquidation_price[rows].tolist(), risk.mark[rows].tolist(),
                strict=True):
            when = "at start" if position_id in start_ids else "new in the book"
            summaries[position_id] = (_LEVEL_OF[found], dist, mark, (
                f"{labels[row]} {when}: {_UPPER_LABELS[found]}, {pct:.2f} % from "
                f"liquidation at {liq:,.6g} (mark {mark:,.6g})"))

    def _write_summaries(self, clock: float) -> None:
        """Write the kept summaries (inside the caller's transaction), before any later change of the
        same positions, each at the level it was classified at, the least risky first (so the riskiest
        is the newest, on top of a newest-first list); skipped when the position's newest alert
        already says that level unacknowledged (:func:`~isodesk.desk.events.summary_repeats`: a
        restart adds no copy). A position no longer open gets none."""
        summaries, self._summaries = self._summaries, {}
        if not summaries:
            return
        info, open_rows = self.book.info, self.book.open_rows
        latest_alert, event = self._latest_alert, self._event
        for position_id, (level, _distance, mark, message) in sorted(summaries.items(), key=_summary_order):
            row = info.row_of(position_id)
            if row is None or not open_rows[row]:
                continue
            label = _LABELS[level]
            if summary_repeats(latest_alert(position_id), label):
                continue
            event(_SUMMARY, row, label, "", clock, mark, message)

    def _liquidate(self, rows: np.ndarray, risk: RiskArrays, clock: float, prices: np.ndarray) -> None:
        """Liquidate each row alone: its whole margin to the venue, status, an alert. One transaction.
        A row whose venue liquidates in steps loses only the part the venue removes
        (:mod:`isodesk.desk.ladder`); the rest stays open.

        The margin moved is the ledger's balance of the position at this moment (read in the same
        transaction), not the desk's cached figure, so a liquidation can never move more than the
        position holds. Whole liquidations are written together (:meth:`_liquidate_whole`, a few
        statements for hundreds of rows) and their alerts with the step's alert batch; a partial one
        is written where it falls, so every id is the one a row-by-row write gives. A failure rolls
        the whole step's liquidations back and drops their events and the Hyperliquid cooldowns they
        started (the caller reports it)."""
        book = self.book
        rungs = self._partials.step_of(book)
        kept_events, cooldowns = len(self._events), self._partials.cooldowns()
        pending: list[tuple[int, float]] = []
        known: dict[int, tuple[PositionRecord, Decimal]] = {}  # whole liquidations: what the book now holds
        try:
            with self._writing(), self._alerts_known([]):
                for row, crossing in zip(rows.tolist(), prices.tolist(), strict=True):
                    if rungs.partial[row]:  # the rows before it are written first: ids stay in row order
                        self._liquidate_whole(pending, risk, clock, known)
                        pending = []
                        if self._partials.take(self, row, rungs, clock):  # the venue removes part of it
                            continue
                    pending.append((row, float(crossing)))
                self._liquidate_whole(pending, risk, clock, known)
        except BaseException:
            del self._events[kept_events:]  # rolled back: none of them happened
            self._partials.restore(cooldowns)
            raise
        self._alerts_kept = (self._book_version, *self._kept_after_write)
        # whole or partial: those rows only; the whole ones as written, the partial ones read back
        self.refresh_rows(book.info.position_ids[rows].tolist(), known=known)

    def _liquidate_whole(self, pending: Sequence[tuple[int, float]], risk: RiskArrays, clock: float,
                         known: dict[int, tuple[PositionRecord, Decimal]] | None = None) -> None:
        """Liquidate whole the rows of ``pending`` (row, crossing mark in quote per coin), in order, in
        the caller's transaction: their margins read in one pass, then ledger, journal and statuses
        written at once (:meth:`Store.liquidate_positions`), then an alert and event each.

        ``known`` receives, per position id, the record the store now holds and the margin
        :func:`~isodesk.desk.book.read_book` gives it (account currency, exact): what
        :meth:`refresh_rows` would read back (:func:`~isodesk.desk.book_rows.refreshed_book`).
        The figures of every row are taken as plain Python floats (``.tolist()``: the same doubles,
        formatted and written as their numpy scalars are), not one numpy scalar per row."""
        if not pending:
            return
        book = self.book
        rows = [row for row, _ in pending]
        records = [book.records[row] for row in rows]
        margins = self.store.position_margins(record.id for record in records)
        at = np.array(rows, dtype=np.intp)
        liq_prices = risk.liquidation_price[at].tolist()
        ratios = risk.margin_ratio[at].tolist()
        distances = risk.distance_frac[at].tolist()
        leverages = risk.effective_leverage[at].tolist()
        items = []
        for (_row, mark), record, liq, ratio, distance, leverage in zip(
                pending, records, liq_prices, ratios, distances, leverages, strict=True):
            margin = margins[record.id]
            before: dict[str, Any] = {}
            if margin > 0:
                before = {"mark": mark, "isolated_margin": float(margin), "liquidation_price": liq,
                          "margin_ratio": _finite_or_none(ratio), "distance_frac": distance,
                          "effective_leverage": _finite_or_none(leverage)}
            items.append(Liquidation(
                position_id=record.id, account_id=record.account_id, margin=margin, close_price=price_decimal(mark),
                memo=f"isolated liquidation at mark {mark:,.8g}", before=before,
                after={"mark": mark, "isolated_margin": 0.0}, reason="liquidated by the venue"))
        self.store.liquidate_positions(items, ts=clock)
        if known is not None:
            closed_at = float(clock)  # the REAL the status update wrote
            for item, record in zip(items, records, strict=True):
                known[record.id] = _liquidated_record(record, item.margin, item.close_price, closed_at)
        currencies = book.info.currencies
        levels = self._level[at].tolist()
        sound = self.settings.sound
        event = self._event
        for (row, mark), record, liq, level in zip(pending, records, liq_prices, levels, strict=True):
            message = (f"{record.label} LIQUIDATED at mark {mark:,.8g} (liquidation price "
                       f"{liq:,.8g}); lost its isolated margin {margins[record.id]} "
                       f"{currencies[row]}; no other position affected")
            event(_LIQUIDATION, row, "liquidated", _LABELS[level], clock, mark, message, sound=sound)

    # -- publishing ---------------------------------------------------------------------------------

    def _publish(self, risk: RiskArrays, clock: float, mark_ts: np.ndarray) -> Snapshot:
        book = self.book
        batch = book.batch
        cols = {name: np.array(getattr(risk, name), dtype=np.float64, copy=True) for name in (
            "mark", "notional", "unrealized_pnl", "margin_balance", "maintenance_margin", "margin_ratio",
            "liquidation_price", "bankruptcy_price", "distance_price", "distance_frac", "roe",
            "effective_leverage", "max_removable")}
        cols["mark_ts"] = mark_ts.copy()
        cols["isolated_margin"] = book.margin_values
        cols["quantity"] = book.quantities
        cols["venue_liquidation_price"] = book.venue_liquidation
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["reconcile_diff_pct"] = (cols["liquidation_price"] - book.venue_liquidation) / book.venue_liquidation \
                * 100.0
        cols["entry_price"] = batch.entry.copy()
        cols["leverage"] = batch.leverage.copy()
        cols.update(self._partials.columns(book))
        cols.update(self._funding.columns(self, book, risk, clock))
        own = self._row_marks.own if self._row_marks is not None else None
        cols.update(self._odds.columns(book, cols["mark"], cols["liquidation_price"], own, clock))
        if not (self.feed is not None and self.feed.clock_from_ticks):
            # a replay writes no odds alert: the odds move with every tick, and the fast replay
            # (desk.replay) plays only the instants where a level or a liquidation can change
            self._odds.judge(self, book, cols, self._level, clock)
        order = risk_order(self._level, cols["distance_frac"], book.open_rows)  # level first, then distance
        self.version += 1
        health = self.feed.health(clock) if self.feed is not None else _no_feed_health()
        return Snapshot(
            version=self.version, taken_at=time.monotonic(), clock=clock, step_started_at=self._step_started,
            book=book.info,
            cols=freeze_columns(cols), level=frozen(self._level.copy()), stale=frozen(self._stale.copy()),
            by_reference=frozen(self._by_reference()),
            order_by_risk=frozen(np.asarray(order, dtype=np.intp)), accounts=self._account_totals(risk),
            feed=health, last_tick_at=self._last_tick_at, paused=self.paused, thresholds=self.thresholds,
            reconcile_tolerance_pct=self.reconcile_tolerance_pct, writer=self.writer, writer_note=self.writer_note,
            failures=self.failures, last_failure=self.last_failure, catalog=self.catalog, settings=self.settings)

    def _by_reference(self) -> np.ndarray:
        """Per row: True where an open position is marked by a reference price (its venue's own has
        not arrived), False where by its venue's own price, by nothing, or closed."""
        marks = self._row_marks
        if marks is None or len(marks.own) != len(self.book):
            return np.zeros(len(self.book), dtype=bool)
        by_reference: np.ndarray = self.book.open_rows & ~marks.own & ~np.isnan(marks.mark)
        return by_reference

    def _account_totals(self, risk: RiskArrays) -> tuple[AccountTotals, ...]:
        """Per account: free balance, isolated margin of its open rows, unrealized PnL at ``risk``'s
        marks, equity and realized loss (account currency, floats for display)."""
        book = self.book
        margins = self._margin_sums
        if margins is None or margins[0] is not book:  # a book's margins change only with a new book
            margins = self._margin_sums = (book, {
                name: math.fsum(book.margin_values[rows].tolist()) if rows.size else 0.0
                for name, rows in book.account_rows.items()})
        totals = []
        for account, free, loss in self._accounts:
            rows = book.account_rows.get(account.name, np.zeros(0, dtype=np.intp))
            margin = margins[1].get(account.name, 0.0)
            upnl = float(np.nansum(risk.unrealized_pnl[rows])) if rows.size else 0.0
            totals.append(AccountTotals(
                name=account.name, venue=account.venue, currency=account.currency, free_balance=float(free),
                total_isolated_margin=margin, unrealized_pnl=upnl, equity=float(free) + margin + upnl,
                realized_loss=float(loss), open_positions=int(rows.size)))
        return tuple(totals)

    # -- commands -----------------------------------------------------------------------------------

    def apply(self, command: Command | ImportFromVenue | Any, *, origin: str = "") -> Result:
        """Validate and execute one command; accepted, or rejected with the reason.

        A book-changing command runs in one transaction together with the record of its answer
        under its request id: a request id already answered gets that answer again (``repeated``)
        and nothing is done twice. ``origin`` names the sender (``cli pid 123``) in that record.
        Nothing here liquidates: the figures are recomputed on the marks the desk already has.
        """
        spec = registry.spec_of(command)
        kind = type(command).__name__
        if spec is None:
            request_id = getattr(command, "request_id", "")
            return Result(request_id, False, f"unknown command {kind}", kind=kind, snapshot_version=self.version)
        if isinstance(command, ReplayPath):  # replayed off this thread on a copy; the outcome follows
            try:
                return replace(self._path_jobs.start(self, command), kind=kind)
            except CommandRejected as exc:
                return Result(command.request_id, False, str(exc), kind=kind, snapshot_version=self.version)
        if spec.mode == "read":
            result = (self._read_journal(command) if isinstance(command, ReadJournal)
                      else self._plan(command) if isinstance(command, PlanAllocation) else self._scenario(command))
            return replace(result, kind=kind)
        if isinstance(command, (ImportFromVenue, RefreshVenueRules)):  # read off-thread; step() writes, answers
            if self.observe_only:
                return self._refuse(command, kind, self._observer_reason())
            try:
                jobs = self._venue_jobs if isinstance(command, ImportFromVenue) else self._rules_refresh
                started = jobs.start(self, command)  # type: ignore[arg-type]
            except CommandRejected as exc:
                return self._refuse(command, kind, str(exc))
            return replace(started, kind=kind, reply=Reply.STARTED)
        if self.observe_only:
            return self._refuse(command, kind, self._observer_reason())
        self._step_started = time.monotonic()
        if spec.mode == "control":
            try:
                outcome = self._control(command)
            except CommandRejected as exc:
                return self._refuse(command, kind, str(exc))
            self.snapshot = self._recompute(self._now(), fresh=frozenset())
            return Result(command.request_id, True, outcome.message, kind=kind, snapshot_version=self.version)
        prior = command_log.find(self.store, command.request_id)
        if prior is not None and prior.state == command_log.DONE and prior.reply is not None:
            log.info("repeated %s %s: answered before", kind, command.request_id)
            return replace(registry.result_from_json(prior.reply, reply=Reply.REPEATED),
                           snapshot_version=self.version)
        if prior is not None and prior.state in (command_log.CANCELLED, command_log.EXPIRED):
            return self._refuse(command, kind, f"request {command.request_id} was {prior.state} before it ran; "
                                               "send it again with a new request id", record=False)
        ts = self._now()
        try:
            with self._writing():
                outcome = self._dispatch(command, ts)
                result = Result(command.request_id, True, outcome.message, ledger_entry_id=outcome.ledger_entry_id,
                                position_id=outcome.position_id, kind=kind, payload=outcome.payload)
                command_log.record_answer(self.store, request_id=command.request_id, kind=kind,
                                          body=registry.encode(command)[1], origin=origin or "app", ts=ts,
                                          accepted=True, reply=registry.result_to_json(result))
        except (CommandRejected, StoreError, ValueError, InvalidOperation) as exc:
            if isinstance(exc, StoreError):  # the store's own defence refused: the cache may be wrong
                self.refresh_from_store()
            return self._refuse(command, kind, str(exc), record=prior is not None)
        if outcome.book_changed:
            self.reload()
        else:
            self._accounts = self._read_accounts()
        if isinstance(command, SetThresholds | SetSettings):
            if isinstance(command, SetSettings) and any(k == "desk.stale_after_s" for k, _ in command.changes):
                self._stale_override = None
            self._take_settings(load_settings(self.store))  # in effect at once: levels, staleness, tolerance
        # the trader's own act is not a price that may turn back: its easing is reported at once
        if isinstance(command, SetThresholds | SetSettings):
            self._settle = frozenset(int(p) for p in self.book.info.position_ids)
        elif outcome.position_id is not None:
            self._settle = frozenset((outcome.position_id,))
        try:
            self.snapshot = self._recompute(self._now(), fresh=frozenset())
        finally:
            self._settle = frozenset()
        log.info("accepted %s %s from %s", kind, command.request_id, origin or "app")
        return replace(result, snapshot_version=self.version)

    def _observer_reason(self) -> str:
        return "this window only reads the book" + (f": {self.writer_note}" if self.writer_note else "")

    def _refuse(self, command: Any, kind: str, reason: str, *, record: bool = False) -> Result:
        """A rejection; ``record``: answer it in the queue too (a queued command's sender waits for it)."""
        self.rejected_commands += 1
        request_id = getattr(command, "request_id", "")
        log.info("rejected %s %s: %s", kind, request_id, reason)
        result = Result(request_id, False, reason, kind=kind, snapshot_version=self.version)
        if record:
            self._answer_queued(result, "", self._now())
        return result

    def _scenario(self, command: Any) -> Result:
        """Evaluate or keep a scenario; the answer (outcome, book, names) rides in ``payload``."""
        try:
            message, payload = scenario_jobs.handle(self, command, ts=self._now())
        except (CommandRejected, StoreError, ValueError) as exc:
            return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        return Result(command.request_id, True, message, snapshot_version=self.version, payload=payload)

    def _plan(self, command: PlanAllocation) -> Result:
        """An allocation plan computed on the book (:func:`~isodesk.desk.allocation.plan_request`)."""
        try:
            message, plan = plan_request(self, command)
        except (CommandRejected, StoreError, ValueError) as exc:
            return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        return Result(command.request_id, True, message, snapshot_version=self.version, payload=plan)

    def _read_journal(self, command: ReadJournal) -> Result:
        """Journal entries of one position, one account or all, in an accepted Result's ``payload``."""
        account_id = None
        if command.account is not None:
            account = self.store.account(command.account)
            if account is None:
                return Result(command.request_id, False, f"account: no account named {command.account!r}",
                              snapshot_version=self.version)
            account_id = account.id
        entries = self.store.journal(position_id=command.position_id, account_id=account_id)
        accounts = self.store.accounts()
        page = JournalPage(
            entries=tuple(entries),
            labels=MappingProxyType({r.id: r.label for r in self.store.positions(statuses=None)}),
            accounts=MappingProxyType({a.id: a.name for a in accounts}),
            currencies=MappingProxyType({a.id: a.currency for a in accounts}))
        return Result(command.request_id, True, f"{len(entries)} journal entries", position_id=command.position_id,
                      snapshot_version=self.version, payload=page)

    def _control(self, command: Command) -> operations.Outcome:
        """Pause or change the speed of the feed: the running desk only, nothing stored."""
        if isinstance(command, SetPaused):
            self.paused = command.paused
            # a replay with a speed must not jump ahead by the pause on resume
            hook = getattr(self.feed, "pause" if command.paused else "resume", None)
            if hook is not None:
                hook()
            return operations.Outcome("paused" if command.paused else "resumed")
        if isinstance(command, SetSpeed):
            if not (math.isfinite(command.speed) and command.speed > 0):
                raise CommandRejected(f"speed: {command.speed!r} must be a positive number")
            setter = getattr(self.feed, "set_speed", None)
            if setter is None:
                raise CommandRejected("this feed has no speed control")
            used = setter(command.speed)
            return operations.Outcome(f"speed {used if used is not None else command.speed:g}×")
        raise CommandRejected(f"unknown command {type(command).__name__}")

    def _dispatch(self, command: Command, ts: float) -> operations.Outcome:
        """Run one book-changing command inside the caller's transaction (raises CommandRejected)."""
        if isinstance(command, SetThresholds):
            try:
                thresholds = Thresholds(command.warning, command.danger, command.hysteresis)
            except ValueError as exc:
                raise CommandRejected(str(exc)) from None
            self.store.set_setting(THRESHOLDS_KEY, {"warning": thresholds.warning, "danger": thresholds.danger,
                                                    "hysteresis": thresholds.hysteresis})
            return operations.Outcome("thresholds saved")
        change: object = command  # SetSettings lives in desk.settings, outside the Command union
        if isinstance(change, SetSettings):
            new = apply_changes(self.settings, change.changes)  # SettingError (a ValueError): refused whole
            save_settings(self.store, self.settings, new)
            return operations.Outcome(describe_changes(self.settings, new))
        if isinstance(command, AcknowledgeAlert):
            self.store.acknowledge_alert(command.alert_id)
            return operations.Outcome("acknowledged")
        return operations.execute(self, command, ts=ts)

    def _take_settings(self, settings: DeskSettings) -> None:
        """Use the trader's settings (the book's ``settings`` table, :mod:`isodesk.desk.settings`)."""
        self.settings = settings
        self.thresholds = settings.thresholds
        self.stale_after_s = float(self._stale_override if self._stale_override is not None
                                   else settings.stale_after_s)
        self.reconcile_tolerance_pct = settings.reconcile_tolerance_pct
        self._odds.take_settings(settings.odds_half_life_s)

    # -- book ------------------------------------------------------------------------------------------

    def _read_accounts(self) -> list[tuple[Account, Decimal, Decimal]]:
        """Each account with its free balance and realized loss (exact), read once per book change."""
        return [(a, self.store.free_balance(a.id), self.store.realized_loss(a.id)) for a in self.store.accounts()]

    def _load(self) -> LoadedBook:
        self.catalog = catalog_for(self.store, self.catalog)  # the book's tier tables first, as they are now
        return read_book(self.store, self.catalog)  # open, liquidated and recently closed positions

    def reload(self) -> None:
        """Re-read the book from the store, carrying levels over by position id."""
        old_ids, old_stale = self.book.info.position_ids, self._stale
        self.book = self._load()
        self._follow_book()
        self._accounts = self._read_accounts()
        new_ids = self.book.info.position_ids
        self._track = self._track.carried(old_ids, new_ids, self.book.open_rows)  # new positions: unclassified
        carried = {int(pid): bool(st) for pid, st in zip(old_ids, old_stale, strict=True)}
        self._stale = np.array([carried.get(int(pid), False) for pid in new_ids], dtype=bool)

    def refresh_rows(self, position_ids: Sequence[int], *,
                     known: dict[int, tuple[PositionRecord, Decimal]] | None = None) -> None:
        """Re-read the positions ``position_ids`` after this desk changed them and no others (a
        liquidation, whole or partial): the book, levels and stale flags :meth:`reload` would give,
        without re-reading every position (:func:`~isodesk.desk.book_rows.refreshed_book`); the whole
        book when a row cannot be refreshed in place. ``known``: positions whose stored record and
        book margin this desk has just written itself (:meth:`_liquidate_whole`), taken as they are
        instead of read back."""
        book = refreshed_book(self.book, self.store, self.catalog, position_ids, known=known)
        if book is None:
            self.reload()
            return
        ids = book.info.position_ids
        self.book = book
        self._follow_book()
        self._accounts = self._read_accounts()
        self._track = self._track.carried(ids, ids, book.open_rows)  # rows no longer open: LIQUIDATED

    def refresh_from_store(self) -> Snapshot:
        """Re-read the book and the latest stored prices (another process may have written them);
        never liquidates."""
        self._take_stored_prices()
        self.reload()
        self.snapshot = self._recompute(self._now(), fresh=frozenset())
        return self.snapshot

    def recover(self, error: str) -> Snapshot:
        """After a failed step: count and keep the failure, re-read the book and prices from the file
        (the cache may be what failed), publish a snapshot that carries the failure, and an event."""
        self.failures += 1
        self.last_failure = error
        conn = self.store.db.conn
        if conn.in_transaction:
            conn.rollback()
        self._events.append(PositionEvent(
            kind=EventKind.FAILURE, position_id=0, label="desk", symbol="", level="danger", previous="",
            ts=self._now(), price=math.nan, message=f"desk step failed ({self.failures}): {error}; book reloaded"))
        return self.refresh_from_store()

    def market_price(self, venue: str, symbol: str) -> float | None:
        """The latest price that marks ``symbol`` on ``venue``: the venue's own, or the market's
        reference price until the venue's arrives (:mod:`isodesk.desk.marks`); None if none yet."""
        known = self._board.price(self._board.marking(venue, market_of(venue, symbol)))
        return None if known is None else float(known[1])

    def _series_text(self, row: int) -> str:
        """The price series that marks ``row``, for a message: ``BTCUSDT on hyperliquid`` or
        ``BTCUSDT (reference price)``."""
        book = self.book
        own = self._row_marks is not None and bool(self._row_marks.own[row])
        venue, market = book.series[int(book.series_index[row])]
        return _series_words(venue, market, own)

    def risk_of(self, position_id: int) -> dict[str, float] | None:
        """The latest snapshot's figures of one position (floats, NaN where none)."""
        row = self.snapshot.book.row_of(position_id)
        if row is None:
            return None
        return {name: float(arr[row]) for name, arr in self.snapshot.cols.items()}

    def note_event(self, event: PositionEvent) -> None:
        """Deliver ``event`` with the next :meth:`drain_events` (a command's own alerts)."""
        self._events.append(event)

    def drain_events(self) -> list[PositionEvent]:
        """Events since the last call, in order (level changes, liquidations, stale prices)."""
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        """Close the feed, any venue read and the store; drop the writer lock."""
        try:
            self._venue_jobs.close()
            self._rules_refresh.close()
            self._path_jobs.close()
            if self.feed is not None:
                self.feed.close()
            self.store.close()
        finally:
            self.release_writer_lock()

    def release_writer_lock(self) -> None:
        """Give up being the book's writer (the desk then only observes); ``close`` does it too."""
        if self._lock is not None:
            self.observe_only = True
            self.writer_note = self.writer_note or "this desk gave up the book"
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


#: The label of each level by its number (``Level(n).label`` without an enum call per alert).
_LABELS = tuple(level.label for level in Level)
#: the event kinds :meth:`Desk._event` tests (an ``EventKind.X`` look-up is an enum descriptor call)
_LIQUIDATION = EventKind.LIQUIDATION
_LEVEL, _ODDS, _SUMMARY, _STALE, _RECOVERED = (EventKind.LEVEL, EventKind.ODDS, EventKind.SUMMARY, EventKind.STALE,
                                               EventKind.RECOVERED)
#: a level by its number, and its label in capitals (the summaries' text), without an enum call per row
_LEVEL_OF = tuple(Level)
_DANGER = int(Level.DANGER)
_UPPER_LABELS = tuple(label.upper() for label in _LABELS)


def _summary_order(item: tuple[int, tuple[Level, float, float, str]]) -> tuple[Level, float]:
    """The order summaries are written in: by level (the least risky first), then by distance to
    liquidation (a fraction of the mark), the farthest first."""
    return item[1][0], -item[1][1]


#: the slots of an :class:`Alert`, in field order: :func:`_new_alert` fills them directly
_ALERT_SLOTS = tuple(getattr(Alert, f.name).__set__ for f in fields(Alert))


def _new_alert(alert_id: int, ts: float, position_id: int | None, level: str, kind: str, message: str,
               acknowledged: bool, count: int, previous: str | None, first_ts: float | None) -> Alert:
    """The :class:`Alert` its constructor gives for these fields (ts and first_ts in seconds),
    built slot by slot: a third of the frozen dataclass's ``__init__`` (the desk keeps one per
    alert it writes, thousands in a big step)."""
    alert: Alert = object.__new__(Alert)
    put_id, put_ts, put_position, put_level, put_kind, put_message, put_ack, put_count, put_previous, put_first = \
        _ALERT_SLOTS
    put_id(alert, alert_id)
    put_ts(alert, ts)
    put_position(alert, position_id)
    put_level(alert, level)
    put_kind(alert, kind)
    put_message(alert, message)
    put_ack(alert, acknowledged)
    put_count(alert, count)
    put_previous(alert, previous)
    put_first(alert, first_ts)
    return alert


@dataclass(slots=True)
class _AlertBatch:
    """Alerts of one write kept to be written together (:meth:`Store.write_alerts`): ``added`` rows
    take the ids ``next_id``, ``next_id + 1``… in order; ``repeated`` changes count on existing alerts."""

    next_id: int
    added: list[tuple[int, float, int | None, str, str, str, str | None]] = field(default_factory=list)
    repeated: list[tuple[float, str, str | None, str, int]] = field(default_factory=list)


def _liquidated_record(record: PositionRecord, held: Decimal, close_price: Decimal, closed_at: float
                       ) -> tuple[PositionRecord, Decimal]:
    """The record the store holds for ``record`` once :meth:`Store.liquidate_positions` has
    liquidated it whole (it held ``held``, account currency; ``close_price`` quote per coin,
    ``closed_at`` Unix s), and the margin :func:`~isodesk.desk.book.read_book` gives it, with the
    exponents their reads give: the ledger balance is ``held - held`` (``held`` moved out, one more
    term of the same exponent), the liquidation movements sum to ``0 + held`` when it held margin
    (:func:`~isodesk.desk.book.liquidated_margins`; an open position has no earlier ``liquidation``
    entry), else nothing moved and the margin is the balance, ``held``."""
    moved = held > 0
    balance = held - held if moved else held
    r = record  # every field named (a new field of PositionRecord fails here loudly), not dataclasses.replace
    after = PositionRecord(
        id=r.id, label=r.label, account_id=r.account_id, venue=r.venue, symbol=r.symbol, contract=r.contract,
        side=r.side, quantity=r.quantity, contract_size=r.contract_size, entry_price=r.entry_price,
        leverage=r.leverage, isolated_margin=balance, status="liquidated", opened_at=r.opened_at,
        closed_at=closed_at, close_price=close_price, venue_position_id=r.venue_position_id)
    return after, (Decimal(0) + held if moved else balance)


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _no_feed_health() -> FeedHealth:
    return FeedHealth(source="none", connected=False, last_tick_ts=None, last_tick_age_s=None, accepted=0,
                      rejected=0, rejected_by_reason={}, last_error=None, finished=False)


def _series_words(venue: str, market: str, own: bool) -> str:
    """A price series in a message: ``BTCUSDT on hyperliquid`` when ``own`` (the venue's own price),
    else ``BTCUSDT (reference price)``."""
    return f"{market} on {venue}" if own else f"{market} (reference price)"
