"""Things that happened, delivered every one and in order (never coalesced like snapshots), and the
rules of how they are kept as alerts in the book.

- **Flapping collapses in the book.** A level change of a position between the same two levels as
  the position's newest alert, while that alert is a level alert not yet acknowledged, counts on
  that alert (``count`` + 1) instead of adding one (:func:`collapses`). The unacknowledged alert
  is the window: once the trader acknowledges it, the next change starts a new alert. Any pair of
  levels collapses (SAFE↔WARNING and WARNING↔DANGER alike); every change is still delivered as
  its own event (with the alert's id and new count), so a DANGER crossing always notifies.
- **One summary per risky position when the desk first classifies it** (:attr:`EventKind.SUMMARY`):
  at start, or when a position enters the book, a position found at WARNING or DANGER gets one
  alert saying so. It is not written again while the position's newest alert is unacknowledged
  and at the same level (:func:`summary_repeats`): a restart does not pile up copies the dock
  already shows from the book.
- **Sound** (``sound``): a DANGER crossing or a liquidation, when the trader's ``alerts.sound``
  setting is on; the desk marks the event, the screen plays it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum

from isodesk.store.records import Alert


class EventKind(StrEnum):
    """What an event reports."""

    LEVEL = "level"
    LIQUIDATION = "liquidation"
    STALE = "stale"
    RECOVERED = "recovered"
    FAILURE = "failure"      # a desk step failed (position_id 0); the desk reloaded the book
    EXTERNAL = "external"    # an alert another process wrote into the book
    TIERS = "tiers"          # the venue's tier table of an open position changed (tiers refresh/import)
    SUMMARY = "summary"      # a position's level when the desk first classified it (at start, or new in the book)
    ODDS = "odds"            # a position's 24 h probability of liquidation rose past the alert line (desk.volatility)


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """A crossing for one position: level change, liquidation, stale price, price back.

    ``ts`` is the desk clock (tick time under replay), ``price`` the mark at that moment,
    ``level`` the new level's name, ``previous`` the old one. ``alert_id`` is the alert that keeps
    it in the book and ``count`` that alert's count after it (above 1: flapping collapsed into an
    alert the screen may already show). ``sound``: the trader asked for a sound on it.
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
    count: int = 1
    sound: bool = False

    def as_json(self) -> dict[str, object]:
        """The event as a JSON-ready dict (``event``, ``label``, ``ts``, ``price``…)."""
        return {"event": self.kind.value, "label": self.label, "symbol": self.symbol, "ts": self.ts,
                "price": self.price, "level": self.level, "previous": self.previous, "message": self.message}


#: the slots of a :class:`PositionEvent`, in field order: :func:`new_event` fills them directly
_EVENT_SLOTS = tuple(getattr(PositionEvent, f.name).__set__ for f in fields(PositionEvent))


def new_event(kind: EventKind, position_id: int, label: str, symbol: str, level: str, previous: str, ts: float,
              price: float, message: str, alert_id: int | None, count: int, sound: bool) -> PositionEvent:
    """The :class:`PositionEvent` its constructor gives for these fields (``ts`` in seconds,
    ``price`` in quote per coin), built slot by slot, without the frozen dataclass's ``__init__``
    (about half its cost; the desk builds one per alert, thousands in a big step)."""
    event: PositionEvent = object.__new__(PositionEvent)
    (put_kind, put_position, put_label, put_symbol, put_level, put_previous, put_ts, put_price, put_message,
     put_alert, put_count, put_sound) = _EVENT_SLOTS
    put_kind(event, kind)
    put_position(event, position_id)
    put_label(event, label)
    put_symbol(event, symbol)
    put_level(event, level)
    put_previous(event, previous)
    put_ts(event, ts)
    put_price(event, price)
    put_message(event, message)
    put_alert(event, alert_id)
    put_count(event, count)
    put_sound(event, sound)
    return event


def collapses(latest: Alert | None, level: str, previous: str) -> bool:
    """True when a level change ``previous`` → ``level`` of a position counts on ``latest``, the
    position's newest alert: an unacknowledged level alert between the same two levels."""
    return (latest is not None and not latest.acknowledged and latest.kind == EventKind.LEVEL.value
            and latest.previous is not None and {latest.level, latest.previous} == {level, previous})


def summary_repeats(latest: Alert | None, level: str) -> bool:
    """True when a summary at ``level`` would repeat ``latest``, the position's newest alert: it is
    unacknowledged and at that level (whatever its kind), so the trader already has it."""
    return latest is not None and not latest.acknowledged and latest.level == level
