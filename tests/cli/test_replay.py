"""`isodesk replay` through the tick guard: bad rows skipped and listed by line, real crashes played, --strict."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.cli.conftest import run

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z
BOOK = ("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
        "btc-long,binance-usdm,BTCUSDT,linear,long,0.1,60000,5,1200\n"  # liquidation price 48,192.77
        "eth-long,binance-usdm,ETHUSDT,linear,long,1,3000,5,600\n")  # liquidation price 2,409.64


@pytest.fixture
def book_db(tmp_path, capsys):
    """A database holding two 5× longs, BTC and ETH, on Binance USDⓈ-M."""
    db = tmp_path / "book.db"
    book = tmp_path / "book.csv"
    book.write_text(BOOK)
    code, _, err = run(capsys, "import", str(book), "--db", str(db))
    assert code == 0, err
    return db


def path_file(tmp_path, rows, name="path.csv"):
    path = tmp_path / name
    path.write_text("ts,symbol,price\n" + "".join(f"{ts},{symbol},{price}\n" for ts, symbol, price in rows))
    return path


def replay(capsys, path, db, *flags):
    code, out, err = run(capsys, "replay", str(path), "--db", str(db), *flags)
    lines = out.splitlines()
    return code, lines, err


def summary_of(lines):
    [summary] = [json.loads(line)["summary"] for line in lines if line.startswith('{"summary"')]
    return summary


def statuses(summary):
    return {p["label"]: p["status"] for p in summary["positions"]}


def test_a_crash_bar_the_next_price_confirms_liquidates_the_positions_it_crosses(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [
        (T0, "BTCUSDT", 60000), (T0, "ETHUSDT", 3000),
        (T0 + 60, "BTCUSDT", 59800), (T0 + 60, "ETHUSDT", 2990),
        (T0 + 120, "BTCUSDT", 20400), (T0 + 120, "ETHUSDT", 300),  # BTC -66 % (real), ETH -90 % (a lone spike)
        (T0 + 180, "BTCUSDT", 20500), (T0 + 180, "ETHUSDT", 2985),
        (T0 + 240, "BTCUSDT", 20600), (T0 + 240, "ETHUSDT", 2980),
    ])
    code, lines, err = replay(capsys, path, book_db, "--json")
    assert code == 0, err
    summary = summary_of(lines)
    assert statuses(summary) == {"btc-long": "liquidated", "eth-long": "open"}
    events = [json.loads(line) for line in lines[:-1]]
    [liquidation] = [e for e in events if e["event"] == "liquidation"]
    # confirmed at T0+180; liquidated at the worst price of the step, the crash bar's 20,400 (the desk
    # checks every tick of a step, so a wick through the liquidation price acts)
    assert (liquidation["label"], liquidation["ts"], liquidation["price"]) == ("btc-long", T0 + 180, 20400.0)
    assert summary["ticks"] == 9 and summary["rejected_ticks"] == 1
    assert summary["rejected_rows"] == [{"line": 7, "reason": "jump", "symbol": "ETHUSDT", "ts": T0 + 120,
                                         "price": 300.0, "detail": "a -90.0% move from 2990 that the next "
                                                                   "price 2985 did not confirm"}]
    assert summary["accounts"][0]["realized_loss"] == "1200"
    eth = next(p for p in summary["positions"] if p["label"] == "eth-long")
    assert eth["mark"] == 2980.0 and eth["isolated_margin"] == "600"


def test_a_nan_row_and_a_millisecond_row_are_skipped_listed_and_the_path_plays_on(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [
        (T0, "BTCUSDT", 60000), (T0, "ETHUSDT", 3000),
        (T0 + 60, "BTCUSDT", "nan"),
        ((T0 + 90) * 1000, "BTCUSDT", 59900),  # milliseconds: must not block the rows after it
        (T0 + 120, "BTCUSDT", 55000),
        (T0 + 180, "BTCUSDT", 50000),
        (T0 + 240, "BTCUSDT", 47000),  # through btc-long's liquidation price 48,192.77
    ])
    code, lines, err = replay(capsys, path, book_db, "--json")
    assert code == 0, err
    summary = summary_of(lines)
    assert [(r["line"], r["reason"], r["symbol"]) for r in summary["rejected_rows"]] == [
        (4, "not_finite", "BTCUSDT"), (5, "ts_milliseconds", "BTCUSDT")]
    assert summary["rejected_rows"][0]["price"] is None  # JSON has no NaN; the detail says what it was
    assert summary["rejected_rows"][0]["detail"] == "price nan is not a finite number"
    assert statuses(summary) == {"btc-long": "liquidated", "eth-long": "open"}
    assert summary["ticks"] == 5 and summary["rejected_ticks"] == 2
    assert summary["clock"] == T0 + 240


def test_text_mode_lists_the_skipped_rows_and_unknown_symbols_for_a_reader(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [
        (T0, "BTCUSDT", 60000), (T0, "BTCUSDTT", 60000), (T0, "SOLUSDT", 150),
        (T0 + 120, "BTCUSDT", 59000),
        (T0 + 60, "BTCUSDT", 59500),  # out of order
        (T0 + 180, "BTCUSDT", "1e-300"),
        (T0 + 240, "BTCUSDT", 58000),
    ], name="messy.csv")
    code, lines, err = replay(capsys, path, book_db)
    assert code == 0, err
    summary = summary_of(lines)
    assert summary["unknown_symbols"] == ["BTCUSDTT", "SOLUSDT"]
    assert [(r["line"], r["reason"]) for r in summary["rejected_rows"]] == [(6, "time_backwards"),
                                                                           (7, "out_of_bounds")]
    assert lines[-4:] == [
        "messy.csv: 2 rows skipped:",
        "  line 6: time_backwards: BTCUSDT ts 2024-06-01T00:01:00Z is older than 2024-06-01T00:02:00Z, "
        "already taken",
        "  line 7: out_of_bounds: BTCUSDT price 1e-300 is outside 10^-12 to 10^12",
        "no open position uses BTCUSDTT, SOLUSDT: their prices moved nothing",
    ]
    # --json prints the JSON lines only
    code, json_lines, _ = replay(capsys, path, book_db, "--json")
    assert code == 0 and json_lines[-1].startswith('{"summary"') and summary_of(json_lines) == summary


def test_a_clean_path_reports_empty_lists(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [(T0, "BTCUSDT", 60000), (T0 + 60, "ETHUSDT", 2999)])
    code, lines, _ = replay(capsys, path, book_db)
    summary = summary_of(lines)
    assert code == 0 and summary["rejected_rows"] == [] and summary["unknown_symbols"] == []
    assert lines[-1].startswith('{"summary"')  # nothing for a reader to add


def test_a_position_the_path_liquidates_still_counts_as_using_its_symbol(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [(T0, "BTCUSDT", 60000), (T0 + 60, "BTCUSDT", 48000)])
    code, lines, _ = replay(capsys, path, book_db, "--json")
    summary = summary_of(lines)
    assert code == 0 and statuses(summary)["btc-long"] == "liquidated" and summary["unknown_symbols"] == []


def test_strict_refuses_the_whole_file_listing_every_bad_line_and_runs_nothing(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [
        (T0, "BTCUSDT", 60000),
        (T0 + 60, "BTCUSDT", "nan"),
        (T0 + 120, "BTCUSDT", 40000),  # would liquidate btc-long
        (T0 + 180, "BTCUSDT", "abc"),
        (T0 + 240, "BTCUSDT", 0),
    ], name="bad.csv")
    code, lines, err = replay(capsys, path, book_db, "--strict", "--commit")
    assert code == 2 and lines == []
    assert err == ("isodesk replay: bad.csv: 3 of 5 rows are bad; the whole path is refused (strict):\n"
                   "  line 3: not_finite: BTCUSDT price nan is not a finite number\n"
                   "  line 5: malformed: BTCUSDT column price: 'abc' is not a number\n"
                   "  line 6: non_positive: BTCUSDT price 0.0 is not above 0\n")
    conn = sqlite3.connect(book_db)  # nothing ran, though --commit was given
    assert conn.execute("SELECT count(*) FROM prices").fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM positions WHERE status = 'liquidated'").fetchone() == (0,)
    conn.close()
    # without --strict the good rows play
    code, lines, _ = replay(capsys, path, book_db, "--json")
    assert code == 0 and statuses(summary_of(lines))["btc-long"] == "liquidated"


def test_strict_runs_a_clean_file(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [(T0, "BTCUSDT", 60000), (T0 + 60, "BTCUSDT", 59000)])
    code, lines, err = replay(capsys, path, book_db, "--strict", "--json")
    assert code == 0, err
    assert summary_of(lines)["ticks"] == 2


def test_a_lone_spike_through_the_liquidation_price_liquidates_nothing(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [(T0, "BTCUSDT", 60000), (T0 + 60, "BTCUSDT", 1000), (T0 + 120, "BTCUSDT", 59900),
                                (T0 + 180, "BTCUSDT", 25000)])  # the last row: nothing confirms it
    code, lines, _ = replay(capsys, path, book_db, "--json")
    summary = summary_of(lines)
    assert code == 0 and statuses(summary)["btc-long"] == "open"
    assert [(r["line"], r["reason"]) for r in summary["rejected_rows"]] == [(3, "jump"), (5, "unconfirmed")]
    assert next(p for p in summary["positions"] if p["label"] == "btc-long")["mark"] == 59900.0
