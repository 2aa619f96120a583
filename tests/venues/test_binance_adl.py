"""Binance ADL quantile: read from the signed ``GET /fapi/v1/adlQuantile`` through the real ccxt client
on a local server; a failure of that call leaves the rank unknown and the import goes on."""

from __future__ import annotations

import logging

from isodesk.desk.venue_sync import import_from_venue
from tests.venues.conftest import API_KEY

TS = 1_735_689_600.0


def _ranks(store):
    reports = store.latest_venue_reports()
    return {store.position(pid).label: r.adl_rank for pid, r in reports.items()}


def test_quantile_of_each_isolated_position_is_its_adl_rank(binance, binance_keys, store, catalog):
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    # one-way mode: the "BOTH" key of each symbol (recorded answer: BTCUSDT 3, ETHUSDT 1)
    assert _ranks(store) == {"binance-usdm:BTCUSDT:long": 3, "binance-usdm:ETHUSDT:short": 1}
    calls = [r for r in binance.requests if r.path == "/fapi/v1/adlQuantile"]
    assert len(calls) == 1 and calls[0].method == "GET"
    assert calls[0].headers.get("X-MBX-APIKEY") == API_KEY and "signature" in calls[0].query  # signed


def test_hedge_mode_isolated_sides_read_long_and_short(binance, binance_keys, store, catalog, positions_body):
    for item, side in zip(positions_body[:2], ("LONG", "SHORT"), strict=True):
        item["positionSide"] = side
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    binance.route("GET", "/fapi/v1/adlQuantile", [
        {"symbol": "BTCUSDT", "adlQuantile": {"LONG": 4, "SHORT": 2, "BOTH": 0}},
        {"symbol": "ETHUSDT", "adlQuantile": {"LONG": 1, "SHORT": 2, "BOTH": 0}}])
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert _ranks(store) == {"binance-usdm:BTCUSDT:long": 4, "binance-usdm:ETHUSDT:short": 2}


def test_crossed_hedge_answer_is_not_taken_for_an_isolated_position(binance, binance_keys, store, catalog):
    binance.route("GET", "/fapi/v1/adlQuantile", [
        {"symbol": "BTCUSDT", "adlQuantile": {"LONG": 3, "SHORT": 3, "HEDGE": 0}}])
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert _ranks(store) == {"binance-usdm:BTCUSDT:long": None, "binance-usdm:ETHUSDT:short": None}


def test_a_failing_adl_call_leaves_the_rank_unknown_and_is_logged(binance, binance_keys, store, catalog, caplog):
    binance.route("GET", "/fapi/v1/adlQuantile", lambda q, b: (500, {"code": -1001, "msg": "Internal error"}))
    caplog.set_level(logging.WARNING, logger="isodesk")
    report = import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert [s.label for s in report.synced] == ["binance-usdm:BTCUSDT:long", "binance-usdm:ETHUSDT:short"]
    assert _ranks(store) == {"binance-usdm:BTCUSDT:long": None, "binance-usdm:ETHUSDT:short": None}
    logged = [r.getMessage() for r in caplog.records if "adlQuantile" in r.getMessage()]
    assert logged and "ADL ranks left unknown" in logged[0] and API_KEY not in logged[0]


def test_an_out_of_range_quantile_is_refused_as_a_whole_and_logged(binance, binance_keys, store, catalog, caplog):
    binance.route("GET", "/fapi/v1/adlQuantile", [{"symbol": "BTCUSDT", "adlQuantile": {"BOTH": 7}},
                                                  {"symbol": "ETHUSDT", "adlQuantile": {"BOTH": 1}}])
    caplog.set_level(logging.WARNING, logger="isodesk")
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert set(_ranks(store).values()) == {None}
    assert any("not a quantile" in r.getMessage() for r in caplog.records)
