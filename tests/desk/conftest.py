"""Fixtures for the desk: a store in tmp_path, a scripted feed, a manual clock."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.desk import Deposit, Desk, OpenPosition
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.store import Store
from tests.desk.fakes import ManualClock, ScriptedFeed


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def feed() -> ScriptedFeed:
    return ScriptedFeed()


@pytest.fixture
def catalog():
    return shipped_catalog()


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "book.db")
    yield s
    s.close()


@pytest.fixture
def make_desk(store, feed, clock, catalog):
    """A desk over the fixture store; call it to build (after seeding) with optional keyword args."""
    made = []

    def make(**kw):
        desk = Desk(store, kw.pop("feed", feed), catalog=catalog, clock=clock, **kw)
        made.append(desk)
        return desk

    yield make


@pytest.fixture
def two_btc_longs(make_desk, feed, clock):
    """A desk with 10,000 USDT free and two Binance BTCUSDT longs priced at 60,000."""
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    for label, qty, margin in (("tight", "0.5", "3000"), ("loose", "0.1", "2000")):
        result = desk.apply(OpenPosition(label=label, venue="binance-usdm", symbol="BTCUSDT", side="long",
                                         quantity=Decimal(qty), entry_price=Decimal("60000"),
                                         leverage=Decimal("10"), margin=Decimal(margin)))
        assert result.accepted, result.reason
    return desk


@pytest.fixture
def demo_store(tmp_path):
    s = open_book(tmp_path / "demo.db", demo=True, ts=1_700_000_000.0)
    yield s
    s.close()
