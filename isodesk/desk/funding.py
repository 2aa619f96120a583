"""The desk's funding: settle each funding payment by the venue's rule, and the funding columns.

At each step the desk hands its clock to :meth:`FundingDesk.settle`. Every funding quote the feed
gave at the previous step (:func:`~isodesk.feeds.base.funding_quotes`) whose funding time ``T`` has
now passed is settled, for every position of its series (``(venue, market)``; a quote with venue
``""`` serves the positions of the market whose venue quoted nothing) that was open before ``T``:

- the cash flow to the holder is ``−s · value · rate`` (:mod:`isodesk.margin.funding`), the value
  at the position's current mark (the mark at ``T`` is not kept; the next step's mark stands in),
  exact in ``Decimal``, rounded to :data:`~isodesk.margin.bounds.AMOUNT_DECIMALS` places against the
  holder (a payment up, a receipt down);
- it settles where the venue's rule says (:class:`~isodesk.margin.funding.Settles`): ``funding``
  ledger entries ``position:<id> → external`` / ``free:<acct> → external`` for what is paid,
  ``external → position:<id>`` / ``external → free:<acct>`` for what is received, each naming the
  position and the account, so the ledger's sum over all refs stays zero;
- what is taken never exceeds what the ref holds (the ledger never goes below zero): a payment
  beyond the margin and the free balance is recorded in full in ``funding.amount`` but moves only
  what there is (the venue would have liquidated such a position already);
- one row in ``funding`` per (position, ``T``), UNIQUE: the row and the entries are written in one
  transaction, and a payment already in the table is skipped, so a restart or a second process
  never settles one payment twice.

Settlement never liquidates (no venue liquidates inside its funding run; OKX's 2024 change
collects "even past the liquidation threshold, liquidation occurs only if balance remains
insufficient"): a position it pushes below maintenance is liquidated by the desk's next fresh
tick of its series, as any other.

A writing desk keeps the latest quote of each series in the book's ``funding_quotes`` table; a desk
without a feed (``isodesk status``) shows the next payment and the drift from it, and never settles
from it. A quote is only settled by a desk that saw it before its time: a desk (re)started after
``T`` does not settle ``T`` (it has no rate it can trust for it). Every funding time a jump of the
clock passes (a replay's path, a live desk's computer asleep) is settled with the last rate quoted
before it, at most :data:`MAX_TIMES_PER_STEP` per series and step.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import numpy as np

from isodesk.feeds.base import FundingQuote, funding_quotes
from isodesk.formats import fmt_money, fmt_pct
from isodesk.margin.bounds import AMOUNT_DECIMALS
from isodesk.margin.engine import RiskArrays
from isodesk.margin.funding import (
    funding_flow,
    funding_rule,
    liq_drift_pct_day,
    next_funding_ts,
    position_value,
    split_one,
)
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref
from isodesk.store.money import from_text, to_text

if TYPE_CHECKING:
    from isodesk.desk.book import LoadedBook
    from isodesk.desk.desk import Desk
    from isodesk.store import Store
    from isodesk.store.records import PositionRecord

log = logging.getLogger("isodesk.desk")

COLUMNS = ("funding_since_open", "next_funding_amount", "next_funding_ts", "liq_drift_pct_day")
_QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMALS)
MAX_TIMES_PER_STEP = 1000  # funding times one step settles per series at most (a replay jumping years)
#: The drift is solved again when a mark moved by more than this fraction since it was last solved
#: (or the book or a rate changed): solving it rebuilds the batch (~10 ms for 10,000 positions), and
#: a per-day figure shown to two decimals does not need every tick. Measured 2026-12-02.
DRIFT_MARK_TOLERANCE = 0.001
#: ... and at most once every this many seconds of desk clock for the same book and rates (a mark
#: moving by more only waits for it): at 10 ticks a second on a 10,000-position book the marks move
#: past the tolerance at nearly every step, and the solve took ~3 ms of a ~12 ms step. Measured 2026-12-02.
DRIFT_EVERY_S = 1.0


@dataclass(frozen=True, slots=True)
class Settlement:
    """One funding payment settled: ``amount`` (cash flow to the holder the rule charges, account
    currency, negative = paid), ``to_margin``/``to_free`` (what moved into, −: out of, the isolated
    margin and the free balance), at funding time ``ts`` (Unix s) with ``rate`` and ``price``."""

    position_id: int
    account_id: int
    ts: float
    rate: Decimal
    price: Decimal
    amount: Decimal
    to_margin: Decimal
    to_free: Decimal


def funding_amount(record: PositionRecord, price: Decimal, rate: Decimal) -> Decimal:
    """The funding cash flow to the holder of ``record`` for one payment, exact, in the account
    currency: ``−s · value · rate``, value ``quantity × price`` (linear) or ``quantity × contract_size
    / price`` (inverse), rounded to :data:`AMOUNT_DECIMALS` places against the holder."""
    sign = 1 if record.side == "long" else -1
    if record.contract == "inverse":
        value = record.quantity * (record.contract_size or Decimal(1)) / price
    else:
        value = record.quantity * price
    flow = -sign * value * rate
    return flow.quantize(_QUANTUM, rounding=ROUND_FLOOR)  # a payment rounds up, a receipt down


def settle_one(store: Store, record: PositionRecord, ts: float, rate: float, price: float,
               *, now: float) -> Settlement | None:
    """Settle the funding payment of ``record`` at funding time ``ts`` (Unix s) with ``rate``
    (fraction per interval) at ``price`` (quote per coin), in the caller's transaction: the
    ``funding`` row and its ledger entries. None when that payment is already in the table (a
    restart, another process) or the flow rounds to zero."""
    if store.db.conn.execute("SELECT 1 FROM funding WHERE position_id = ? AND ts = ?",
                             [record.id, float(ts)]).fetchall():
        return None
    rate_d, price_d = Decimal(repr(float(rate))), Decimal(repr(float(price)))
    amount = funding_amount(record, price_d, rate_d)
    if amount == 0:
        return None
    rule = funding_rule(record.venue)
    pos, free = position_ref(record.id), free_ref(record.account_id)
    to_margin, to_free = split_one(amount, store.balance(free), rule.settles)
    # never below zero: take no more than each ref holds (module docstring)
    if to_margin < 0:
        to_margin = -min(-to_margin, store.balance(pos))
    if to_free < 0:
        to_free = -min(-to_free, store.balance(free))
    store.db.conn.execute(
        "INSERT INTO funding (position_id, account_id, ts, rate, price, amount, to_margin, to_free, rule, settled_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [record.id, record.account_id, float(ts), to_text(rate_d), to_text(price_d), to_text(amount),
         to_text(to_margin), to_text(to_free), rule.settles.name, float(now)])
    memo = f"funding {rate_d} at {price_d} ({record.label}, funding time {ts:.0f})"
    for change, ref in ((to_margin, pos), (to_free, free)):
        if change < 0:
            store.transfer(-change, ref, EXTERNAL, kind="funding", ts=now, account_id=record.account_id,
                           position_id=record.id, memo=memo)
        elif change > 0:
            store.transfer(change, EXTERNAL, ref, kind="funding", ts=now, account_id=record.account_id,
                           position_id=record.id, memo=memo)
    return Settlement(record.id, record.account_id, float(ts), rate_d, price_d, amount, to_margin, to_free)


def funding_since_open(store: Store, position_ids: Iterable[int] | None = None, *,
                       into: dict[int, Decimal] | None = None, after_id: int = 0,
                       through_id: int | None = None) -> dict[int, Decimal]:
    """What funding moved for each position since it opened (account currency, exact; negative =
    paid): the sum of ``to_margin + to_free`` of its settlements. ``into``/``after_id``/``through_id``:
    add only the settlements with ``after_id < id ≤ through_id`` to the sums ``into`` (updated in place
    and returned)."""
    out: dict[int, Decimal] = {} if into is None else into
    try:
        rows = store.db.conn.execute("SELECT position_id, to_margin, to_free FROM funding WHERE id > ? AND id <= ?",
                                     [after_id, 2**62 if through_id is None else through_id]).fetchall()
    except sqlite3.OperationalError:  # a read-only book from before migration 0011: nothing settled
        return out
    wanted = None if position_ids is None else set(position_ids)
    for pid, to_margin, to_free in rows:
        if wanted is None or pid in wanted:
            out[pid] = out.get(pid, Decimal(0)) + from_text(to_margin) + from_text(to_free)
    return out


def last_settlement_id(store: Store) -> int:
    """The id of the newest settlement in ``funding`` (0: none, or a book from before migration 0011)."""
    try:
        return int(store.db.conn.execute("SELECT coalesce(max(id), 0) FROM funding").fetchall()[0][0])
    except sqlite3.OperationalError:
        return 0


def read_quotes(store: Store) -> dict[tuple[str, str], FundingQuote]:
    """The latest funding quote of each series a writing desk stored (``funding_quotes``), by (venue, market)."""
    try:
        rows = store.db.conn.execute(
            "SELECT venue, market, rate, next_ts, interval_s, ts FROM funding_quotes").fetchall()
    except sqlite3.OperationalError:  # a read-only book from before migration 0011: no quotes
        return {}
    return {(v, m): FundingQuote(v, m, float(r), float(t), float(i), float(ts)) for v, m, r, t, i, ts in rows}


def quote_of(quotes: Mapping[tuple[str, str], FundingQuote], venue: str, market: str) -> FundingQuote | None:
    """The quote that serves a position of ``venue`` in ``market``: its venue's own, else the market's
    (venue ``""``) re-timed on the venue's own grid; None without either."""
    own = quotes.get((venue, market))
    if own is not None:
        return own
    shared = quotes.get(("", market))
    if shared is None:
        return None
    interval = funding_rule(venue).interval_s
    return FundingQuote(venue, market, shared.rate, next_funding_ts(shared.ts, interval), interval, shared.ts)


