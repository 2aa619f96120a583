"""Replay a price path from a CSV file (``ts,symbol,price`` or ``ts,venue,symbol,price``) or from rows given in code.

``ts`` is ISO 8601 (``2024-06-01T12:00:00Z``, ``2024-06-01 12:00:00+02:00``; naive = UTC) or Unix
seconds (int or float); ``price`` is the mark in quote currency per coin. The header decides
whether rows carry a ``venue`` (columns in any order): a row's venue names the isodesk venue whose
own mark it is (``hyperliquid``, ``binance-usdm``…, any case); a file without the column, or a row
whose venue cell is empty, gives reference prices, which mark every venue's positions of the
market until the venue's own price comes. A venue isodesk does not know is a ``malformed`` row.
The guard's order and jump rules work per series (venue, market). The file is read and
every row checked when the feed is made, by the same :class:`~isodesk.feeds.guard.TickGuard` rules
the play uses (with ``path_order``: the file is one timeline, played in file order):

- a row that cannot be read (``abc`` for a price, a missing column) is ``malformed``; a row the
  guard refuses (a NaN, 0 or 1e-300 price, a millisecond timestamp, a row older than one already
  taken, a lone spike the next price of its market contradicts, a last big move nothing
  confirms) is rejected with the guard's reason. Either way the row is skipped, counted and
  listed by file line (:attr:`ReplayFeed.bad_rows` before the play, :attr:`ReplayFeed.rejected_rows`
  as played), and the path plays on;
- ``strict=True`` refuses the whole file instead when any row is bad, listing every bad line;
- a file none of whose rows can be played is refused (nothing would happen, and a summary would
  read as if the book survived the path);
- header problems (no header, a missing column, an empty file) refuse the file.

Funding. A header may add a ``funding_rate`` column: the funding rate (fraction per funding
interval, a positive rate makes longs pay) of the row's series from the row's time on; an empty
cell leaves the rate as it was. A cell that is not a rate within ±:data:`~isodesk.margin.funding.MAX_FUNDING_RATE`
makes the row ``malformed``. :meth:`ReplayFeed.funding` quotes, at each poll, the latest rate of each
series played so far, for the next funding time on the venue's grid (a reference row, venue
empty, quotes the market's rate for every venue: its ``venue`` is ``""``). The fast replay engine
(:mod:`isodesk.desk.replay`) reads the column too and quotes the same rates at the same instants.

A move beyond the guard's band is real when the next price of its market confirms it: a −66 %
bar followed by a price near it is played (both rows), so the crash acts on the book.

Playback, in file order: with ``speed=None`` every poll returns the next instant (the rows
sharing one timestamp, with any late or unreadable rows met on the way, which are rejected), so
the desk recomputes after each point of the path, as fast as it polls. With a speed, ``poll(now)``
returns every row up to path time ``first_ts + elapsed × speed``, where ``elapsed`` is the wall
time (s) since the first poll, not counting time spent paused. The desk's clock is the ticks'
time (``clock_from_ticks``); no ``future`` rule applies (a path's time is not wall time). A held
row's decision comes with the next row of its market, so it is handed out in that row's poll.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from isodesk.feeds.base import FeedError, FeedHealth, FundingQuote, Tick, tick_age
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, MALFORMED, MAX_TS_S, TickGuard
from isodesk.margin.bounds import price_in_bounds
from isodesk.margin.funding import check_rate, funding_rule, next_funding_ts
from isodesk.margin.markets import venue_name

COLUMNS = ("ts", "symbol", "price")
#: Columns a header may add: ``venue`` (empty cell or no column: a reference price).
OPTIONAL_COLUMNS = ("venue", "funding_rate")
MAX_SPEED = 100_000.0
MAX_LISTED = 50  # bad rows written out in a refusal's message (all of them are in ``bad_rows``)


def parse_ts(text: str) -> float:
    """Unix seconds from ``text``: a number (Unix seconds) or ISO 8601 (naive means UTC). Raises ValueError."""
    value = _read_ts(text)
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()!r} is not a finite time")
    return value


def parse_price(text: str) -> float:
    """A price (quote per coin) within the bounds isodesk accepts from ``text``. Raises ValueError with the reason."""
    value = _read_price(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text.strip()!r} is not a positive finite price")
    if not price_in_bounds(value):
        raise ValueError(f"{text.strip()!r} is outside the prices isodesk accepts (10^-12 to 10^12)")
    return value


def parse_venue(text: str) -> str | None:
    """The isodesk venue named in ``text`` (``Hyperliquid`` → ``hyperliquid``), None when empty (a
    reference price); ValueError naming the known venues otherwise."""
    return venue_name(text)


def parse_symbol(text: str) -> str:
    """The market name in ``text``, stripped; raises ValueError when empty or containing spaces."""
    symbol = text.strip()
    if not symbol or any(c.isspace() for c in symbol):
        raise ValueError(f"{text!r} is not a symbol")
    return symbol


def _read_ts(text: str) -> float:
    """Any number (NaN and infinities too: the guard judges them) or ISO 8601 time. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("is empty")
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither Unix seconds nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _read_price(text: str) -> float:
    """Any number written in ``text`` (NaN, 0 and negatives too: the guard judges them). Raises ValueError."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None


@dataclass(frozen=True, slots=True)
class PathRow:
    """One data row of a path: ``line`` in the file (row number from 1 for rows given in code), and
    either its ``tick`` or the ``problem`` that kept it from being read (``symbol`` as written)."""

    line: int
    tick: Tick | None
    problem: str | None = None
    symbol: str = ""
    venue: str | None = None
    funding_rate: float | None = None  # the series' funding rate from this row on (None: unchanged)


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A row the replay skips: its ``line``, the guard's ``reason`` (or ``malformed``), what was read
    (``ts`` Unix s and ``price`` quote per coin, None when unreadable), a sentence saying why, and
    the row's ``venue`` (None: a reference price, or not read)."""

    line: int
    reason: str
    symbol: str
    ts: float | None
    price: float | None
    detail: str
    venue: str | None = None

    def as_json(self) -> dict[str, object]:
        """The row for a JSON summary (JSON has no NaN: a non-finite number is null, the detail says it);
        ``venue`` only for a venue's row."""
        def number(value: float | None) -> float | None:
            return value if value is not None and math.isfinite(value) else None

        out: dict[str, object] = {"line": self.line, "reason": self.reason, "symbol": self.symbol,
                                  "ts": number(self.ts), "price": number(self.price), "detail": self.detail}
        if self.venue:  # a reference row reads as it did before venues existed
            out["venue"] = self.venue
        return out

    def __str__(self) -> str:
        symbol = f"{self.symbol} " if self.symbol else ""
        venue = f"{self.venue} " if self.venue else ""
        return f"line {self.line}: {self.reason}: {venue}{symbol}{self.detail}"


