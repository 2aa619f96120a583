"""Import and reconciliation against a recorded OKX v5 account, through the real ccxt client.

The venue is a local server on 127.0.0.1 answering ``/api/v5/public/instruments`` (the real SWAP
instrument records: ``ctVal``) and ``/api/v5/account/positions`` with the files
``tests/venues/recorded/okx_*.json`` (built from the real recorded LTC-USDT-SWAP position; the file
says how). Expected values are computed from the served answer itself, never from the code under
test: OKX counts a position in contracts, isodesk keeps base units (linear: contracts × ``ctVal``)
and contracts of ``ctVal`` USD (inverse).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from isodesk.cli import main
from isodesk.desk.venue_sync import import_from_venue
from isodesk.store.ledger import position_ref
from isodesk.venues import MalformedResponse, VenueError
from isodesk.venues.client import make_client
from isodesk.venues.keys import save_credentials
from isodesk.venues.positions import fetch_isolated_positions
from isodesk.venues.registry import venue_spec
from tests.venues.conftest import API_KEY, API_SECRET
from tests.venues.server import RECORDED, VenueServer

TS = 1_735_689_600.0
PASSPHRASE = "pp-OKX-9d8c7b6a5f4e3d2c1b0a"
CREDENTIALS = {"apiKey": API_KEY, "secret": API_SECRET, "password": PASSPHRASE}
SECRETS = (API_KEY, API_SECRET, PASSPHRASE)
TAKER = Decimal("0.0005")


def okx_file(name: str) -> Any:
    """A recorded OKX answer of ``tests/venues/recorded`` (``okx_NAME.json``), a fresh copy."""
    return json.loads((RECORDED / f"okx_{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def okx():
    """A recorded OKX: ``server.state`` holds what it serves (``positions``: the whole answer,
    ``instruments``: the SWAP instruments answer) and may be edited by a test."""
    state: dict[str, Any] = {"positions": okx_file("account_positions_SWAP"),
                             "instruments": okx_file("public_instruments_SWAP")}
    server = VenueServer()

    def instruments(query, body):
        if query.get("instType") == ["SWAP"]:
            return 200, state["instruments"]
        return 200, {"code": "0", "msg": "", "data": []}  # spot, futures, options: none

    server.route("GET", "/api/v5/public/instruments", instruments)
    server.route("GET", "/api/v5/account/positions", lambda q, b: (200, state["positions"]))
    server.state = state
    server.start()
    yield server
    server.stop()


@pytest.fixture
def okx_keys(memory_keyring):
    save_credentials(venue_spec("okx"), CREDENTIALS)
    return memory_keyring


def _client(server):
    """A client of the local venue with the keys, without ccxt's throttle."""
    return make_client(venue_spec("okx"), credentials=CREDENTIALS, base_url=server.url, rate_limit=False)


def _read(server):
    client = _client(server)
    try:
        return fetch_isolated_positions(client)
    finally:
        client.close()


def _import(store, catalog, server, ts=TS):
    client = _client(server)
    try:
        return import_from_venue(store, "okx", catalog, ts=ts, client=client)
    finally:
        client.close()


def _items(server) -> dict[str, dict[str, Any]]:
    return {item["instId"]: item for item in server.state["positions"]["data"]}


def _instrument(server, inst: str) -> dict[str, Any]:
    return next(i for i in server.state["instruments"]["data"] if i["instId"] == inst)


def _book(store):
    return store.positions(statuses=None), store.ledger(), store.venue_reports(), store.accounts()


