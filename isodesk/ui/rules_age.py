"""How old the venue rules (tier tables) behind the book's positions are, for the status bar.

For each venue with open positions, the oldest table in use among its held symbols: a refresh or
import has its time; a shipped snapshot its date (``as_of``); a position's own rate is the trader's
and has no age. Tables older than :data:`STALE_AFTER_S` are flagged: venues change their tiers
without notice, so an old table can put the liquidation price in the wrong place.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from isodesk.desk.snapshot import Snapshot
from isodesk.margin.catalog import TierCatalog, UnknownSymbol

STALE_AFTER_S = 7 * 86_400.0


@dataclass(frozen=True, slots=True)
class VenueRulesAge:
    """The oldest table in use of one venue's held symbols: ``age_s`` (seconds, NaN if unknown)
    and ``kind`` (``refresh``, ``import`` or ``shipped``)."""

    venue: str
    age_s: float
    kind: str

    @property
    def stale(self) -> bool:
        """Older than a week (or of unknown age)."""
        return not (math.isfinite(self.age_s) and self.age_s <= STALE_AFTER_S)


def rules_ages(snapshot: Snapshot, catalog: TierCatalog, now: float) -> list[VenueRulesAge]:
    """Per venue with open positions (in name order), the age of its oldest table in use at ``now`` (Unix s).

    Which table is the oldest depends only on the book and the catalog, not on ``now`` (every age
    moves with the clock alike), so it is found once per (book, catalog) — a walk over every
    position, ~20 ms at 10,000 — and each later call only subtracts (the status bar asks every second).
    """
    return [VenueRulesAge(venue, now - at, kind) for venue, at, kind in _oldest_tables(snapshot.book, catalog)]


_cache: tuple[object, TierCatalog, list[tuple[str, float, str]]] | None = None


def _oldest_tables(book, catalog: TierCatalog) -> list[tuple[str, float, str]]:
    """Per venue with open positions (name order): the time (Unix s, NaN if undated) and kind of its
    oldest table in use; cached for the last (book, catalog) pair (both immutable)."""
    global _cache
    cached = _cache
    if cached is not None and cached[0] is book and cached[1] is catalog:
        return cached[2]
    oldest: dict[str, tuple[float, str]] = {}
    seen: dict[tuple[str, str, str], tuple[float, str] | None] = {}  # one look-up per table, not per position
    for venue, contract, symbol, status in zip(book.venues, book.contracts, book.symbols, book.statuses, strict=True):
        if status != "open":
            continue
        triple = (venue, contract, symbol)
        if triple in seen:
            found = seen[triple]
        else:
            found = seen[triple] = _table_time(catalog, venue, contract, symbol)
        if found is None:
            continue
        at, kind = found
        known = oldest.get(venue)
        # older = an earlier time; an undated (NaN) table takes the place, as an unknown age does
        if known is None or not (at >= known[0]):
            oldest[venue] = (at, kind)
    result = [(v, oldest[v][0], oldest[v][1]) for v in sorted(oldest)]
    _cache = (book, catalog, result)
    return result


def _table_time(catalog: TierCatalog, venue: str, contract: str, symbol: str) -> tuple[float, str] | None:
    """The time (Unix s; NaN if undated) and kind of the table of one symbol: a refresh or import
    has its own time, a shipped snapshot the midnight (UTC) of its ``as_of`` date; None when it
    has none or it is a position's own rate."""
    try:
        source = catalog.source(venue, contract, symbol)
    except (UnknownSymbol, ValueError):
        return None
    if source.kind == "position":
        return None
    if source.at is not None:
        return source.at, source.kind
    try:
        day = dt.datetime.strptime(source.as_of, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        return day.timestamp(), source.kind
    except ValueError:
        return math.nan, source.kind


def age_text(seconds: float) -> str:
    """``3 h``, ``2 d``: an age rounded to its largest unit; ``undated`` when unknown (a shipped
    table whose source page carries no date)."""
    if not math.isfinite(seconds):
        return "undated"
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return "now"


def rules_text(ages: list[VenueRulesAge]) -> tuple[str, str]:
    """The status-bar text and its tooltip: ``rules: bybit 2 d · okx 9 d ⚠``."""
    if not ages:
        return "", ""
    parts = [f"{a.venue} {age_text(a.age_s)}{' (shipped)' if a.kind == 'shipped' else ''}{' ⚠' if a.stale else ''}"
             for a in ages]
    old = [a.venue for a in ages if a.stale]
    tip = ("Age of the oldest venue rules (maintenance tiers) in use per venue. "
           + (f"Older than 7 days: {', '.join(old)} — Account → Refresh venue rules." if old else ""))
    return "rules: " + " · ".join(parts), tip


def refresh_summary(reason: str) -> str:
    """One status-bar line from the desk's answer to a rules refresh: per venue what happened
    (``stored``, ``not refreshed``, ``skipped``) and how many positions' tables changed."""
    venues: dict[str, str] = {}
    changed = 0
    for line in reason.splitlines():
        head, _, rest = line.partition(": ")
        if " changed " in rest and " tiers: " in rest:
            changed += 1
        elif head and " " not in head:
            clause = rest.split(" (")[0].split(":")[0]
            venues.setdefault(head, clause)
    parts = [f"{venue}: {clause}" for venue, clause in venues.items()]
    if changed:
        parts.append(f"{changed} position{'s' if changed != 1 else ''} with new tiers (see Alerts)")
    return "venue rules — " + " · ".join(parts)
