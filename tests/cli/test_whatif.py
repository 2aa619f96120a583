"""`isodesk whatif` on the demo book: JSON outcome, text table, bad input, and a database left untouched.

Demo book (resources/demo/book.json), marks BTC 60,000, ETH 3,000, SOL 150, DOGE 0.15, XRP 0.6.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import sqlite3
import time

import pytest

from isodesk.store import Store
from tests.cli.conftest import run


def fingerprint(db):
    conn = sqlite3.connect(db)
    try:
        tables = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                  for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    return tables


def test_whatif_json_on_the_demo_book(demo_db, capsys):
    before_bytes = hashlib.sha256(demo_db.read_bytes()).hexdigest()
    before_rows = fingerprint(demo_db)
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--market", "BTCUSDT=-15%",
                         "--beta", "SOLUSDT=1.4", "--json")
    assert code == 0, err
    doc = json.loads(out)
    positions = {p["label"]: p for p in doc["isolated"]["positions"]}
    assert len(positions) == 13
    for p in positions.values():
        assert {"label", "shocked_mark", "margin_ratio", "liquidated", "loss"} <= set(p)
    # btc-core-long: 0.5 BTC from 62,000, margin 6,200; BTC −15 % → 51,000: uPnL 0.5·(51,000 − 62,000) = −5,500,
    # above its liquidation price 49,799.20 → open, loss 5,500 (unrealized).
    core = positions["btc-core-long"]
    assert core["shocked_mark"] == pytest.approx(51_000.0)
    assert core["unrealized_pnl"] == pytest.approx(-5_500.0)
    assert not core["liquidated"] and core["loss"] == pytest.approx(5_500.0)
    # sol-degen-long: SOL moves 1.4 × −15 % = −21 % → 118.50: 200·(118.5 − 155) = −7,300 > margin 1,700
    # → liquidated, loses its 1,700.
    sol = positions["sol-degen-long"]
    assert sol["shocked_mark"] == pytest.approx(118.5)
    assert sol["liquidated"] and sol["loss"] == pytest.approx(1_700.0)
    # btc-bybit-long: 1 BTC from 60,500, margin 3,025 → uPnL −9,500: liquidated, loses 3,025.
    assert positions["btc-bybit-long"]["liquidated"]
    assert positions["btc-bybit-long"]["loss"] == pytest.approx(3_025.0)
    # cross, bybit:USDT: pool = free 4,000 + 3,025 = 7,025; balance 7,025 − 9,500 < 0 → the account is
    # liquidated and loses the whole pool 7,025. bybit:BTC (another account of the same venue) is separate.
    cross = {a["name"]: a for a in doc["cross"]["accounts"]}
    assert {"name", "liquidated", "total_loss", "equity_after"} <= set(cross["bybit:USDT"])
    assert cross["bybit:USDT"]["liquidated"]
    assert cross["bybit:USDT"]["total_loss"] == pytest.approx(7_025.0)
    assert cross["bybit:USDT"]["equity_after"] == 0.0
    assert not cross["bybit:BTC"]["liquidated"]
    # btc-inverse-long: 30,000 USD long from 60,000, margin 0.1 BTC; at 51,000 uPnL = 30,000/60,000 −
    # 30,000/51,000 = −0.0882353 BTC; the BTC account keeps 0.2 + 0.1 − 0.0882353 = 0.2117647 either way.
    assert cross["bybit:BTC"]["equity_after"] == pytest.approx(0.3 + (0.5 - 30_000 / 51_000))
    assert cross["bybit:BTC"]["equity_after"] == pytest.approx(0.2117647, abs=1e-7)
    # totals per settlement currency, never mixed
    assert set(doc["isolated"]["total_loss"]) == {"USDT", "USDC", "BTC"}
    assert set(doc["cross"]["equity_after"]) == {"USDT", "USDC", "BTC"}
    iso_accounts = {a["name"]: a for a in doc["isolated"]["accounts"]}
    assert doc["isolated"]["total_loss"]["USDT"] == pytest.approx(
        iso_accounts["binance-usdm:USDT"]["total_loss"] + iso_accounts["bybit:USDT"]["total_loss"])
    # the database is exactly as it was
    assert hashlib.sha256(demo_db.read_bytes()).hexdigest() == before_bytes
    assert fingerprint(demo_db) == before_rows


def test_whatif_text_table_and_venue_symbols(demo_db, capsys):
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--shock", "BTC=52000", "--shock", "ETHUSDT=+5%",
                         "--margin", "btc-bybit-long=+6000", "--leverage", "eth-hl-long=5")
    assert code == 0, err
    assert "BTCUSDT 52,000.00 (-13.33 %)" in out and "ETHUSDT 3,150.00 (+5.00 %)" in out
    for header in ("position", "isolated", "cross", "iso equity", "cross equity", "currency"):
        assert header in out
    line = next(x for x in out.splitlines() if x.startswith("btc-bybit-long"))
    # margin 3,025 + 6,000 = 9,025; at 52,000 uPnL = 52,000 − 60,500 = −8,500, balance 525 above Bybit's
    # unified-account requirement (its default rule, "uta"): maintenance at the mark 0.5 % · 52,000 = 260
    # plus the fee to close at the bankruptcy price, 0.055 % · (60,500 − 9,025) / (1 − 0.055 %) = 28.33
    # → survives; it needs 288.33 + 8,500 = 8,788.33.
    assert "9,025.00" in line and " ok " in line and "8,788.33" in line
    # eth-hl-long at 5×: margin = 5 · 3,100 / 5 = 3,100
    assert "3,100.00" in next(x for x in out.splitlines() if x.startswith("eth-hl-long"))


def test_whatif_path(demo_db, capsys):
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--step", "BTC=-5%", "--step", "BTC=-10%,SOL=-10%",
                         "--step", "BTC=0%", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["steps"] == 3
    positions = {p["label"]: p for p in doc["isolated"]["positions"]}
    # bybit long (liq 57,777.50) goes at step 1 (57,000), sol-degen-long (liq 147.24) at step 2 (135)
    assert positions["btc-bybit-long"]["liquidated_step"] == 1
    assert positions["sol-degen-long"]["liquidated_step"] == 2
    assert positions["btc-core-long"]["liquidated_step"] is None


@pytest.mark.parametrize(("argv", "message"), [
    (["--shock", "BTC=abc"], "'abc' is not a decimal number"),
    (["--shock", "BTC=-150%"], "below −100 %"),
    (["--shock", "BTC"], "expected NAME=VALUE"),
    (["--shock", "NOPE=-5%"], "unknown symbol 'NOPE'"),
    (["--shock", "BTC=-0"], "-0 must be greater than 0"),
    (["--market", "BTC=50000"], "percent"),
    (["--market", "BTC=-80%", "--beta", "SOL=1.5"], "below −100 %"),
    (["--beta", "SOL=x"], "'x' is not a decimal number"),
    (["--margin", "nobody=100"], "no open position"),
    (["--margin", "btc-core-long=-7000"], "must stay above 0"),
    (["--step", "BTC=-5%", "--shock", "ETH=-1%"], "a path replaces"),
    # bounds (issue 10, finding 6): a decimal comma is refused with the reason, never read as -15 %
    (["--shock", "BTC=-1,5%"], "--shock BTC=-1,5%: '-1,5' has a comma; write the decimal point as '.' and no "
                               "thousands separators (1,5 is not read as 1.5 or as 15)"),
    (["--shock", "BTC=52,000"], "--shock BTC=52,000: '52,000' has a comma"),
    (["--market", "BTC=-1,5%"], "--market BTC=-1,5%: '-1,5' has a comma"),
    (["--step", "BTC=-1,5%"], "--step BTC=-1,5%: '5%' is not SYMBOL=MOVE; a comma separates the moves of a step, "
                              "so write decimals with '.'"),
    (["--margin", "btc-core-long=+1,5"], "--margin btc-core-long=+1,5: '+1,5' has a comma"),
    (["--beta", "SOL=1,5"], "--beta SOL=1,5: '1,5' has a comma"),
    (["--shock", "BTC=1E+400"], "--shock BTC=1E+400: 1E+400 is outside the prices isodesk accepts (10^-12 to 10^12)"),
    (["--shock", "BTC=1E-21"], "0.000000000000000000001 is outside the prices isodesk accepts"),
    (["--shock", "BTC=NaN"], "'NaN' is not a decimal number"),
    (["--shock", "BTC=1E+999999999%"], "1E+999999999 % is more than +10^6 %"),
    (["--market", "BTC=-100%"], "-100 % is at or below −100 % (a price must stay above 0)"),
    (["--margin", "btc-core-long=1E+400"], "1E+400 is more than the largest amount isodesk keeps (10^12)"),
    (["--margin", "btc-core-long=-1E-21"], "0.000000000000000000001 has more than 8 decimal places"),
    (["--leverage", "btc-core-long=1E+999999999x"], "1E+999999999× is outside 1× to 200×"),
    (["--beta", "SOL=1E+400"], "--beta SOL=1E+400: '1E+400' is too large"),
])
def test_whatif_bad_input_is_one_clear_line(demo_db, capsys, argv, message):
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("isodesk whatif: ") and message in err


def test_whatif_shows_a_decimal_point_shock_and_stored_text_escaped(demo_db, capsys):
    conn = sqlite3.connect(demo_db)  # an old book, written before the bounds on text existed
    with conn:
        conn.execute("UPDATE positions SET label = ? WHERE label = 'btc-core-long'", ("core\x1b[2J\x00",))
    conn.close()
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--shock", "BTC=-1.5%")
    assert code == 0, err
    assert "BTCUSDT 59,100.00 (-1.50 %)" in out  # -1.5 %, not -15 %
    assert "\x1b" not in out and "\x00" not in out and "core\\x1b[2J\\x00" in out


# -- odds and funding after the scenario ---------------------------------------------------------------


def _hand_sigma(rows, half_life_s=3600.0):
    """The time-aware EWMA of squared log returns per second over ``rows`` ((ts, price) ascending)."""
    weighted = weight = 0.0
    for (t0, p0), (t1, p1) in itertools.pairwise(rows):
        dt, r = t1 - t0, math.log(p1 / p0)
        keep = 2.0 ** (-dt / half_life_s)
        weighted = keep * weighted + (1.0 - keep) * r * r / dt
        weight = keep * weight + (1.0 - keep)
    return math.sqrt(weighted / weight)


def test_whatif_json_has_the_odds_and_funding_after_the_shock(demo_db, capsys):
    # 20 minutes of BTC prices swinging 0.2 % a minute, ending at 60,000 a few seconds ago, and a funding quote
    now = time.time()
    store = Store.open(demo_db)
    try:
        store.insert_prices([(now - 10.0 - 60.0 * (20 - k), "BTCUSDT", 60_000.0 * (1.002 if k % 2 else 1.0))
                             for k in range(21)])
        with store.db.conn:
            store.db.conn.execute(
                "INSERT INTO funding_quotes (venue, market, rate, next_ts, interval_s, ts) VALUES (?, ?, ?, ?, ?, ?)",
                ["", "BTCUSDT", "0.0001", now + 3600.0, 28_800.0, now])
    finally:
        store.close()
    conn = sqlite3.connect(demo_db)
    try:  # every stored reference BTC price of the last 4 half-lives: what the command seeds from
        rows = conn.execute("SELECT ts, price FROM prices WHERE symbol = 'BTCUSDT' AND venue = '' AND ts >= ? "
                            "ORDER BY ts", [now - 4 * 3600.0]).fetchall()
    finally:
        conn.close()
    sigma = _hand_sigma(rows)
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--shock", "BTCUSDT=-5%", "--json")
    assert code == 0, err
    positions = {p["label"]: p for p in json.loads(out)["isolated"]["positions"]}
    core = positions["btc-core-long"]  # 0.5 BTC long, BTC 60,000 → 57,000, survives
    assert not core["liquidated"] and core["shocked_mark"] == pytest.approx(57_000.0)
    d = math.log(57_000.0 / core["liquidation_price"])
    assert core["sigma_distance"] == pytest.approx(d / (sigma * math.sqrt(86_400.0)), rel=1e-9)
    assert core["liq_prob_24h"] == pytest.approx(math.erfc(d / (sigma * math.sqrt(2 * 86_400.0))), rel=1e-9)
    assert core["liq_prob_1h"] == pytest.approx(math.erfc(d / (sigma * math.sqrt(2 * 3_600.0))), rel=1e-9)
    # the next payment at the shocked mark: 0.5 · 57,000 · 0.0001 = 2.85 paid; paid from the margin → liq rises
    assert core["next_funding_amount"] == pytest.approx(-2.85, rel=1e-12)
    assert core["liq_drift_pct_day"] > 0
    # ETH has no recent prices and no quote: unknown, not zero
    eth = positions["eth-swing-short"]
    assert all(eth[k] is None for k in ("sigma_distance", "liq_prob_1h", "liq_prob_24h", "next_funding_amount",
                                        "liq_drift_pct_day"))
    # the text says how many survivors are above the 20 % alert line
    above = sum(1 for p in positions.values() if p["liq_prob_24h"] is not None and p["liq_prob_24h"] > 0.2)
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--shock", "BTCUSDT=-5%")
    assert code == 0, err
    noun = "position" if above == 1 else "positions"
    assert f"{above} {noun} above 20 % odds of liquidation within 24 h after the shock." in out
    assert "24h odds" in out and "drift/day" in out


def test_whatif_without_recent_prices_shows_no_odds(demo_db, capsys):
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--market", "BTCUSDT=-5%", "--json")
    assert code == 0, err
    for p in json.loads(out)["isolated"]["positions"]:
        assert p["liq_prob_24h"] is None and p["sigma_distance"] is None and p["next_funding_amount"] is None
    code, out, err = run(capsys, "whatif", "--db", str(demo_db), "--market", "BTCUSDT=-5%")
    assert "Odds of liquidation: no realized volatility in the stored prices yet." in out