def test_every_figure_comes_from_the_raw_fields(okx):
    read = _read(okx)
    items = _items(okx)
    assert read.skipped == [("LTC-USDT-SWAP", "cross margin")]  # the recorded position, unchanged
    by_inst = {p.symbol: p for p in read.positions}
    assert set(by_inst) == {"BTC-USDT-SWAP", "ETH-USDT-SWAP", "BTC-USD-SWAP"}
    for inst, p in by_inst.items():
        raw, instrument = items[inst], _instrument(okx, inst)
        pos, ct_val = Decimal(raw["pos"]), Decimal(instrument["ctVal"])
        assert p.side == ("long" if pos > 0 else "short")  # net mode: the sign of pos
        assert p.contract == instrument["ctType"]
        if p.contract == "linear":
            assert (p.quantity, p.contract_size) == (abs(pos) * ct_val, None)  # base units
        else:
            assert (p.quantity, p.contract_size) == (abs(pos), ct_val)  # contracts of ctVal USD
        assert p.entry_price == Decimal(raw["avgPx"]) and p.leverage == Decimal(raw["lever"])
        assert p.isolated_margin == Decimal(raw["margin"]) and p.margin_field == "margin"
        assert p.liquidation_price == Decimal(raw["liqPx"]) and p.mark_price == Decimal(raw["markPx"])
        assert p.adl_rank == int(raw["adl"]) and p.auto_add_margin is None  # OKX sends no auto-add setting
        assert p.venue_position_id == raw["posId"] and p.settlement == raw["ccy"]
    btc = by_inst["BTC-USDT-SWAP"]
    assert btc.quantity == Decimal("0.5") and btc.ccxt_symbol == "BTC/USDT:USDT"
    # margin added by hand: more than the initial margin, and never margin + upl
    raw = items["BTC-USDT-SWAP"]
    assert btc.isolated_margin > btc.quantity * btc.entry_price / btc.leverage
    assert btc.isolated_margin != Decimal(raw["margin"]) + Decimal(raw["upl"])
    assert by_inst["ETH-USDT-SWAP"].quantity == Decimal("4") and by_inst["ETH-USDT-SWAP"].side == "short"
    assert by_inst["BTC-USD-SWAP"].contract_size == Decimal(100) and by_inst["BTC-USD-SWAP"].settlement == "BTC"


def test_the_private_call_is_signed_with_key_and_passphrase(okx):
    _read(okx)
    (call,) = [r for r in okx.requests if r.path == "/api/v5/account/positions"]
    assert call.query == {"instType": ["SWAP"]}
    assert call.headers.get("OK-ACCESS-KEY") == API_KEY and call.headers.get("OK-ACCESS-PASSPHRASE") == PASSPHRASE
    assert call.headers.get("OK-ACCESS-SIGN") and API_SECRET not in json.dumps(call.headers)


def test_long_short_mode_gives_the_side_in_pos_side(okx):
    """In long/short mode OKX sends one record per side with a positive ``pos``."""
    items = _items(okx)
    items["BTC-USDT-SWAP"]["posSide"] = "long"
    items["ETH-USDT-SWAP"].update(posSide="short", pos=items["ETH-USDT-SWAP"]["pos"].lstrip("-"))
    by_inst = {p.symbol: p for p in _read(okx).positions}
    assert by_inst["BTC-USDT-SWAP"].side == "long" and by_inst["ETH-USDT-SWAP"].side == "short"
    assert by_inst["ETH-USDT-SWAP"].quantity == Decimal(items["ETH-USDT-SWAP"]["pos"]) * Decimal("0.1")


def test_a_funded_empty_record_and_numbers_as_json_numbers(okx):
    """``pos`` 0 with margin is the record a margin transfer leaves (docs): skipped, not refused;
    figures sent as JSON numbers parse like text."""
    items = _items(okx)
    items["ETH-USDT-SWAP"]["pos"] = "0"
    items["BTC-USDT-SWAP"].update(pos=50, avgPx=95000, margin=5000, lever=10, adl=2)
    read = _read(okx)
    assert {p.symbol for p in read.positions} == {"BTC-USDT-SWAP", "BTC-USD-SWAP"}
    btc = next(p for p in read.positions if p.symbol == "BTC-USDT-SWAP")
    assert (btc.quantity, btc.entry_price, btc.isolated_margin, btc.adl_rank) == (
        Decimal("0.5"), Decimal(95000), Decimal(5000), 2)


def _has_table(catalog, contract, inst) -> bool:
    try:
        catalog.table("okx", contract, inst)
    except ValueError:
        return False
    return True


