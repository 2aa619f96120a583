"""Replay a price path from a CSV file (``ts,symbol,price``) or from rows given in code.

``ts`` is ISO 8601 (``2024-06-01T12:00:00Z``, ``2024-06-01 12:00:00+02:00``; naive = UTC) or Unix
seconds (int or float); ``price`` is the mark in quote currency per coin. The whole file is parsed
and checked when the feed is made: a malformed line raises :class:`FeedError` naming the file, the
line and the column. Rows are sorted by time (stable, so rows of one instant keep their order).

Playback: with ``speed=None`` every poll returns the next instant (all rows sharing one
timestamp), so the desk recomputes after each point of the path, as fast as it polls. With a
speed, ``poll(now)`` returns every row whose path time is ≤ ``first_ts + elapsed × speed``, where
``elapsed`` is the wall time (s) since the first poll, not counting time spent paused. The desk's
clock is the ticks' time (``clock_from_ticks``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from isodesk.feeds.base import FeedError, FeedHealth, Tick, tick_age
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, TickGuard

COLUMNS = ("ts", "symbol", "price")
MAX_SPEED = 100_000.0


def parse_ts(text: str) -> float:
    """Unix seconds from ``text``: a number (Unix seconds) or ISO 8601 (naive means UTC). Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("is empty")
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is neither Unix seconds nor an ISO 8601 time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite time")
    return value


