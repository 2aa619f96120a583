"""The fast replay gives the tick-by-tick desk's events, alerts, ledger and summary, exactly.

The reference is the desk stepped one instant at a time over a :class:`ReplayFeed` (what
``isodesk replay --step`` does); the fast replay (:mod:`isodesk.desk.replay`) must agree with it on
every event (kind, position, levels, tick time, price, message, alert), on every row written to
the book (alerts, ledger, journal, statuses) and on the final snapshot, for random books and paths
with hysteresis, easing dwell, staleness gaps, bad rows, confirmed jumps, reference and venue
prices, and liquidations.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk import Desk
from isodesk.desk.book import read_book
from isodesk.desk.replay import ChunkGuard, FastReplay, InstantFeed
from isodesk.desk.replay.bands import distance_frac
from isodesk.desk.replay.source import opened
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import CsvChunks, SeriesTable
from isodesk.feeds.replay import ReplayFeed
from isodesk.margin.engine import mark_figures
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref
from tests.desk.fakes import ManualClock

T0 = 1_717_200_000.0
MARKETS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
VENUES = {"binance-usdm": ("binance-usdm:USDT", "USDT", {"BTCUSDT": "BTCUSDT", "ETHUSDT": "ETHUSDT"}),
          "hyperliquid": ("hyperliquid:USDC", "USDC", {"BTCUSDT": "BTC", "ETHUSDT": "ETH"})}
CATALOG = shipped_catalog()


def make_book(path: Path, positions, stored=(), levels=None):
    """A book with 10^6 free in each venue's account and ``positions``: (venue, market, side, leverage,
    margin fraction of notional, entry move) each; ``stored``: (ts, venue or "", market, price) rows;
    ``levels``: (warning, danger, hysteresis, dwell s, sound) settings."""
    store = Store.open(path)
    with store.transaction():
        if levels is not None:
            warning, danger, hysteresis, dwell, sound = levels
            store.set_setting("desk.thresholds", {"warning": warning, "danger": danger, "hysteresis": hysteresis})
            store.set_setting("levels.dwell_s", dwell)
            store.set_setting("alerts.sound", sound)
        accounts = {}
        for venue, (name, currency, _) in VENUES.items():
            account = store.create_account(name, venue, currency, ts=T0 - 10)
            store.transfer(Decimal(1_000_000), EXTERNAL, free_ref(account.id), kind="deposit", ts=T0 - 10,
                           account_id=account.id)
            accounts[venue] = account
        for i, (venue, market, side, leverage, margin_frac, entry_move) in enumerate(positions):
            entry = Decimal(repr(round(MARKETS[market] * (1 + entry_move), 2)))
            qty = (Decimal(2000) / entry).quantize(Decimal("0.001"))
            pid = store.insert_position(label=f"p{i}", account_id=accounts[venue].id, venue=venue,
                                        symbol=VENUES[venue][2][market], contract="linear", side=side, quantity=qty,
                                        contract_size=None, entry_price=entry, leverage=Decimal(leverage), ts=T0 - 5)
            margin = (qty * entry * Decimal(repr(margin_frac))).quantize(Decimal("0.01"))
            store.transfer(margin, EXTERNAL, position_ref(pid), kind="import", ts=T0 - 5, account_id=accounts[venue].id)
        if stored:
            store.insert_prices([(ts, market, price, venue or None) for ts, venue, market, price in stored])
    store.close()


def write_path(path: Path, rows, venue_column: bool) -> None:
    """Rows ``(ts, venue, symbol, price)``, or ``(ts, venue, symbol, price, funding_rate)`` (None: an
    empty cell) for a path with a ``funding_rate`` column."""
    funding = bool(rows) and len(rows[0]) == 5
    extra = ",funding_rate" if funding else ""

    def rate(row) -> str:
        return ("," + ("" if row[4] is None else str(row[4]))) if funding else ""

    if venue_column:
        text = f"ts,venue,symbol,price{extra}\n" + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]}{rate(r)}\n" for r in rows)
    else:
        text = f"ts,symbol,price{extra}\n" + "".join(f"{r[0]},{r[2]},{r[3]}{rate(r)}\n" for r in rows)
    path.write_text(text)


def _event_key(e):
    return (e.kind.value, e.position_id, e.label, e.symbol, e.level, e.previous, repr(e.ts), repr(e.price), e.message,
            e.alert_id, e.count, e.sound)


def _book_state(store: Store):
    db = store.db
    return {
        "alerts": db.execute("SELECT * FROM alerts ORDER BY id").fetchall(),
        "ledger": db.execute("SELECT * FROM ledger ORDER BY id").fetchall(),
        "journal": db.execute("SELECT * FROM journal ORDER BY id").fetchall(),
        "positions": db.execute("SELECT id, status, close_price, closed_at FROM positions ORDER BY id").fetchall(),
        "funding": db.execute("SELECT * FROM funding ORDER BY id").fetchall(),
    }


#: Columns fed by every tick (the volatility behind the odds of liquidation, desk.volatility): the fast
#: replay does not feed the ticks of the instants it skips, so they are not its claim.
ODDS_COLUMNS = ("sigma_distance", "liq_prob_1h", "liq_prob_24h")


def _snapshot_state(snap):
    cols = {k: [repr(float(x)) for x in v] for k, v in snap.cols.items() if k not in ODDS_COLUMNS}
    return {"cols": cols, "level": snap.level.tolist(), "stale": snap.stale.tolist(), "clock": repr(snap.clock),
            "accepted": snap.feed.accepted, "rejected": snap.feed.rejected,
            "by_reason": dict(snap.feed.rejected_by_reason), "statuses": snap.book.statuses,
            "by_reference": None if snap.by_reference is None else snap.by_reference.tolist()}


def assert_book_is_read_book(desk: Desk) -> None:
    """The desk's book (rows refreshed in place after liquidations) is the book read afresh, field by field."""
    mine, fresh = desk.book, read_book(desk.store, desk.catalog)
    assert mine.records == fresh.records and mine.margins == fresh.margins
    for name in mine.info.__dataclass_fields__:
        assert np.array_equal(getattr(mine.info, name), getattr(fresh.info, name)), name
    assert (mine.markets, mine.series) == (fresh.markets, fresh.series)
    assert mine.account_rows.keys() == fresh.account_rows.keys()
    assert all(np.array_equal(mine.account_rows[k], fresh.account_rows[k]) for k in mine.account_rows)
    for name in ("market_index", "series_index", "open_rows", "frozen_mark", "frozen_ts", "margin_values",
                 "quantities", "venue_liquidation"):
        assert np.asarray(getattr(mine, name)).tobytes() == np.asarray(getattr(fresh, name)).tobytes(), name
    for obj_mine, obj_fresh in ((mine.batch, fresh.batch), (mine.levels, fresh.levels)):
        for name in obj_mine.__dataclass_fields__:
            a, b = getattr(obj_mine, name), getattr(obj_fresh, name)
            if isinstance(a, np.ndarray):
                assert a.tobytes() == b.tobytes(), name
    assert [replace(p, tiers=None) for p in mine.positions] == [replace(p, tiers=None) for p in fresh.positions]