def _number(raw: object) -> float | None:
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return float(raw)
    return None


def _strict_row(values: dict[str, object], where: str) -> Tick:
    """A row read strictly: any problem, a non-positive or unbounded price included, raises FeedError."""
    column = "ts"
    try:
        ts = _cell_ts(values.get("ts"), strict=True)
        column = "venue"
        venue = _cell_venue(values.get("venue"))
        column = "symbol"
        symbol = _cell_symbol(values.get("symbol"))
        column = "price"
        price = _cell_price(values.get("price"), strict=True)
    except ValueError as exc:
        raise FeedError(f"{where}, column {column}: {exc}") from None
    return Tick(symbol=symbol, ts=ts, price=price, venue=venue)


def _lenient_row(values: dict[str, object], line: int) -> PathRow:
    """A row read as far as it can be: numbers of any value become a tick for the guard to judge."""
    raw_symbol, raw_venue = values.get("symbol"), values.get("venue")
    written = raw_symbol.strip() if isinstance(raw_symbol, str) else ""
    written_venue = (raw_venue.strip() or None) if isinstance(raw_venue, str) else None
    column = "ts"
    try:
        ts = _cell_ts(values.get("ts"), strict=False)
        column = "venue"
        venue = _cell_venue(raw_venue)
        column = "symbol"
        symbol = _cell_symbol(raw_symbol)
        column = "price"
        price = _cell_price(values.get("price"), strict=False)
        column = "funding_rate"
        rate = _cell_funding(values.get("funding_rate"))
    except ValueError as exc:
        return PathRow(line, None, f"column {column}: {exc}", written, written_venue)
    return PathRow(line, Tick(symbol=symbol, ts=ts, price=price, venue=venue), funding_rate=rate)


