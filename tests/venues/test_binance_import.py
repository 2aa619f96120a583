"""Import and reconciliation against a recorded Binance USDⓈ-M account, through the real ccxt client."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from isodesk.desk.venue_sync import import_from_venue
from isodesk.store.ledger import position_ref
from isodesk.venues import MalformedResponse, MissingKeys, VenueError
from tests.venues.conftest import API_KEY, API_SECRET

TS = 1_735_689_600.0


def _book_state(store):
    return (store.positions(statuses=None), store.ledger(), store.venue_reports(), store.accounts())


def test_positions_import_with_exact_values_and_reconciliation(binance, binance_keys, store, catalog):
    report = import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert [s.label for s in report.synced] == ["binance-usdm:BTCUSDT:long", "binance-usdm:ETHUSDT:short"]
    assert report.skipped == [("SOLUSDT", "cross margin")]  # the flat SOLUSDT SHORT row is ignored
    btc = store.position_by_label("binance-usdm:BTCUSDT:long")
    assert (btc.venue, btc.symbol, btc.contract, btc.side) == ("binance-usdm", "BTCUSDT", "linear", "long")
    assert (btc.quantity, btc.entry_price, btc.leverage) == (Decimal("0.500"), Decimal("95000.0"), Decimal("10"))
    assert btc.isolated_margin == Decimal("4750.00000000")  # isolatedWallet: without the uPnL
    assert btc.venue_position_id == "BTCUSDT:BOTH:long"
    eth = store.position_by_label("binance-usdm:ETHUSDT:short")
    assert (eth.side, eth.quantity, eth.entry_price, eth.leverage, eth.isolated_margin) == (
        "short", Decimal("4.000"), Decimal("3300.00"), Decimal("20"), Decimal("1320.00000000"))
    assert store.account("binance-usdm:USDT") is not None
    # the venue's own liquidation price is kept, exact, with the margin it reported
    reports = store.latest_venue_reports()
    assert reports[btc.id].venue_liquidation_price == Decimal("85901.50000000")
    assert reports[eth.id].venue_margin == Decimal("1320.00000000")
    assert reports[btc.id].changes == {"created": True}
    by_label = {s.label: s.reconciliation for s in report.synced}
    btc_r, eth_r = by_label["binance-usdm:BTCUSDT:long"], by_label["binance-usdm:ETHUSDT:short"]
    assert btc_r.isodesk_liquidation_price == pytest.approx(85843.3734939759)
    assert btc_r.diff_pct == pytest.approx((85843.3734939759 / 85901.5 - 1) * 100) and not btc_r.flagged
    assert eth_r.diff_pct == pytest.approx(1.369, abs=1e-3) and eth_r.flagged
    # the real ccxt client signed the private calls with the key from the keyring
    calls = [r for r in binance.requests if r.path == "/fapi/v2/positionRisk"]
    assert calls and calls[0].headers.get("X-MBX-APIKEY") == API_KEY and "signature" in calls[0].query


def test_import_again_updates_in_place_and_records_changes(binance, binance_keys, store, catalog, positions_body):
    first = import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    ids = {s.label: s.position_id for s in first.synced}
    positions_body[0].update(positionAmt="0.600", entryPrice="94800.0", isolatedWallet="5000.00000000",
                             liquidationPrice="86100.00")
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    second = import_from_venue(store, "binance-usdm", catalog, ts=TS + 60, base_url=binance.url)
    assert {s.label: s.position_id for s in second.synced} == ids
    assert len(store.positions(statuses=None)) == 2
    btc_id = ids["binance-usdm:BTCUSDT:long"]
    btc = store.position(btc_id)
    assert (btc.quantity, btc.entry_price, btc.isolated_margin) == (Decimal("0.600"), Decimal("94800.0"),
                                                                  Decimal("5000.00000000"))
    changed = {s.label: s.changes for s in second.updated}
    assert changed == {"binance-usdm:BTCUSDT:long": {
        "quantity": ["0.500", "0.600"], "entry_price": ["95000.0", "94800.0"],
        "isolated_margin": ["4750.00000000", "5000.00000000"]}}
    history = store.venue_reports(btc_id)
    assert [r.changes for r in history] == [{"created": True}, changed["binance-usdm:BTCUSDT:long"]]
    assert history[-1].venue_liquidation_price == Decimal("86100.00")
    sync = [e for e in store.ledger(position_id=btc_id) if e.kind == "venue_sync"]
    assert [(e.amount, e.dest) for e in sync] == [(Decimal("250.00000000"), position_ref(btc_id))]
    eth_history = store.venue_reports(ids["binance-usdm:ETHUSDT:short"])
    assert eth_history[-1].changes == {}


def test_position_gone_from_the_venue_is_reported_not_touched(binance, binance_keys, store, catalog, positions_body):
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    binance.route("GET", "/fapi/v2/positionRisk", positions_body[1:])
    report = import_from_venue(store, "binance-usdm", catalog, ts=TS + 60, base_url=binance.url)
    assert report.missing == ["binance-usdm:BTCUSDT:long"]
    assert store.position_by_label("binance-usdm:BTCUSDT:long").status == "open"


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda body: body[0].update(entryPrice="abc"), "entryPrice"),
    (lambda body: body[1].pop("isolatedWallet"), "isolatedWallet"),
    (lambda body: body[0].update(leverage="-3"), "leverage"),
    (lambda body: body[1].update(positionAmt=None), "positionAmt"),
    (lambda body: body[0].update(symbol="NOPEUSDT"), "symbol"),
    (lambda body: body.__setitem__(0, "not an object"), "(item)"),
])
def test_malformed_positions_are_refused_and_the_book_is_unchanged(binance, binance_keys, store, catalog,
                                                                  positions_body, mutate, field):
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    before = _book_state(store)
    mutate(positions_body)
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS + 60, base_url=binance.url)
    assert info.value.field == field and f"field {field!r}" in str(info.value)
    assert "binance-usdm: malformed response: position" in str(info.value)
    assert _book_state(store) == before


@pytest.mark.parametrize("body", [{"code": 0, "x": 1}, b"<html>502 Bad Gateway</html>", b"[1, 2"])
def test_a_body_that_is_not_positions_is_refused(binance, binance_keys, store, catalog, body):
    binance.route("GET", "/fapi/v2/positionRisk", lambda q, b: (200, body))
    with pytest.raises(VenueError) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert str(info.value).startswith("binance-usdm: ")
    assert store.positions(statuses=None) == [] and store.ledger() == []


def test_venue_down_is_a_clear_error_and_nothing_changes(binance, binance_keys, store, catalog):
    binance.mode = "error"
    with pytest.raises(VenueError, match="binance-usdm: loading markets failed: "):
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    binance.mode = "drop"
    with pytest.raises(VenueError, match="network error"):
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert store.positions(statuses=None) == []


def test_missing_keys_say_how_to_set_them(binance, store, catalog):
    with pytest.raises(MissingKeys, match="isodesk keys set binance-usdm"):
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    assert binance.requests == []


def test_keys_never_reach_the_database_the_logs_or_an_error(binance, binance_keys, store, catalog, debug_logs,
                                                            tmp_path, positions_body):
    import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    errors = []
    binance.mode = "error"
    for mode in ("error", "drop"):
        binance.mode = mode
        with pytest.raises(VenueError) as info:
            import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
        errors.append(info.value)
    binance.mode = "ok"
    positions_body[0]["entryPrice"] = "abc"
    binance.route("GET", "/fapi/v2/positionRisk", positions_body)
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, "binance-usdm", catalog, ts=TS, base_url=binance.url)
    errors.append(info.value)
    store.close()
    secrets = (API_KEY, API_SECRET)
    for path in tmp_path.glob("book.db*"):
        data = path.read_bytes()
        assert not any(s.encode() in data for s in secrets), path
    logged = [r.getMessage() for r in debug_logs.records] + [repr(r.args) for r in debug_logs.records]
    assert any("positionRisk" in m for m in logged)  # ccxt's own request log was captured, scrubbed
    assert not any(s in m for m in logged for s in secrets)
    for exc in errors:
        chain = [exc, exc.__cause__, exc.__context__]
        assert not any(s in str(e) or s in repr(e) for e in chain if e is not None for s in secrets)
        assert "signature=" not in str(exc)


def test_scrubber_removes_keys_signatures_and_query_strings():
    from isodesk.venues.client import Scrubber

    scrub = Scrubber([API_KEY, API_SECRET])
    text = (f"binanceusdm GET http://127.0.0.1:9/fapi/v2/positionRisk?timestamp=1&signature=abcdef "
            f"{{'X-MBX-APIKEY': '{API_KEY}'}} secret={API_SECRET}")
    out = scrub(text)
    assert API_KEY not in out and API_SECRET not in out and "abcdef" not in out
    assert "http://127.0.0.1:9/fapi/v2/positionRisk?…" in out


def test_keyring_entry_holds_the_keys_as_json(binance_keys):
    (service, user), value = next(iter(binance_keys.entries.items()))
    assert (service, user) == ("isodesk", "binance-usdm")
    assert json.loads(value) == {"apiKey": API_KEY, "secret": API_SECRET}
    from isodesk.venues.keys import load_credentials
    from isodesk.venues.registry import venue_spec

    creds = load_credentials(venue_spec("binance"))
    assert dict(creds) == {"apiKey": API_KEY, "secret": API_SECRET}
    assert API_KEY not in repr(creds) and API_SECRET not in str(creds)
