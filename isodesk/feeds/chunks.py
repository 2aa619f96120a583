"""A price path read in chunks of numpy arrays, for the replay at the speed of the data.

:class:`CsvChunks` streams a ``ts,[venue,]symbol,price`` file (the layout of :mod:`isodesk.feeds.replay`)
as :class:`PathChunk` arrays of at most :data:`BLOCK_BYTES` of text at a time, so memory follows the
chunk, never the file. Every row reads exactly as :func:`isodesk.feeds.replay.read_path_rows` reads it:
the same values, the same problems in the same words, the same line numbers, the same skipped blank
and ``#`` lines. Plain rows (digits and one ``.`` for numbers, at most 16 characters for a name) are
parsed with numpy without a Python call per row; any other row of a block, and any block holding a
quote, a NUL, a lone carriage return or a non-ASCII byte, goes through the csv module and the replay
module's own cell reader. Numbers agree to the last bit: a plain decimal of at most 15 significant
digits is an integer ``m`` below 2^53 over ``10^f`` (f ≤ 16), and one IEEE division of two exact
doubles is the correctly rounded value of the decimal, which is what Python's ``float()`` returns.

A chunk's rows carry a **series code** (:class:`SeriesTable`) for their ``(venue or "", symbol)``;
an unreadable row has code -1 and its :class:`~isodesk.feeds.replay.PathRow` (with the problem) in
:attr:`PathChunk.bad`. A file with a ``funding_rate`` column gives each row's rate in
:attr:`PathChunk.funding` (NaN: the cell is empty, the series' rate stays as it was), read as the
replay module reads it (a cell that is not a rate within bounds makes the row unreadable, in its words).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from isodesk.feeds.base import FeedError
from isodesk.feeds.replay import (
    COLUMNS,
    OPTIONAL_COLUMNS,
    PathRow,
    _cell_funding,
    _lenient_row,
    parse_symbol,
    parse_venue,
)
from isodesk.margin.markets import PriceKey

#: Bytes of text parsed at a time (about 75,000 rows of ``ts,symbol,price``; arrays of this size stay
#: in the processor's cache, which matters more than the number of numpy calls).
BLOCK_BYTES = 1 << 21
BOM = b"\xef\xbb\xbf"


class SeriesTable:
    """Codes ``0, 1, …`` of price series ``(venue or "", symbol)``, in the order first asked for."""

    def __init__(self, keys: Iterable[PriceKey] = ()):
        self.keys: list[PriceKey] = []
        self._codes: dict[PriceKey, int] = {}
        self._lock = threading.Lock()  # a path may be read ahead in another thread (desk.replay)
        for key in keys:
            self.code(key)

    def code(self, key: PriceKey) -> int:
        """The code of ``key``, a new one if it has none yet (safe from several threads: a key's
        code is appended to :attr:`keys` before it is handed out)."""
        found = self._codes.get(key)
        if found is None:
            with self._lock:
                found = self._codes.get(key)
                if found is None:
                    self.keys.append(key)
                    found = self._codes[key] = len(self.keys) - 1
        return found

    def get(self, key: PriceKey) -> int | None:
        """The code of ``key``, or None."""
        return self._codes.get(key)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, slots=True, eq=False)
class PathChunk:
    """Consecutive data rows of a path, as arrays of one length: ``line`` (file line, int64), ``ts``
    (Unix s as written, float64), ``price`` (quote per coin as written, float64), ``code`` (series
    code, int32; -1 for a row that cannot be read, whose row with the problem is ``bad[index]``).
    ``nbytes`` is how much of the file the chunk covers (for progress). ``funding``: each row's
    funding rate (fraction per funding interval, float64; NaN where the row sets none), or None
    when the path has no ``funding_rate`` column."""

    line: np.ndarray
    ts: np.ndarray
    price: np.ndarray
    code: np.ndarray
    bad: dict[int, PathRow] = field(default_factory=dict)
    nbytes: int = 0
    funding: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.line)

    def kept(self, keep: np.ndarray) -> PathChunk:
        """The rows where ``keep`` is True (``bad`` renumbered)."""
        rows = np.flatnonzero(keep)
        renumber = np.cumsum(keep) - 1
        bad = {int(renumber[i]): row for i, row in self.bad.items() if keep[i]}
        return PathChunk(self.line[rows], self.ts[rows], self.price[rows], self.code[rows], bad, self.nbytes,
                         None if self.funding is None else self.funding[rows])

    def path_row(self, index: int, table: SeriesTable) -> PathRow:
        """Row ``index`` as the replay module's :class:`PathRow` (a tick, or the problem)."""
        from isodesk.feeds.base import Tick

        bad = self.bad.get(index)
        if bad is not None:
            return bad
        venue, symbol = table.keys[int(self.code[index])]
        rate = None if self.funding is None or np.isnan(self.funding[index]) else float(self.funding[index])
        return PathRow(int(self.line[index]), Tick(symbol=symbol, ts=float(self.ts[index]),
                                                   price=float(self.price[index]), venue=venue or None),
                       funding_rate=rate)


