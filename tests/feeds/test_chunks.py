"""The chunked path reader reads every row exactly as the replay feed's own reader does."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import CsvChunks, SeriesTable
from isodesk.feeds.replay import read_path_rows


def rows_of(path, block_bytes):
    """Every row the chunked reader yields, as comparable tuples (floats by repr: NaN == NaN)."""
    table = SeriesTable()
    reader = CsvChunks(path, table, block_bytes=block_bytes)
    out = []
    for chunk in reader:
        for i in range(len(chunk)):
            out.append(_key(chunk.path_row(i, table)))
    return out


def _key(row):
    tick = row.tick
    if tick is None:
        return (row.line, None, row.problem, row.symbol, row.venue)
    return (row.line, (tick.symbol, repr(tick.ts), repr(tick.price), tick.venue), row.problem, row.symbol, row.venue,
            repr(row.funding_rate))


def reference(path):
    return [_key(r) for r in read_path_rows(path)]


NUMBERS = st.one_of(
    st.integers(0, 10 ** 16).map(str),
    st.floats(1e-9, 1e13, allow_nan=False).map(repr),
    st.decimals(min_value=0, max_value=10 ** 9, places=8, allow_nan=False).map(str),
    st.sampled_from(["", " 5", "5 ", "-3", "+4", "1e-300", "nan", "inf", "1_000", ".", "5.", ".5", "0005.500",
                     "1.2.3", "abc", "1717200000000", "2024-06-01T12:00:00Z", "1e5", "12345678901234567",
                     "0.000000000001", "999999999999999", "9999999999999999", "2024-06-01 12:00:00",
                     "2024-02-29T23:59:59Z", "2023-02-29T00:00:00", "2024-06-01T24:00:00", "2024-06-01T12:00:60Z",
                     "0001-01-01T00:00:00", "1969-12-31T23:59:59", "2024-06-01t12:00:00", "2024-06-01T12:00:00+00:00",
                     "2024-6-01T12:00:00Z", "2024-06-01T12:00:00.5Z", "9999-12-31T23:59:59Z"]),
)
TIMES = st.one_of(
    NUMBERS,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=0).isoformat(sep="T" if d.second % 2 else " ") + ("Z" if d.minute % 2 else "")),
)
SYMBOLS = st.sampled_from(["BTCUSDT", "ETHUSDT", "eth", "BTC-USDT-SWAP", "", " BTCUSDT", "BTC USDT",
                           "AVERYLONGSYMBOLNAMEUSDT", "SOLUSDT", "#X", "A.B"])
VENUES = st.sampled_from(["", "binance-usdm", "Hyperliquid", " bybit-linear ", "nowhere", "okx-linear"])
RATES = st.one_of(
    st.sampled_from(["", "", "", " ", "0.0001", "-0.0003", "0.00012500", "0", "-0", "1e-4", " 0.001", "0.1", "-0.1",
                     "0.10000001", "0.5", "abc", "nan", "-inf", ".", "0.0001.2", "+0.002", "7E-05"]),
    st.floats(-0.1, 0.1, allow_nan=False).map(repr),
)


@st.composite
def csv_files(draw):
    venue_column = draw(st.booleans())
    columns = ["ts", "venue", "symbol", "price"] if venue_column else ["ts", "symbol", "price"]
    if draw(st.booleans()):
        columns.append("funding_rate")
    order = draw(st.permutations(columns))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(c.upper() if draw(st.booleans()) else c for c in order)]
    for _ in range(draw(st.integers(0, 40))):
        kind = draw(st.integers(0, 30))
        if kind == 0:
            lines.append("")
        elif kind == 1:
            lines.append("# a comment")
        elif kind == 2:
            lines.append(",".join(["1"] * (len(order) + draw(st.sampled_from([-1, 1])))))
        elif kind == 3:
            lines.append('"1717200000","BTCUSDT","5"' if not venue_column else '1,"",BTCUSDT,"6,5"')
        elif kind == 4:
            lines.append(",".join(" " for _ in order))
        else:
            cells = {"ts": draw(TIMES), "symbol": draw(SYMBOLS), "price": draw(NUMBERS), "venue": draw(VENUES),
                     "funding_rate": draw(RATES)}
            lines.append(",".join(cells[c] for c in order))
    text = newline.join(lines) + (newline if draw(st.booleans()) else "")
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_files(), block=st.sampled_from([40, 97, 1 << 12, 1 << 21]), bom=st.booleans())
def test_every_row_reads_as_the_replay_reader_reads_it(tmp_path, text, block, bom):
    path = tmp_path / "path.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    try:
        expected = reference(path)
    except FeedError as exc:
        with pytest.raises(FeedError) as got:
            rows_of(path, block)
        assert str(got.value) == str(exc)
        return
    assert rows_of(path, block) == expected


def test_plain_decimals_parse_to_the_same_bits_as_float(tmp_path):
    rng = np.random.default_rng(3)
    prices = [f"{p:.{d}f}" for p, d in zip(rng.uniform(1e-6, 1e9, 4000), rng.integers(0, 9, 4000), strict=True)]
    prices += [repr(float(p)) for p in rng.uniform(0, 1e6, 4000)]
    times = [str(1_717_200_000 + i) for i in range(len(prices))]
    path = tmp_path / "p.csv"
    path.write_text("ts,symbol,price\n" + "".join(f"{t},BTCUSDT,{p}\n" for t, p in zip(times, prices, strict=True)))
    table = SeriesTable()
    [chunk] = list(CsvChunks(path, table))
    assert not chunk.bad
    assert chunk.price.tolist() == [float(p) for p in prices]
    assert chunk.ts.tolist() == [float(t) for t in times]
    assert chunk.line.tolist() == list(range(2, len(prices) + 2))


@pytest.mark.parametrize(("text", "message"), [
    ("", "p.csv: empty file, expected a header ts,symbol,price"),
    ("\n\n", "p.csv: empty file, expected a header ts,symbol,price"),
    ("ts,price\n1,2\n", "p.csv line 1: header 'ts,price' lacks symbol (expected ts,symbol,price or "
                        "ts,venue,symbol,price)"),
])
def test_header_problems_refuse_the_file_in_the_replay_readers_words(tmp_path, text, message):
    path = tmp_path / "p.csv"
    path.write_text(text)
    with pytest.raises(FeedError) as got:
        list(CsvChunks(path, SeriesTable()))
    assert str(got.value) == message
    with pytest.raises(FeedError) as ref:
        read_path_rows(path)
    assert str(ref.value) == message


def test_iso_times_read_in_bulk_are_the_seconds_fromisoformat_gives(tmp_path):
    rng = np.random.default_rng(7)
    stamps = rng.integers(-62_135_596_800, 253_402_300_799, 5000)  # years 1 to 9999
    texts = [datetime.fromtimestamp(int(s), tz=UTC).replace(tzinfo=None).isoformat() + ("Z" if i % 2 else "")
             for i, s in enumerate(stamps)]
    path = tmp_path / "iso.csv"
    path.write_text("ts,symbol,price\n" + "".join(f"{t},BTCUSDT,1\n" for t in texts))
    [chunk] = list(CsvChunks(path, SeriesTable()))
    assert not chunk.bad
    assert chunk.ts.tolist() == [float(s) for s in stamps]
