"""Hyperliquid through the real ccxt client against recorded /info answers: marks and a read-only import."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from isodesk.desk.venue_sync import import_from_venue
from isodesk.feeds.live import LiveFeed
from isodesk.venues import MalformedResponse
from isodesk.venues.keys import save_credentials
from isodesk.venues.registry import venue_spec
from tests.venues.conftest import WALLET


def test_hyperliquid_marks_flow(hyperliquid):
    feed = LiveFeed("hyperliquid", ["BTCUSDT", "ETHUSDT"], base_url=hyperliquid.url, interval_s=0.05)
    try:
        ticks = []
        deadline = time.monotonic() + 10
        while {t.symbol for t in ticks} != {"BTCUSDT", "ETHUSDT"} and time.monotonic() < deadline:
            ticks += feed.poll(time.time())
            time.sleep(0.02)
        assert {t.symbol: t.price for t in ticks} == {"BTCUSDT": 94215.0, "ETHUSDT": 3350.4}
        assert feed.health(time.time()).connected
    finally:
        feed.close()


def test_hyperliquid_import_reads_the_wallet_without_a_private_key(hyperliquid, store, catalog):
    save_credentials(venue_spec("hyperliquid"), {"walletAddress": WALLET})
    report = import_from_venue(store, "hyperliquid", catalog, ts=1.0, base_url=hyperliquid.url)
    assert report.skipped == [("ETH", "cross margin")]
    (item,) = report.synced
    record = store.position(item.position_id)
    assert (record.venue, record.symbol, record.side, record.quantity, record.entry_price, record.leverage) == (
        "hyperliquid", "BTC", "long", Decimal("0.3"), Decimal("95000.0"), Decimal("10"))
    assert record.isolated_margin == Decimal("3000.0")  # marginUsed − unrealizedPnl
    assert store.account_by_id(record.account_id).currency == "USDC"
    assert item.reconciliation.venue_liquidation_price == 86080.0 and not item.reconciliation.flagged


def test_hyperliquid_malformed_leverage_is_refused(hyperliquid, store, catalog):
    save_credentials(venue_spec("hyperliquid"), {"walletAddress": WALLET})
    hyperliquid.state["clearinghouseState"]["assetPositions"][0]["position"]["leverage"] = "10x"
    with pytest.raises(MalformedResponse, match=r"position 1 \(BTC\): field 'leverage'"):
        import_from_venue(store, "hyperliquid", catalog, ts=1.0, base_url=hyperliquid.url)
    assert store.positions(statuses=None) == []