class FundingDesk:
    """A desk's funding state: the quotes of the last step and the funding since open per position."""

    def __init__(self) -> None:
        self.quotes: dict[tuple[str, str], FundingQuote] = {}  # from the feed: settled when due
        self.stored: dict[tuple[str, str], FundingQuote] = {}  # from the book (desk without a feed): shown only
        self._kept: dict[tuple[str, str], tuple[float, float, float]] = {}  # what this desk last stored
        # (book, rates, marks, drift, desk clock of the solve)
        self._drift: tuple[LoadedBook, bytes, np.ndarray, np.ndarray, float] | None = None
        self._since: tuple[LoadedBook, np.ndarray] | None = None  # (the book it was read for, its column)
        self._sums: dict[int, Decimal] = {}  # funding since open per position id, through settlement _sums_id
        self._sums_id = 0
        self.settled = 0

    def settle(self, desk: Desk, clock: float) -> list[Settlement]:
        """Settle every payment due by ``clock`` (Unix s) from the quotes of the last step, then take
        the feed's new quotes. Writes nothing for an observing desk (it only takes the quotes).
        Returns the settlements made (their rows are refreshed in the desk's book)."""
        done: list[Settlement] = []
        if desk.writer and self.quotes and math.isfinite(clock):
            due = self._due(desk, clock)
            if due:
                with desk._writing():
                    for record, ts, rate, price in due:
                        settled = settle_one(desk.store, record, ts, rate, price, now=clock)
                        if settled is not None:
                            done.append(settled)
        if desk.feed is None:
            self.stored = read_quotes(desk.store)
        else:
            fresh = {q.key: q for q in funding_quotes(desk.feed, clock)}
            # a series the feed no longer quotes keeps its quote until that quote's time has passed
            self.quotes = fresh | {k: q for k, q in self.quotes.items() if k not in fresh and q.next_ts > clock}
            if desk.writer:
                self._keep(desk, fresh)
        if done:
            self.settled += len(done)
            self._since = None
            desk.refresh_rows(sorted({s.position_id for s in done}))
            log.info("funding: %d payment(s) settled at %s", len(done), clock)
        return done

    def _keep(self, desk: Desk, fresh: Mapping[tuple[str, str], FundingQuote]) -> None:
        """Store the quotes that changed (rate, time or interval) since this desk last stored them."""
        changed = [q for k, q in fresh.items() if self._kept.get(k) != (q.rate, q.next_ts, q.interval_s)]
        if not changed:
            return
        with desk._writing():
            desk.store.db.conn.executemany(
                "INSERT OR REPLACE INTO funding_quotes (venue, market, rate, next_ts, interval_s, ts) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(q.venue, q.symbol, repr(float(q.rate)), q.next_ts, q.interval_s, q.ts) for q in changed])
        self._kept.update({q.key: (q.rate, q.next_ts, q.interval_s) for q in changed})

    def _due(self, desk: Desk, clock: float) -> list[tuple[PositionRecord, float, float, float]]:
        """The payments due by ``clock`` (Unix s), in row order: (record, funding time in Unix s, rate
        per interval, price: the row's latest mark in quote per coin). The quote of each series is
        found once; only the open rows of a series whose quote is due are visited (a step with nothing
        due costs one pass over the series, not over the 10,000 rows: 38 ms a step before, 2026-12-02)."""
        book = desk.book
        quotes = [quote_of(self.quotes, venue, market) for venue, market in book.series]
        due_series = np.array([q is not None and q.next_ts <= clock for q in quotes], dtype=bool)
        if not due_series.any():
            return []
        out: list[tuple[PositionRecord, float, float, float]] = []
        marks = desk._marks()[0]  # the latest price of each row's series, ticks of this step included
        series_index = book.series_index
        for row in np.flatnonzero(book.open_rows & due_series[series_index]).tolist():
            record = book.records[row]
            quote = quotes[int(series_index[row])]
            if quote is None:  # never: its series is due
                continue
            price = float(marks[row])
            if not (math.isfinite(price) and price > 0):
                price = float(record.entry_price)
            ts, n = quote.next_ts, 0
            while ts <= clock and n < MAX_TIMES_PER_STEP:
                if record.opened_at < ts:
                    out.append((record, ts, quote.rate, price))
                ts += quote.interval_s
                n += 1
        return out

    def columns(self, desk: Desk, book: LoadedBook, risk: RiskArrays, clock: float = math.nan
                ) -> dict[str, np.ndarray]:
        """The snapshot's funding columns (float64 per row, NaN where none): ``funding_since_open``
        (account currency, negative = paid), ``next_funding_amount`` (the next payment at the current
        mark and rate, same sign), ``next_funding_ts`` (Unix s) and ``liq_drift_pct_day``
        (:func:`~isodesk.margin.funding.liq_drift_pct_day`, % of mark per day, + towards the mark).
        ``clock``: the desk's time (Unix s) that paces the drift's solves (:meth:`_drift_of`)."""
        n = len(book)
        if self._since is None or self._since[0] is not book:  # a settlement or a reload made a new book
            last = last_settlement_id(desk.store)
            if last != self._sums_id:  # only the settlements not yet summed are read
                if last < self._sums_id:  # another book file (never in one desk's life): start over
                    self._sums, self._sums_id = {}, 0
                funding_since_open(desk.store, into=self._sums, after_id=self._sums_id, through_id=last)
                self._sums_id = last
            sums = self._sums
            self._since = (book, np.array([float(sums.get(int(pid), 0)) for pid in book.info.position_ids],
                                          dtype=np.float64))
        since = self._since[1].copy()
        # per series (venue, market), then spread over the rows by their series index
        per_series = np.full((len(book.series), 4), np.nan)
        quotes = self.quotes or self.stored
        for k, (venue, market) in enumerate(book.series):
            quote = quote_of(quotes, venue, market)
            per_series[k, 3] = funding_rule(venue).settles
            if quote is not None:
                per_series[k, :3] = quote.rate, quote.next_ts, quote.interval_s
        by_row = per_series[book.series_index] if n else np.full((0, 4), np.nan)
        closed = ~book.open_rows
        rate, next_ts, interval = (np.where(closed, np.nan, by_row[:, i]) for i in range(3))
        settles = by_row[:, 3].astype(np.int8)
        mark = np.array(risk.mark, dtype=np.float64, copy=True)
        amount = funding_flow(book.batch.side, position_value(book.batch, mark), rate)
        exact = desk.feed is not None and desk.feed.clock_from_ticks  # a replay: no figure from an earlier mark
        return {"funding_since_open": since, "next_funding_amount": amount, "next_funding_ts": next_ts,
                "liq_drift_pct_day": self._drift_of(book, mark, rate, interval, settles, exact=exact, clock=clock)}

    def _drift_of(self, book: LoadedBook, mark: np.ndarray, rate: np.ndarray, interval: np.ndarray,
                  settles: np.ndarray, *, exact: bool = False, clock: float = math.nan) -> np.ndarray:
        """:func:`liq_drift_pct_day` of the book (% of mark per day), solved again at once when the book,
        a rate or which rows have a mark changed, and when a mark moved by more than
        :data:`DRIFT_MARK_TOLERANCE` since the last solve once :data:`DRIFT_EVERY_S` seconds of desk
        ``clock`` passed since it (at once when ``clock`` is unknown). ``exact`` (a replay):
        solved at every mark while any rate is known, so the figure depends on the marks alone, not on
        which instants were stepped before (the fast replay steps fewer than the tick-by-tick desk)."""
        key = np.concatenate([rate, interval]).tobytes()
        cached = self._drift
        if exact and np.isfinite(rate).any():
            cached = None
        if cached is not None and cached[0] is book and cached[1] == key and len(mark) == len(cached[2]):
            with np.errstate(invalid="ignore", divide="ignore"):
                moved = np.abs(mark / cached[2] - 1.0)
            same = np.isnan(mark) == np.isnan(cached[2])
            recent = 0 <= clock - cached[4] < DRIFT_EVERY_S  # False for an unknown clock
            if same.all() and (recent or not (np.nan_to_num(moved, nan=0.0) > DRIFT_MARK_TOLERANCE).any()):
                return cached[3].copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            drift = liq_drift_pct_day(book.batch, mark, rate, interval, settles, book.levels.liquidation_price) \
                if len(book) else np.zeros(0)
        self._drift = (book, key, mark, drift.copy(), clock)
        return drift


def fmt_until(seconds: float) -> str:
    """A time to come as the card says it: ``3 h 12 m``, ``12 m``, ``45 s``, ``now`` (≤ 0); ``—`` unknown."""
    if not math.isfinite(seconds):
        return "—"
    s = int(seconds)
    if s <= 0:
        return "now"
    if s < 60:
        return f"{s} s"
    hours, minutes = divmod(s // 60, 60)
    return f"{hours} h {minutes} m" if hours else f"{minutes} m"


def funding_text(cols: Mapping[str, np.ndarray], row: int, currency: str, clock: float, *,
                 short: bool = False) -> str:
    """The funding line of one snapshot row (``cols``: the snapshot's columns, ``clock`` its Unix time):
    ``funding −12.40 since open · next −1.20 in 3 h 12 m · liq moves +0.40 %/day towards mark``;
    the parts it has figures for only, "" when none (no funding column, nothing settled, no quote).
    ``short``: the card's second line, ``funding −12.40 · liq +0.40 %/day``. Amounts in ``currency``,
    negative = paid; the drift in % of the mark per day, + towards the mark."""
    if "funding_since_open" not in cols:
        return ""
    since = float(cols["funding_since_open"][row])
    amount = float(cols["next_funding_amount"][row])
    when = float(cols["next_funding_ts"][row])
    drift = float(cols["liq_drift_pct_day"][row])
    parts = []
    if since != 0 and math.isfinite(since):
        parts.append(f"funding {fmt_money(since, currency, signed=True)}" + ("" if short else " since open"))
    if math.isfinite(amount) and math.isfinite(when) and not short:
        parts.append(f"next {fmt_money(amount, currency, signed=True)} in {fmt_until(when - clock)}")
    if math.isfinite(drift) and round(drift, 2) != 0:
        if short:
            parts.append(f"liq {fmt_pct(drift, signed=True)}/day")
        else:
            parts.append(f"liq moves {fmt_pct(drift, signed=True)}/day "
                         f"{'towards' if drift > 0 else 'away from'} mark")
    return " · ".join(parts)
