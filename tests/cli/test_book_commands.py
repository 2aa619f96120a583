"""`status`, `replay`, `import`, `export`, `deposit`, `withdraw` as a user runs them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from isodesk.cli import main
from isodesk.margin.markets import market_of
from tests.cli.conftest import run


def test_status_json_has_every_figure(demo_db, capsys):
    code, out, _ = run(capsys, "status", "--db", str(demo_db), "--json")
    doc = json.loads(out)
    assert code == 0
    assert len(doc["positions"]) == 13
    first = doc["positions"][0]
    for key in ("label", "symbol", "side", "status", "isolated_margin", "liquidation_price", "margin_ratio",
                "distance_frac", "bankruptcy_price", "max_removable", "unrealized_pnl", "level"):
        assert key in first
    assert first["label"] == "sol-degen-long"  # the nearest to liquidation comes first
    assert first["level"] == "danger"


def test_a_named_database_starts_empty(tmp_path, capsys):
    code, out, _ = run(capsys, "status", "--db", str(tmp_path / "mine.db"), "--json")
    assert code == 0 and json.loads(out) == {"positions": [], "accounts": []}


def test_replay_liquidates_exactly_the_crossed_positions(demo_db, tmp_path, capsys):
    _, out, _ = run(capsys, "status", "--db", str(demo_db), "--json")
    before = {p["label"]: p for p in json.loads(out)["positions"]}
    path = tmp_path / "crash.csv"
    rows = ["ts,symbol,price"]
    t0 = 1_800_000_000
    prices = [60_000 - 500 * i for i in range(25)] + [49_000 + 400 * i for i in range(10)]
    for i, p in enumerate(prices):
        rows.append(f"{t0 + 10 * i},BTCUSDT,{p}")
    path.write_text("\n".join(rows) + "\n")
    low, high = min(prices), max(prices)

    code, out, err = run(capsys, "replay", str(path), "--db", str(demo_db), "--json")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    summary = lines[-1]["summary"]
    events = lines[:-1]
    expected = {label for label, p in before.items() if market_of(p["venue"], p["symbol"]) == "BTCUSDT"
                and ((p["side"] == "long" and p["liquidation_price"] >= low)
                     or (p["side"] == "short" and p["liquidation_price"] <= high))}
    assert expected == {"btc-bybit-long", "btc-inverse-long", "btc-core-long"}
    liquidated = {p["label"] for p in summary["positions"] if p["status"] == "liquidated"}
    assert liquidated == expected
    assert {e["label"] for e in events if e["event"] == "liquidation"} == expected
    for e in events:
        assert {"event", "label", "ts", "price"} <= set(e)
        assert t0 <= e["ts"] <= t0 + 10 * len(prices)
    by_label = {p["label"]: p for p in summary["positions"]}
    for label, p in before.items():
        if label not in expected:
            assert by_label[label]["status"] == "open"
            assert float(by_label[label]["isolated_margin"]) == pytest.approx(p["isolated_margin"], abs=0)
    accounts = {a["name"]: a for a in summary["accounts"]}
    assert accounts["binance-usdm:USDT"]["free_balance"] == "12500.00"
    assert accounts["bybit:USDT"]["realized_loss"] == "3025.00"
    assert accounts["bybit:BTC"]["realized_loss"] == "0.10000000"
    # it ran on a copy: the database itself is untouched
    conn = sqlite3.connect(demo_db)
    assert conn.execute("SELECT count(*) FROM positions WHERE status = 'liquidated'").fetchone() == (0,)
    conn.close()


def test_replay_with_commit_writes_the_outcome(demo_db, tmp_path, capsys):
    path = tmp_path / "dip.csv"
    path.write_text("ts,symbol,price\n2030-01-01T00:00:00Z,SOLUSDT,150\n2030-01-01T00:00:10Z,SOLUSDT,140\n")
    code, _, _ = run(capsys, "replay", str(path), "--db", str(demo_db), "--commit")
    assert code == 0
    conn = sqlite3.connect(demo_db)
    assert conn.execute("SELECT label FROM positions WHERE status = 'liquidated'").fetchall() == [("sol-degen-long",)]
    conn.close()


def test_replay_bad_csv_is_a_clear_error(demo_db, tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("ts,symbol,price\n1,BTCUSDT,abc\n")
    code, out, err = run(capsys, "replay", str(path), "--db", str(demo_db))
    assert code == 2 and out == ""
    assert "line 2" in err and "price" in err


def test_import_export_round_trip_and_atomic_rejection(tmp_path, capsys):
    db = tmp_path / "mine.db"
    good = tmp_path / "book.csv"
    good.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                    "a,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
                    "b,bybit,BTCUSD,inverse,short,1000,60000,5,0.0033\n")
    code, out, err = run(capsys, "import", str(good), "--db", str(db))
    assert code == 0, err
    assert "imported 2 positions" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                   "c,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
                   "d,binance-usdm,NOPEUSDT,linear,long,1,1,1,1\n"
                   "e,binance-usdm,BTCUSDT,linear,long,1,60000,180,400\n"
                   "f,binance-usdm,BTCUSDT,linear,long,1,60000,500,200\n")
    code, out, err = run(capsys, "import", str(bad), "--db", str(db))
    assert code == 2
    assert "row 3, column symbol: 'NOPEUSDT' is not a binance-usdm linear symbol" in err
    assert "row 4, column leverage: 180x is above the 150x maximum" in err
    assert "row 5, column leverage: 500× is outside 1× to 200× (no venue offers more)" in err
    out_file = tmp_path / "out.json"
    code, out, _ = run(capsys, "export", str(out_file), "--db", str(db))
    rows = json.loads(out_file.read_text())
    assert [r["label"] for r in rows] == ["a", "b"]  # c was not written
    assert rows[1]["isolated_margin"] == "0.0033" and rows[1]["contract_size"] == "1"
    assert rows[0]["account"] == "binance-usdm:USDT" and rows[1]["account"] == "bybit:BTC"


def test_deposit_and_withdraw(tmp_path, capsys):
    db = str(tmp_path / "cash.db")
    code, out, err = run(capsys, "deposit", "100.25", "--db", db)
    assert code == 2 and "account: name one with --account (accounts: none yet)" in err
    code, out, _ = run(capsys, "deposit", "100.25", "--account", "okx:USDT", "--db", db)
    assert code == 0 and "free balance now 100.25 USDT" in out
    code, out, err = run(capsys, "withdraw", "100.26", "--db", db)
    assert code == 2 and "more than the free balance 100.25" in err
    code, out, _ = run(capsys, "withdraw", "0.25", "--db", db)
    assert code == 0 and "free balance now 100.00 USDT" in out


def test_status_watch_refreshes_from_the_book(demo_db, capsys):
    import sqlite3 as _sqlite3
    import time as _time

    conn = _sqlite3.connect(demo_db)  # another program writes a fresh price while we watch
    with conn:
        conn.execute("INSERT INTO prices (ts, symbol, price, source) VALUES (?, 'SOLUSDT', 160.0, 'ext')",
                     (_time.time(),))
    conn.close()
    code, out, _ = run(capsys, "status", "--db", str(demo_db), "--watch", "--interval", "0", "--count", "2", "--json")
    frames = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(frames) == 2
    sol = next(p for p in frames[-1]["positions"] if p["label"] == "sol-degen-long")
    assert sol["mark"] == 160.0 and sol["level"] == "warning"  # 8 % from its liquidation price 147.24
    assert sol["distance_frac"] == pytest.approx((160.0 - sol["liquidation_price"]) / 160.0)


# -- bounds (issue 10, finding 6) -----------------------------------------------------------------------------------

def _tables(db):
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()


@pytest.mark.parametrize(("amount", "reason"), [
    ("1E+999999999", "1E+999999999 is more than the largest amount isodesk keeps (10^12)"),
    ("1E+400", "1E+400 is more than the largest amount isodesk keeps (10^12)"),
    ("1E-21", "0.000000000000000000001 has more than 8 decimal places (the ledger keeps 0.00000001)"),
    ("1,5", "'1,5' has a comma; write the decimal point as '.' and no thousands separators (1,5 is not read as 1.5 "
            "or as 15)"),
    ("NaN", "'NaN' is not a decimal number"),
])
@pytest.mark.parametrize("command", ["deposit", "withdraw"])
def test_an_amount_beyond_the_bounds_exits_2_naming_it_and_writes_nothing(demo_db, capsys, command, amount, reason):
    before = _tables(demo_db)
    with pytest.raises(SystemExit) as caught:  # argparse refuses it before the book is opened
        main([command, "--db", str(demo_db), "--account", "binance-usdm:USDT", "--", amount])
    err = capsys.readouterr().err
    assert caught.value.code == 2
    assert err == f"isodesk {command}: argument AMOUNT: {reason} (see isodesk {command} --help)\n"  # one line
    assert _tables(demo_db) == before  # the ledger (and everything else) is unchanged


def test_import_refuses_a_position_already_past_its_liquidation_price(demo_db, tmp_path, capsys):
    from isodesk.desk.setup import shipped_catalog
    from isodesk.margin import Position, compute_one

    catalog = shipped_catalog()
    # a long 1 BTC from 70,000 holding 7,000: the demo's stored BTCUSDT price is 60,000, past its liquidation price
    past = Position(venue="binance-usdm", side="long", entry_price=70_000.0, quantity=1.0, isolated_margin=7_000.0,
                    leverage=10.0, taker_fee_rate=catalog.taker_fee("binance-usdm", "linear"),
                    tiers=catalog.table("binance-usdm", "linear", "BTCUSDT"), symbol="BTCUSDT")
    liq = compute_one(past, 60_000.0).liquidation_price
    assert liq > 60_000
    path = tmp_path / "past.csv"
    path.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                    "fine,binance-usdm,BTCUSDT,linear,long,1,60000,10,6000\n"
                    "past,binance-usdm,BTCUSDT,linear,long,1,70000,10,7000\n")
    before = _tables(demo_db)
    code, out, err = run(capsys, "import", str(path), "--db", str(demo_db))
    assert code == 2 and out == ""
    assert (f"row 3, column isolated_margin: the long is already past its liquidation price {liq:,.8g} at the mark "
            "60,000 (the latest stored BTCUSDT price)") in err
    assert "row 2" not in err
    assert _tables(demo_db)["positions"] == before["positions"] and _tables(demo_db)["ledger"] == before["ledger"]


def test_import_marks_a_market_without_a_stored_price_at_the_entry_price(tmp_path, capsys):
    path = tmp_path / "thin.csv"  # 100 of margin cannot carry 60,000 of notional (maintenance 0.4 % = 240)
    path.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                    "thin,binance-usdm,BTCUSDT,linear,short,1,60000,10,100\n")
    code, _, err = run(capsys, "import", str(path), "--db", str(tmp_path / "new.db"))
    assert code == 2
    assert "row 2, column isolated_margin: the short is already past its liquidation price " in err
    assert "at the mark 60,000 (its entry price; no BTCUSDT price is stored)" in err


def test_import_refuses_unbounded_numbers_and_control_characters_and_writes_nothing(tmp_path, capsys):
    db = tmp_path / "mine.db"
    path = tmp_path / "bad.csv"
    path.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                    "good,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
                    "huge,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,1E+308\n"
                    "n\x00ul,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
                    "\x1b[2Jclear,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
                    "tiny,binance-usdm,BTCUSDT,linear,long,0.5,1E-21,10,3000\n", encoding="utf-8")
    code, out, err = run(capsys, "import", str(path), "--db", str(db))
    assert code == 2 and out == ""
    assert "row 3, column isolated_margin: 1E+308 is more than the largest amount isodesk keeps (10^12)" in err
    assert "row 4, column label: has a control character '\\x00' at position 2" in err
    assert "row 5, column label: has a control character '\\x1b' at position 1" in err
    assert "row 6, column entry_price: 0.000000000000000000001 is outside the prices isodesk accepts" in err
    assert "\x1b" not in err and "\x00" not in err
    tables = _tables(db)
    assert tables["positions"] == [] and tables["ledger"] == [] and tables["accounts"] == []


def test_status_prints_stored_text_escaped_and_json_unchanged(demo_db, capsys):
    evil = "sol\x1b[2J\x1b]0;pwned\x07\x00\u202e"
    conn = sqlite3.connect(demo_db)  # an old book, written before the bounds existed
    with conn:
        conn.execute("UPDATE positions SET label = ? WHERE label = 'sol-degen-long'", (evil,))
    conn.close()
    code, out, err = run(capsys, "status", "--db", str(demo_db))
    assert code == 0, err
    for raw in ("\x1b", "\x07", "\x00", "\u202e"):
        assert raw not in out
    assert "sol\\x1b[2J\\x1b]0;pwned\\x07\\x00\\u202e" in out
    code, out, _ = run(capsys, "status", "--db", str(demo_db), "--json")
    assert code == 0
    assert json.loads(out)["positions"][0]["label"] == evil
