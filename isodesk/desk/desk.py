"""The risk desk: owns the book, the feed and the engine, and is the only writer of the database.

``step(now)`` takes the feed's new ticks, stores them, recomputes every position in one engine
call, moves risk levels (with hysteresis), liquidates positions whose mark has reached their
liquidation price (alone: no other position and no free balance changes) and publishes an
immutable :class:`Snapshot`. ``apply(command)`` validates and executes one command in one
transaction and answers accepted or rejected with the reason. No Qt here: the worker thread,
a test or the command line drives it the same way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

import numpy as np

from isodesk.desk import operations, scenario_jobs
from isodesk.desk.book import LoadedBook, load_book
from isodesk.desk.commands import (
    AcknowledgeAlert,
    Command,
    CommandRejected,
    JournalPage,
    ReadJournal,
    Result,
    SetPaused,
    SetSpeed,
    SetThresholds,
)
from isodesk.desk.events import EventKind, PositionEvent
from isodesk.desk.levels import Level, Thresholds, classify
from isodesk.desk.scenario_jobs import SCENARIO_COMMANDS
from isodesk.desk.snapshot import AccountTotals, Snapshot, freeze_columns, frozen
from isodesk.desk.venue_jobs import ImportFromVenue, VenueJobs
from isodesk.feeds.base import Feed, FeedHealth, Tick
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import RiskArrays, mark_figures
from isodesk.margin.markets import market_of
from isodesk.store import Account, Store, StoreError
from isodesk.store.ledger import pnl_ref, position_ref
from isodesk.venues.reconcile import DEFAULT_TOLERANCE_PCT, TOLERANCE_KEY

log = logging.getLogger("isodesk.desk")

DEFAULT_STALE_AFTER_S = 60.0
THRESHOLDS_KEY = "desk.thresholds"
STALE_KEY = "desk.stale_after_s"


def price_decimal(price: float) -> Decimal:
    """A float price as the shortest exact Decimal that prints the same (no binary noise)."""
    return Decimal(repr(float(price)))


class Desk:
    """The headless risk desk. Not thread-safe: one thread owns it (the worker, or the CLI).

    ``observe_only`` makes a desk that reads and recomputes but never writes (``isodesk status``
    beside a running app): no alerts, no liquidations, no stored ticks, no commands.
    """

    def __init__(self, store: Store, feed: Feed | None, *, catalog: TierCatalog,
                 clock: Callable[[], float] = time.time, stale_after_s: float | None = None,
                 observe_only: bool = False):
        self.store = store
        self.observe_only = observe_only
        self.feed = feed
        self.catalog = catalog
        self._clock = clock
        saved = store.get_setting(THRESHOLDS_KEY)
        self.thresholds = Thresholds(**saved) if saved else Thresholds()
        self.stale_after_s = float(stale_after_s if stale_after_s is not None
                                   else store.get_setting(STALE_KEY, DEFAULT_STALE_AFTER_S))
        self.reconcile_tolerance_pct = float(store.get_setting(TOLERANCE_KEY, DEFAULT_TOLERANCE_PCT))
        self.paused = False
        self.version = 0
        self.rejected_commands = 0
        self._events: list[PositionEvent] = []
        self._late_results: list[Result] = []
        self._venue_jobs = VenueJobs()
        self._market_price: dict[str, float] = {}
        self._market_ts: dict[str, float] = {}
        for symbol, (ts, price) in store.latest_prices().items():
            self._market_price[symbol], self._market_ts[symbol] = price, ts
        self._last_clock: float | None = None
        self._last_tick_at: float | None = None
        self._step_started = time.monotonic()
        self.book = self._load()
        self._accounts = self._read_accounts()
        self._level = np.zeros(len(self.book), dtype=np.int8)
        self._stale = np.zeros(len(self.book), dtype=bool)
        self._level[~self.book.open_rows] = Level.LIQUIDATED
        self._initial_levels = True
        self.snapshot: Snapshot = self._recompute(self._now())

    # -- the tick ---------------------------------------------------------------------------------

    def step(self, now: float | None = None) -> Snapshot:
        """Take new ticks, store them, recompute, move levels, liquidate, publish a snapshot."""
        self._step_started = time.monotonic()
        wall = self._clock() if now is None else now
        ticks: list[Tick] = []
        if self.feed is not None and not self.paused:
            ticks = self.feed.poll(wall)
        if ticks:
            self._take_ticks(ticks)
            self._last_tick_at = wall
        clock = wall
        if self.feed is not None and self.feed.clock_from_ticks:
            clock = self._last_clock if self._last_clock is not None else wall
        self._late_results.extend(self._venue_jobs.finish(self, ts=clock))
        self.snapshot = self._recompute(clock)
        return self.snapshot

    def drain_results(self) -> list[Result]:
        """Final results of background jobs (venue imports) finished since the last call."""
        results, self._late_results = self._late_results, []
        return results

    def _take_ticks(self, ticks: Sequence[Tick]) -> None:
        if not self.observe_only and (self.feed is None or not self.feed.writes_prices_table):
            self.store.insert_prices([(t.ts, t.symbol, t.price) for t in ticks],
                                     source=self.feed.name if self.feed else "")
        for t in ticks:
            self._market_price[t.symbol] = t.price
            self._market_ts[t.symbol] = t.ts
        latest = max(t.ts for t in ticks)
        self._last_clock = latest if self._last_clock is None else max(self._last_clock, latest)

    def _now(self) -> float:
        return self._last_clock if (self.feed is not None and self.feed.clock_from_ticks
                                    and self._last_clock is not None) else self._clock()

    def _marks(self) -> tuple[np.ndarray, np.ndarray]:
        book = self.book
        prices = np.array([self._market_price.get(m, math.nan) for m in book.markets], dtype=np.float64)
        stamps = np.array([self._market_ts.get(m, math.nan) for m in book.markets], dtype=np.float64)
        mark = prices[book.market_index] if len(book) else np.zeros(0)
        ts = stamps[book.market_index] if len(book) else np.zeros(0)
        closed = ~book.open_rows
        mark[closed], ts[closed] = book.frozen_mark[closed], book.frozen_ts[closed]
        return mark, ts

    def _recompute(self, clock: float) -> Snapshot:
        book = self.book
        mark, mark_ts = self._marks()
        risk = mark_figures(book.batch, mark, book.levels)
        open_rows = book.open_rows
        stale = open_rows & (np.isnan(mark) | ~(clock - mark_ts <= self.stale_after_s))
        live = open_rows & ~stale
        previous = self._level
        level = previous.copy()
        level[live] = classify(risk.distance_frac[live], previous[live], self.thresholds)
        crossed = np.flatnonzero(live & (risk.distance_frac <= 0))
        if self.observe_only:
            crossed = crossed[:0]
        else:
            self._record_transitions(level, stale, risk, clock)
        self._level, self._stale = level, stale
        if crossed.size:
            self._liquidate(crossed, risk, clock)
            return self._recompute(clock)
        return self._publish(risk, clock, mark_ts)

    # -- levels, alerts, liquidation ------------------------------------------------------------

    def _record_transitions(self, level: np.ndarray, stale: np.ndarray, risk: RiskArrays, clock: float) -> None:
        book = self.book
        if self._initial_levels:  # levels found at start-up are the book's state, not crossings
            self._initial_levels = False
            return
        changed = np.flatnonzero((level != self._level) & book.open_rows)
        went_stale = np.flatnonzero(stale & ~self._stale)
        recovered = np.flatnonzero(~stale & self._stale & book.open_rows)
        if not (changed.size or went_stale.size or recovered.size):
            return
        with self.store.transaction():
            for row in changed:
                new, old = Level(int(level[row])), Level(int(self._level[row]))
                verb = "rose" if new > old else "eased"
                message = (f"{book.info.labels[row]} {verb} to {new.label.upper()}: "
                           f"{risk.distance_frac[row] * 100:.2f} % from liquidation at "
                           f"{risk.liquidation_price[row]:,.6g} (mark {risk.mark[row]:,.6g})")
                self._event(EventKind.LEVEL, int(row), new.label, old.label, clock, float(risk.mark[row]), message)
            for row in went_stale:
                message = f"{book.info.labels[row]}: no fresh price for {book.markets[book.market_index[row]]}"
                self._event(EventKind.STALE, int(row), "stale", Level(int(level[row])).label, clock,
                            float(risk.mark[row]), message)
            for row in recovered:
                message = f"{book.info.labels[row]}: prices flow again"
                self._event(EventKind.RECOVERED, int(row), Level(int(level[row])).label, "stale", clock,
                            float(risk.mark[row]), message)

    def _event(self, kind: EventKind, row: int, level: str, previous: str, clock: float, price: float,
               message: str) -> None:
        info = self.book.info
        position_id = int(info.position_ids[row])
        alert_id = self.store.add_alert(ts=clock, position_id=position_id, level=level, kind=kind.value,
                                        message=message)
        self._events.append(PositionEvent(kind=kind, position_id=position_id, label=info.labels[row],
                                          symbol=info.symbols[row], level=level, previous=previous, ts=clock,
                                          price=price, message=message, alert_id=alert_id))
        log.info("%s", message)

    def _liquidate(self, rows: np.ndarray, risk: RiskArrays, clock: float) -> None:
        """Liquidate each row alone: status, its whole margin to the venue, an alert. One transaction."""
        book = self.book
        with self.store.transaction():
            for row in rows:
                record = book.records[row]
                mark = float(risk.mark[row])
                self.store.set_position_status(record.id, "liquidated", ts=clock, close_price=price_decimal(mark))
                margin = book.margins[row]
                if margin > 0:
                    entry = self.store.transfer(margin, position_ref(record.id), pnl_ref(record.account_id),
                                                kind="liquidation", ts=clock, account_id=record.account_id,
                                                memo=f"isolated liquidation at mark {mark:,.8g}")
                    self.store.add_journal(
                        ts=clock, position_id=record.id, account_id=record.account_id, ledger_id=entry,
                        kind="liquidation", amount=margin,
                        before={"mark": mark, "isolated_margin": float(margin),
                                "liquidation_price": float(risk.liquidation_price[row]),
                                "margin_ratio": _finite_or_none(risk.margin_ratio[row]),
                                "distance_frac": float(risk.distance_frac[row]),
                                "effective_leverage": _finite_or_none(risk.effective_leverage[row])},
                        after={"mark": mark, "isolated_margin": 0.0}, reason="liquidated by the venue")
                message = (f"{record.label} LIQUIDATED at mark {mark:,.8g} (liquidation price "
                           f"{risk.liquidation_price[row]:,.8g}); lost its isolated margin {margin} "
                           f"{book.info.currencies[row]}; no other position affected")
                self._event(EventKind.LIQUIDATION, int(row), "liquidated", Level(int(self._level[row])).label,
                            clock, mark, message)
        self.reload()

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
        key = np.where(np.isnan(cols["distance_frac"]), np.inf, cols["distance_frac"])
        key = np.where(book.open_rows, key, np.inf)
        order = np.lexsort((~book.open_rows, key)) if len(book) else np.zeros(0, dtype=np.intp)
        self.version += 1
        health = self.feed.health(clock) if self.feed is not None else _no_feed_health()
        return Snapshot(
            version=self.version, taken_at=time.monotonic(), clock=clock, step_started_at=self._step_started,
            book=book.info,
            cols=freeze_columns(cols), level=frozen(self._level.copy()), stale=frozen(self._stale.copy()),
            order_by_risk=frozen(np.asarray(order, dtype=np.intp)), accounts=self._account_totals(risk),
            feed=health, last_tick_at=self._last_tick_at, paused=self.paused, thresholds=self.thresholds,
            reconcile_tolerance_pct=self.reconcile_tolerance_pct)

    def _account_totals(self, risk: RiskArrays) -> tuple[AccountTotals, ...]:
        book = self.book
        totals = []
        for account, free, loss in self._accounts:
            rows = book.account_rows.get(account.name, np.zeros(0, dtype=np.intp))
            margin = math.fsum(book.margin_values[rows]) if rows.size else 0.0
            upnl = float(np.nansum(risk.unrealized_pnl[rows])) if rows.size else 0.0
            totals.append(AccountTotals(
                name=account.name, venue=account.venue, currency=account.currency, free_balance=float(free),
                total_isolated_margin=margin, unrealized_pnl=upnl, equity=float(free) + margin + upnl,
                realized_loss=float(loss), open_positions=int(rows.size)))
        return tuple(totals)

    # -- commands -----------------------------------------------------------------------------------

    def apply(self, command: Command) -> Result:
        """Validate and execute one command in one transaction; accepted, or rejected with the reason."""
        if isinstance(command, ReadJournal):  # a read: no transaction, no recompute, allowed when observing
            return self._read_journal(command)
        if isinstance(command, SCENARIO_COMMANDS):  # what-if work: never changes the book
            return self._scenario(command)
        if isinstance(command, ImportFromVenue):  # read off-thread; step() writes it and answers again
            try:
                return self._venue_jobs.start(self, command)
            except CommandRejected as exc:
                return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        if self.observe_only:
            return Result(command.request_id, False, "this desk only observes the book", snapshot_version=self.version)
        self._step_started = time.monotonic()
        try:
            outcome = self._dispatch(command)
        except CommandRejected as exc:
            self.rejected_commands += 1
            log.info("rejected %s %s: %s", type(command).__name__, command.request_id, exc)
            return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        except (StoreError, ValueError, InvalidOperation) as exc:
            self.rejected_commands += 1
            log.info("rejected %s %s: %s", type(command).__name__, command.request_id, exc)
            return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        self.snapshot = self._recompute(self._now())
        log.info("accepted %s %s", type(command).__name__, command.request_id)
        return Result(command.request_id, True, outcome.message, ledger_entry_id=outcome.ledger_entry_id,
                      position_id=outcome.position_id, snapshot_version=self.version)

    def _scenario(self, command: Command) -> Result:
        """Evaluate or keep a scenario; the answer (outcome, book, names) rides in ``payload``."""
        try:
            message, payload = scenario_jobs.handle(self, command, ts=self._now())
        except (CommandRejected, StoreError, ValueError) as exc:
            return Result(command.request_id, False, str(exc), snapshot_version=self.version)
        return Result(command.request_id, True, message, snapshot_version=self.version, payload=payload)

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

    def _dispatch(self, command: Command) -> operations.Outcome:
        if isinstance(command, SetThresholds):
            try:
                thresholds = Thresholds(command.warning, command.danger, command.hysteresis)
            except ValueError as exc:
                raise CommandRejected(str(exc)) from None
            self.store.set_setting(THRESHOLDS_KEY, {"warning": thresholds.warning, "danger": thresholds.danger,
                                                    "hysteresis": thresholds.hysteresis})
            self.thresholds = thresholds
            return operations.Outcome("thresholds saved")
        if isinstance(command, AcknowledgeAlert):
            self.store.acknowledge_alert(command.alert_id)
            return operations.Outcome("acknowledged")
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
        outcome = operations.execute(self, command, ts=self._now())
        if outcome.book_changed:
            self.reload()
        else:
            self._accounts = self._read_accounts()
        return outcome

    # -- book ------------------------------------------------------------------------------------------

    def _read_accounts(self) -> list[tuple[Account, Decimal, Decimal]]:
        """Each account with its free balance and realized loss (exact), read once per book change."""
        return [(a, self.store.free_balance(a.id), self.store.realized_loss(a.id)) for a in self.store.accounts()]

    def _load(self) -> LoadedBook:
        records = self.store.positions(statuses=("open", "liquidated"))
        liquidated = {r.id for r in records if r.status == "liquidated"}
        margins: dict[int, Decimal] = {}
        if liquidated:
            for entry in self.store.ledger():
                if entry.kind == "liquidation" and entry.position_id in liquidated:
                    margins[entry.position_id] = margins.get(entry.position_id, Decimal(0)) + entry.amount
        venue_liq = {pid: float(r.venue_liquidation_price) for pid, r in self.store.latest_venue_reports().items()
                     if r.venue_liquidation_price is not None}
        return load_book(records, self.store.accounts(), self.catalog, margins, venue_liq)

    def reload(self) -> None:
        """Re-read the book from the store, carrying levels over by position id."""
        old_ids, old_level, old_stale = self.book.info.position_ids, self._level, self._stale
        self.book = self._load()
        self._accounts = self._read_accounts()
        carried = {int(pid): (lvl, st) for pid, lvl, st in zip(old_ids, old_level, old_stale, strict=True)}
        self._level = np.array([carried.get(int(pid), (Level.SAFE, False))[0] for pid in self.book.info.position_ids],
                               dtype=np.int8)
        self._stale = np.array([carried.get(int(pid), (0, False))[1] for pid in self.book.info.position_ids],
                               dtype=bool)
        self._level[~self.book.open_rows] = Level.LIQUIDATED

    def refresh_from_store(self) -> Snapshot:
        """Re-read the book and the latest stored prices (another process may have written them)."""
        for symbol, (ts, price) in self.store.latest_prices().items():
            if ts >= self._market_ts.get(symbol, -math.inf):
                self._market_price[symbol], self._market_ts[symbol] = price, ts
        self.reload()
        self.snapshot = self._recompute(self._now())
        return self.snapshot

    def market_price(self, venue: str, symbol: str) -> float | None:
        """The latest price of the market that marks ``symbol`` on ``venue`` (None if none yet)."""
        price = self._market_price.get(market_of(venue, symbol))
        return None if price is None else float(price)

    def risk_of(self, position_id: int) -> dict[str, float] | None:
        """The latest snapshot's figures of one position (floats, NaN where none)."""
        row = self.snapshot.book.row_of(position_id)
        if row is None:
            return None
        return {name: float(arr[row]) for name, arr in self.snapshot.cols.items()}

    def drain_events(self) -> list[PositionEvent]:
        """Events since the last call, in order (level changes, liquidations, stale prices)."""
        events, self._events = self._events, []
        return events

    def close(self) -> None:
        """Close the feed, any venue read and the store."""
        self._venue_jobs.close()
        if self.feed is not None:
            self.feed.close()
        self.store.close()


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _no_feed_health() -> FeedHealth:
    return FeedHealth(source="none", connected=False, last_tick_ts=None, last_tick_age_s=None, accepted=0,
                      rejected=0, rejected_by_reason={}, last_error=None, finished=False)
