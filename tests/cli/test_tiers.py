"""`isodesk tiers import|refresh|show` as a user runs them, `calc --db` on the stored tables, and the
alert and recomputation when a held symbol's table changes (with the app's desk holding the book too).

Expected figures are computed here from the venues' rules, independently of the engine: a long's
maintenance margin at a mark is ``notional × rate − deduction``; where the venue values it at the
price and counts no close fee (Binance, Hyperliquid), the liquidation price solves
``W + Q·(P − E) = Q·P·r − a`` (linear) or ``W + N·(1/E − 1/P) = N·r/P − a`` (inverse, in coin).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend

from isodesk.cli import main
from isodesk.desk import Desk
from isodesk.desk.events import EventKind
from isodesk.desk.setup import shipped_catalog
from isodesk.store import Store
from tests.cli.conftest import run
from tests.venues.tier_envelopes import (
    binance_coinm_body,
    binance_usdm_body,
    bybit_body,
    bybit_records,
    hyperliquid_meta,
    okx_body,
    okx_instruments,
    okx_records,
)
from tests.venues.tier_servers import bybit_server


def write(path, doc):
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def calc(capsys, *argv):
    code, out, err = run(capsys, "calc", *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def stored_count(db):
    """Tier tables in the book (0 when the command never even opened it)."""
    if not Path(db).exists():
        return 0
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM tier_tables").fetchone()[0]


class DictKeyring(KeyringBackend):
    """An empty keyring of this test's own (no key of the machine's is ever read)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.entries.get((service, username))

    def set_password(self, service, username, password):
        self.entries[(service, username)] = password

    def delete_password(self, service, username):
        self.entries.pop((service, username), None)


@pytest.fixture
def empty_keyring():
    keyring.set_keyring(DictKeyring())
    yield
    keyring.set_keyring(keyring.backends.fail.Keyring())


# -- import, then calc --db ----------------------------------------------------------------------------


