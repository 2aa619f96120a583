"""The app's "Refresh venue rules": read off the desk thread, stored through the desk's own
StoreTierTables command, alerts on the held symbols whose table changed, figures recomputed."""

from __future__ import annotations

import time

import pytest

from isodesk.desk import Desk
from isodesk.desk.commands import Reply
from isodesk.desk.rules_refresh import RefreshVenueRules
from isodesk.desk.setup import shipped_catalog
from tests.venues.tier_servers import hyperliquid_server


def _final(desk: Desk, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desk.step()
        results = desk.drain_results()
        if results:
            return results
        time.sleep(0.02)
    raise AssertionError("the refresh never finished")


@pytest.fixture
def hl():
    server = hyperliquid_server()
    yield server
    server.stop()


def test_refresh_stores_the_venue_tables_and_alerts_on_changed_held_symbols(demo_store, hl):
    shipped = shipped_catalog()
    desk = Desk(demo_store, None, catalog=shipped)
    try:
        held = {r.symbol: r for r in demo_store.positions(("open",)) if r.venue == "hyperliquid"}
        assert {"BTC", "ETH"} <= set(held)
        before_liq = {s: desk.snapshot.cols["liquidation_price"][desk.book.row_of(r.id)] for s, r in held.items()}
        started = desk.apply(RefreshVenueRules(("hyperliquid",), base_url=hl.url))
        assert started.reply == Reply.STARTED and started.reason == "reading the rules of hyperliquid…"
        assert demo_store.db.conn.execute("SELECT COUNT(*) FROM tier_tables").fetchone()[0] == 0
        (final,) = _final(desk)
        assert final.request_id == started.request_id and final.accepted, final.reason
        assert final.reason.splitlines()[0].startswith("hyperliquid: 8 symbols stored (8 added: BTC, ETH")
        sources = demo_store.db.conn.execute("SELECT DISTINCT source FROM tier_tables").fetchall()
        assert sources == [("refresh",)]
        changed = {s for s in held if not shipped.table("hyperliquid", "linear", s).same_rows(
            desk.catalog.table("hyperliquid", "linear", s))}
        assert changed == {"BTC", "ETH"}  # the docs' example tables differ from the published mainnet ones
        alerts = [a for a in demo_store.alerts(limit=50) if a.kind == "tiers_changed"]
        assert {a.position_id for a in alerts} == {held[s].id for s in changed}
        for s in changed:  # the desk recomputed with the new table
            row = desk.book.row_of(held[s].id)
            assert desk.snapshot.cols["liquidation_price"][row] != pytest.approx(before_liq[s], rel=1e-9)
    finally:
        desk.close()


def test_refresh_refusals_are_immediate_and_a_dead_venue_answers_once(demo_store, hl):
    desk = Desk(demo_store, None, catalog=shipped_catalog())
    try:
        bad = desk.apply(RefreshVenueRules(("kraken",)))
        assert not bad.accepted and bad.reason.startswith("venue: 'kraken' has no tier tables to refresh")
        url = hl.url
        hl.stop()
        started = desk.apply(RefreshVenueRules(("hyperliquid",), base_url=url))
        assert started.accepted
        again = desk.apply(RefreshVenueRules(("hyperliquid",), base_url=url))
        assert not again.accepted and again.reason == "a refresh of the venues' rules is already running"
        (final,) = _final(desk)
        assert not final.accepted and final.reason.startswith("hyperliquid: not refreshed: ")
        assert demo_store.db.conn.execute("SELECT COUNT(*) FROM tier_tables").fetchone()[0] == 0
    finally:
        desk.close()