def _cell_funding(raw: object) -> float | None:
    """A ``funding_rate`` cell: None when absent or empty, else a rate within bounds (ValueError otherwise)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise ValueError(f"{raw!r} is not a funding rate")
    try:
        return check_rate(raw.strip() if isinstance(raw, str) else raw, "funding_rate")
    except ValueError as exc:
        raise ValueError(str(exc).removeprefix("funding_rate: ")) from None


def _unreadable(raw: object) -> ValueError:
    return ValueError("is missing" if raw is None else f"{raw!r} is not text or a number")


def _cell_ts(raw: object, *, strict: bool) -> float:
    """Unix seconds from a cell (number, text or datetime); ``strict`` also refuses a non-finite time."""
    value = _number(raw)
    if value is None:
        if isinstance(raw, datetime):
            return (raw if raw.tzinfo else raw.replace(tzinfo=UTC)).timestamp()
        if not isinstance(raw, str):
            raise _unreadable(raw)
        return parse_ts(raw) if strict else _read_ts(raw)
    if strict and not math.isfinite(value):
        raise ValueError(f"{raw!r} is not a positive finite time")
    return value


def _cell_venue(raw: object) -> str | None:
    """The venue of a cell: None when the column is absent or the cell empty (a reference price)."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError(f"{raw!r} is not text")
    return parse_venue(raw)


