"""The venue rules in the app: the age of each venue's tables in the status bar (flagged past 7
days) and Account → Refresh venue rules, answered by the desk in the background."""

from __future__ import annotations

import math
import time

import pytest

from isodesk.desk.commands import Reply
from isodesk.desk.session import DeskConfig
from isodesk.ui.mainwindow import MainWindow, ui_settings
from isodesk.ui.rules_age import STALE_AFTER_S, age_text
from tests.desk.fakes import ScriptedFeed
from tests.venues.tier_servers import hyperliquid_server


@pytest.fixture
def window(qtbot, tmp_path):
    feed = ScriptedFeed()
    config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20, feed_factory=lambda store: feed)
    win = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme="light")
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    with qtbot.waitSignal(win.snapshot_applied, timeout=5000):
        win.start()
    yield win
    win.close()
    assert win.controller.thread.isFinished()


def test_age_text_rounds_to_the_largest_unit():
    assert [age_text(s) for s in (5, 61, 3 * 3600 + 5, 9 * 86_400, float("nan"))] == ["now", "1 min", "3 h",
                                                                                      "9 d", "undated"]


def test_status_bar_shows_each_venues_rules_age_and_the_refresh_replaces_the_shipped_snapshot(qtbot, window):
    window._refresh_status()
    text = window.rules_label.text().strip()
    # the demo holds binance-usdm, bybit and hyperliquid positions on shipped snapshots: older than a week
    # (binance-usdm, bybit) or undated (Hyperliquid's published table), so every one is flagged
    assert text.startswith("rules: binance-usdm ") and " · bybit " in text
    assert text.endswith(" · hyperliquid undated (shipped) ⚠")
    assert text.count("(shipped) ⚠") == 3
    assert "Refresh venue rules" in window.rules_label.toolTip()
    action = window.findChild(type(window.act_add), "refresh-rules")
    assert action is not None and action.shortcut().toString() == "Ctrl+Shift+U"

    server = hyperliquid_server()
    try:
        with qtbot.waitSignal(window.controller.result, timeout=20_000,
                              check_params_cb=lambda r: r.kind == "RefreshVenueRules" and r.reply != Reply.STARTED):
            window.refresh_venue_rules(base_url=server.url)
    finally:
        server.stop()
    message = window.statusBar().currentMessage()
    # every held venue was asked: the local server only speaks Hyperliquid; Binance needs keys
    assert message.startswith("venue rules — bybit: not refreshed · hyperliquid: 8 symbols stored · ")
    assert "binance-usdm: skipped" in message or "binance-usdm: not refreshed" in message  # no keys / no keyring
    assert message.endswith(" · 2 positions with new tiers (see Alerts)")  # BTC and ETH, the docs' example tables
    qtbot.waitUntil(lambda: window._last_snapshot.catalog.source("hyperliquid", "linear", "BTC").kind == "refresh",
                    timeout=5000)
    window._refresh_status()
    parts = dict(p.split(" ", 1) for p in window.rules_label.text().strip().removeprefix("rules: ").split(" · "))
    # the venue's answer (the docs' example) listed BTC and ETH only: SOL and DOGE stay on the shipped
    # table, and the oldest table in use is what the status bar shows
    assert parts["hyperliquid"] == "undated (shipped) ⚠"
    catalog = window._last_snapshot.catalog
    assert [catalog.source("hyperliquid", "linear", s).kind for s in ("BTC", "ETH", "SOL", "DOGE")] == [
        "refresh", "refresh", "shipped", "shipped"]
    assert parts["binance-usdm"].endswith("(shipped) ⚠")
    assert STALE_AFTER_S == 7 * 86_400
    assert time.time() - window._last_snapshot.catalog.source("hyperliquid", "linear", "BTC").at < 60


