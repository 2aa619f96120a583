"""`isodesk replay` through the tick guard: bad rows skipped and listed by line, real crashes played, --strict."""

from __future__ import annotations

import io
import json
import sqlite3

import numpy as np
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


# -- the fast replay prints what the tick-by-tick desk prints ----------------------------------------

def both(capsys, path, db, *flags):
    """Run the replay fast and with --step on copies of ``db``; both outputs must be the same."""
    outputs = []
    for mode in ((), ("--step",)):
        copy = db.parent / f"copy{len(outputs)}.db"
        copy.write_bytes(db.read_bytes())
        code, out, err = run(capsys, "replay", *([str(path)] if not isinstance(path, list) else map(str, path)),
                             "--db", str(copy), *flags, *mode)
        outputs.append((code, out, err))
    assert outputs[0] == outputs[1]
    return outputs[0]


@pytest.mark.parametrize("flags", [("--json",), ()])
def test_the_demo_book_over_a_shipped_path_prints_the_same_fast_and_stepped(demo_db, capsys, flags):
    from isodesk.paths import resource_path

    code, out, err = both(capsys, resource_path("paths", "crash-30pct-rebound.csv"), demo_db, *flags)
    assert code == 0, err
    lines = out.splitlines()
    assert any('"liquidation"' in line for line in lines) and summary_of(lines)["ticks"] > 0