def run_step(db: Path, path: Path, stale_after: float):
    try:
        feed = ReplayFeed(path, speed=None)
    except FeedError as exc:
        return str(exc)
    store = Store.open(db)
    desk = Desk(store, feed, catalog=CATALOG, clock=ManualClock(T0 + 10 ** 6), stale_after_s=stale_after)
    events = list(desk.drain_events())
    while True:
        snap = desk.step()
        events += desk.drain_events()
        if snap.feed.finished:
            break
    out = ([_event_key(e) for e in events], _book_state(store), _snapshot_state(desk.snapshot),
           sorted((r.line, r.reason, r.detail) for r in feed.rejected_rows))
    assert_book_is_read_book(desk)
    desk.close()
    return out


def run_fast(db: Path, path: Path, stale_after: float, block_bytes: int = 1 << 21, book_at=None):
    table = SeriesTable()
    try:
        chunks = opened(lambda: CsvChunks(path, table, block_bytes=block_bytes), table, path.name)
    except FeedError as exc:
        return str(exc), {}
    store = Store.open(db)
    guard = ChunkGuard(table, feed_name=f"replay:{path.name}")
    feed = InstantFeed(f"replay:{path.name}", guard)
    desk = Desk(store, feed, catalog=CATALOG, clock=ManualClock(T0 + 10 ** 6), stale_after_s=stale_after)
    events = list(desk.drain_events())
    replay = FastReplay(desk, feed, guard, table,
                        book_instants=None if book_at is None else np.array(book_at, dtype=np.float64))
    events += list(replay.play(chunks))
    out = ([_event_key(e) for e in events], _book_state(store), _snapshot_state(desk.snapshot),
           sorted((r.line, r.reason, r.detail) for r in guard.rejected_rows))
    assert_book_is_read_book(desk)
    desk.close()
    return out, replay.stats


