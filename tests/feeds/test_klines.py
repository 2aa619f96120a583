"""Binance mark-price kline files: layout, units, the order of a bar's ticks, bad bars, merging files."""

from __future__ import annotations

import math

import pytest

from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import SeriesTable
from isodesk.feeds.klines import KlineChunks, interval_of, is_kline_file, merged, symbol_of, time_unit

HEADER = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume," \
         "taker_buy_quote_volume,ignore\n"
# The first row of Binance's own example (GET /fapi/v1/markPriceKlines): a one-minute bar of 1591256400000.
EXAMPLE = "1591256400000,9653.69440000,9653.69640000,9651.38600000,9651.55200000,0,1591256459999,0,60,0,0,0\n"


def rows(path, table=None, **kw):
    table = table or SeriesTable()
    out = []
    for chunk in KlineChunks(path, table, **kw):
        out += [chunk.path_row(i, table) for i in range(len(chunk))]
    return out


def test_binances_example_bar_is_four_ticks_open_high_first_for_a_down_bar_then_close(tmp_path):
    path = tmp_path / "BTCUSDT-1m-2020-06-04.csv"
    path.write_text(HEADER + EXAMPLE)
    ticks = [r.tick for r in rows(path)]
    t0 = 1591256400.0
    # closed below its open (9651.552 < 9653.6944): open, high, low, close
    assert [(t.ts, t.price) for t in ticks] == [(t0, 9653.6944), (t0 + 20, 9653.6964), (t0 + 40, 9651.386),
                                                (1591256459.999, 9651.552)]
    assert {(t.symbol, t.venue) for t in ticks} == {("BTCUSDT", None)}
    assert {r.line for r in rows(path)} == {2}


def test_an_up_bar_takes_its_low_first_and_a_flat_bar_too(tmp_path):
    path = tmp_path / "ETHUSDT-1h-2024-01-01.csv"
    path.write_text(HEADER + "1704067200000,100,110,90,105,0,1704070799999,0,1,0,0,0\n"
                             "1704070800000,105,106,104,105,0,1704074399999,0,1,0,0,0\n")
    prices = [r.tick.price for r in rows(path)]
    assert prices == [100, 90, 110, 105, 105, 104, 106, 105]
    assert [r.tick.ts for r in rows(path)][:4] == [1704067200, 1704067200 + 1200, 1704067200 + 2400, 1704070799.999]


def test_headerless_files_microseconds_and_venues(tmp_path):
    old = tmp_path / "BTCUSD_PERP-5m-2021-03.csv"  # COIN-M symbol: its market is BTCUSDT
    old.write_text(EXAMPLE.replace("1591256459999", "1591256699999"))
    assert is_kline_file(old) and symbol_of(old) == "BTCUSD_PERP" and interval_of(old) == 300
    [first, *_] = rows(old, venue="Binance-USDM")
    assert (first.tick.symbol, first.tick.venue, first.tick.ts) == ("BTCUSDT", "binance-usdm", 1591256400.0)
    spot = tmp_path / "BTCUSDT-1s-2025-01-01.csv"
    spot.write_text("1735689600000000,1,1,1,1,0,1735689600999999,0,1,0,0,0\n")
    assert time_unit(1735689600000000) == 1e6 and rows(spot)[-1].tick.ts == pytest.approx(1735689600.999999)
    no_close = tmp_path / "SOLUSDT-1m-2024-01-01.csv"
    no_close.write_text("open_time,open,high,low,close\n1704067200000,1,2,0.5,1.5\n")
    assert rows(no_close)[-1].tick.ts == pytest.approx(1704067259.999)


def test_a_bar_that_cannot_be_read_is_one_row_with_its_problem_and_bad_values_go_to_the_guard(tmp_path):
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text(HEADER + EXAMPLE + "1591256460000,abc,1,1,1,0,1591256519999,0,60,0,0,0\n"
                    + "\n# a comment\n" + "1591256520000,nan,1,1,1,0,1591256579999,0,60,0,0,0\n" + "1,2\n")
    read = rows(path)
    assert [(r.line, r.problem) for r in read if r.tick is None] == [
        (3, "column open: 'abc' is not a number"),
        (7, "2 columns, expected 12 (open_time,open,high,low,close,volume,close_time,quote_volume,count,"
            "taker_buy_volume,taker_buy_quote_volume,ignore)")]
    assert math.isnan(next(r.tick.price for r in read if r.tick is not None and r.line == 6))  # the guard decides


def test_files_merge_by_time_keeping_the_command_lines_order_on_ties(tmp_path):
    a = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    b = tmp_path / "ETHUSDT-1m-2024-01-01.csv"
    a.write_text(HEADER + "".join(f"{1704067200000 + 60000 * i},1,1,1,1,0,{1704067259999 + 60000 * i},0,1,0,0,0\n"
                                  for i in range(50)))
    b.write_text(HEADER + "".join(f"{1704067200000 + 120000 * i},2,2,2,2,0,{1704067259999 + 120000 * i},0,1,0,0,0\n"
                                  for i in range(30)))
    table = SeriesTable()
    out = []
    nbytes = 0
    for chunk in merged([KlineChunks(a, table, block_bytes=300), KlineChunks(b, table, block_bytes=500)]):
        out += [(float(t), table.keys[c][1]) for t, c in zip(chunk.ts, chunk.code, strict=True)]
        nbytes += chunk.nbytes
    assert nbytes == a.stat().st_size + b.stat().st_size - 2 * len(HEADER)  # progress counts each byte once
    assert [t for t, _ in out] == sorted(t for t, _ in out) and len(out) == 4 * 80
    first = [s for t, s in out if t == 1704067200.0]
    assert first == ["BTCUSDT", "ETHUSDT"]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("bars.csv", HEADER + EXAMPLE, "bars.csv: which symbol are these bars of?"),
    ("BTCUSDT-1m-2024-01-01.csv", "", "BTCUSDT-1m-2024-01-01.csv: empty file"),
    ("BTCUSDT-1m-2024-01-01.csv", "open_time,open,close\n1,2,3\n", "lacks high, low"),
    ("BTCUSDT-1m-2024-01-01.csv", HEADER, "BTCUSDT-1m-2024-01-01.csv: no bars"),
])
def test_file_problems_refuse_it_with_the_reason(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FeedError) as got:
        rows(path)
    assert message in str(got.value)


def test_only_kline_layouts_are_taken_for_klines(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("ts,symbol,price\n1717200000,BTCUSDT,60000\n")
    assert not is_kline_file(path)
    path.write_text("1717200000,BTCUSDT,60000\n")
    assert not is_kline_file(path)