def test_import_lands_in_the_book_and_reconciles(okx, okx_keys, store, catalog):
    report = import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
    items = _items(okx)
    isolated = [i for i in items if items[i]["mgnMode"] == "isolated"]
    tabled = [i for i in isolated if _has_table(catalog, _instrument(okx, i)["ctType"], i)]
    assert {"BTC-USDT-SWAP", "ETH-USDT-SWAP"} <= set(tabled)  # the shipped OKX USDT-swap tables
    assert {s.label.split(":")[1] for s in report.synced} == set(tabled)
    assert [i for i, _ in report.skipped] == ["LTC-USDT-SWAP"] + [i for i in isolated if i not in tabled]
    for item in report.synced:
        record = store.position(item.position_id)
        raw, instrument = items[record.symbol], _instrument(okx, record.symbol)
        contracts, ct_val = abs(Decimal(raw["pos"])), Decimal(instrument["ctVal"])
        linear = instrument["ctType"] == "linear"
        assert record.quantity == (contracts * ct_val if linear else contracts)
        assert record.contract_size == (None if linear else ct_val)
        assert (record.entry_price, record.leverage, record.isolated_margin) == (
            Decimal(raw["avgPx"]), Decimal(raw["lever"]), Decimal(raw["margin"]))
        assert record.venue_position_id == raw["posId"]
        assert store.latest_venue_reports()[record.id].venue_liquidation_price == Decimal(raw["liqPx"])
        rec = item.reconciliation
        assert rec.diff_pct is not None and abs(rec.diff_pct) < 0.5 and not rec.flagged, (record.symbol, rec)
    btc = store.position_by_label("okx:BTC-USDT-SWAP:long")
    assert store.account_by_id(btc.account_id).name == "okx:USDT" and btc.contract == "linear"
    # the served liquidation price is OKX's rule (margin + uPnL = (MMR + taker fee) x value at P,
    # MMR 0.4 % up to 1,000 contracts), computed here from the raw fields alone
    raw = items["BTC-USDT-SWAP"]
    qty = Decimal(raw["pos"]) * Decimal(_instrument(okx, "BTC-USDT-SWAP")["ctVal"])
    liq = (qty * Decimal(raw["avgPx"]) - Decimal(raw["margin"])) / (qty * (1 - Decimal("0.004") - TAKER))
    assert float(liq) == pytest.approx(float(raw["liqPx"]), rel=1e-12)


def test_import_again_updates_in_place_and_records_changes(okx, store, catalog):
    first = _import(store, catalog, okx)
    ids = {s.label: s.position_id for s in first.synced}
    label, inst = "okx:BTC-USDT-SWAP:long", "BTC-USDT-SWAP"
    raw = _items(okx)[inst]
    before = raw["margin"]
    after = str(Decimal(before) + 250)
    raw.update(margin=after, liqPx=str(Decimal(raw["liqPx"]) * Decimal("0.99")))  # 250 added at the venue
    second = _import(store, catalog, okx, TS + 60)
    assert {s.label: s.position_id for s in second.synced} == ids
    pid = ids[label]
    assert store.position(pid).isolated_margin == Decimal(after)
    assert {s.label: s.changes for s in second.updated} == {label: {"isolated_margin": [before, after]}}
    sync = [e for e in store.ledger(position_id=pid) if e.kind == "venue_sync"]
    assert [(e.amount, e.dest) for e in sync] == [(Decimal(250), position_ref(pid))]
    okx.state["positions"]["data"] = [i for i in okx.state["positions"]["data"] if i["instId"] != inst]
    third = _import(store, catalog, okx, TS + 120)
    assert third.missing == [label] and store.position(pid).status == "open"


def _edit(inst: str, **changes: Any):
    def edit(state):
        for item in state["positions"]["data"]:
            if item["instId"] == inst:
                for key, value in changes.items():
                    if value is KeyError:
                        item.pop(key)
                    else:
                        item[key] = value
    return edit


def _edit_instrument(inst: str, **changes: Any):
    def edit(state):
        next(i for i in state["instruments"]["data"] if i["instId"] == inst).update(changes)
    return edit