def test_bybit_import_then_calc_uses_the_books_table(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    records = bybit_records()["ETHUSDT"]
    records[0]["maintenanceMargin"] = "0.01"  # the venue raised its first tier from 0.5 % to 1 %
    code, out, err = run(capsys, "tiers", "import", "bybit", write(tmp_path / "eth.json", bybit_body(records)),
                         "--db", db)
    assert code == 0, err
    assert out.strip() == "bybit: 1 symbol stored (1 added: ETHUSDT)"
    position = ("--venue", "bybit", "--symbol", "ETHUSDT", "--side", "long", "--entry", "3000", "--qty", "10",
                "--margin", "3000", "--mark", "3000")
    # at the mark = entry, every Bybit rule values MM on the entry notional 30,000: 30,000 × rate − 0
    with_book = calc(capsys, *position, "--db", db)
    shipped = calc(capsys, *position)
    assert with_book["maintenance_margin"] == pytest.approx(30_000 * 0.01)
    assert shipped["maintenance_margin"] == pytest.approx(30_000 * 0.005)
    assert with_book["liquidation_price"] > shipped["liquidation_price"]  # more maintenance: closer for a long
    code, out, _ = run(capsys, "tiers", "show", "bybit", "ETHUSDT", "--db", db, "--json")
    doc = json.loads(out)
    assert (doc["source"]["kind"], doc["basis"], doc["settlement"]) == ("import", "notional", "USDT")
    assert doc["rows"][0] == ["0", "900000", "0.01", "0", "100"] and len(doc["rows"]) == 35


def test_okx_import_with_instruments_then_calc_by_contracts(tmp_path, capsys):
    db = str(tmp_path / "o.db")
    records = okx_records()["BTC-USDT"]
    records[0]["mmr"] = "0.006"
    body, instruments = write(tmp_path / "t.json", okx_body(records)), write(tmp_path / "i.json", okx_instruments())
    code, _, err = run(capsys, "tiers", "import", "okx", body, "--db", db)
    assert code == 2 and "--instruments" in err and stored_count(db) == 0
    code, out, err = run(capsys, "tiers", "import", "okx", body, "--instruments", instruments, "--db", db)
    assert code == 0 and out.strip() == "okx: 1 symbol stored (1 added: BTC-USDT-SWAP)", err

    def mm(qty):
        return calc(capsys, "--db", db, "--venue", "okx", "--symbol", "BTC-USDT-SWAP", "--side", "long",
                    "--entry", "60000", "--qty", qty, "--margin", "60000", "--mark", "60000")["maintenance_margin"]

    # 10 BTC = 1,000 contracts of 0.01 BTC: the last size of tier 1 (now 0.6 %); one lot more is tier 2 (0.5 %)
    assert mm("10") == pytest.approx(600_000 * 0.006)
    assert mm("10.0001") == pytest.approx(600_006 * 0.005)


def test_hyperliquid_import_then_calc(tmp_path, capsys):
    db = str(tmp_path / "h.db")
    code, out, err = run(capsys, "tiers", "import", "hyperliquid", write(tmp_path / "m.json", hyperliquid_meta()),
                         "--db", db)
    assert code == 0 and out.startswith("hyperliquid: 4 symbols stored (4 added:"), err
    figures = calc(capsys, "--db", db, "--venue", "hyperliquid", "--symbol", "BTC", "--side", "long", "--entry",
                   "60000", "--qty", "1", "--margin", "6000", "--mark", "60000")
    assert figures["maintenance_margin"] == pytest.approx(60_000 / (2 * 40))
    # W + Q(P − E) = Q·P·r: P = (Q·E − W) / (Q·(1 − r)) with r = 1/80
    assert figures["liquidation_price"] == pytest.approx((60_000 - 6_000) / (1 - 1 / 80), rel=1e-12)
    tsla = calc(capsys, "--db", db, "--venue", "hyperliquid", "--symbol", "xyz:TSLA", "--side", "long", "--entry",
                "250", "--qty", "10", "--margin", "500", "--mark", "250")
    assert tsla["maintenance_margin"] == pytest.approx(2_500 / (2 * 10))
    code, out, _ = run(capsys, "tiers", "show", "hyperliquid", "xyz:TSLA", "--db", db)
    assert "strict isolated" in out and "source: import of" in out


def test_binance_coinm_import_then_calc_in_coin(tmp_path, capsys):
    db = str(tmp_path / "c.db")
    code, out, err = run(capsys, "tiers", "import", "binance-coinm", write(tmp_path / "c.json", binance_coinm_body()),
                         "--db", db)
    assert code == 0 and out.strip() == "binance-coinm: 1 symbol stored (1 added: FILUSD_210625)", err
    # 30,000 contracts of 10 USD at 5 USD = 60,000 FIL: bracket 50,000–100,000 FIL, 10 %, cum 2,790 FIL
    figures = calc(capsys, "--db", db, "--venue", "binance-coinm", "--symbol", "FILUSD_210625", "--side", "long",
                   "--entry", "5", "--qty", "30000", "--margin", "15000", "--mark", "5")
    assert figures["maintenance_margin"] == pytest.approx(60_000 * 0.1 - 2_790)
    # W + N(1/E − 1/P) = N·r/P − a: P = N(1 + r) / (W + N/E + a), N = 300,000 USD (70,717 FIL there: same bracket)
    assert figures["liquidation_price"] == pytest.approx(300_000 * 1.1 / (15_000 + 60_000 + 2_790), rel=1e-12)


def test_a_malformed_body_is_refused_naming_the_field_and_nothing_is_stored(tmp_path, capsys):
    db = str(tmp_path / "m.db")
    records = bybit_records()
    body = bybit_body(records["BTCUSDT"] + records["ETHUSDT"])
    body["result"]["list"][3]["maintenanceMargin"] = "x"
    code, out, err = run(capsys, "tiers", "import", "bybit", write(tmp_path / "bad.json", body), "--db", db)
    assert code == 2 and out == ""
    assert "nothing stored: bybit risk-limit: result.list[3].maintenanceMargin: 'x' is not a number" in err
    assert stored_count(db) == 0
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    code, _, err = run(capsys, "tiers", "import", "bybit", str(tmp_path / "junk.json"), "--db", db)
    assert code == 2 and "not valid JSON" in err


def test_show_of_a_shipped_table_and_of_an_unknown_symbol(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    code, out, _ = run(capsys, "tiers", "show", "okx", "SOL-USDT-SWAP", "--db", db)
    assert code == 0 and "source: shipped snapshot of 2025-12-29" in out and "in contracts" in out
    code, _, err = run(capsys, "tiers", "show", "bybit", "DOGEUSDT", "--db", db)
    assert code == 2 and "isodesk tiers refresh bybit" in err


# -- refresh --------------------------------------------------------------------------------------------


def test_refresh_stores_every_symbol_and_then_says_nothing_changed(tmp_path, capsys, empty_keyring):
    db = str(tmp_path / "r.db")
    server = bybit_server()
    try:
        code, out, err = run(capsys, "tiers", "refresh", "bybit", "--db", db, "--base-url", server.url)
        assert code == 0, err
        assert out.strip() == ("bybit: 5 symbols stored (5 added: BTCUSDT, ETHUSDT, SOLUSDT, XRPUSDT, BTCPERP)")
        code, out, err = run(capsys, "tiers", "refresh", "bybit", "--db", db, "--base-url", server.url)
        assert code == 0 and out.strip() == "bybit: 5 symbols stored (5 unchanged)", err
    finally:
        server.stop()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT DISTINCT source FROM tier_tables").fetchall() == [("refresh",)]
    code, out, _ = run(capsys, "tiers", "refresh", "binance-usdm", "--db", db)
    assert code == 2 and len(out.strip().splitlines()) == 1
    assert out.startswith("binance-usdm: skipped: ") and "keys" in out and "isodesk keys set binance-usdm" in out


@pytest.mark.parametrize(("venue", "expected"), [
    ("okx", "okx: 2 symbols stored (2 added: ETH-USDT-SWAP, BTC-USDT-SWAP)"),
    ("hyperliquid", "hyperliquid: 8 symbols stored (8 added: BTC, ETH, HPOS, LOOM, test:BTC, test:ETH, test:HPOS, "
                    "test:LOOM)"),
])
def test_refresh_of_okx_families_and_hyperliquid_dexes(tmp_path, capsys, venue, expected):
    from tests.venues import tier_servers

    server = getattr(tier_servers, f"{venue}_server")()
    db = str(tmp_path / "r.db")
    try:
        code, out, err = run(capsys, "tiers", "refresh", venue, "--db", db, "--base-url", server.url)
    finally:
        server.stop()
    assert code == 0 and out.strip() == expected, err
    if venue == "okx":  # ctVal from the instruments answer the same refresh read
        code, out, _ = run(capsys, "tiers", "show", "okx", "ETH-USDT-SWAP", "--db", db, "--json")
        assert json.loads(out)["contract_value"] == "0.1"
    else:  # a HIP-3 dex's asset, strict isolated by its onlyIsolated flag
        code, out, _ = run(capsys, "tiers", "show", "hyperliquid", "test:HPOS", "--db", db, "--json")
        assert json.loads(out)["strict_isolated"] is True


# -- a changed table of a held symbol: the alert and the new liquidation price ----------------------------

POSITION = "label,venue,symbol,side,quantity,entry_price,leverage,isolated_margin\n" \
           "btc-long,binance-usdm,BTCUSDT,long,0.5,60000,10,3000\n"
# 0.5 BTC from 60,000 with 3,000: P = (Q·E − W − a) / (Q·(1 − r)), bracket 1 (a = 0) at 0.4 % → 0.8 %
OLD_LIQ = (30_000 - 3_000) / (0.5 * (1 - 0.004))
NEW_LIQ = (30_000 - 3_000) / (0.5 * (1 - 0.008))
MESSAGE = "binance-usdm changed BTCUSDT tiers: maintenance 0.4 % → 0.8 %, liquidation price 54,216.9 → 54,435.5"


def _book_with_a_btc_long(tmp_path, capsys):
    db = str(tmp_path / "book.db")
    (tmp_path / "book.csv").write_text(POSITION, encoding="utf-8")
    code, _, err = run(capsys, "import", str(tmp_path / "book.csv"), "--db", db)
    assert code == 0, err
    body = binance_usdm_body()
    body[0]["brackets"][0]["maintMarginRatio"] = "0.008"
    return db, write(tmp_path / "brackets.json", body)


def _liquidation(capsys, db):
    code, out, err = run(capsys, "status", "--db", db, "--json")
    assert code == 0, err
    (position,) = json.loads(out)["positions"]
    return position["liquidation_price"]


def test_a_changed_table_of_a_held_symbol_raises_the_alert_and_moves_the_liquidation_price(tmp_path, capsys):
    db, brackets = _book_with_a_btc_long(tmp_path, capsys)
    assert pytest.approx(54_216.867, abs=1e-3) == OLD_LIQ and pytest.approx(54_435.484, abs=1e-3) == NEW_LIQ
    assert _liquidation(capsys, db) == pytest.approx(OLD_LIQ, rel=1e-12)
    code, out, err = run(capsys, "tiers", "import", "binance-usdm", brackets, "--db", db)
    assert code == 0, err
    assert out.splitlines() == ["binance-usdm: 3 symbols stored (3 added: BTCUSDT, ETHUSDT, SOLUSDT)",
                                f"btc-long: {MESSAGE}"]
    assert _liquidation(capsys, db) == pytest.approx(NEW_LIQ, rel=1e-12)
    with Store.open(db) as store:
        (alert,) = [a for a in store.alerts() if a.kind == "tiers_changed"]
    assert alert.message == MESSAGE and alert.level == "warning"
    # the same answer again changes nothing: no new alert
    code, out, _ = run(capsys, "tiers", "import", "binance-usdm", brackets, "--db", db)
    assert out.strip() == "binance-usdm: 3 symbols stored (3 unchanged)"


def test_with_the_app_holding_the_book_its_desk_stores_alerts_and_recomputes(tmp_path, capsys):
    db, brackets = _book_with_a_btc_long(tmp_path, capsys)
    desk = Desk(Store.open(db), None, catalog=shipped_catalog(), program="the isodesk app")
    try:
        desk.drain_events()
        assert float(desk.snapshot.cols["liquidation_price"][0]) == pytest.approx(OLD_LIQ, rel=1e-12)
        codes: list[int] = []
        thread = threading.Thread(target=lambda: codes.append(main(["tiers", "import", "binance-usdm", brackets,
                                                                     "--db", db])), daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while thread.is_alive() and time.monotonic() < deadline:
            desk.step()
            time.sleep(0.01)
        thread.join(1)
        assert codes == [0]
        assert f"btc-long: {MESSAGE}" in capsys.readouterr().out
        assert float(desk.snapshot.cols["liquidation_price"][0]) == pytest.approx(NEW_LIQ, rel=1e-12)
        assert desk.catalog.source("binance-usdm", "linear", "BTCUSDT").kind == "import"
        events = [e for e in desk.drain_events() if e.kind is EventKind.TIERS]
        assert [e.message for e in events] == [MESSAGE] and events[0].alert_id is not None
    finally:
        desk.close()
    with sqlite3.connect(db) as conn:
        (origin,) = conn.execute("SELECT origin FROM commands WHERE kind = 'StoreTierTables'").fetchone()
    assert origin.startswith("isodesk command line")  # queued by the command line, answered by the app's desk


# -- positions without a table --------------------------------------------------------------------------


def test_a_position_row_without_a_table_names_the_way_out_and_an_mmr_column_imports_it(tmp_path, capsys):
    db = str(tmp_path / "p.db")
    header = "label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin"
    (tmp_path / "no.csv").write_text(f"{header}\neth-okx,okx,DOGE-USDT-SWAP,linear,long,1000,0.2,5,40\n",
                                     encoding="utf-8")
    code, _, err = run(capsys, "import", str(tmp_path / "no.csv"), "--db", db)
    assert code == 2
    assert "row 2, column symbol: 'DOGE-USDT-SWAP' is not a okx linear symbol" in err
    assert "isodesk tiers refresh okx" in err and "mmr column" in err
    (tmp_path / "own.csv").write_text(f"{header},mmr\neth-okx,okx,DOGE-USDT-SWAP,linear,long,1000,0.2,5,40,0.02\n",
                                      encoding="utf-8")
    code, out, err = run(capsys, "import", str(tmp_path / "own.csv"), "--db", db)
    assert code == 0, err
    code, out, _ = run(capsys, "status", "--db", db, "--json")
    (position,) = json.loads(out)["positions"]
    # one tier at 2 %; OKX counts the 0.05 % taker fee to close at P: W + Q(P − E) = Q·P·(r + f)
    assert position["liquidation_price"] == pytest.approx((200 - 40) / (1000 * (1 - 0.02 - 0.0005)), rel=1e-9)
    # the rate is kept in the book: the export carries it, a reload uses it
    code, _, _ = run(capsys, "export", str(tmp_path / "out.csv"), "--db", db)
    assert code == 0 and (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[1].endswith(",0.02")
    with Store.open(db) as store:
        assert store.db.execute("SELECT mmr FROM position_rates").fetchall() == [("0.02",)]


def test_an_mmr_that_is_not_a_rate_is_refused(tmp_path, capsys):
    header = "label,venue,symbol,side,quantity,entry_price,leverage,isolated_margin,mmr"
    (tmp_path / "bad.csv").write_text(f"{header}\na,bybit,ETHUSDT,long,1,3000,5,600,1.5\n", encoding="utf-8")
    code, _, err = run(capsys, "import", str(tmp_path / "bad.csv"), "--db", str(tmp_path / "x.db"))
    assert code == 2 and "row 2, column mmr: '1.5' must be a rate between 0 and 1" in err


def test_the_command_is_refused_by_the_desk_when_its_tables_are_not_of_its_venue(tmp_path):
    from isodesk.cli.deliver import send
    from isodesk.desk.commands import StoreTierTables
    from isodesk.venues.tier_bodies import parse_tier_body

    db = str(tmp_path / "v.db")
    Store.open(db).close()
    tables = parse_tier_body("bybit", bybit_body(bybit_records()["ETHUSDT"]))
    args = argparse.Namespace(db=db, demo=False, request_id=None)
    result = send(args, StoreTierTables("okx", "import", tuple(t.to_json() for t in tables), 0.0))
    assert not result.accepted and result.reason == "nothing stored: ETHUSDT not of okx"
    bad = tables[0].to_json()
    bad["rows"][0][2] = "1.5"
    result = send(args, StoreTierTables("bybit", "import", (bad,), 0.0))
    assert not result.accepted and "maintenance rate 1.5 is not in [0, 1)" in result.reason
    assert stored_count(db) == 0
    assert Decimal(bad["rows"][0][2]) == Decimal("1.5")
