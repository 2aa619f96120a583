"""Binance mark-price kline files as a replay path: the history traders download.

The layout is Binance's public data (https://data.binance.vision, repository binance/binance-public-data,
README "Klines", read 2026): one file per symbol and interval, named ``SYMBOL-INTERVAL-YYYY-MM-DD.csv``
(daily) or ``SYMBOL-INTERVAL-YYYY-MM.csv`` (monthly), e.g. ``data/futures/um/daily/markPriceKlines/
BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip``; one bar a row::

    open_time,open,high,low,close,volume,close_time,quote_volume,count,
    taker_buy_volume,taker_buy_quote_volume,ignore        (one line in the file)

the columns of ``GET /fapi/v1/markPriceKlines`` (Binance USDⓈ-M Futures API, "Mark Price Kline/
Candlestick Data": open time, open, high, low, close, ignore, close time, …), times in milliseconds
(``close_time`` is the bar's last millisecond). Files published before mid-2022 have no header row
(binance/binance-public-data issue #246); Binance's spot files count microseconds since 2025-01-01:
the unit is read from the size of the first time (above 10^14: µs; above 10^11: ms; else s). Only
the first five columns and ``close_time`` are read; without ``close_time`` the bar's length comes
from the file name's interval (``1m``, ``1h``…).

**A bar becomes four ticks**: its open at ``open_time``, its two extremes at one and two thirds of
the bar (20 s and 40 s into a one-minute bar), its close at ``close_time``. When a bar spans both a
long's and a short's liquidation price, which extreme comes first decides only the order of the
two liquidations and of the level changes at the extremes, never whether they happen: positions
are isolated, each is judged by its own worst price, and both extremes reach the desk as prices of
their own. The desk takes first the extreme that makes the shorter path through the bar: the **low
first for a bar that closed at or above its open** (open → low → high → close), the **high first
for one that closed below it** (open → high → low → close). Of the two orders, that one travels
2·|close − open| less, the path a price is likelier to have taken when nothing else is known; a
flat bar takes the low first.

Only CSV: no Parquet reader is a dependency of isodesk (pyproject), and the files Binance
publishes are zipped CSV (unzip them first).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import BLOCK_BYTES, PathChunk, SeriesTable, concat_chunks, line_blocks, split_block
from isodesk.feeds.replay import PathRow, parse_symbol, parse_venue
from isodesk.margin.markets import REFERENCE, market_of

COLUMNS = ("open_time", "open", "high", "low", "close")
#: Binance's own names for the columns of a headerless file (its later files' header).
BINANCE_HEADER = ("open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume", "count",
                  "taker_buy_volume", "taker_buy_quote_volume", "ignore")
NAME = re.compile(r"^(?P<symbol>[A-Za-z0-9_]+)-(?P<interval>\d+[smhdwM]|\d+mo)-\d{4}-\d{2}(?:-\d{2})?\.csv$")
_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "M": 30 * 86400, "mo": 30 * 86400}
TICKS_PER_BAR = 4


def symbol_of(path: str | Path) -> str | None:
    """The symbol in a Binance file name (``BTCUSDT-1m-2024-01-01.csv`` → ``BTCUSDT``), or None."""
    match = NAME.match(Path(path).name)
    return match["symbol"].upper() if match else None


def interval_of(path: str | Path) -> float | None:
    """The bar length (s) in a Binance file name (``…-1m-…`` → 60), or None."""
    match = NAME.match(Path(path).name)
    if not match:
        return None
    text = match["interval"]
    unit = "mo" if text.endswith("mo") else text[-1]
    return float(int(text[: -len(unit)]) * _UNITS_S[unit])


def _first_line(path: Path) -> list[str] | None:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            for cells in csv.reader(handle):
                if any(c.strip() for c in cells):
                    return [c.strip() for c in cells]
                # blank lines before the first row are skipped
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def is_kline_file(path: str | Path) -> bool:
    """True for a kline file: a header with ``open_time``, or a first row of at least five numbers
    whose first is a time in milliseconds or finer (Binance's headerless files)."""
    cells = _first_line(Path(path))
    if cells is None:
        return False
    if "open_time" in (c.lower() for c in cells):
        return True
    if len(cells) < len(COLUMNS):
        return False
    try:
        values = [float(c) for c in cells[: len(COLUMNS)]]
    except ValueError:
        return False
    return cells[0].isdigit() and values[0] >= 1e11


def time_unit(first_time: float) -> float:
    """Units per second of a kline time, read from its size: µs above 10^14, ms above 10^11, else s."""
    return 1e6 if first_time >= 1e14 else 1e3 if first_time >= 1e11 else 1.0


class KlineChunks:
    """The bars of one kline file as :class:`PathChunk` rows, four ticks a bar (see the module
    docstring), streamed. ``symbol``: the symbol its prices are of (default: from the file name),
    read as its market (``BTCUSD_PERP`` → ``BTCUSDT``, :func:`~isodesk.margin.markets.market_of`);
    ``venue``: the isodesk venue whose own mark they are (None: reference prices of the market,
    which mark every venue's positions until the venue's own prices come). Problems of the file
    raise :class:`FeedError`; an unreadable bar is one row with its problem."""

    def __init__(self, path: str | Path, table: SeriesTable, *, symbol: str | None = None, venue: str | None = None,
                 block_bytes: int = BLOCK_BYTES):
        self.path = Path(path)
        self.name = self.path.name
        self.table = table
        self.block_bytes = int(block_bytes)
        self.rows = 0
        try:
            self.size = self.path.stat().st_size
        except OSError as exc:
            raise FeedError(f"{self.name}: cannot open: {exc.strerror or exc}") from None
        given = symbol if symbol is not None else symbol_of(self.path)
        if given is None:
            raise FeedError(f"{self.name}: which symbol are these bars of? Name the file like Binance does "
                            "(BTCUSDT-1m-2024-01-01.csv) or give --symbol")
        try:
            self.venue = parse_venue(venue or "")
            self.symbol = market_of(self.venue or "", parse_symbol(given))  # BTCUSD_PERP → BTCUSDT
        except ValueError as exc:
            raise FeedError(f"{self.name}: {exc}") from None
        self.code = table.code((self.venue or REFERENCE, self.symbol))
        self._read_layout()
        self._unit: float | None = None

    def _read_layout(self) -> None:
        try:
            with self.path.open("rb") as handle:
                head = handle.read(1 << 16)
        except OSError as exc:
            raise FeedError(f"{self.name}: cannot open: {exc.strerror or exc}") from None
        skip = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        cut = head.rfind(b"\n") + 1 or len(head)
        try:
            lines = head[skip:cut].decode("utf-8").splitlines(keepends=True)
        except UnicodeDecodeError as exc:
            raise FeedError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        line0 = 0
        first: list[str] | None = None
        for text in lines:
            line0 += 1
            cells = next(csv.reader([text]), [])
            if any(c.strip() for c in cells):
                first = [c.strip().lower() for c in cells]
                break
        if first is None:
            raise FeedError(f"{self.name}: empty file, expected Binance kline rows (open_time,open,high,low,close,…)")
        if "open_time" in first:
            missing = [c for c in COLUMNS if c not in first]
            if missing:
                raise FeedError(f"{self.name} line {line0}: header {','.join(first)!r} lacks {', '.join(missing)}")
            self.columns = first
            self._start = skip + len("".join(lines[:line0]).encode("utf-8"))
            self._line0 = line0
        else:
            if len(first) < len(COLUMNS):
                raise FeedError(f"{self.name} line {line0}: {len(first)} columns, expected Binance kline rows "
                                "(open_time,open,high,low,close,…)")
            self.columns = list(BINANCE_HEADER[: len(first)]) + [f"column{i + 1}" for i in range(12, len(first))]
            self._start = skip
            self._line0 = 0
        self.index = {c: self.columns.index(c) for c in (*COLUMNS, "close_time") if c in self.columns}
        self._bar_s = None if "close_time" in self.index else interval_of(self.path)
        if self._bar_s is None and "close_time" not in self.index:
            raise FeedError(f"{self.name}: no close_time column and no interval in the file name "
                            "(SYMBOL-1m-2024-01-01.csv): cannot tell how long a bar is")

    def __iter__(self) -> Iterator[PathChunk]:
        line0 = self._line0
        for block, nbytes in line_blocks(self.path, self._start, self.block_bytes):
            bars, lines = self._block(block, line0)
            line0 += lines
            chunk = self._ticks(bars, nbytes)
            self.rows += len(chunk)
            if len(chunk):
                yield chunk
        if not self.rows:
            raise FeedError(f"{self.name}: no bars")

    # -- bars --------------------------------------------------------------------------------------

    def _block(self, block: bytes, line0: int) -> tuple[_Bars, int]:
        """The block's bars: line, open time, open, high, low, close, close time (NaN where a cell
        does not read; a bar with ``problem``), and the lines it holds."""
        names = (*COLUMNS, "close_time")
        f = split_block(block, len(self.columns))
        if f is not None:
            values = []
            ok = np.ones(f.rows, dtype=bool)
            for name in names:
                if name in self.index:
                    v, good = f.decimals(self.index[name])
                    values.append(v)
                    ok &= good
                else:
                    values.append(np.full(f.rows, np.nan))
            line = line0 + 1 + f.physical.astype(np.int64)
            others = np.flatnonzero(~ok)
            problem = np.full(f.rows, None, dtype=object)
            if others.size:
                keep = np.ones(f.rows, dtype=bool)
                text = block.decode("ascii")
                for i in others:
                    read = self._row(f.cells(text, int(i)))
                    if read is None:
                        keep[i] = False
                    elif isinstance(read, str):
                        problem[i] = read
                    else:
                        for column, value in zip(values, read, strict=True):
                            column[i] = value
                if not keep.all():
                    values = [v[keep] for v in values]
                    line, problem = line[keep], problem[keep]
            return _Bars(line, problem, *values), f.lines
        return self._slow(block, line0)

    def _slow(self, block: bytes, line0: int) -> tuple[_Bars, int]:
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FeedError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        lines: list[int] = []
        problems: list[str | None] = []
        values: list[tuple[float, ...]] = []
        try:
            for cells in reader:
                read = self._row(cells)
                if read is None:
                    continue
                lines.append(line0 + reader.line_num)
                problems.append(read if isinstance(read, str) else None)
                values.append((math.nan,) * 6 if isinstance(read, str) else read)
        except csv.Error as exc:
            raise FeedError(f"{self.name} line {line0 + reader.line_num}: {exc}") from None
        columns = np.array(values, dtype=np.float64).reshape(len(values), 6).T
        return _Bars(np.array(lines, dtype=np.int64), np.array(problems, dtype=object), *columns), reader.line_num

    def _row(self, cells: list[str]) -> tuple[float, ...] | str | None:
        """A bar's six numbers from its cells, its problem, or None for a blank or ``#`` line."""
        if not any(c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
            return None
        if len(cells) != len(self.columns):
            return f"{len(cells)} columns, expected {len(self.columns)} ({','.join(self.columns)})"
        out = []
        for name in (*COLUMNS, "close_time"):
            i = self.index.get(name)
            if i is None:
                out.append(math.nan)
                continue
            text = cells[i].strip()
            try:
                out.append(float(text))
            except ValueError:
                return f"column {name}: {text!r} is not a number"
        return tuple(out)

    def _ticks(self, bars: _Bars, nbytes: int) -> PathChunk:
        """Four ticks a bar, in the order of the module docstring; a bar that cannot be read is one row."""
        line, problem, open_time, o, h, low, c, close_time = bars
        bad_bar = np.array([p is not None for p in problem], dtype=bool)
        if self._unit is None:
            readable = open_time[~bad_bar & np.isfinite(open_time)]
            if readable.size:
                self._unit = time_unit(float(readable[0]))
        unit = self._unit or 1.0
        t0 = open_time / unit
        t3 = close_time / unit if self._bar_s is None else t0 + (self._bar_s - 1.0 / unit)
        up = c >= o
        first = np.where(up, low, h)
        second = np.where(up, h, low)
        span = t3 + 1.0 / unit - t0  # the bar's length: close_time is its last millisecond (µs)
        ts = np.stack([t0, t0 + span / 3, t0 + 2 * span / 3, t3], axis=1)
        price = np.stack([o, first, second, c], axis=1)
        per_bar = np.where(bad_bar, 1, TICKS_PER_BAR)
        keep = np.ones((len(line), TICKS_PER_BAR), dtype=bool)
        keep[bad_bar, 1:] = False
        flat = keep.ravel()
        rows = int(per_bar.sum())
        chunk_line = np.repeat(line, per_bar)
        chunk_ts = ts.ravel()[flat]
        chunk_price = price.ravel()[flat]
        code = np.full(rows, self.code, dtype=np.int32)
        bad: dict[int, PathRow] = {}
        starts = np.cumsum(per_bar) - per_bar
        for i in np.flatnonzero(bad_bar):
            at = int(starts[i])
            code[at] = -1
            chunk_ts[at] = chunk_price[at] = np.nan
            bad[at] = PathRow(int(line[i]), None, str(problem[i]), self.symbol, self.venue)
        return PathChunk(chunk_line, chunk_ts, chunk_price, code, bad, nbytes)


class _Bars(NamedTuple):
    """A block's bars: file line, problem (None: read), open time, open, high, low, close, close time."""

    line: np.ndarray
    problem: np.ndarray
    open_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    close_time: np.ndarray


def merged(sources: Iterable[Iterable[PathChunk]]) -> Iterator[PathChunk]:
    """The rows of several time-ordered sources (kline files, one per symbol) as one path ordered by
    time; rows of equal time keep the sources' order, then their own. A row that cannot be read
    keeps its place after the row before it in its file."""
    its = [iter(s) for s in sources]
    if len(its) == 1:
        yield from its[0]
        return
    k = len(its)
    buffers: list[PathChunk | None] = [None] * k
    keys: list[np.ndarray] = [np.zeros(0)] * k
    newest = [-math.inf] * k
    done = [False] * k
    while True:
        for i in range(k):
            while not done[i] and (buffers[i] is None or not len(buffers[i])):  # type: ignore[arg-type]
                nxt = next(its[i], None)
                if nxt is None:
                    done[i] = True
                    break
                t = np.where(np.isfinite(nxt.ts), nxt.ts, -np.inf)
                key = np.maximum.accumulate(np.maximum(t, newest[i])) if len(t) else t
                newest[i] = float(key[-1]) if len(key) else newest[i]
                buffers[i], keys[i] = nxt, key
        live = [i for i in range(k) if buffers[i] is not None and len(buffers[i])]  # type: ignore[arg-type]
        if not live:
            return
        open_ends = [float(keys[i][-1]) for i in live if not done[i]]
        bound = min(open_ends) if open_ends else math.inf
        parts: list[PathChunk] = []
        part_keys = []
        part_src = []
        for i in live:
            buf = buffers[i]
            assert buf is not None
            cut = len(buf) if bound == math.inf else int(np.searchsorted(keys[i], bound, side="right"))
            if not cut:
                continue
            take = np.zeros(len(buf), dtype=bool)
            take[:cut] = True
            rest = ~take
            part = buf.kept(take)
            parts.append(part if not rest.any() else replace(part, nbytes=0))  # the file's bytes count once
            part_keys.append(keys[i][:cut])
            part_src.append(np.full(cut, i))
            buffers[i] = buf.kept(rest) if rest.any() else None
            keys[i] = keys[i][cut:]
        key = np.concatenate(part_keys)
        src = np.concatenate(part_src)
        seq = np.arange(len(key))
        order = np.lexsort((seq, src, key))
        yield _reorder(concat_chunks(parts), order)


def _reorder(chunk: PathChunk, order: np.ndarray) -> PathChunk:
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    bad = {int(inverse[i]): row for i, row in chunk.bad.items()}
    return PathChunk(chunk.line[order], chunk.ts[order], chunk.price[order], chunk.code[order], bad, chunk.nbytes,
                     None if chunk.funding is None else chunk.funding[order])