def _cell_symbol(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("is missing" if raw is None else f"{raw!r} is not text")
    return parse_symbol(raw)


def _cell_price(raw: object, *, strict: bool) -> float:
    """A price from a cell (number or text); ``strict`` also refuses one outside the bounds."""
    value = _number(raw)
    if value is None:
        if not isinstance(raw, str):
            raise _unreadable(raw)
        return parse_price(raw) if strict else _read_price(raw)
    if strict and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{raw!r} is not a positive finite price")
    if strict and not price_in_bounds(value):
        raise ValueError(f"{raw!r} is outside the prices isodesk accepts (10^-12 to 10^12)")
    return value


def _csv_cells(path: Path) -> Iterator[tuple[int, dict[str, str] | str]]:
    """``(line, cells by column)`` per data row of a ``ts,symbol,price`` CSV (``venue`` too when the
    header has it), or ``(line, problem)`` for a row with the wrong number of columns. Header and
    file problems raise FeedError."""
    name = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FeedError(f"{name}: cannot open: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
            if header is None:
                raise FeedError(f"{name}: empty file, expected a header ts,symbol,price")
            columns = [cell.strip().lower() for cell in header]
            missing = [c for c in COLUMNS if c not in columns]
            if missing:
                raise FeedError(f"{name} line {reader.line_num}: header {','.join(header)!r} lacks "
                                f"{', '.join(missing)} (expected ts,symbol,price or ts,venue,symbol,price)")
            index = {c: columns.index(c) for c in (*COLUMNS, *OPTIONAL_COLUMNS) if c in columns}
            rows = 0
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                    continue
                rows += 1
                if len(cells) != len(columns):
                    yield line, f"{len(cells)} columns, expected {len(columns)} ({','.join(columns)})"
                else:
                    yield line, {c: cells[i] for c, i in index.items()}
        except csv.Error as exc:
            raise FeedError(f"{name} line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise FeedError(f"{name}: not UTF-8 text ({exc.reason})") from None
    if not rows:
        raise FeedError(f"{name}: no rows after the header")


def read_path_csv(path: str | Path) -> list[Tick]:
    """The ticks of a ``ts,[venue,]symbol,price`` CSV, in file order, read strictly: the first row that cannot
    be read or has no price within bounds raises FeedError naming file, line and column (the
    what-if editor's reader; the replay feed reads leniently with :func:`read_path_rows`)."""
    path = Path(path)
    ticks: list[Tick] = []
    for line, cells in _csv_cells(path):
        where = f"{path.name} line {line}"
        if isinstance(cells, str):
            raise FeedError(f"{where}: {cells}")
        ticks.append(_strict_row(dict(cells), where))
    return ticks


def read_path_rows(path: str | Path) -> list[PathRow]:
    """Every data row of a ``ts,[venue,]symbol,price`` CSV in file order, each a tick or the reason it is unreadable.

    Only header and file problems raise FeedError; a value the guard will refuse (NaN, 0, a
    millisecond time) is read as it is written.
    """
    rows: list[PathRow] = []
    for line, cells in _csv_cells(Path(path)):
        rows.append(PathRow(line, None, cells) if isinstance(cells, str) else _lenient_row(dict(cells), line))
    return rows


def _listing(bad: Sequence[RejectedRow]) -> str:
    lines = [f"  {row}" for row in bad[:MAX_LISTED]]
    if len(bad) > MAX_LISTED:
        lines.append(f"  … and {len(bad) - MAX_LISTED} more")
    return "\n".join(lines)


class ReplayFeed:
    """Plays a price path: ``ReplayFeed(path, speed=None)`` from a CSV, :meth:`from_rows` from code.

    ``speed`` is path seconds per wall second (None: one instant per poll, as fast as the desk
    polls). ``band`` is the guard's jump band (fraction). ``strict`` refuses a file with any bad
    row (FeedError listing every one) instead of skipping them.
    """

    clock_from_ticks = True
    writes_prices_table = False

    def __init__(self, path: str | Path, *, speed: float | None = None, band: float = DEFAULT_JUMP_BAND,
                 strict: bool = False, _rows: Sequence[PathRow] | None = None, _name: str | None = None):
        if _rows is None:
            self.path: Path | None = Path(path)
            rows = read_path_rows(self.path)
            label = self.path.name
        else:
            self.path = None
            rows = list(_rows)
            label = _name or "rows"
        self.name = f"replay:{label}"
        if not rows:
            raise FeedError(f"{label}: no rows to replay")
        self._rows = rows
        self._line = {id(row.tick): row.line for row in rows if row.tick is not None}
        self.band = float(band)
        self.bad_rows, accepted = self._audit()
        if strict and self.bad_rows:
            raise FeedError(f"{label}: {len(self.bad_rows)} of {len(rows)} rows are bad; the whole path is refused "
                            f"(strict):\n{_listing(self.bad_rows)}")
        if not accepted:
            raise FeedError(f"{label}: none of its {len(rows)} rows can be played:\n{_listing(self.bad_rows)}")
        self._accepted = accepted
        self._speed = None if speed is None else _checked_speed(speed)
        self.rejected_rows: list[RejectedRow] = []
        self.guard = self._new_guard(self.rejected_rows)
        self._pos = 0
        self._instant: float | None = None  # the path time (Unix s) of the last instant played
        self._path_t: float | None = None  # path time (Unix s) reached so far, with a speed
        self._last_now: float | None = None
        self._paused = False
        self._closed = False
        self._rates: dict[tuple[str, str], float] = {}  # (venue or "", market) -> rate, as played

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[object] | Tick], name: str = "rows", *, speed: float | None = None,
                  band: float = DEFAULT_JUMP_BAND, strict: bool = False) -> ReplayFeed:
        """A replay of ``rows`` of ``(ts, symbol, price)`` or ``(ts, venue, symbol, price)`` (venue None or
        ``""``: a reference price), or of ticks; ``ts`` as Unix seconds, ISO text or datetime.

        Checked like a file, row numbers (from 1) standing for lines: a bad row is skipped and
        listed (``strict``: FeedError listing them). The feed's name is ``replay:<name>``.
        """
        read: list[PathRow] = []
        for number, row in enumerate(rows, start=1):
            values: Sequence[object] = (row.ts, row.venue or "", row.symbol, row.price) if isinstance(row, Tick) \
                else row
            if isinstance(values, (str, bytes)) or len(values) not in (3, 4, 5):
                read.append(PathRow(number, None, f"expected (ts, [venue,] symbol, price), got {values!r}"))
                continue
            names = {3: COLUMNS, 4: ("ts", "venue", "symbol", "price"),
                     5: ("ts", "venue", "symbol", "price", "funding_rate")}[len(values)]
            cells = dict(zip(names, values, strict=True))
            if cells.get("venue", "") is None:
                cells["venue"] = ""
            read.append(_lenient_row(cells, number))
        return cls(name, speed=speed, band=band, strict=strict, _rows=read, _name=name)

    def _new_guard(self, sink: list[RejectedRow]) -> TickGuard:
        def record(tick: Tick, reason: str, detail: str) -> None:
            sink.append(RejectedRow(self._line[id(tick)], reason, tick.symbol, tick.ts, tick.price, detail,
                                    tick.venue))

        return TickGuard(self.band, path_order=True, on_reject=record, feed_name=self.name)

    def _audit(self) -> tuple[list[RejectedRow], list[Tick]]:
        """Play every row through a fresh guard: the rows a play rejects (by line) and the ticks it hands out."""
        bad: list[RejectedRow] = []
        guard = self._new_guard(bad)
        accepted: list[Tick] = []
        for row in self._rows:
            if row.tick is None:
                bad.append(_malformed(row))
            else:
                accepted += guard.check([row.tick])
        guard.reject_unconfirmed()
        return sorted(bad, key=lambda r: r.line), accepted

    # -- facts about the path -----------------------------------------------------------------------

    @property
    def ticks(self) -> list[Tick]:
        """Every readable row of the path as a tick, in file order (a copy; bad rows included)."""
        return [row.tick for row in self._rows if row.tick is not None]

    @property
    def played_ticks(self) -> list[Tick]:
        """The ticks a whole play hands out, in order (a copy)."""
        return list(self._accepted)

    @property
    def first_ts(self) -> float:
        """Unix time (s) of the path's first playable row."""
        return self._accepted[0].ts

    @property
    def last_ts(self) -> float:
        """Unix time (s) of the path's last playable row."""
        return max(t.ts for t in self._accepted)

    @property
    def symbols(self) -> list[str]:
        """The symbols (markets) of the path's readable rows, in order of first appearance."""
        return list(dict.fromkeys(t.symbol for t in self.ticks))

    @property
    def series(self) -> list[tuple[str, str]]:
        """The series ``(venue, market)`` of the path's readable rows (venue ``""``: reference prices),
        in order of first appearance."""
        return list(dict.fromkeys(t.key for t in self.ticks))

    def first_prices(self) -> dict[str, float]:
        """The first playable price of each symbol on the path, whatever its venue (quote per coin)."""
        out: dict[str, float] = {}
        for t in self._accepted:
            out.setdefault(t.symbol, t.price)
        return out

    @property
    def position(self) -> int:
        """How many rows have been handed to the guard (accepted or rejected)."""
        return self._pos

    @property
    def finished(self) -> bool:
        """True once every row has been played."""
        return self._pos >= len(self._rows)

    # -- control ----------------------------------------------------------------------------------

    @property
    def speed(self) -> float | None:
        """Path seconds per wall second, or None for one instant per poll."""
        return self._speed

    def set_speed(self, speed: float | None) -> float | None:
        """Change the playback speed (path s per wall s, clamped to 100,000; None = one instant per poll).

        Returns the speed used. Wall time elapsed before the next poll is played at the new speed.
        """
        new = None if speed is None else _checked_speed(speed)
        if new is not None and self._speed is None and self._instant is not None:
            self._path_t = self._instant  # continue from the instant reached
        self._speed = new
        return new

    def pause(self) -> None:
        """Hold the path: polls return nothing and wall time stops counting until :meth:`resume`."""
        self._paused = True

    def resume(self) -> None:
        """Continue after :meth:`pause` from where the path stood (the pause's wall time is not played)."""
        self._paused = False
        self._last_now = None

    def rewind(self) -> None:
        """Start the path again from its first row, with a fresh guard (counts start from zero)."""
        self._pos = 0
        self._instant = None
        self._path_t = None
        self._last_now = None
        self.rejected_rows = []
        self.guard = self._new_guard(self.rejected_rows)
        self._rates = {}

    # -- the feed ---------------------------------------------------------------------------------

    def _time(self, row: PathRow) -> float | None:
        """The row's time if it can place the row on the path (finite, in seconds), else None."""
        if row.tick is None or not math.isfinite(row.tick.ts) or row.tick.ts > MAX_TS_S:
            return None
        return row.tick.ts

    def _next_instant(self) -> int:
        """The end of the next instant: rows up to the first one later than the instant's time."""
        end, instant = self._pos, None
        while end < len(self._rows):
            ts = self._time(self._rows[end])
            if ts is not None and (self._instant is None or ts > self._instant):
                if instant is None:
                    instant = ts
                elif ts > instant:
                    break
            end += 1
        if instant is not None:
            self._instant = instant
        return end

    def _due(self, now: float, last_now: float | None) -> int:
        """The end of the rows due at path time reached by wall time ``now`` (with a speed)."""
        if self._path_t is None:
            first = next((ts for row in self._rows[self._pos:] if (ts := self._time(row)) is not None), None)
            self._path_t = first if first is not None else math.inf
        elif last_now is not None and now > last_now and self._speed is not None:
            self._path_t += (now - last_now) * self._speed
        end = self._pos
        while end < len(self._rows):
            ts = self._time(self._rows[end])
            if ts is not None and ts > self._path_t:
                break
            end += 1
        if end > self._pos:
            self._instant = max((ts for row in self._rows[self._pos:end] if (ts := self._time(row)) is not None),
                                default=self._instant)
        return end

    def poll(self, now: float) -> list[Tick]:
        """The next rows due at wall Unix time ``now`` (s), checked by the guard (see the module docstring)."""
        if self._closed or self.finished or not math.isfinite(now):
            return []
        last_now, self._last_now = self._last_now, now
        if self._paused:
            return []
        end = self._next_instant() if self._speed is None else self._due(now, last_now)
        if end == self._pos:
            return []
        due, self._pos = self._rows[self._pos:end], end
        ticks: list[Tick] = []
        for row in due:
            if row.tick is None:
                bad = _malformed(row)
                self.rejected_rows.append(bad)
                self.guard.reject(MALFORMED, bad)
            else:
                ticks.append(row.tick)
                if row.funding_rate is not None:
                    self._rates[row.tick.key] = row.funding_rate
        out = self.guard.check(ticks)
        if end >= len(self._rows):  # the last row: a move held now has no next price to confirm it
            self.guard.reject_unconfirmed()
        return out

    def funding(self, now: float) -> list[FundingQuote]:
        """The latest funding rate of each series played so far, quoted for its next funding time after
        path time ``now`` (Unix s) on the venue's grid (venue ``""``: the market's rate for every venue,
        on the 8-hour grid)."""
        return [] if self._closed else quoted_rates(self._rates, now)

    def health(self, now: float) -> FeedHealth:
        """Connected (the file is loaded) until closed; ``finished`` once played out; ages in seconds at ``now``."""
        g = self.guard
        return FeedHealth(source=self.name, connected=not self._closed, last_tick_ts=g.last_tick_ts,
                          last_tick_age_s=tick_age(g.last_tick_ts, now), accepted=g.accepted,
                          rejected=g.rejected, rejected_by_reason=g.rejected_by_reason, last_error=None,
                          finished=self.finished)

    def close(self) -> None:
        """Stop playing."""
        self._closed = True


def quoted_rates(rates: Mapping[tuple[str, str], float], now: float) -> list[FundingQuote]:
    """The funding rate of each ``(venue, market)`` series (fraction per interval), quoted for its next
    funding time after ``now`` (Unix s) on its venue's grid (venue ``""``: the market's rate for every
    venue, on the 8-hour grid), in series order; none for a time that is not finite."""
    if not math.isfinite(now):
        return []
    out = []
    for (venue, market), rate in sorted(rates.items()):
        interval = funding_rule(venue).interval_s
        out.append(FundingQuote(venue, market, rate, next_funding_ts(now, interval), interval, float(now)))
    return out


def _malformed(row: PathRow) -> RejectedRow:
    return RejectedRow(row.line, MALFORMED, row.symbol, None, None, row.problem or "cannot be read", row.venue)


def _checked_speed(speed: float) -> float:
    speed = float(speed)
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed: {speed!r} must be a positive number")
    return min(speed, MAX_SPEED)