def compare(tmp_path, positions, rows, *, venue_column=True, stale_after=60.0, stored=(), block_bytes=1 << 21,
            levels=None, book_at=None):
    base = tmp_path / "base.db"
    for old in tmp_path.glob("*.db*"):
        old.unlink()
    make_book(base, positions, stored, levels)
    a, b = tmp_path / "step.db", tmp_path / "fast.db"
    shutil.copy(base, a)
    shutil.copy(base, b)
    path = tmp_path / "path.csv"
    write_path(path, rows, venue_column)
    expected = run_step(a, path, stale_after)
    got, stats = run_fast(b, path, stale_after, block_bytes, book_at)
    if isinstance(expected, str):  # the path is refused: in the same words, and nothing plays
        assert got == expected
        return expected, stats
    assert got[0] == expected[0], "events"
    assert got[1] == expected[1], "book"
    assert got[2] == expected[2], "snapshot"
    assert got[3] == expected[3], "rejected rows"
    return expected, stats


# -- random books and paths ------------------------------------------------------------------------

LEVELS = st.one_of(st.none(), st.tuples(
    st.sampled_from([(0.1, 0.03, 0.005), (0.05, 0.04, 0.02), (0.5, 0.2, 0.1), (0.02, 0.01, 0.0)]),
    st.sampled_from([0.0, 5.0, 120.0]), st.booleans()).map(lambda x: (*x[0], x[1], x[2])))


@st.composite
def books(draw):
    n = draw(st.integers(1, 8))
    out = []
    for _ in range(n):
        out.append((draw(st.sampled_from(list(VENUES))), draw(st.sampled_from(list(MARKETS))),
                    draw(st.sampled_from(["long", "short"])), draw(st.sampled_from([3, 5, 10, 20, 50])),
                    draw(st.sampled_from([0.03, 0.05, 0.1, 0.2, 0.34])), draw(st.floats(-0.05, 0.05))))
    return out


