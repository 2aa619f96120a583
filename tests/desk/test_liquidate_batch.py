"""The desk's liquidations written in batches (issue 13): the same random books and price moves give the
same file, row by row, and the same events as the per-row desk did; a write that fails in the middle
of a step keeps nothing of that step's liquidations and is reported; a position another process
closed is not liquidated."""

from __future__ import annotations

import random
import sqlite3
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from isodesk.desk import Deposit, Desk, EventKind, OpenPosition
from isodesk.desk.book import read_book
from isodesk.desk.desk import _finite_or_none, price_decimal
from isodesk.desk.levels import Level
from isodesk.desk.setup import shipped_catalog
from isodesk.margin.engine import RiskArrays
from isodesk.store import Store
from isodesk.store.db import copy_database
from isodesk.store.integrity import check_book
from isodesk.store.ledger import free_ref, pnl_ref, position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed
from tests.store.test_liquidation_batch import dump

CATALOG = shipped_catalog()
START = {"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}


class PerRowDesk(Desk):
    """The desk with ``_liquidate`` as it was before issue 13 (one store call after another per row)."""

    def _liquidate(self, rows: np.ndarray, risk: RiskArrays, clock: float, prices: np.ndarray) -> None:
        book = self.book
        rungs = self._partials.step_of(book)
        with self._writing():
            for row, crossing in zip(rows, prices, strict=True):
                if self._partials.take(self, int(row), rungs, clock):
                    continue
                record = book.records[row]
                mark = float(crossing)
                margin = self.store.balance(position_ref(record.id))
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
                self.store.set_position_status(record.id, "liquidated", ts=clock, close_price=price_decimal(mark))
                message = (f"{record.label} LIQUIDATED at mark {mark:,.8g} (liquidation price "
                           f"{risk.liquidation_price[row]:,.8g}); lost its isolated margin {margin} "
                           f"{book.info.currencies[row]}; no other position affected")
                self._event(EventKind.LIQUIDATION, int(row), "liquidated", Level(int(self._level[row])).label,
                            clock, mark, message, sound=self.settings.sound)
        self.refresh_rows(book.info.position_ids[rows].tolist())


def _random_book(path: Path, rng: random.Random) -> None:
    """Accounts on Binance (at once), Bybit and OKX (in steps) and positions of every size around the
    start prices, some large enough for a partial liquidation, some tight, some loose."""
    clock, feed = ManualClock(), ScriptedFeed()
    desk = Desk(Store.open(path), feed, catalog=CATALOG, clock=clock)
    try:
        for symbol, price in START.items():
            feed.push(symbol, price, clock.now)
        desk.step()
        for venue in ("binance-usdm", "bybit", "okx"):
            assert desk.apply(Deposit(Decimal("100000000"), account=f"{venue}:USDT")).accepted
        for i in range(rng.randint(20, 70)):
            venue = rng.choice(("binance-usdm", "bybit", "okx"))
            symbol = rng.choice(tuple(START))
            big = venue != "binance-usdm" and rng.random() < 0.35
            notional = rng.uniform(2_100_000, 6_000_000) if big else rng.uniform(1_000, 200_000)
            leverage = rng.choice((5, 10, 20, 25)) if not big else 10
            qty = Decimal(repr(round(notional / START[symbol], 3)))
            margin = (Decimal(repr(notional / leverage * rng.uniform(1.0, 1.6)))).quantize(Decimal("0.0001"))
            desk.apply(OpenPosition(label=f"p{i}", venue=venue, symbol=symbol, side=rng.choice(("long", "short")),
                                    quantity=qty, entry_price=Decimal(repr(START[symbol])),
                                    leverage=Decimal(leverage), margin=margin))  # a refused one is left out
        assert len(desk.store.positions()) >= 10
    finally:
        desk.close()


@pytest.mark.parametrize("seed", range(4))
def test_the_desk_writes_and_tells_what_the_per_row_desk_did(tmp_path, seed):
    rng = random.Random(seed)
    origin = tmp_path / "origin.db"
    _random_book(origin, rng)
    paths = {kind: tmp_path / f"{kind}.db" for kind in ("batch", "per_row")}
    desks = {}
    for kind, path in paths.items():
        copy_database(origin, path)
        cls = Desk if kind == "batch" else PerRowDesk
        desks[kind] = cls(Store.open(path), ScriptedFeed(), catalog=CATALOG, clock=ManualClock(1_700_000_100.0))
    try:
        prices = dict(START)
        liquidated = 0
        for _ in range(6):  # moves of up to ±12 %, each market its own way
            moves = {symbol: price * (1 + rng.uniform(-0.12, 0.12)) for symbol, price in prices.items()}
            prices = moves
            events = {}
            for kind, desk in desks.items():
                desk._clock.advance(1.0)  # type: ignore[attr-defined]
                for symbol, price in moves.items():
                    desk.feed.push(symbol, price, desk._clock.now)  # type: ignore[union-attr,attr-defined]
                desk.step()
                events[kind] = desk.drain_events()
            assert events["batch"] == events["per_row"]
            liquidated += sum(e.kind is EventKind.LIQUIDATION for e in events["batch"])
            assert dump(paths["batch"]) == dump(paths["per_row"])
            # the rows re-read after the liquidations are the book read whole (isodesk.desk.book_rows)
            desk = desks["batch"]
            whole = read_book(desk.store, desk.catalog)
            assert (desk.book.records, desk.book.margins) == (whole.records, whole.margins)
            assert desk.book.info.statuses == whole.info.statuses
            assert np.array_equal(desk.book.margin_values, whole.margin_values)
            assert np.array_equal(desk.book.open_rows, whole.open_rows)
        assert liquidated > 0  # the moves did liquidate (whole and, on Bybit and OKX, in part)
    finally:
        for desk in desks.values():
            desk.close()
    report = check_book(paths["batch"])
    assert report.ok, report.findings


@pytest.fixture
def five_longs(tmp_path):
    """A Binance book of five BTC longs at 60,000 (10×), liquidated by a drop to 50,000."""
    path = tmp_path / "book.db"
    clock, feed = ManualClock(), ScriptedFeed()
    desk = Desk(Store.open(path), feed, catalog=CATALOG, clock=clock)
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("100000"), account="binance-usdm:USDT")).accepted
    for i in range(5):
        assert desk.apply(OpenPosition(label=f"long{i}", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                       quantity=Decimal("0.1"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                       margin=Decimal(f"{600 + i}.25"))).accepted
    desk.drain_events()
    yield desk, feed, clock, path
    desk.close()


@pytest.mark.parametrize("failing", [
    "BEFORE INSERT ON ledger",
    "BEFORE INSERT ON journal",
    "BEFORE UPDATE ON positions WHEN NEW.label = 'long3'",
    "BEFORE INSERT ON alerts WHEN NEW.kind = 'liquidation'",
])
def test_a_write_failing_in_the_middle_keeps_nothing_of_the_step(five_longs, failing):
    desk, feed, clock, path = five_longs
    before = dump(path)
    desk.store.db.conn.execute(f"CREATE TEMP TRIGGER fail {failing} BEGIN SELECT RAISE(ABORT, 'injected'); END")
    feed.push("BTCUSDT", 50_000.0, clock.advance(1))
    with pytest.raises(sqlite3.IntegrityError, match="injected") as failed:
        desk.step()
    # the worker's answer to a failed step (isodesk.ui.worker.DeskWorker._failed_step)
    snapshot = desk.recover(f"{failed.type.__name__}: {failed.value}")
    events = desk.drain_events()
    # the level changes before it were written in their own transaction; no liquidation is told
    assert [e.kind for e in events] == [EventKind.LEVEL] * 5 + [EventKind.FAILURE]
    assert "injected" in events[-1].message
    assert snapshot.failures == 1 and snapshot.last_failure == "IntegrityError: injected"
    after = dump(path)
    assert after["ledger"] == before["ledger"] and after["journal"] == before["journal"]
    assert after["positions"] == before["positions"]
    assert not [row for row in after["alerts"] if "liquidation" in row]
    assert set(snapshot.book.statuses) == {"open"}
    assert check_book(path).ok
    # once the fault is gone, the next fresh tick liquidates each of them once
    desk.store.db.conn.execute("DROP TRIGGER temp.fail")
    feed.push("BTCUSDT", 49_900.0, clock.advance(1))
    desk.step()
    events = desk.drain_events()
    assert sorted(e.label for e in events if e.kind is EventKind.LIQUIDATION) == [f"long{i}" for i in range(5)]
    with Store.open(path) as fresh:
        entries = [e for e in fresh.ledger() if e.kind == "liquidation"]
        assert sorted(e.amount for e in entries) == [Decimal(f"{600 + i}.25") for i in range(5)]
        assert fresh.realized_loss(entries[0].account_id) == sum((Decimal(f"{600 + i}.25") for i in range(5)),
                                                                 Decimal(0))
        assert sum(fresh.balances().values(), Decimal(0)) == 0
        assert {p.status for p in fresh.positions(None)} == {"liquidated"}


def test_a_position_closed_by_another_process_is_not_liquidated(five_longs):
    desk, feed, clock, path = five_longs
    with Store.open(path) as other:  # another program, as the ledger allows it: margin out, then the status
        closed = other.position_by_label("long2")
        assert closed is not None
        with other.transaction():
            other.transfer(closed.isolated_margin, position_ref(closed.id), free_ref(closed.account_id),
                           kind="release", ts=clock.now, account_id=closed.account_id)
            other.set_position_status(closed.id, "closed", ts=clock.now, close_price=Decimal("59000"))
    feed.push("BTCUSDT", 50_000.0, clock.advance(1))
    desk.step()
    events = desk.drain_events()
    assert sorted(e.label for e in events if e.kind is EventKind.LIQUIDATION) == ["long0", "long1", "long3", "long4"]
    with Store.open(path) as fresh:
        kinds = [e.kind for e in fresh.ledger(position_id=closed.id)]
        assert kinds[-1] == "release" and "liquidation" not in kinds
        assert fresh.position(closed.id).status == "closed"
        assert sum(fresh.balances().values(), Decimal(0)) == 0


def test_a_rolled_back_partial_liquidation_starts_no_cooldown(tmp_path):
    """Hyperliquid: a 20 % chunk whose step failed never happened, so the next crossing within 30 s
    takes a chunk again (with the cooldown kept, it would take the whole position)."""
    path = tmp_path / "book.db"
    clock, feed = ManualClock(), ScriptedFeed()
    desk = Desk(Store.open(path), feed, catalog=CATALOG, clock=clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("1000000"), account="hyperliquid:USDC")).accepted
        assert desk.apply(OpenPosition(label="whale", venue="hyperliquid", symbol="BTC", side="long",
                                       quantity=Decimal("10"), entry_price=Decimal("60000"), leverage=Decimal("20"),
                                       margin=Decimal("30000"))).accepted
        whale = desk.store.position_by_label("whale")
        assert whale is not None
        liq = desk.risk_of(whale.id)["liquidation_price"]
        desk.store.db.conn.execute("CREATE TEMP TRIGGER fail BEFORE INSERT ON alerts WHEN NEW.kind = 'liquidation' "
                                   "BEGIN SELECT RAISE(ABORT, 'injected'); END")
        feed.push("BTCUSDT", liq - 1.0, clock.advance(1))
        with pytest.raises(sqlite3.IntegrityError, match="injected"):
            desk.step()
        desk.recover("IntegrityError: injected")
        assert desk.store.position(whale.id).quantity == Decimal("10")
        desk.store.db.conn.execute("DROP TRIGGER temp.fail")
        feed.push("BTCUSDT", liq - 2.0, clock.advance(5))
        desk.step()
        after = desk.store.position(whale.id)
        assert (after.status, after.quantity) == ("open", Decimal("8"))
    finally:
        desk.close()