def test_a_venue_refreshed_for_every_held_symbol_reads_its_age_unflagged(demo_desk):
    from isodesk.store import Store
    from isodesk.store.tier_tables import save_tier_tables
    from isodesk.ui.rules_age import rules_ages, rules_text
    from isodesk.venues.tier_bodies import parse_tier_body

    held = sorted({s for v, s in zip(demo_desk.desk.book.info.venues, demo_desk.desk.book.info.symbols, strict=True)
                   if v == "hyperliquid"})
    meta = {"universe": [{"name": s, "szDecimals": 2, "maxLeverage": 20, "marginTableId": 20} for s in held],
            "marginTables": []}
    at = time.time() - 3 * 3600
    other = Store.open(demo_desk.store.path)  # as another process (the CLI) would
    try:
        save_tier_tables(other, parse_tier_body("hyperliquid", meta), "refresh", at)
    finally:
        other.close()
    snap = demo_desk.tick()  # the desk follows its file and reloads the tables
    ages = {a.venue: a for a in rules_ages(snap, snap.catalog, at + 3 * 3600 + 5)}
    assert ages["hyperliquid"].kind == "refresh" and not ages["hyperliquid"].stale
    assert ages["hyperliquid"].age_s == pytest.approx(3 * 3600 + 5)
    text, _ = rules_text(list(ages.values()))
    assert " · hyperliquid 3 h" in text and not text.endswith("⚠")


def test_the_account_strip_never_splits_a_figure_from_its_name(window):
    """A line of the account strip may break between two figures, never inside one."""
    window._refresh_totals(window._last_snapshot)
    html = window.totals_label.text()
    for name in ("free", "margin", "equity", "uPnL"):
        assert f"{name}&nbsp;" in html and f"{name} " not in html
    assert " │ " in html  # accounts may wrap between each other


def test_total_equity_in_usd_prices_coin_accounts_at_their_mark(demo_desk):
    from isodesk.ui.columns import total_equity_usd

    snap = demo_desk.tick({"BTCUSDT": 60_000.0})
    total, unpriced = total_equity_usd(snap)
    btc_rows = [r for r, c in enumerate(snap.book.currencies) if c == "BTC"]
    btc_price = float(snap.cols["mark"][btc_rows[0]])
    expected = sum(a.equity * (btc_price if a.currency == "BTC" else 1.0) for a in snap.accounts)
    assert {a.currency for a in snap.accounts} == {"USDT", "USDC", "BTC"}
    assert unpriced == [] and total == pytest.approx(expected, rel=1e-12)
    assert btc_price == pytest.approx(60_000.0)


def test_the_strip_ends_with_the_total_equity_in_usd(window):
    window._refresh_totals(window._last_snapshot)
    assert "<b>total&nbsp;equity</b>&nbsp;≈&nbsp;" in window.totals_label.text()


def test_rules_ages_walk_the_book_once_and_then_follow_the_clock(demo_desk, monkeypatch):
    """The oldest table per venue is found once per (book, catalog); a later call only moves the ages
    with the clock (the status bar asks every second; the walk is ~20 ms at 10,000 positions)."""
    import isodesk.ui.rules_age as rules_age

    snap = demo_desk.tick()
    monkeypatch.setattr(rules_age, "_cache", None)
    walked = []
    table_time = rules_age._table_time
    monkeypatch.setattr(rules_age, "_table_time", lambda *a: walked.append(a) or table_time(*a))
    first = rules_age.rules_ages(snap, snap.catalog, 1_800_000_000.0)
    looked_up = len(walked)
    assert looked_up and looked_up == len({(v, c, s) for v, c, s, st in zip(
        snap.book.venues, snap.book.contracts, snap.book.symbols, snap.book.statuses, strict=True) if st == "open"})
    later = rules_age.rules_ages(snap, snap.catalog, 1_800_000_000.0 + 3600.0)
    assert len(walked) == looked_up  # no second walk
    assert [a.venue for a in later] == [a.venue for a in first] and [a.kind for a in later] == [a.kind for a in first]
    for a, b in zip(first, later, strict=True):
        assert (math.isnan(a.age_s) and math.isnan(b.age_s)) or b.age_s == pytest.approx(a.age_s + 3600.0)
    # each age is the table's own: now minus its time (a shipped table: the midnight UTC of its date)
    for a in first:
        times = [table_time(snap.catalog, v, c, s) for v, c, s, st in zip(
            snap.book.venues, snap.book.contracts, snap.book.symbols, snap.book.statuses, strict=True)
            if st == "open" and v == a.venue]
        dated = [t[0] for t in times if t is not None]
        if all(math.isfinite(t) for t in dated):
            oldest = min(dated)
            assert a.age_s == pytest.approx(1_800_000_000.0 - oldest)
