"""Things that happened, delivered every one and in order (never coalesced like snapshots)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    """What an event reports."""

    LEVEL = "level"
    LIQUIDATION = "liquidation"
    STALE = "stale"
    RECOVERED = "recovered"
    FAILURE = "failure"      # a desk step failed (position_id 0); the desk reloaded the book
    EXTERNAL = "external"    # an alert another process wrote into the book
    TIERS = "tiers"          # the venue's tier table of an open position changed (tiers refresh/import)


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """A crossing for one position: level change, liquidation, stale price, price back.

    ``ts`` is the desk clock (tick time under replay), ``price`` the mark at that moment,
    ``level`` the new level's name, ``previous`` the old one.
    """

    kind: EventKind
    position_id: int
    label: str
    symbol: str
    level: str
    previous: str
    ts: float
    price: float
    message: str
    alert_id: int | None = None

    def as_json(self) -> dict[str, object]:
        """The event as a JSON-ready dict (``event``, ``label``, ``ts``, ``price``…)."""
        return {"event": self.kind.value, "label": self.label, "symbol": self.symbol, "ts": self.ts,
                "price": self.price, "level": self.level, "previous": self.previous, "message": self.message}