MALFORMED = [
    (_edit("BTC-USDT-SWAP", avgPx="abc"), "avgPx", "position 1 (BTC-USDT-SWAP)"),
    (_edit("BTC-USDT-SWAP", margin=""), "margin", "is missing or not a number"),
    (_edit("ETH-USDT-SWAP", margin="0"), "margin", "out of bounds"),
    (_edit("ETH-USDT-SWAP", lever="500"), "lever", "outside 1× to 200×"),
    (_edit("ETH-USDT-SWAP", posSide="both"), "posSide", "long, short or net"),
    (_edit("ETH-USDT-SWAP", posSide="long"), "pos", "must be positive when posSide is long"),
    (_edit("BTC-USD-SWAP", pos=None), "pos", "position 4 (BTC-USD-SWAP)"),
    (_edit("BTC-USDT-SWAP", liqPx="-5"), "liqPx", "is not a price"),
    (_edit("BTC-USDT-SWAP", adl="7"), "adl", "from 0 to 5"),
    (_edit("BTC-USDT-SWAP", instId="DOGE-USDT-SWAP"), "instId", "not a perpetual the venue lists"),
    (_edit("BTC-USDT-SWAP", posId="1\x07"), "posId", "control character"),
    (_edit("BTC-USDT-SWAP", mgnMode=KeyError), "mgnMode", "is missing"),
    (_edit_instrument("ETH-USDT-SWAP", ctVal="0"), "ctVal", "instrument ETH-USDT-SWAP"),
    (_edit_instrument("ETH-USDT-SWAP", ctMult="10"), "ctMult", "must be 1"),
    (_edit_instrument("BTC-USD-SWAP", ctType="quanto"), "ctType", "linear or inverse"),
    (lambda s: s["positions"].__setitem__("data", {"x": 1}), "(body)", "must be a list"),
]


@pytest.mark.parametrize(("mutate", "field", "words"), MALFORMED, ids=[m[1] + f"-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_answers_are_refused_and_the_book_is_unchanged(okx, store, catalog, mutate, field, words):
    _import(store, catalog, okx)
    before = _book(store)
    mutate(okx.state)
    with pytest.raises(MalformedResponse) as info:
        _import(store, catalog, okx, TS + 60)
    assert info.value.venue == "okx" and info.value.field == field, str(info.value)
    assert str(info.value).startswith("okx: malformed response: ") and words in str(info.value)
    assert "\x07" not in str(info.value)
    assert _book(store) == before


def test_an_error_answer_is_a_clear_error_and_nothing_changes(okx, okx_keys, store, catalog):
    okx.state["positions"] = {"code": "50111", "msg": "Invalid OK-ACCESS-KEY", "data": []}
    with pytest.raises(VenueError, match="okx: reading positions failed: the venue refused the API key"):
        import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
    okx.mode = "error"
    with pytest.raises(VenueError, match="okx: loading markets failed"):
        import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
    assert store.positions(statuses=None) == [] and store.ledger() == []


def test_keys_never_reach_the_database_the_logs_or_an_error(okx, okx_keys, store, catalog, debug_logs, tmp_path):
    import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
    errors = []
    for mode in ("error", "drop"):
        okx.mode = mode
        with pytest.raises(VenueError) as info:
            import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
        errors.append(info.value)
    okx.mode = "ok"
    _items(okx)["BTC-USDT-SWAP"]["avgPx"] = PASSPHRASE  # an answer that quotes the passphrase back
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, "okx", catalog, ts=TS, base_url=okx.url)
    errors.append(info.value)
    assert "avgPx" in str(info.value) and PASSPHRASE not in str(info.value)
    store.close()
    for path in tmp_path.glob("book.db*"):
        assert not any(s.encode() in path.read_bytes() for s in SECRETS), path
    logged = [r.getMessage() for r in debug_logs.records] + [repr(r.args) for r in debug_logs.records]
    assert any("/api/v5/account/positions" in m for m in logged)  # ccxt's request log, scrubbed
    assert not any(s in m for m in logged for s in SECRETS)
    for exc in errors:
        chain = [exc, exc.__cause__, exc.__context__]
        assert not any(s in str(e) or s in repr(e) for e in chain if e is not None for s in SECRETS)


def test_cli_import_venue_okx(okx, okx_keys, tmp_path, capsys):
    db = str(tmp_path / "book.db")
    code = main(["import", "--venue", "okx", "--base-url", okx.url, "--db", db])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "from okx" in out and "skipped LTC-USDT-SWAP: cross margin" in out
    assert "okx:BTC-USDT-SWAP:long: new; liq isodesk" in out and "vs venue 85,384" in out
    assert not any(s in out + err for s in SECRETS)