def chunk_of_rows(rows: list[PathRow], table: SeriesTable, nbytes: int = 0, *, funding: bool = False) -> PathChunk:
    """A chunk from rows already read (a tick or a problem each); ``funding``: the path has a
    ``funding_rate`` column (the chunk carries each row's rate, NaN where none)."""
    n = len(rows)
    line = np.fromiter((r.line for r in rows), dtype=np.int64, count=n)
    ts = np.full(n, np.nan)
    price = np.full(n, np.nan)
    code = np.full(n, -1, dtype=np.int32)
    rates = np.full(n, np.nan) if funding else None
    bad: dict[int, PathRow] = {}
    for i, row in enumerate(rows):
        if row.tick is None:
            bad[i] = row
        else:
            ts[i], price[i], code[i] = row.tick.ts, row.tick.price, table.code(row.tick.key)
            if rates is not None and row.funding_rate is not None:
                rates[i] = row.funding_rate
    return PathChunk(line, ts, price, code, bad, nbytes, rates)


def concat_chunks(chunks: list[PathChunk]) -> PathChunk:
    """One chunk holding the rows of ``chunks`` in order."""
    if len(chunks) == 1:
        return chunks[0]
    bad: dict[int, PathRow] = {}
    offset = 0
    for c in chunks:
        bad.update({offset + i: row for i, row in c.bad.items()})
        offset += len(c)
    funding = None
    if any(c.funding is not None for c in chunks):
        funding = np.concatenate([np.full(len(c), np.nan) if c.funding is None else c.funding for c in chunks])
    return PathChunk(np.concatenate([c.line for c in chunks]), np.concatenate([c.ts for c in chunks]),
                     np.concatenate([c.price for c in chunks]), np.concatenate([c.code for c in chunks]),
                     bad, sum(c.nbytes for c in chunks), funding)


# -- the fast block parser ---------------------------------------------------------------------------

_LOW_NIBBLES = np.uint64(0x0F0F0F0F0F0F0F0F)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_ZEROS = np.uint64(0x3030303030303030)
_SIXES = np.uint64(0x0606060606060606)
#: ``_TOP[r]``: the top ``r`` bytes of a word set; ``_LOW[r]``: the low ``r`` bytes.
_TOP = np.array([((1 << 64) - 1) ^ ((1 << (8 * (8 - r))) - 1) for r in range(9)], dtype=np.uint64)
_LOW = np.array([(1 << (8 * r)) - 1 for r in range(9)], dtype=np.uint64)
_POW10 = [10 ** k for k in range(17)]
_POW10_F = np.array([float(p) for p in _POW10], dtype=np.float64)
_PAD = 24
#: Zero bytes before a block's words, so a read of the 16 bytes ending at any field stays inside.
_FRONT = 16
_ONES = np.uint64(0x0101010101010101)
_HIGHS = np.uint64(0x8080808080808080)
_DOTS = np.uint64(0x2E2E2E2E2E2E2E2E)
#: times a power of two ``2^(8k)``, the top byte is ``k`` (the byte index of a lowest set bit)
_BYTE_INDEX = np.uint64(0x0001020304050607)


def _words(buf: np.ndarray) -> np.ndarray:
    """A view of ``buf`` padded with zeros on both sides, giving at index ``i`` the 8 bytes from byte
    ``i - _FRONT`` of ``buf`` as one little-endian uint64 (unaligned reads, no copy): ``[_FRONT:]``
    reads from each byte of ``buf``, the first ``_FRONT`` read the zeros before it."""
    padded = np.concatenate([np.zeros(_FRONT, dtype=np.uint8), buf, np.zeros(_PAD, dtype=np.uint8)])
    return np.ndarray(shape=(len(padded) - 8,), dtype="<u8", buffer=padded.data, strides=(1,))


