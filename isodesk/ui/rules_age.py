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
    """Per venue with open positions (in name order), the age of its oldest table in use at ``now`` (Unix s)."""
    oldest: dict[str, VenueRulesAge] = {}
    book = snapshot.book
    seen: dict[tuple[str, str, str], tuple[float, str] | None] = {}  # one look-up per table, not per position
    for venue, contract, symbol, status in zip(book.venues, book.contracts, book.symbols, book.statuses, strict=True):
        if status != "open":
            continue
        triple = (venue, contract, symbol)
        if triple in seen:
            found = seen[triple]
        else:
            found = seen[triple] = _table_age(catalog, venue, contract, symbol, now)
        if found is None:
            continue
        age, kind = found
        known = oldest.get(venue)
        if known is None or not (age <= known.age_s):
            oldest[venue] = VenueRulesAge(venue, age, kind)
    return [oldest[v] for v in sorted(oldest)]


def _table_age(catalog: TierCatalog, venue: str, contract: str, symbol: str, now: float) -> tuple[float, str] | None:
    """The age (s at ``now``, NaN if undated) and kind of the table of one symbol; None when it has
    none or it is a position's own rate."""
    try:
        source = catalog.source(venue, contract, symbol)
    except (UnknownSymbol, ValueError):
        return None
    if source.kind == "position":
        return None
    if source.at is not None:
        return now - source.at, source.kind
    try:
        day = dt.datetime.strptime(source.as_of, "%Y-%m-%d").replace(tzinfo=dt.UTC)
        return now - day.timestamp(), source.kind
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