def test_a_messy_path_prints_the_same_fast_and_stepped(book_db, tmp_path, capsys):
    rng = np.random.default_rng(11)
    rows, price = [], {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}
    for i in range(3000):
        symbol = "BTCUSDT" if i % 2 else "ETHUSDT"
        price[symbol] *= float(np.exp(rng.normal(-0.0004, 0.004)))
        cell: object = round(price[symbol], 2)
        if i % 97 == 0:
            cell = "nan"
        elif i % 211 == 0:
            cell = round(price[symbol] * 3, 2)  # a lone spike
        rows.append((T0 + i // 2 + (600 if i > 1500 else 0), symbol, cell))
    rows.insert(100, (T0 - 50, "BTCUSDT", 60_000))  # out of order
    path = path_file(tmp_path, rows)
    code, out, err = both(capsys, path, book_db)
    assert code == 0, err
    assert '"liquidation"' in out and "rows skipped" in out


def test_strict_refusals_and_unplayable_files_read_the_same_fast_and_stepped(book_db, tmp_path, capsys):
    bad = path_file(tmp_path, [(T0, "BTCUSDT", "nan"), (T0 + 1, "BTCUSDT", 0)], name="bad.csv")
    code, out, err = both(capsys, bad, book_db)
    assert code == 2 and out == "" and err == ("isodesk replay: bad.csv: none of its 2 rows can be played:\n"
                                               "  line 2: not_finite: BTCUSDT price nan is not a finite number\n"
                                               "  line 3: non_positive: BTCUSDT price 0.0 is not above 0\n")
    some = path_file(tmp_path, [(T0, "BTCUSDT", 60_000), (T0 + 1, "BTCUSDT", "x")], name="some.csv")
    code, out, err = both(capsys, some, book_db, "--strict")
    assert code == 2 and "1 of 2 rows are bad" in err


# -- Binance mark-price kline files -------------------------------------------------------------------

KLINE_HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume," \
               "taker_buy_quote_volume,ignore\n"


def kline_file(tmp_path, symbol, bars, *, header=True, name=None):
    """A Binance kline file of one-minute ``bars`` (open, high, low, close) from T0 (milliseconds)."""
    path = tmp_path / (name or f"{symbol}-1m-2024-06-01.csv")
    lines = [KLINE_HEADER] if header else []
    for i, (o, h, low, c) in enumerate(bars):
        start = int((T0 + 60 * i) * 1000)
        lines.append(f"{start},{o},{h},{low},{c},0,{start + 59_999},0,60,0,0,0\n")
    path.write_text("".join(lines))
    return path


def test_a_bar_whose_low_and_high_cross_a_long_and_a_short_liquidates_both_low_first_in_an_up_bar(
        tmp_path, capsys):
    db = tmp_path / "book.db"
    book = tmp_path / "book.csv"
    book.write_text("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
                    "long,binance-usdm,BTCUSDT,linear,long,0.1,60000,5,1200\n"     # liquidation 48,192.77
                    "short,binance-usdm,BTCUSDT,linear,short,0.1,60000,5,1200\n")  # liquidation about 71,700
    assert run(capsys, "import", str(book), "--db", str(db))[0] == 0
    flat = [(60_000, 60_100, 59_900, 60_000)] * 3
    up = [(60_000, 72_000, 48_000, 61_000)]  # spans both, closes up: the low comes first
    path = kline_file(tmp_path, "BTCUSDT", flat + up + flat)
    code, out, err = both(capsys, path, db, "--json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()[:-1]]
    liquidations = [(e["label"], e["price"], e["ts"]) for e in events if e["event"] == "liquidation"]
    bar = T0 + 180
    assert liquidations == [("long", 48_000.0, bar + 20), ("short", 72_000.0, bar + 40)]
    summary = summary_of(out.splitlines())
    assert summary["ticks"] == 7 * 4 and summary["unknown_symbols"] == []


def test_a_down_bar_takes_its_high_first_and_a_headerless_file_reads_the_same(tmp_path, capsys, book_db):
    bars = [(60_000, 60_100, 59_900, 60_000), (60_000, 61_000, 47_000, 50_000), (50_000, 50_100, 49_900, 50_000)]
    with_header = kline_file(tmp_path, "BTCUSDT", bars)
    without = kline_file(tmp_path, "BTCUSDT", bars, header=False, name="BTCUSDT-1m-2024-06-02.csv")
    outs = []
    for path in (with_header, without):
        code, out, err = both(capsys, path, book_db, "--json")
        assert code == 0, err
        outs.append(out.splitlines())
    assert outs[0] == outs[1]
    [liquidation] = [json.loads(line) for line in outs[0] if '"liquidation"' in line]
    assert (liquidation["price"], liquidation["ts"]) == (47_000.0, T0 + 60 + 40)  # the high came first, at 1/3


def test_kline_files_of_several_symbols_merge_by_time_and_name_their_symbol(book_db, tmp_path, capsys):
    btc = kline_file(tmp_path, "BTCUSDT", [(60_000, 60_100, 59_900, 60_000)] * 5)
    eth = kline_file(tmp_path, "ETHUSDT", [(3_000, 3_010, 2_990, 3_000)] * 4 + [(3_000, 3_000, 2_300, 2_400)])
    code, out, err = both(capsys, [btc, eth], book_db, "--json")
    assert code == 0, err
    lines = out.splitlines()
    summary = summary_of(lines)
    assert statuses(summary) == {"btc-long": "open", "eth-long": "liquidated"}
    assert summary["ticks"] == 40 and summary["clock"] == T0 + 4 * 60 + 59.999
    odd = kline_file(tmp_path, "XRP", [(1, 1, 1, 1)], name="bars.csv")
    code, _, err = run(capsys, "replay", str(odd), "--db", str(book_db))
    assert code == 2 and "which symbol are these bars of?" in err
    code, out, _ = run(capsys, "replay", str(odd), "--db", str(book_db), "--symbol", "ETHUSDT", "--json")
    assert code == 0 and summary_of(out.splitlines())["ticks"] == 4
    code, _, err = run(capsys, "replay", str(btc), str(path_file(tmp_path, [(T0, "BTCUSDT", 1)])), "--db", str(book_db))
    assert code == 2 and "several files can only be Binance kline files" in err


def test_a_venues_kline_marks_only_that_venues_positions(book_db, tmp_path, capsys):
    path = kline_file(tmp_path, "BTCUSDT", [(60_000, 60_100, 40_000, 41_000), (41_000, 41_100, 40_900, 41_000)])
    code, out, err = both(capsys, path, book_db, "--json", "--venue", "hyperliquid")
    assert code == 0, err
    summary = summary_of(out.splitlines())
    assert statuses(summary)["btc-long"] == "open" and summary["unknown_symbols"] == ["hyperliquid BTCUSDT"]


def test_a_progress_bar_only_on_a_terminal_after_a_second(book_db, tmp_path, capsys, monkeypatch):
    import isodesk.cli.replay as cli

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = cli._Progress(100, Terminal())
    bar.start -= 2  # a second has passed
    bar(50)
    bar.close()
    assert "replay [" in bar.stream.getvalue() and "50.0 %" in bar.stream.getvalue()
    quick = cli._Progress(100, Terminal())
    quick(50)
    assert quick.stream.getvalue() == ""
    piped = cli._Progress(100, io.StringIO())
    piped.start -= 2
    piped(50)
    assert piped.stream.getvalue() == ""
    path = path_file(tmp_path, [(T0, "BTCUSDT", 60_000)])
    code, _, err = replay(capsys, path, book_db, "--json")  # capsys's stderr is no terminal: nothing written
    assert code == 0 and err == ""


def test_commit_writes_the_same_outcome_fast_and_stepped(book_db, tmp_path, capsys):
    path = path_file(tmp_path, [(T0 + i, "BTCUSDT", 60_000 - 150 * i) for i in range(90)]
                     + [(T0 + i, "ETHUSDT", 3_000 - 2 * i) for i in range(90, 200)])
    states = []
    for mode in ((), ("--step",)):
        copy = tmp_path / f"commit{len(states)}.db"
        copy.write_bytes(book_db.read_bytes())
        code, _, err = run(capsys, "replay", str(path), "--db", str(copy), "--commit", "--json", *mode)
        assert code == 0, err
        conn = sqlite3.connect(copy)
        states.append({table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                       for table in ("alerts", "ledger", "journal", "positions")})
        conn.close()
    assert states[0] == states[1]
    assert any(row for row in states[0]["ledger"] if "liquidation" in row)


def test_a_path_with_funding_rates_plays_fast_with_the_step_desks_funding(book_db, tmp_path, capsys):
    """A ``funding_rate`` column no longer sends the path to the step desk: the fast replay settles the
    same payments (Binance: every 8 hours, from the isolated margin) into the same rows, and prints
    the same lines."""
    import time

    start = (int(time.time()) // 86400 + 1) * 86400  # a midnight after the book's positions were opened
    path = tmp_path / "funding.csv"
    lines = ["ts,symbol,price,funding_rate"]
    for i in range(0, 30 * 3600, 60):  # 30 hours, one price a minute; rates change on the way
        rate = "0.004" if i == 0 else ("-0.001" if i == 12 * 3600 else "")
        lines.append(f"{start + i},BTCUSDT,{60_000 - i // 300},{rate}")
        lines.append(f"{start + i},ETHUSDT,3000,{rate if i else '0.0002'}")
    path.write_text("\n".join(lines) + "\n")
    states = []
    for mode in ((), ("--step",)):
        copy = tmp_path / f"funding{len(states)}.db"
        copy.write_bytes(book_db.read_bytes())
        code, out, err = run(capsys, "replay", str(path), "--db", str(copy), "--commit", "--json", *mode)
        assert code == 0, err
        conn = sqlite3.connect(copy)
        states.append((out, {table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
                             for table in ("alerts", "ledger", "journal", "positions", "funding")}))
        conn.close()
    assert states[0] == states[1]
    funding = states[0][1]["funding"]  # (id, position_id, account_id, ts, rate, price, amount, …)
    # Binance settles at 08:00, 16:00 and 00:00 UTC: start + 8 h, 16 h, 24 h, for both positions
    assert sorted(row[3] - start for row in funding) == [h * 3600 for h in (8, 8, 16, 16, 24, 24)]
    assert sorted(row[4] for row in funding if row[3] - start == 8 * 3600) == ["0.0002", "0.004"]
    assert {row[4] for row in funding if row[3] - start == 16 * 3600} == {"-0.001"}