def _first_byte(word: np.ndarray, pattern: np.uint64) -> np.ndarray:
    """Per word: the index (0–7, from the lowest byte) of its first byte equal to the byte repeated
    in ``pattern``; 8 where none is. The classic zero-byte test: its lowest flag is exact."""
    x = word ^ pattern
    flags = (x - _ONES) & ~x & _HIGHS
    lowest = flags & (~flags + np.uint64(1))
    index = ((lowest >> np.uint64(7)) * _BYTE_INDEX) >> np.uint64(56)
    index[flags == 0] = 8
    return index.astype(np.int64)


def _digits(words: np.ndarray, start: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """The value of the ``r`` (1–16) ASCII digits at each ``start``, and whether they are all digits."""
    if r <= 8:
        return _eight(words[start], r)
    high, ok_high = _eight(words[start], r - 8)
    low, ok_low = _eight(words[start + (r - 8)], 8)
    return high * np.uint64(10 ** 8) + low, ok_high & ok_low


def _decimals(back: np.ndarray, start: np.ndarray, end: np.ndarray, *, one_width: bool = True
              ) -> tuple[np.ndarray, np.ndarray]:
    """Values of the plain decimals ``[0-9]*.?[0-9]*`` at ``start:end`` (byte offsets in the block
    read by ``back``, :func:`_words`) and a mask of the fields read; the values are exactly
    ``float(text)``. Fields with a sign, an exponent, spaces or more than 15 digits are left to the
    caller. A column of integers of one width (times, most often) is read as such in one pass
    (``one_width``: try that first). Each field is read as one or two words ending at its last byte
    (:func:`_short_decimals`, :func:`_long_decimals`): no Python call per field."""
    length = end - start
    if one_width and length.size and 1 <= (r := int(length[0])) <= 15 and (length == r).all():  # digits alone?
        mant, ok = _digits(back, start + _FRONT, r)
        if ok.all():  # (at most 15 digits: exact)
            return mant.astype(np.float64), ok
        rows = np.flatnonzero(~ok)
        value = mant.astype(np.float64)
        value[rows], ok[rows] = _decimals(back, start[rows], end[rows], one_width=False)
        return value, ok
    short = (length >= 1) & (length <= 8)
    if short.all():
        return _short_decimals(back, end, length)
    value, ok = np.full(len(start), np.nan), np.zeros(len(start), dtype=bool)
    rows = np.flatnonzero(short)
    value[rows], ok[rows] = _short_decimals(back, end[rows], length[rows])
    rows = np.flatnonzero((length > 8) & (length <= 16))
    value[rows], ok[rows] = _long_decimals(back, end[rows], length[rows])
    return value, ok


def _close_point(word: np.ndarray, at: np.ndarray, fill: np.ndarray | np.uint64) -> np.ndarray:
    """``word`` with the bytes below index ``at`` (the decimal point's, 0–7 from the lowest byte)
    moved up one byte over the point, the bytes above it kept, and ``fill`` (a byte value) in the
    lowest byte so freed."""
    closed: np.ndarray = (word & _TOP[7 - at]) | ((word & _LOW[at]) << np.uint64(8)) | fill
    return closed


def _short_decimals(back: np.ndarray, end: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_decimals` for fields of 1–8 bytes (``length``) ending at ``end``: the field read as one
    word (its last byte the word's top byte), the bytes before it set to ``'0'``, the digits before
    the point moved up a byte over it, and the eight digits so made read at once."""
    keep = _TOP[length]
    word = (back[end + (_FRONT - 8)] & keep) | (_ZEROS & ~keep)
    dot = _first_byte(word, _DOTS)  # exact: no byte before the field is a point any more
    has = dot < 8
    at = np.where(has, dot, 0)
    frac = np.where(has, 7 - at, 0)
    word = np.where(has, _close_point(word, at, np.uint64(0x30)), word)
    mant, ok = _eight(word, 8)
    ok &= length > has  # a lone point is no number
    value = mant.astype(np.float64)
    if has.any():
        value /= _POW10_F[frac]
    return value, ok


def _long_decimals(back: np.ndarray, end: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_decimals` for fields of 9–16 bytes (``length``) ending at ``end``: the field read as two
    words (``high``, the bytes before the field set to ``'0'``, and ``low``, its last eight), the
    digits before the point moved up a byte over it (from one word into the other where the point
    lies in ``low``), and the sixteen digits so made read as two eights."""
    keep = _TOP[length - 8]
    high = (back[end + (_FRONT - 16)] & keep) | (_ZEROS & ~keep)
    low = back[end + (_FRONT - 8)]
    in_high = _first_byte(high, _DOTS)  # exact: no byte before the field is a point any more
    in_low = _first_byte(low, _DOTS)
    high_dot = in_high < 8
    low_dot = ~high_dot & (in_low < 8)
    at = np.where(high_dot, in_high, np.where(low_dot, in_low, 0))
    high_after = np.where(high_dot, _close_point(high, at, np.uint64(0x30)),
                          np.where(low_dot, (high << np.uint64(8)) | np.uint64(0x30), high))
    low_after = np.where(low_dot, _close_point(low, at, high >> np.uint64(56)), low)
    upper, ok = _eight(high_after, 8)
    lower, ok_low = _eight(low_after, 8)
    has = high_dot | low_dot
    ok &= ok_low & (length - has <= 15)  # at most 15 digits: exact
    frac = np.where(high_dot, 15 - at, np.where(low_dot, 7 - at, 0))
    value = (upper * np.uint64(10 ** 8) + lower).astype(np.float64)
    if has.any():
        value /= _POW10_F[frac]
    return value, ok


def _eight(word: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """The value of the ``r`` (1–8) ASCII digits at the start of each word, and whether they are all
    digits. SWAR: the digits are moved to the top bytes, then summed in pairs, fours and eights."""
    if r < 8:
        word = word << np.uint64(8 * (8 - r))
    top = _TOP[r]
    low = word & _LOW_NIBBLES
    ok = ((word & (_HIGH_NIBBLES & top)) == (_ZEROS & top)) & (((low + _SIXES) & (_HIGH_NIBBLES & top)) == 0)
    v = (low * np.uint64(2561)) >> np.uint64(8)
    v = ((v & np.uint64(0x00FF00FF00FF00FF)) * np.uint64(6553601)) >> np.uint64(16)
    v = ((v & np.uint64(0x0000FFFF0000FFFF)) * np.uint64(42949672960001)) >> np.uint64(32)
    return v, ok



def _iso_seconds(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds of ISO 8601 times written ``YYYY-MM-DDTHH:MM:SS`` (or with a space for the ``T``),
    naive or ending in ``Z`` (both UTC), and a mask of the fields read; exactly what
    ``datetime.fromisoformat(text).timestamp()`` gives for them (an integer number of seconds). Any
    other form (fractions, offsets, an impossible date) is left to the caller."""
    length = end - start
    n = len(start)
    ok = (length == 19) | ((length == 20) & (buf[np.minimum(start + 19, len(buf) - 1)] == ord("Z")))
    rows = np.flatnonzero(ok)
    value = np.full(n, np.nan)
    if not rows.size:
        return value, ok
    at = start[rows]

    def number(offset: int, width: int) -> np.ndarray:
        out = np.zeros(len(rows), dtype=np.int64)
        for k in range(width):
            digit = buf[at + offset + k].astype(np.int64) - ord("0")
            good[:] &= (digit >= 0) & (digit <= 9)
            out = out * 10 + digit
        return out

    good = np.ones(len(rows), dtype=bool)
    for offset, char in ((4, "-"), (7, "-"), (13, ":"), (16, ":")):
        good &= buf[at + offset] == ord(char)
    sep = buf[at + 10]
    good &= (sep == ord("T")) | (sep == ord(" "))
    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(month, 0, 12)]
    month_days = month_days + ((month == 2) & leap)
    good &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    good &= (hour <= 23) & (minute <= 59) & (second <= 59)
    # days from 1970-01-01 (H. Hinnant's days_from_civil, proleptic Gregorian)
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    seconds = days * 86400 + hour * 3600 + minute * 60 + second
    value[rows] = np.where(good, seconds.astype(np.float64), np.nan)
    ok[rows] = good
    return value, ok


@dataclass(frozen=True, slots=True, eq=False)
class Fields:
    """Where each field of each row of a plain block lies: ``starts``/``ends`` (rows × columns, byte
    offsets, end exclusive; a column's offsets lie next to each other); ``physical``: each row's line
    within the block (blank lines are no rows); ``lines``: the block's lines; ``back``: 8-byte reads of
    the block from ``_FRONT`` bytes before it (:func:`_words`)."""

    buf: np.ndarray
    back: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    physical: np.ndarray
    lines: int

    @property
    def rows(self) -> int:
        return len(self.physical)

    @property
    def words(self) -> np.ndarray:
        """8-byte reads of the block: index ``i`` reads the bytes from ``i`` (a view, no copy)."""
        return self.back[_FRONT:]

    def decimals(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """The plain decimals of one column and a mask of the rows read (:func:`_decimals`)."""
        return _decimals(self.back, self.starts[:, column], self.ends[:, column])

    def comments(self, block: bytes) -> np.ndarray:
        """Rows holding a ``#`` (a row whose first cell starts with one is a comment: such rows go to
        the row reader, which decides)."""
        out = np.zeros(self.rows, dtype=bool)
        if b"#" in block:
            out[np.searchsorted(self.ends[:, -1], np.flatnonzero(self.buf == ord("#")))] = True
        return out

    def cells(self, text: str, row: int) -> list[str]:
        """The cells of a row as the csv module reads a line without quotes."""
        return text[int(self.starts[row, 0]):int(self.ends[row, -1])].split(",")


def split_block(block: bytes, ncols: int) -> Fields | None:
    """The fields of a block of whole lines, each line holding ``ncols`` cells split by commas; None
    when the block is not plain (a quote, a NUL, a non-ASCII byte, a lone carriage return, a line
    with another number of cells): the csv module reads such a block."""
    if b'"' in block or b"\x00" in block or not block.isascii():
        return None
    buf = np.frombuffer(block, dtype=np.uint8)
    at = np.flatnonzero(buf == ord("\n"))
    has_cr = b"\r" in block
    if has_cr:
        cr = np.flatnonzero(buf == ord("\r"))
        if not (buf[cr + 1] == ord("\n")).all():  # the block ends with a newline: cr + 1 exists
            return None
    if not at.size:
        return None
    before = np.empty_like(at)
    before[0] = -1
    before[1:] = at[:-1]
    gap = at - before
    if (gap <= 2).any():  # a blank line, perhaps
        blank = gap == 1
        if has_cr:
            blank |= (gap == 2) & (buf[at - 1] == ord("\r"))
        physical = np.flatnonzero(~blank)  # blank lines are no rows (the csv reader skips them too)
        row_start = before[physical] + 1
        row_end = at[physical]
    else:  # no blank line
        physical = np.arange(at.size)
        row_start = before + 1
        row_end = at
    lines = physical.size
    commas = np.flatnonzero(buf == ord(","))
    if lines == 0 or ncols < 2 or commas.size != lines * (ncols - 1):
        return None
    grid = commas.reshape(lines, ncols - 1)
    if not ((grid[:, 0] >= row_start).all() and (grid[:, -1] < row_end).all()):
        return None
    starts = np.empty((ncols, lines), dtype=np.int64)  # column by column: each column's offsets in a row
    ends = np.empty((ncols, lines), dtype=np.int64)
    starts[0] = row_start
    ends[-1] = row_end
    for c in range(ncols - 1):
        ends[c] = grid[:, c]
        np.add(ends[c], 1, out=starts[c + 1])
    if has_cr:
        ends[-1] -= buf[row_end - 1] == ord("\r")
    starts, ends = starts.T, ends.T  # rows × columns (views)
    return Fields(buf, _words(buf), starts, ends, physical, int(at.size))


class _Interner:
    """Ids of the short texts of one column (at most 16 bytes), found without a Python call per row
    through an open-addressing table on the texts' two 8-byte words; each id's parsed ``value`` or
    the ``problem`` the column reader reports for it."""

    BITS = 12

    def __init__(self, parse: object):
        self._parse = parse
        size = 1 << self.BITS
        self._w0 = np.zeros(size, dtype=np.uint64)
        self._w1 = np.zeros(size, dtype=np.uint64)
        self._len = np.full(size, -1, dtype=np.int64)
        self._id = np.full(size, -1, dtype=np.int64)
        self._ids: dict[bytes, int] = {}
        self.values: list[object] = []
        self.ok: list[bool] = []

    def _slot(self, w0: np.ndarray, w1: np.ndarray, length: np.ndarray) -> np.ndarray:
        h = (w0 * np.uint64(0x9E3779B97F4A7C15)) ^ (w1 * np.uint64(0xC2B2AE3D27D4EB4F)) ^ \
            (length.astype(np.uint64) * np.uint64(0x165667B19E3779F9))
        return (h >> np.uint64(64 - self.BITS)).astype(np.intp)

    def _register(self, text: bytes) -> int:
        found = self._ids.get(text)
        if found is not None:
            return found
        found = self._ids[text] = len(self.values)
        try:
            self.values.append(self._parse(text.decode("ascii")))  # type: ignore[operator]
            self.ok.append(True)
        except ValueError as exc:
            self.values.append(str(exc))
            self.ok.append(False)
        return found

    def ids(self, block: bytes, words: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """The id of each field ``block[start:end]`` (ASCII)."""
        length = end - start
        short = (length >= 1) & (length <= 16)
        w0 = words[start] & _LOW[np.clip(length, 0, 8)]
        w1 = np.zeros(len(start), dtype=np.uint64)
        long = np.flatnonzero(length > 8)
        if long.size:
            w1[long] = words[start[long] + 8] & _LOW[np.minimum(length[long] - 8, 8)]
        slot = self._slot(w0, w1, length)
        hit = short & (self._len[slot] == length) & (self._w0[slot] == w0) & (self._w1[slot] == w1)
        out = np.where(hit, self._id[slot], -1)
        missing = np.flatnonzero(~hit)
        while missing.size:
            i = int(missing[0])
            s, e = int(start[i]), int(end[i])
            ident = self._register(block[s:e])
            if short[i] and self._len[slot[i]] < 0:  # a free slot: later rows of this text hit it
                j = slot[i]
                self._w0[j], self._w1[j], self._len[j], self._id[j] = w0[i], w1[i], length[i], ident
                rest = missing[1:]
                same = (slot[rest] == j) & (length[rest] == length[i]) & (w0[rest] == w0[i]) & (w1[rest] == w1[i])
                out[rest[same]] = ident
                out[i] = ident
                missing = rest[~same]
            else:  # a long text, or a slot taken by another text: this row alone, by dictionary
                out[i] = ident
                missing = missing[1:]
        return out


class CsvChunks:
    """The data rows of a ``ts,[venue,]symbol,price`` CSV as :class:`PathChunk` arrays, streamed.

    Opening reads the header (file and header problems raise :class:`FeedError` in the words of
    :mod:`isodesk.feeds.replay`); iterating reads the file once, a block at a time. ``rows`` counts
    the data rows read so far (blank and ``#`` lines are not rows); ``size`` is the file's bytes.
    """

    def __init__(self, path: str | Path, table: SeriesTable, *, block_bytes: int = BLOCK_BYTES):
        self.path = Path(path)
        self.name = self.path.name
        self.table = table
        self.block_bytes = int(block_bytes)
        self.rows = 0
        try:
            self.size = self.path.stat().st_size
            handle = self.path.open("rb")
        except OSError as exc:
            raise FeedError(f"{self.name}: cannot open: {exc.strerror or exc}") from None
        with handle:
            self._read_header(handle)
        self._venues = _Interner(parse_venue)
        self._symbols = _Interner(parse_symbol)
        self._rates = _Interner(_rate_cell)
        self.funding = "funding_rate" in self.index  # the rows carry funding rates
        self._pair = np.full((0, 0), -1, dtype=np.int32)

    # -- header ---------------------------------------------------------------------------------

    def _read_header(self, handle: BinaryIO) -> None:
        size = 1 << 16
        while True:
            handle.seek(0)
            head = handle.read(size)
            complete = len(head) < size
            header, text, consumed, line_num, skip = self._header_in(head, complete)
            if header is not None or complete:
                break
            size *= 4  # the header is not within the first bytes (blank lines, a huge header)
        if header is None:
            raise FeedError(f"{self.name}: empty file, expected a header ts,symbol,price")
        columns = [cell.strip().lower() for cell in header]
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise FeedError(f"{self.name} line {line_num}: header {','.join(header)!r} lacks "
                            f"{', '.join(missing)} (expected ts,symbol,price or ts,venue,symbol,price)")
        self.columns = columns
        self.index = {c: columns.index(c) for c in (*COLUMNS, *OPTIONAL_COLUMNS) if c in columns}
        self._start = skip + len(text[:consumed].encode("utf-8"))
        self._line0 = line_num

    def _header_in(self, head: bytes, complete: bool) -> tuple[list[str] | None, str, int, int, int]:
        """The header row read by the csv module from the first bytes of the file (None if not
        there yet), the text read, the characters it took, its line number and the BOM's length.
        Only whole lines are read unless ``complete`` (the bytes hold the whole file)."""
        cut = len(head) if complete else head.rfind(b"\n") + 1
        skip = len(BOM) if head.startswith(BOM) else 0
        try:
            text = head[skip:cut].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FeedError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        consumed: list[int] = []

        def lines() -> Iterator[str]:
            for line in io.StringIO(text, newline=""):
                consumed.append(len(line))
                yield line

        reader = csv.reader(lines())
        try:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
        except csv.Error as exc:
            raise FeedError(f"{self.name} line {reader.line_num}: {exc}") from None
        if header is not None and not complete and sum(consumed) >= len(text) and text.count('"') % 2:
            header = None  # a quoted header cell may go on past these bytes
        return header, text, sum(consumed), reader.line_num, skip

    # -- blocks ---------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[PathChunk]:
        line0 = self._line0
        for block, nbytes in line_blocks(self.path, self._start, self.block_bytes):
            chunk, lines = self._fast(block, line0, nbytes)
            if chunk is None:
                chunk, lines = self._slow(block, line0, nbytes)
            line0 += lines
            self.rows += len(chunk)
            if len(chunk):
                yield chunk
        if not self.rows:
            raise FeedError(f"{self.name}: no rows after the header")

    def _slow(self, block: bytes, line0: int, nbytes: int) -> tuple[PathChunk, int]:
        """A block read by the csv module, row by row (the replay module's rules exactly)."""
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FeedError(f"{self.name}: not UTF-8 text ({exc.reason})") from None
        reader = csv.reader(io.StringIO(text, newline=""))
        rows: list[PathRow] = []
        try:
            for cells in reader:
                row = self._row(cells, line0 + reader.line_num)
                if row is not None:
                    rows.append(row)
        except csv.Error as exc:
            raise FeedError(f"{self.name} line {line0 + reader.line_num}: {exc}") from None
        return chunk_of_rows(rows, self.table, nbytes, funding=self.funding), reader.line_num

    def _row(self, cells: list[str], line: int) -> PathRow | None:
        """One data row as the replay module reads it; None for a blank or ``#`` line."""
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            return None
        if len(cells) != len(self.columns):
            return PathRow(line, None, f"{len(cells)} columns, expected {len(self.columns)} "
                                       f"({','.join(self.columns)})")
        return _lenient_row({c: cells[i] for c, i in self.index.items()}, line)

    def _fast(self, block: bytes, line0: int, nbytes: int) -> tuple[PathChunk | None, int]:
        """A plain block parsed with numpy (None: not plain, read it with :meth:`_slow`)."""
        f = split_block(block, len(self.columns))
        if f is None:
            return None, 0
        idx = self.index
        ts, ok = f.decimals(idx["ts"])
        if not ok.all():  # ISO 8601 times, the common forms, without a Python call per row
            rows = np.flatnonzero(~ok)
            column = idx["ts"]
            iso, iso_ok = _iso_seconds(f.buf, f.starts[rows, column], f.ends[rows, column])
            ts[rows[iso_ok]] = iso[iso_ok]
            ok[rows[iso_ok]] = True
        price, ok_price = f.decimals(idx["price"])
        ok &= ok_price
        symbol = self._symbols.ids(block, f.words, f.starts[:, idx["symbol"]], f.ends[:, idx["symbol"]])
        if "venue" in idx:
            venue = self._venues.ids(block, f.words, f.starts[:, idx["venue"]], f.ends[:, idx["venue"]])
            venue_ok = np.array(self._venues.ok, dtype=bool)
            ok &= venue_ok[venue]
        else:  # every row: venue id 0 (no venue)
            venue = np.zeros(f.rows, dtype=np.int64)
            if not self._venues.values:
                self._venues._register(b"")
            if not self._venues.ok[0]:
                ok[:] = False
        ok &= np.array(self._symbols.ok, dtype=bool)[symbol]
        if b"#" in block:
            ok &= ~f.comments(block)
        funding = self._funding(block, f, ok) if self.funding else None
        if ok.all():
            code = self._series(venue, symbol)
        else:
            code = np.full(f.rows, -1, dtype=np.int32)
            good = np.flatnonzero(ok)
            code[good] = self._series(venue[good], symbol[good])
        line = line0 + 1 + f.physical.astype(np.int64)
        others = np.flatnonzero(~ok)
        if not others.size:
            return PathChunk(line, ts, price, code, {}, nbytes, funding), f.lines
        keep = ok.copy()
        bad: dict[int, PathRow] = {}
        text = block.decode("ascii")
        for i in others:
            row = self._row(f.cells(text, int(i)), int(line[i]))
            if row is None:
                continue
            keep[i] = True
            if row.tick is None:
                bad[int(i)] = row
            else:
                ts[i], price[i], code[i] = row.tick.ts, row.tick.price, self.table.code(row.tick.key)
                if funding is not None:
                    funding[i] = np.nan if row.funding_rate is None else row.funding_rate
        chunk = PathChunk(line, ts, price, code, bad, nbytes, funding)
        return (chunk if keep.all() else chunk.kept(keep)), f.lines

    def _funding(self, block: bytes, f: Fields, ok: np.ndarray) -> np.ndarray:
        """The ``funding_rate`` cells of a plain block (NaN: empty); a cell that is not a rate clears
        its row's ``ok`` (the row reader then reports it in the replay module's words)."""
        column = self.index["funding_rate"]
        start, end = f.starts[:, column], f.ends[:, column]
        rates = np.full(f.rows, np.nan)
        written = np.flatnonzero(end > start)
        if written.size:
            ids = self._rates.ids(block, f.words, start[written], end[written])
            values = np.array([np.nan if v is None or isinstance(v, str) else v for v in self._rates.values],
                              dtype=np.float64)
            rates[written] = values[ids]
            ok[written] &= np.array(self._rates.ok, dtype=bool)[ids]
        return rates

    def _series(self, venue: np.ndarray, symbol: np.ndarray) -> np.ndarray:
        """Series codes of (venue id, symbol id) pairs through a small table of pairs."""
        nv, ns = len(self._venues.values), len(self._symbols.values)
        if self._pair.shape[0] < nv or self._pair.shape[1] < ns:
            grown = np.full((max(nv, 1), max(ns, 1)), -1, dtype=np.int32)
            grown[:self._pair.shape[0], :self._pair.shape[1]] = self._pair
            self._pair = grown
        code: np.ndarray = self._pair[venue, symbol]
        missing = np.flatnonzero(code < 0)
        if missing.size:
            pairs = np.flatnonzero(np.bincount(venue[missing] * ns + symbol[missing]))
            for pair in pairs:
                v, s = divmod(int(pair), ns)
                venue_name = self._venues.values[v]
                self._pair[v, s] = self.table.code((str(venue_name or ""), str(self._symbols.values[s])))
            code = self._pair[venue, symbol]
        return code


def _rate_cell(text: str) -> float | None:
    """A ``funding_rate`` cell as the replay module reads it (None: blank); ValueError otherwise."""
    return _cell_funding(text)


def line_blocks(path: Path, start: int, block_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Blocks of whole lines of the file from byte ``start`` (each ends with a newline; a quoted
    cell never spans two), with the bytes of the file each covers."""
    with path.open("rb") as handle:
        handle.seek(start)
        carry = b""
        eof = False
        while not eof:
            data = handle.read(block_bytes)
            eof = not data
            block = carry + data
            if not block:
                break
            cut = len(block) if eof else block.rfind(b"\n") + 1
            while not eof and (cut == 0 or block.count(b'"', 0, cut) % 2):
                more = handle.read(block_bytes)  # a line longer than a block, or a quoted newline
                eof = not more
                block += more
                cut = len(block) if eof else _next_cut(block, cut)
            carry = block[cut:]
            body = block[:cut]
            if body and not body.endswith(b"\n"):
                body += b"\n"
            if body:
                yield body, cut


def _next_cut(block: bytes, cut: int) -> int:
    """The end of the line after ``cut`` (0 when the block holds no further newline)."""
    nl = block.find(b"\n", cut)
    return nl + 1 if nl >= 0 else 0