@st.composite
def paths(draw):
    """Random walks per series with gaps, jumps (confirmed and not), bad rows and out-of-order rows."""
    rows = []
    ts = T0
    last = {}
    series = draw(st.lists(st.sampled_from([("", "BTCUSDT"), ("", "ETHUSDT"), ("binance-usdm", "BTCUSDT"),
                                            ("hyperliquid", "BTCUSDT"), ("binance-usdm", "ETHUSDT"),
                                            ("hyperliquid", "ETHUSDT"), ("", "SOLUSDT")]),
                           min_size=1, max_size=5, unique=True))
    vol = draw(st.sampled_from([0.002, 0.01, 0.03]))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    for _ in range(draw(st.integers(1, 300))):
        ts += float(rng.choice([0, 1, 1, 1, 2, 5, 90, 400]))
        venue, market = series[int(rng.integers(len(series)))]
        base = last.get((venue, market), MARKETS.get(market, 150.0) * (1 + rng.normal(0, 0.002)))
        kind = rng.random()
        if kind < 0.02:
            price = base * float(rng.choice([0.3, 2.5]))  # a jump: confirmed if the next is near it
        elif kind < 0.03:
            price = "nan"
        elif kind < 0.035:
            rows.append((ts - 500, venue, market, base))  # out of order
            continue
        elif kind < 0.04:
            rows.append((ts, venue, "", base))  # unreadable
            continue
        else:
            price = base * float(np.exp(rng.normal(0, vol)))
        if not isinstance(price, str):
            price = round(price, 2)
            last[(venue, market)] = price
        rows.append((ts, venue, market, price))
    return rows


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(positions=books(), rows=paths(), stale_after=st.sampled_from([30.0, 60.0, 3600.0]),
       block=st.sampled_from([64, 512, 1 << 21]), venue_column=st.booleans(), levels=LEVELS,
       book_at=st.one_of(st.none(), st.lists(st.floats(T0 - 10, T0 + 3000), max_size=4)))
def test_the_fast_replay_gives_the_tick_by_tick_desks_events_and_book(tmp_path, positions, rows, stale_after, block,
                                                                      venue_column, levels, book_at):
    compare(tmp_path, positions, rows, stale_after=stale_after, block_bytes=block, venue_column=venue_column,
            levels=levels, book_at=book_at)


@st.composite
def funding_paths(draw):
    """:func:`paths` with a ``funding_rate`` column: mostly empty cells, some rates (paid and received,
    large enough to move liquidation prices), a few cells that are no rate (the row is malformed)."""
    rows = draw(paths())
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    share = draw(st.sampled_from([0.05, 0.3, 1.0]))
    stretch = draw(st.sampled_from([1.0, 30.0]))  # spread the path over hours: more funding times in it
    out = []
    for ts, *rest in rows:
        k = rng.random()
        rate = None if k >= share else ("abc" if k < 0.01 else float(rng.choice([0.0001, -0.0003, 0.002, -0.01, 0.0])))
        out.append((T0 + (ts - T0) * stretch, *rest, rate))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(positions=books(), rows=funding_paths(), stale_after=st.sampled_from([60.0, 3600.0]),
       block=st.sampled_from([64, 1 << 21]), venue_column=st.booleans(), levels=LEVELS)
def test_a_funding_path_settles_as_the_tick_by_tick_desk(tmp_path, positions, rows, stale_after, block, venue_column,
                                                         levels):
    """The same ``funding`` rows and ledger entries, events and final snapshot (funding columns included)."""
    compare(tmp_path, positions, rows, stale_after=stale_after, block_bytes=block, venue_column=venue_column,
            levels=levels)


