"""Import and reconciliation against a recorded Bybit v5 account, through the real ccxt client.

The venue is a local server on 127.0.0.1 answering ``/v5/account/info``, ``/v5/position/list`` (linear
USDT served two items a page, linear USDC empty, inverse) and ``/v5/market/instruments-info`` with
the files ``tests/venues/recorded/bybit_*.json`` (built from the real recorded LTCUSDT position; each
file says how). Expected values are read from the served answer itself, never from the code under
test.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

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
PAGE = 2  # items per page of the linear USDT answer
TAKER = Decimal("0.00055")


def bybit_file(name: str) -> Any:
    """A recorded Bybit answer of ``tests/venues/recorded`` (``bybit_NAME.json``), a fresh copy."""
    return json.loads((RECORDED / f"bybit_{name}.json").read_text(encoding="utf-8"))


def _empty(category: str) -> dict[str, Any]:
    return {"retCode": 0, "retMsg": "OK", "result": {"category": category, "list": [], "nextPageCursor": ""},
            "retExtInfo": {}, "time": 1735689600000}


@pytest.fixture
def bybit():
    """A recorded Bybit: ``server.state`` holds what it serves (``account``, ``linear``: the USDT
    items, ``inverse``: the whole inverse answer) and may be edited by a test."""
    linear = bybit_file("position_list_linear_USDT")
    state: dict[str, Any] = {"account": bybit_file("account_info"), "linear": linear["result"]["list"],
                             "linear_envelope": linear, "inverse": bybit_file("position_list_inverse")}
    server = VenueServer()

    def instruments(query, body):
        category = query.get("category", [""])[0]
        if query.get("status") or category not in ("linear", "inverse"):  # spot, option, pre-launch: none
            return 200, _empty(category)
        return 200, bybit_file(f"instruments_{category}")

    def positions(query, body):
        category, settle = query.get("category", [""])[0], query.get("settleCoin", [""])[0]
        if category == "inverse":
            return 200, state["inverse"]
        if category != "linear" or settle != "USDT":
            return 200, _empty(category)
        start = int(query.get("cursor", ["0"])[0])
        envelope = copy.deepcopy(state["linear_envelope"])
        items = state["linear"]
        envelope["result"]["list"] = items[start:start + PAGE]
        envelope["result"]["nextPageCursor"] = str(start + PAGE) if start + PAGE < len(items) else ""
        return 200, envelope

    server.route("GET", "/v5/market/instruments-info", instruments)
    server.route("GET", "/v5/account/info", lambda q, b: (200, state["account"]))
    server.route("GET", "/v5/position/list", positions)
    server.state = state
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bybit_keys(memory_keyring):
    save_credentials(venue_spec("bybit"), {"apiKey": API_KEY, "secret": API_SECRET})
    return memory_keyring


def _served(server) -> dict[str, dict[str, Any]]:
    """symbol → the raw item the server holds (linear and inverse)."""
    items = list(server.state["linear"]) + list(server.state["inverse"]["result"]["list"])
    return {item["symbol"]: item for item in items}


def _client(server):
    """A client of the local venue with the keys, without ccxt's throttle (Bybit's published limits
    would add a second and a half to each read of the 15 requests)."""
    return make_client(venue_spec("bybit"), credentials={"apiKey": API_KEY, "secret": API_SECRET},
                       base_url=server.url, rate_limit=False)


def _read(server):
    client = _client(server)
    try:
        return fetch_isolated_positions(client)
    finally:
        client.close()


def _import(store, catalog, server, ts=TS):
    """``import_from_venue`` through an unthrottled client (the keyring path has its own tests)."""
    client = _client(server)
    try:
        return import_from_venue(store, "bybit", catalog, ts=ts, client=client)
    finally:
        client.close()


def _book(store):
    return store.positions(statuses=None), store.ledger(), store.venue_reports(), store.accounts()


def test_every_figure_comes_from_the_raw_fields(bybit):
    read = _read(bybit)
    served = _served(bybit)
    by_symbol = {p.symbol: p for p in read.positions}
    assert set(by_symbol) == {"BTCUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT", "BTCUSD"} and read.skipped == []
    for symbol, p in by_symbol.items():
        raw = served[symbol]
        assert p.venue == "bybit" and p.quantity == Decimal(raw["size"])
        assert p.side == {"Buy": "long", "Sell": "short"}[raw["side"]]
        assert p.entry_price == Decimal(raw["avgPrice"]) and p.leverage == Decimal(raw["leverage"])
        assert p.isolated_margin == Decimal(raw["positionBalance"]) and p.margin_field == "positionBalance"
        assert p.liquidation_price == Decimal(raw["liqPrice"]) and p.mark_price == Decimal(raw["markPrice"])
        assert p.auto_add_margin is (int(raw["autoAddMargin"]) == 1)
        assert p.adl_rank == int(raw["adlRankIndicator"])
        assert p.venue_position_id == f"{symbol}:{raw['positionIdx']}:{p.side}"
    btc, eth = by_symbol["BTCUSDT"], by_symbol["ETHUSDT"]
    raw_btc = served["BTCUSDT"]
    # the margin is the position margin: neither the initial margin (extra margin was added) nor
    # ccxt's "collateral" (position margin + unrealized PnL)
    assert btc.isolated_margin != Decimal(raw_btc["positionIM"])
    assert btc.isolated_margin != Decimal(raw_btc["positionBalance"]) + Decimal(raw_btc["unrealisedPnl"])
    assert (btc.contract, btc.contract_size, btc.settlement, btc.ccxt_symbol) == ("linear", None, "USDT",
                                                                                 "BTC/USDT:USDT")
    assert eth.auto_add_margin is True and eth.side == "short"
    inverse = by_symbol["BTCUSD"]
    assert (inverse.contract, inverse.contract_size, inverse.settlement) == ("inverse", Decimal(1), "BTC")
    assert isinstance(served["BTCUSD"]["autoAddMargin"], int)  # the inverse answer sends JSON integers


def test_the_account_pages_and_categories_are_all_read_signed(bybit):
    _read(bybit)
    lists = [r for r in bybit.requests if r.path == "/v5/position/list"]
    asked = [(r.query["category"][0], r.query.get("settleCoin", [""])[0], r.query.get("cursor", [""])[0])
             for r in lists]
    n = len(bybit.state["linear"])
    cursors = [str(i) for i in range(PAGE, n, PAGE)]
    assert asked == [("linear", "USDT", "")] + [("linear", "USDT", c) for c in cursors] + [
        ("linear", "USDC", ""), ("inverse", "", "")]
    assert all(r.query["limit"] == ["200"] for r in lists)
    info = [r for r in bybit.requests if r.path == "/v5/account/info"]
    assert len(info) == 1
    for r in lists + info:
        assert r.headers.get("X-BAPI-API-KEY") == API_KEY and r.headers.get("X-BAPI-SIGN")
        assert API_SECRET not in json.dumps(r.headers)


def test_a_cursor_on_the_last_page_is_followed_to_the_empty_page(bybit):
    """Bybit sends a cursor with its last page (the recorded LTCUSDT answer does): the next page is empty."""
    recorded_cursor = bybit.state["linear_envelope"]["result"]["list"][2].get("nextPageCursor")
    assert recorded_cursor  # the recorded item still carries the cursor Bybit sent with it
    sent = unquote(recorded_cursor)  # the value Bybit put in the query string, as the server decodes it
    pages = {"": (bybit.state["linear"], recorded_cursor), sent: ([], "")}
    seen = []

    def positions(query, body):
        category, settle = query["category"][0], query.get("settleCoin", [""])[0]
        if category == "inverse":
            return 200, bybit.state["inverse"]
        if settle != "USDT":
            return 200, _empty(category)
        cursor = query.get("cursor", [""])[0]
        seen.append(cursor)
        items, following = pages[cursor]
        body = _empty("linear")
        body["result"].update(list=items, nextPageCursor=following)
        return 200, body

    bybit.route("GET", "/v5/position/list", positions)
    read = _read(bybit)
    assert seen == ["", sent] and len(read.positions) == 5


def test_a_cursor_that_repeats_is_refused(bybit):
    def positions(query, body):
        body = _empty(query["category"][0])
        body["result"].update(list=bybit.state["linear"][:1], nextPageCursor="same")
        return 200, body

    bybit.route("GET", "/v5/position/list", positions)
    with pytest.raises(MalformedResponse) as info:
        _read(bybit)
    assert info.value.field == "nextPageCursor" and "positions (linear, USDT)" in str(info.value)


def test_hedge_mode_sides_are_two_positions_and_empty_ones_are_ignored(bybit):
    """Hedge mode: ``positionIdx`` 1 is the buy side, 2 the sell side, one item each; an empty
    position comes with size 0 and side ``""`` (docs) and is not a position."""
    btc = next(i for i in bybit.state["linear"] if i["symbol"] == "BTCUSDT")
    short = copy.deepcopy(btc)
    short.update(side="Sell", positionIdx="2", size="0.2")
    empty = copy.deepcopy(btc)
    empty.update(symbol="ETHUSDT", side="", size="0", positionIdx="1")
    btc["positionIdx"] = "1"
    bybit.state["linear"] = [btc, short, empty]
    read = _read(bybit)
    btcs = sorted((p.venue_position_id, p.side, p.quantity) for p in read.positions if p.symbol == "BTCUSDT")
    assert btcs == [("BTCUSDT:1:long", "long", Decimal(btc["size"])), ("BTCUSDT:2:short", "short", Decimal("0.2"))]
    assert "ETHUSDT" not in {p.symbol for p in read.positions} and read.skipped == []


def test_import_lands_in_the_book_and_reconciles(bybit, bybit_keys, store, catalog):
    report = import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
    served = _served(bybit)
    tabled = {s for s in served if _has_table(catalog, s)}
    assert tabled == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BTCUSD"}  # the shipped tables; none for LTCUSDT
    assert {s.label.split(":")[1] for s in report.synced} == tabled
    assert [sym for sym, _ in report.skipped] == sorted(set(served) - tabled, key=list(served).index)
    for item in report.synced:
        record = store.position(item.position_id)
        raw = served[record.symbol]
        assert (record.venue, record.quantity, record.entry_price, record.leverage, record.isolated_margin) == (
            "bybit", Decimal(raw["size"]), Decimal(raw["avgPrice"]), Decimal(raw["leverage"]),
            Decimal(raw["positionBalance"]))
        venue_report = store.latest_venue_reports()[record.id]
        assert venue_report.venue_liquidation_price == Decimal(raw["liqPrice"])
        assert (venue_report.auto_add_margin, venue_report.adl_rank) == (
            raw["autoAddMargin"] == "1", int(raw["adlRankIndicator"]))  # kept from the venue's raw fields
        rec = item.reconciliation
        assert rec.venue_liquidation_price == float(Decimal(raw["liqPrice"]))
        assert rec.diff_pct is not None and abs(rec.diff_pct) < 0.5 and not rec.flagged, (record.symbol, rec)
    btc = store.position_by_label("bybit:BTCUSDT:long")
    assert (btc.contract, btc.contract_size, btc.venue_position_id) == ("linear", None, "BTCUSDT:0:long")
    assert store.account_by_id(btc.account_id).name == "bybit:USDT"
    # the venue's liquidation price by its documented rule for isolated positions of a unified account
    # (positionBalance + uPnL(P) = size x P x MMR + fee to close, MMR 0.5 %), the served value up to its tick
    raw = served["BTCUSDT"]
    size, entry, balance = Decimal(raw["size"]), Decimal(raw["avgPrice"]), Decimal(raw["positionBalance"])
    fee = Decimal(raw["positionIM"]) - size * entry / Decimal(raw["leverage"])
    assert float((entry * size - balance + fee) / (size * Decimal("0.995"))) == pytest.approx(
        float(raw["liqPrice"]), abs=0.1)
    assert fee == size * entry * (1 - 1 / Decimal(raw["leverage"])) * TAKER


def _has_table(catalog, symbol) -> bool:
    contract = "inverse" if symbol.endswith("USD") else "linear"
    try:
        catalog.table("bybit", contract, symbol)
    except ValueError:
        return False
    return True


def test_import_again_updates_in_place_and_records_changes(bybit, store, catalog):
    first = _import(store, catalog, bybit)
    ids = {s.label: s.position_id for s in first.synced}
    btc_raw = next(i for i in bybit.state["linear"] if i["symbol"] == "BTCUSDT")
    before = {k: btc_raw[k] for k in ("size", "positionBalance")}
    btc_raw.update(size="0.6", positionBalance="5250.00", liqPrice="86000.00")  # added 250 USDT, bought 0.1
    second = _import(store, catalog, bybit, TS + 60)
    assert {s.label: s.position_id for s in second.synced} == ids
    btc_id = ids["bybit:BTCUSDT:long"]
    btc = store.position(btc_id)
    assert (btc.quantity, btc.isolated_margin) == (Decimal("0.6"), Decimal("5250.00"))
    changed = {s.label: s.changes for s in second.updated}
    assert changed == {"bybit:BTCUSDT:long": {"quantity": [before["size"], "0.6"],
                                             "isolated_margin": [before["positionBalance"], "5250.00"]}}
    assert store.venue_reports(btc_id)[-1].venue_liquidation_price == Decimal("86000.00")
    sync = [e for e in store.ledger(position_id=btc_id) if e.kind == "venue_sync"]
    assert [(e.amount, e.dest) for e in sync] == [(Decimal("5250.00") - Decimal(before["positionBalance"]),
                                                   position_ref(btc_id))]
    # the position closed at the venue is reported, not touched
    bybit.state["linear"] = [i for i in bybit.state["linear"] if i["symbol"] != "BTCUSDT"]
    third = _import(store, catalog, bybit, TS + 120)
    assert third.missing == ["bybit:BTCUSDT:long"] and store.position(btc_id).status == "open"


@pytest.mark.parametrize(("status", "mode", "trade_modes", "expected_skips"), [
    # classic account: each position says (tradeMode 1 isolated, 0 cross)
    (1, "REGULAR_MARGIN", {"ETHUSDT": "0", "SOLUSDT": "0", "BTCUSD": 0},
     {"ETHUSDT": "cross margin", "SOLUSDT": "cross margin", "BTCUSD": "cross margin"}),
    # unified account 1.0: linear follows the account, inverse each position
    (3, "ISOLATED_MARGIN", {"BTCUSD": 0}, {"BTCUSD": "cross margin"}),
    (4, "REGULAR_MARGIN", {"BTCUSD": 1}, {s: "cross margin" for s in ("BTCUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT")}),
    # unified account 2.0: the account's margin mode for every position (tradeMode is always 0)
    (5, "REGULAR_MARGIN", {}, {s: "cross margin" for s in ("BTCUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT", "BTCUSD")}),
    (6, "PORTFOLIO_MARGIN", {}, {s: "portfolio margin" for s in ("BTCUSDT", "ETHUSDT", "LTCUSDT", "SOLUSDT",
                                                                  "BTCUSD")}),
])
def test_isolation_follows_the_account_kind(bybit, status, mode, trade_modes, expected_skips):
    bybit.state["account"]["result"].update(unifiedMarginStatus=status, marginMode=mode)
    for symbol, item in _served(bybit).items():
        if symbol in trade_modes:
            item["tradeMode"] = trade_modes[symbol]
        elif status == 1:  # a classic account: every other position isolated
            item["tradeMode"] = "1" if isinstance(item["tradeMode"], str) else 1
    read = _read(bybit)
    assert dict(read.skipped) == expected_skips
    assert {p.symbol for p in read.positions} == set(_served(bybit)) - set(expected_skips)


def test_an_empty_position_balance_falls_back_to_the_initial_margin(bybit):
    """``positionBalance`` is deprecated (its documented replacement is ``positionIM``); an empty one
    is not a refusal, and the position says which field its margin came from."""
    eth = next(i for i in bybit.state["linear"] if i["symbol"] == "ETHUSDT")
    eth["positionBalance"] = ""
    read = _read(bybit)
    p = next(p for p in read.positions if p.symbol == "ETHUSDT")
    assert (p.isolated_margin, p.margin_field) == (Decimal(eth["positionIM"]), "positionIM")


def _edit_item(target: str, **changes: Any):
    def edit(state):
        for item in list(state["linear"]) + list(state["inverse"]["result"]["list"]):
            if item["symbol"] == target:
                for key, value in changes.items():
                    if value is KeyError:
                        item.pop(key)
                    else:
                        item[key] = value
    return edit


MALFORMED = [
    (_edit_item("BTCUSDT", avgPrice="abc"), "avgPrice", "position 1 (BTCUSDT)"),
    (_edit_item("ETHUSDT", positionBalance="-3"), "positionBalance", "position 2 (ETHUSDT)"),
    (_edit_item("BTCUSDT", positionBalance="5000.000000001"), "positionBalance", "8 decimal places"),
    (_edit_item("BTCUSDT", positionBalance="", positionIM=KeyError), "positionIM", "position 1"),
    (_edit_item("SOLUSDT", leverage="0.5"), "leverage", "outside 1× to 200×"),
    (_edit_item("SOLUSDT", side="Long"), "side", "must be Buy or Sell"),
    (_edit_item("LTCUSDT", size=None), "size", "position 3 (LTCUSDT)"),
    (_edit_item("LTCUSDT", size="-1.2"), "size", "zero or more"),
    (_edit_item("BTCUSDT", liqPrice="soon"), "liqPrice", "is not a price"),
    (_edit_item("ETHUSDT", adlRankIndicator="9"), "adlRankIndicator", "from 0 to 5"),
    (_edit_item("ETHUSDT", autoAddMargin="yes"), "autoAddMargin", "from 0 to 1"),
    (_edit_item("BTCUSDT", symbol="NOPEUSDT"), "symbol", "not a perpetual the venue lists"),
    (_edit_item("BTCUSD", symbol="BTCUSDT"), "symbol", "not a inverse perpetual"),
    (_edit_item("BTCUSDT", positionIdx="0\x1b[2J"), "positionIdx", "control character"),
    (lambda s: s["linear"].__setitem__(0, "not an object"), "(item)", "must be an object"),
    (lambda s: s["inverse"]["result"].__setitem__("list", {"x": 1}), "list", "must be a list"),
    (lambda s: s["account"]["result"].__setitem__("marginMode", "WHATEVER"), "marginMode", "ISOLATED_MARGIN"),
    (lambda s: s["account"]["result"].__setitem__("unifiedMarginStatus", 2), "unifiedMarginStatus", "1 classic"),
    (lambda s: s["account"].__setitem__("result", []), "result", "must be an object"),
]


@pytest.mark.parametrize(("mutate", "field", "words"), MALFORMED, ids=[m[1] + f"-{i}" for i, m in enumerate(MALFORMED)])
def test_malformed_answers_are_refused_and_the_book_is_unchanged(bybit, store, catalog, mutate, field, words):
    _import(store, catalog, bybit)
    before = _book(store)
    mutate(bybit.state)
    with pytest.raises(MalformedResponse) as info:
        _import(store, catalog, bybit, TS + 60)
    assert info.value.venue == "bybit" and info.value.field == field, str(info.value)
    assert str(info.value).startswith("bybit: malformed response: ") and words in str(info.value)
    assert "\x1b" not in str(info.value)
    assert _book(store) == before


def test_an_error_answer_is_a_clear_error_and_nothing_changes(bybit, bybit_keys, store, catalog):
    bybit.state["account"] = {"retCode": 10003, "retMsg": "API key is invalid.", "result": {}, "retExtInfo": {},
                              "time": 1735689600000}
    with pytest.raises(VenueError, match="bybit: reading positions failed: the venue refused the API key"):
        import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
    bybit.mode = "drop"
    with pytest.raises(VenueError, match="network error"):
        import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
    assert store.positions(statuses=None) == [] and store.ledger() == []


def test_keys_never_reach_the_database_the_logs_or_an_error(bybit, bybit_keys, store, catalog, debug_logs, tmp_path):
    import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
    errors = []
    for mode in ("error", "drop"):
        bybit.mode = mode
        with pytest.raises(VenueError) as info:
            import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
        errors.append(info.value)
    bybit.mode = "ok"
    bybit.state["linear"][0]["avgPrice"] = f"{API_KEY}"  # an answer that quotes the key back
    with pytest.raises(MalformedResponse) as info:
        import_from_venue(store, "bybit", catalog, ts=TS, base_url=bybit.url)
    errors.append(info.value)
    assert "avgPrice" in str(info.value) and API_KEY not in str(info.value)
    store.close()
    secrets = (API_KEY, API_SECRET)
    for path in tmp_path.glob("book.db*"):
        assert not any(s.encode() in path.read_bytes() for s in secrets), path
    logged = [r.getMessage() for r in debug_logs.records] + [repr(r.args) for r in debug_logs.records]
    assert any("/v5/position/list" in m for m in logged)  # ccxt's request log was captured, scrubbed
    assert not any(s in m for m in logged for s in secrets)
    for exc in errors:
        chain = [exc, exc.__cause__, exc.__context__]
        assert not any(s in str(e) or s in repr(e) for e in chain if e is not None for s in secrets)


def test_cli_import_venue_bybit_prints_the_reconciliation(bybit, bybit_keys, tmp_path, capsys):
    db = str(tmp_path / "book.db")
    code = main(["import", "--venue", "bybit", "--base-url", bybit.url, "--db", db])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "from bybit" in out and "bybit:BTCUSDT:long: new; liq isodesk" in out and "vs venue 85,474" in out
    assert "skipped LTCUSDT: " in out
    assert API_KEY not in out + err and API_SECRET not in out + err
