"""A venue's positions pass the bounds every other input passes (:mod:`isodesk.margin.bounds`).

The recorded answers are copied and edited in memory (never the shared files): an absurd or
non-finite quantity, price, margin or leverage, or a symbol or id with control characters, is
refused naming the venue, the position's symbol and the field, and nothing reaches the book.
"""

from __future__ import annotations

import json

import pytest

from isodesk.desk.venue_sync import import_from_venue
from isodesk.venues import MalformedResponse
from isodesk.venues.keys import save_credentials
from isodesk.venues.registry import venue_spec
from tests.venues.conftest import WALLET

TS = 1_735_689_600.0


def _book(store):
    return store.positions(statuses=None), store.ledger(), store.venue_reports(), store.accounts()


def _refused(store, venue, url, catalog) -> MalformedResponse:
    before = _book(store)
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, venue, catalog, ts=TS, base_url=url)
    assert _book(store) == before  # nothing stored
    return info.value


# (field of position 1, BTCUSDT, set to value, the field named, words of the reason)
BINANCE_OUT_OF_BOUNDS = [
    ("positionAmt", "1000000000000000", "positionAmt", "more than 10^12"),
    ("positionAmt", "-0.000000001", "positionAmt", "more than 8 decimal places"),
    ("entryPrice", "1e13", "entryPrice", "outside the prices isodesk accepts"),
    ("entryPrice", "0.0000000000001", "entryPrice", "outside the prices isodesk accepts"),
    ("leverage", "5000", "leverage", "outside 1× to 200×"),
    ("leverage", "0.5", "leverage", "outside 1× to 200×"),
    ("isolatedWallet", "2000000000000", "isolatedWallet", "more than the largest amount"),
    ("isolatedWallet", "4750.000000001", "isolatedWallet", "more than 8 decimal places"),
    ("liquidationPrice", "1e20", "liquidationPrice", "outside the prices isodesk accepts"),
    ("markPrice", "1E-15", "markPrice", "outside the prices isodesk accepts"),
    ("symbol", "BTCUSDT\x1b[2J", "symbol", "control character"),
    ("symbol", "\u202eBTCUSDT", "symbol", "control character"),
    ("positionSide", "BOTH\x00", "positionSide", "control character"),
    ("positionSide", "B" * 65, "positionSide", "at most 64"),
]


@pytest.mark.parametrize(("name", "value", "field", "reason"), BINANCE_OUT_OF_BOUNDS,
                         ids=[f"{n}={v[:12]!r}" for n, v, _, _ in BINANCE_OUT_OF_BOUNDS])
def test_binance_positions_out_of_bounds_are_refused(binance, binance_keys, store, catalog, positions_body,
                                                     name, value, field, reason):
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)  # a book to keep intact
    positions_body[0][name] = value
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    error = _refused(store, "binance-usdm", binance.url, catalog)
    assert (error.venue, error.field) == ("binance-usdm", field)
    assert error.where.startswith("position 1 (") and "BTCUSDT" in error.where
    assert str(error).startswith("binance-usdm: malformed response: position 1 (") and f"field {field!r}" in str(error)
    assert reason in str(error)
    assert not any(c in str(error) for c in "\x1b\x00\u202e")  # shown escaped, never raw to a terminal


@pytest.mark.parametrize(("field", "value", "named"), [
    ("positionAmt", b'"NaN"', "positionAmt"), ("positionAmt", b'"Infinity"', "positionAmt"),
    ("entryPrice", b'"-Infinity"', "entryPrice"), ("leverage", b'"nan"', "leverage"),
    # a JSON number beyond float range: ccxt's parser refuses the whole body, which is refused as such
    ("positionAmt", b"1e400", "(body)"), ("isolatedWallet", b"-1e999", "(body)"),
])
def test_binance_non_finite_figures_are_refused(binance, binance_keys, store, catalog, positions_body, field, value,
                                                named):
    """A guard kept from before the bounds: non-finite numbers, as text or as JSON numbers."""
    positions_body[0][field] = "@@"
    body = json.dumps(positions_body).encode().replace(b'"@@"', value)
    binance.route("GET", "/fapi/v2/positionRisk", lambda q, b: (200, body))
    error = _refused(store, "binance-usdm", binance.url, catalog)
    assert (error.venue, error.field) == ("binance-usdm", named)
    assert "(BTCUSDT)" in error.where or named == "(body)"


@pytest.fixture
def hyperliquid_account(hyperliquid):
    save_credentials(venue_spec("hyperliquid"), {"walletAddress": WALLET})
    return hyperliquid


@pytest.mark.parametrize(("edit", "field", "reason"), [
    (lambda p: p.update(szi="20000000000000"), "szi", "more than 10^12"),
    (lambda p: p["leverage"].update(value=1000), "leverage.value", "outside 1× to 200×"),
    (lambda p: p["leverage"].update(value="NaN"), "leverage.value", "not a number"),
    (lambda p: p.update(entryPx="1e-13"), "entryPx", "outside the prices isodesk accepts"),
    (lambda p: p.update(marginUsed="5000000000000"), "marginUsed", "more than the largest amount"),
    (lambda p: p.update(liquidationPx="1e13"), "liquidationPx", "outside the prices isodesk accepts"),
    (lambda p: p.update(coin="BTC\x07"), "coin", "control character"),
], ids=["szi", "leverage", "leverage-nan", "entryPx", "marginUsed", "liquidationPx", "coin"])
def test_hyperliquid_positions_out_of_bounds_are_refused(hyperliquid_account, store, catalog, edit, field, reason):
    state = hyperliquid_account.state["clearinghouseState"]  # a copy, loaded for this test
    edit(state["assetPositions"][0]["position"])
    error = _refused(store, "hyperliquid", hyperliquid_account.url, catalog)
    assert (error.venue, error.field) == ("hyperliquid", field) and "(BTC" in error.where
    assert reason in str(error) and "\x07" not in str(error)


def test_positions_at_the_edges_of_the_bounds_are_not_refused(binance, binance_keys, store, catalog, positions_body):
    """1×, 200× and a price with 12 decimal places pass the bounds; 200× then meets the venue's tier
    cap, which skips the position (listed) rather than refusing the whole answer."""
    positions_body[0].update(leverage="200", markPrice="94211.534260870001")
    positions_body[1].update(leverage="1", positionSide="SHORT")
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    report = import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert [s.label for s in report.synced] == ["binance-usdm:ETHUSDT:short"]
    assert store.position_by_label("binance-usdm:ETHUSDT:short").leverage == 1
    assert ("BTCUSDT", "leverage: 200x is above the 150x maximum of the bracket for a notional of 47,500.00") in \
        report.skipped