def test_funding_over_a_day_settles_every_venues_payments_fast(tmp_path):
    """A day of one price a minute with rates changing on the way: Binance settles every 8 hours and
    Hyperliquid every hour (a payment that moves a liquidation price changes what follows), all of
    it as the tick-by-tick desk, in few desk steps."""
    positions = [("binance-usdm", "BTCUSDT", "long", 10, 0.1, 0.0), ("binance-usdm", "ETHUSDT", "short", 20, 0.05, 0.0),
                 ("hyperliquid", "BTCUSDT", "long", 20, 0.05, 0.0), ("hyperliquid", "ETHUSDT", "short", 5, 0.2, 0.0)]
    rng = np.random.default_rng(4)
    rows, price = [], dict(MARKETS)
    for i in range(24 * 60):
        for market in MARKETS:
            price[market] = round(price[market] * math.exp(rng.normal(0, 0.0004)), 2)
            rate = 0.003 if i == 0 else (-0.002 if i == 600 and market == "ETHUSDT" else None)
            rows.append((T0 + 60 * i, "", market, price[market], rate))
    expected, stats = compare(tmp_path, positions, rows, venue_column=False, stale_after=3600.0)
    times: dict[int, list[float]] = {}
    for row in expected[1]["funding"]:  # (id, position_id, account_id, ts, …)
        times.setdefault(row[1], []).append(row[3] - T0)
    closed = {pid: (status, at) for pid, status, _price, at in expected[1]["positions"]}
    # T0 is a multiple of 8 hours: Binance pays at T0 + 8 h and T0 + 16 h, Hyperliquid every hour
    assert times[1] == times[2] == [8 * 3600.0, 16 * 3600.0]
    for pid in (3, 4):
        last = 23 if closed[pid][0] == "open" else int((closed[pid][1] - T0) // 3600)
        assert times[pid] == [3600.0 * h for h in range(1, last + 1)], pid
    # the 0.3 % an hour the Hyperliquid long pays drags its liquidation price up until a tick meets it
    # at a funding time (settled first, then liquidated by the same instant's price)
    assert closed[3][0] == "liquidated" and (closed[3][1] - T0) % 3600 == 0
    assert stats["desk_steps"] < 80  # of 1,440 instants


def test_the_desk_plays_each_instant_where_the_book_may_change_by_itself(tmp_path):
    """Funding times and the like (``book_instants``): the desk steps the first instant reaching each
    (catch-up and instant), and the events stay the tick-by-tick desk's."""
    positions = [("binance-usdm", "BTCUSDT", "long", 5, 0.2, 0.0)]
    rows = [(T0 + i, "", "BTCUSDT", 60_000.0 + (i % 7)) for i in range(600)]
    _, quiet = compare(tmp_path, positions, rows)
    _, busy = compare(tmp_path, positions, rows, book_at=[T0 + 100.5, T0 + 100.7, T0 + 300, T0 + 10 ** 6])
    assert busy["desk_steps"] == quiet["desk_steps"] + 2  # at T0 + 101 (both times) and T0 + 300


def test_the_replays_distance_is_the_engines_to_the_bit(tmp_path):
    make_book(tmp_path / "b.db", [(v, m, s, lev, f, mv) for v in VENUES for m in MARKETS for s in ("long", "short")
                                  for lev, f, mv in ((5, 0.2, 0.01), (20, 0.05, -0.02), (50, 0.03, 0.0))])
    store = Store.open(tmp_path / "b.db")
    desk = Desk(store, None, catalog=CATALOG, clock=ManualClock(T0))
    book = desk.book
    rng = np.random.default_rng(5)
    for _ in range(20):
        mark = book.batch.entry * np.exp(rng.normal(0, 0.1, len(book)))
        risk = mark_figures(book.batch, mark, book.levels)
        mine = distance_frac(book.batch.side, mark, book.levels.liquidation_price)
        assert mine.tobytes() == risk.distance_frac.tobytes()
    desk.close()


def test_a_crash_liquidates_and_the_levels_ease_after_their_dwell(tmp_path):
    positions = [("binance-usdm", "BTCUSDT", "long", 10, 0.1, 0.0), ("binance-usdm", "BTCUSDT", "short", 10, 0.1, 0.0),
                 ("hyperliquid", "BTCUSDT", "long", 20, 0.05, 0.0)]
    rows = [(T0 + i, "", "BTCUSDT", round(60_000 * (1 - 0.002 * i), 2)) for i in range(60)]
    rows += [(T0 + 60 + i, "", "BTCUSDT", round(53_000 + 200 * i, 2)) for i in range(60)]
    expected, stats = compare(tmp_path, positions, rows)
    kinds = [e[0] for e in expected[0]]
    assert "liquidation" in kinds and "level" in kinds
    assert stats["judged"] > 0 and stats["desk_steps"] < 10


def test_a_quiet_series_turns_its_positions_stale_and_back(tmp_path):
    positions = [("hyperliquid", "ETHUSDT", "long", 5, 0.2, 0.0), ("binance-usdm", "BTCUSDT", "short", 5, 0.2, 0.0)]
    rows = [(T0 + i, "hyperliquid" if i < 30 or i > 200 else "binance-usdm", "ETHUSDT" if i < 30 or i > 200
             else "BTCUSDT", 3000.0 if i < 30 or i > 200 else 60_000.0) for i in range(300)]
    expected, _ = compare(tmp_path, positions, rows, stale_after=60.0)
    assert [e[0] for e in expected[0]].count("stale") >= 1 and "recovered" in [e[0] for e in expected[0]]


@pytest.mark.parametrize("venue_column", [True, False])
def test_stored_prices_mark_until_the_path_prices_the_series(tmp_path, venue_column):
    positions = [("hyperliquid", "BTCUSDT", "long", 10, 0.1, 0.0), ("binance-usdm", "ETHUSDT", "short", 10, 0.1, 0.0)]
    stored = [(T0 - 100, "hyperliquid", "BTCUSDT", 59_000.0), (T0 - 100, "", "ETHUSDT", 2_950.0)]
    rows = [(T0 + i, "binance-usdm", "ETHUSDT", 3000.0 + i) for i in range(50)]
    rows += [(T0 + 50 + i, "", "BTCUSDT", 57_000.0 - 10 * i) for i in range(50)]
    compare(tmp_path, positions, rows, stored=stored, venue_column=venue_column)


def test_no_tick_is_left_out_of_the_count(tmp_path):
    positions = [("binance-usdm", "BTCUSDT", "long", 5, 0.2, 0.0)]
    rows = [(T0 + i // 3, "", "BTCUSDT", 60_000.0 + (i % 7)) for i in range(3000)]
    expected, stats = compare(tmp_path, positions, rows, block_bytes=300)
    assert expected[2]["accepted"] == 3000 and stats["desk_steps"] <= 2
    assert math.isclose(float(expected[2]["clock"]), T0 + 999)



# -- the What-if page's whole-path outcome (the fast replay as a desk job) ----------------------------


def _step_reference(db: Path, path: Path, stale_after: float):
    """Per position id, the smallest distance to liquidation over the tick-by-tick desk's marks while
    open: every snapshot's (from the book's own marks at the start), and at a liquidation the
    crossing price at the liquidation price it met (the paths below have one tick a series an instant,
    so a step's marks are its ticks)."""
    store = Store.open(db)
    desk = Desk(store, ReplayFeed(path, speed=None), catalog=CATALOG, stale_after_s=stale_after)
    worst: dict[int, float] = {}

    def take(snap, rows):
        for row in rows:
            pid, d = int(snap.book.position_ids[row]), float(snap.cols["distance_frac"][row])
            if not math.isnan(d) and (pid not in worst or d < worst[pid]):
                worst[pid] = d

    snap = desk.snapshot
    take(snap, np.flatnonzero(np.array(snap.book.statuses) == "open"))
    while True:
        before = snap
        snap = desk.step()
        for e in desk.drain_events():
            if e.kind.value == "liquidation":
                row = before.book.row_of(e.position_id)
                side = np.array([1.0 if before.book.sides[row] == "long" else -1.0])
                d = float(distance_frac(side, np.array([e.price]),
                                        np.array([float(before.cols["liquidation_price"][row])]))[0])
                worst[e.position_id] = min(worst.get(e.position_id, d), d)
        take(snap, np.flatnonzero(np.array(snap.book.statuses) == "open"))
        if snap.feed.finished:
            break
    desk.close()
    return worst


def test_the_what_if_path_outcome_is_the_step_replays(tmp_path, capsys):
    """Who is liquidated when (and at what price) and the first crossings into WARNING and DANGER
    equal what ``isodesk replay --step --json`` prints; the worst distances equal the tick-by-tick
    desk's marks."""
    from isodesk.cli import main
    from isodesk.desk.replay.outcome import path_outcome

    positions = [(v, m, s, lev, f, mv) for v in VENUES for m in MARKETS for s in ("long", "short")
                 for lev, f, mv in ((5, 0.2, 0.01), (10, 0.1, -0.01), (20, 0.05, 0.0))]
    rng = np.random.default_rng(11)
    rows, price = [], {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
    for i in range(400):  # a fall of ~12 %, then a rise of ~12 %, one tick a market a second
        for market in MARKETS:
            drift = -0.0006 if i < 200 else 0.0006
            price[market] = round(price[market] * math.exp(drift + rng.normal(0, 0.002)), 2)
            rows.append((T0 + i, "", market, price[market]))
    make_book(tmp_path / "base.db", positions)
    for name in ("cli.db", "ref.db", "job.db"):
        shutil.copy(tmp_path / "base.db", tmp_path / name)
    path = tmp_path / "path.csv"
    write_path(path, rows, venue_column=False)

    assert main(["replay", str(path), "--db", str(tmp_path / "cli.db"), "--step", "--json",
                 "--stale-after", "60"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = [e for e in printed if "event" in e]
    summary = next(e["summary"] for e in printed if "summary" in e)

    store = Store.open(tmp_path / "job.db")
    outcome = path_outcome(store, [path], stale_after_s=60.0)
    store.close()

    assert list(outcome.events) == events  # the same events, in the same order
    by_label = {p.label: p for p in outcome.positions}
    liquidations = {e["label"]: (e["ts"], e["price"]) for e in events if e["event"] == "liquidation"}
    assert len(liquidations) >= 3 and len(liquidations) < len(positions)
    assert {p.label: (p.liquidated_ts, p.liquidated_price) for p in outcome.liquidated} == liquidations
    assert {p["label"]: p["status"] for p in summary["positions"]} == {p.label: p.status for p in outcome.positions}
    rank = {"safe": 0, "warning": 1, "danger": 2}
    for label, fate in by_label.items():
        rises = [e for e in events if e["label"] == label and e["event"] == "level"
                 and rank.get(e["level"], -1) > rank.get(e["previous"], -1)]
        assert fate.first_warning_ts == next((e["ts"] for e in rises if rank[e["level"]] >= 1), None), label
        assert fate.first_danger_ts == next((e["ts"] for e in rises if e["level"] == "danger"), None), label
    assert any(p.first_danger_ts is not None and p.liquidated_ts is None for p in outcome.positions)

    reference = _step_reference(tmp_path / "ref.db", path, 60.0)
    assert {p.position_id: p.worst_distance for p in outcome.positions} == reference
    assert all((p.worst_distance <= 0) == (p.liquidated_ts is not None) for p in outcome.positions)


# -- reading ahead ------------------------------------------------------------------------------------


def test_read_ahead_gives_the_chunks_in_order_and_an_error_in_its_place():
    import threading

    from isodesk.desk.replay.source import read_ahead

    reader = []

    def chunks():
        for i in range(7):
            reader.append(threading.current_thread().name)
            yield i
        raise FeedError("path.csv: not UTF-8 text (invalid start byte)")

    got = []
    with pytest.raises(FeedError, match="not UTF-8"):
        for chunk in read_ahead(chunks(), depth=2):
            got.append(chunk)
    assert got == list(range(7))
    assert set(reader) == {"isodesk-replay-read-ahead"}  # parsed in a thread of its own


def test_leaving_a_read_ahead_stops_its_thread_and_closes_the_source():
    import itertools
    import threading

    from isodesk.desk.replay.source import read_ahead

    closed = threading.Event()

    def chunks():
        try:
            yield from itertools.count()
        finally:
            closed.set()

    ahead = read_ahead(chunks(), depth=2)
    assert next(ahead) == 0 and next(ahead) == 1
    ahead.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "isodesk-replay-read-ahead"]