def parse_price(text: str) -> float:
    """A positive finite price (quote per coin) from ``text``. Raises ValueError with the reason."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{text!r} is not a positive finite price")
    return value


def parse_symbol(text: str) -> str:
    """The market name in ``text``, stripped; raises ValueError when empty or containing spaces."""
    symbol = text.strip()
    if not symbol or any(c.isspace() for c in symbol):
        raise ValueError(f"{text!r} is not a symbol")
    return symbol


def _parse_row(values: dict[str, object], where: str) -> Tick:
    out: dict[str, object] = {}
    for column, parse in (("ts", parse_ts), ("symbol", parse_symbol), ("price", parse_price)):
        raw = values.get(column)
        try:
            if column != "symbol" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
                value = float(raw)
                if not math.isfinite(value) or (column == "price" and value <= 0):
                    raise ValueError(f"{raw!r} is not a positive finite {'price' if column == 'price' else 'time'}")
                out[column] = value
            elif isinstance(raw, datetime) and column == "ts":
                out[column] = (raw if raw.tzinfo else raw.replace(tzinfo=UTC)).timestamp()
            elif isinstance(raw, str):
                out[column] = parse(raw)
            else:
                raise ValueError("is missing" if raw is None else f"{raw!r} is not text or a number")
        except ValueError as exc:
            raise FeedError(f"{where}, column {column}: {exc}") from None
    return Tick(symbol=out["symbol"], ts=out["ts"], price=out["price"])  # type: ignore[arg-type]


def read_path_csv(path: str | Path) -> list[Tick]:
    """The ticks of a ``ts,symbol,price`` CSV, in file order. Raises FeedError naming file, line, column."""
    path = Path(path)
    name = path.name
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise FeedError(f"{name}: cannot open: {exc.strerror or exc}") from None
    ticks: list[Tick] = []
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
                                f"{', '.join(missing)} (expected ts,symbol,price)")
            index = {c: columns.index(c) for c in COLUMNS}
            for cells in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
                    continue
                if len(cells) != len(columns):
                    raise FeedError(f"{name} line {line}: {len(cells)} columns, expected {len(columns)} "
                                    f"({','.join(columns)})")
                ticks.append(_parse_row({c: cells[i] for c, i in index.items()}, f"{name} line {line}"))
        except csv.Error as exc:
            raise FeedError(f"{name} line {reader.line_num}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise FeedError(f"{name}: not UTF-8 text ({exc.reason})") from None
    if not ticks:
        raise FeedError(f"{name}: no rows after the header")
    return ticks


class ReplayFeed:
    """Plays a price path: ``ReplayFeed(path, speed=None)`` from a CSV, :meth:`from_rows` from code.

    ``speed`` is path seconds per wall second (None: one instant per poll, as fast as the desk
    polls). ``band`` is the guard's jump band (fraction).
    """

    clock_from_ticks = True
    writes_prices_table = False

    def __init__(self, path: str | Path, *, speed: float | None = None, band: float = DEFAULT_JUMP_BAND,
                 _ticks: Sequence[Tick] | None = None, _name: str | None = None):
        if _ticks is None:
            self.path: Path | None = Path(path)
            ticks = read_path_csv(self.path)
            self.name = f"replay:{self.path.name}"
        else:
            self.path = None
            ticks = list(_ticks)
            self.name = _name or "replay"
        if not ticks:
            raise FeedError(f"{self.name}: no rows to replay")
        self._ticks = sorted(ticks, key=lambda t: t.ts)
        self._speed = None if speed is None else _checked_speed(speed)
        self.guard = TickGuard(band, feed_name=self.name)
        self._pos = 0
        self._path_t: float | None = None  # path time (Unix s) reached so far, with a speed
        self._last_now: float | None = None
        self._paused = False
        self._closed = False

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[object]], name: str = "rows", *, speed: float | None = None,
                  band: float = DEFAULT_JUMP_BAND) -> ReplayFeed:
        """A replay of ``rows`` of ``(ts, symbol, price)``; ``ts`` as Unix seconds, ISO text or datetime.

        Checked like a file: a bad row raises FeedError naming ``name``, the row number (from 1) and the
        column. The feed's name is ``replay:<name>``.
        """
        ticks = []
        for number, row in enumerate(rows, start=1):
            where = f"{name} row {number}"
            if isinstance(row, Tick):
                row = (row.ts, row.symbol, row.price)
            if isinstance(row, (str, bytes)) or len(row) != 3:
                raise FeedError(f"{where}: expected (ts, symbol, price), got {row!r}")
            ticks.append(_parse_row(dict(zip(COLUMNS, row, strict=True)), where))
        return cls(name, speed=speed, band=band, _ticks=ticks, _name=f"replay:{name}")

    # -- facts about the path -----------------------------------------------------------------------

    @property
    def ticks(self) -> list[Tick]:
        """All rows of the path, sorted by time (a copy)."""
        return list(self._ticks)

    @property
    def first_ts(self) -> float:
        """Unix time (s) of the path's first row."""
        return self._ticks[0].ts

    @property
    def last_ts(self) -> float:
        """Unix time (s) of the path's last row."""
        return self._ticks[-1].ts

    @property
    def symbols(self) -> list[str]:
        """The path's symbols in order of first appearance."""
        return list(dict.fromkeys(t.symbol for t in self._ticks))

    def first_prices(self) -> dict[str, float]:
        """The first price of each symbol on the path (quote per coin)."""
        out: dict[str, float] = {}
        for t in self._ticks:
            out.setdefault(t.symbol, t.price)
        return out

    @property
    def position(self) -> int:
        """How many rows have been handed out (accepted or rejected)."""
        return self._pos

    @property
    def finished(self) -> bool:
        """True once every row has been played."""
        return self._pos >= len(self._ticks)

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
        if new is not None and self._speed is None and self._pos > 0:
            self._path_t = self._ticks[self._pos - 1].ts  # continue from the instant reached
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
        self._path_t = None
        self._last_now = None
        self.guard = TickGuard(self.guard.band, feed_name=self.name)

    # -- the feed ---------------------------------------------------------------------------------

    def poll(self, now: float) -> list[Tick]:
        """The next rows due at wall Unix time ``now`` (s), checked by the guard (see the module docstring)."""
        if self._closed or self.finished or not math.isfinite(now):
            return []
        last_now, self._last_now = self._last_now, now
        if self._paused:
            return []
        if self._speed is None:
            end = self._pos
            instant = self._ticks[end].ts
            while end < len(self._ticks) and self._ticks[end].ts == instant:
                end += 1
        else:
            if self._path_t is None:
                self._path_t = self._ticks[self._pos].ts
            elif last_now is not None and now > last_now:
                self._path_t += (now - last_now) * self._speed
            end = self._pos
            while end < len(self._ticks) and self._ticks[end].ts <= self._path_t:
                end += 1
            if end == self._pos:
                return []
        due, self._pos = self._ticks[self._pos:end], end
        return self.guard.check(due)

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


def _checked_speed(speed: float) -> float:
    speed = float(speed)
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"speed: {speed!r} must be a positive number")
    return min(speed, MAX_SPEED)
