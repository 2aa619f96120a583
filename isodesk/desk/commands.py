"""Commands the GUI or the CLI sends to the desk, and the desk's answer to each.

Amounts are exact ``Decimal`` in the settlement currency. Every command carries a
``request_id`` so the form that sent it (and only that one) reacts to the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from isodesk.store.records import JournalEntry


def new_request_id() -> str:
    """A fresh random request id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Deposit:
    """Move ``amount`` from outside into an account's free balance (creates the account)."""

    amount: Decimal
    account: str | None = None
    venue: str | None = None
    currency: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class Withdraw:
    """Move ``amount`` from an account's free balance to outside."""

    amount: Decimal
    account: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class OpenPosition:
    """Open an isolated position funded from the account's free balance."""

    label: str
    venue: str
    symbol: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    leverage: Decimal
    margin: Decimal
    contract: str | None = None
    account: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class IncreasePosition:
    """Add ``quantity`` (exact; base units, or contracts for inverse) to the open position
    ``position_id`` at ``price`` (quote per coin; None: the desk's fresh mark when the order
    arrives), funded from the account's free balance with ``margin`` (settlement currency; None: the
    added part's initial margin at the position's leverage)."""

    position_id: int
    quantity: Decimal
    price: Decimal | None = None
    margin: Decimal | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class ClosePosition:
    """Close a position, or ``quantity`` of it, at ``price`` (None: the current mark), realizing the
    PnL of what is closed into the free balance.

    ``quantity`` (exact, > 0, at most the position's quantity; base units for linear contracts,
    contracts for inverse ones): None or the whole quantity closes the position; less closes that
    part, releases its pro-rata share of the isolated margin and keeps the rest open at the same
    entry price (:func:`isodesk.desk.operations.partial_close_figures`).
    """

    position_id: int
    price: Decimal | None = None
    quantity: Decimal | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class CloseReport:
    """What an accepted :class:`ClosePosition` did (the ``payload`` of its :class:`Result`), exact, in
    the settlement ``currency``: ``quantity`` closed at ``price``, ``realized_pnl`` (the closed
    part's PnL, a loss capped at the margin released), ``margin_released`` (the closed part's share
    of the isolated margin, back to the free balance less any loss) and ``remaining`` quantity
    (0 when the position is closed)."""

    position_id: int
    label: str
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    margin_released: Decimal
    remaining: Decimal
    currency: str

    @property
    def partial(self) -> bool:
        """True when part of the position stays open."""
        return self.remaining > 0


@dataclass(frozen=True, slots=True)
class AddCollateral:
    """Move ``amount`` from the account's free balance into a position's isolated margin."""

    position_id: int
    amount: Decimal
    reason: str = ""
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class RemoveCollateral:
    """Move ``amount`` from a position's isolated margin back to the free balance."""

    position_id: int
    amount: Decimal
    reason: str = ""
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class UndoAdjustment:
    """Reverse the last add or remove of collateral on a position with a compensating ledger entry."""

    position_id: int
    reason: str = ""
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class SetThresholds:
    """Change the warning and danger distances (fractions of the mark) and the hysteresis."""

    warning: float
    danger: float
    hysteresis: float = 0.005
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class AcknowledgeAlert:
    """Mark one alert as seen."""

    alert_id: int
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class AcknowledgeAlerts:
    """Mark several alerts as seen in one transaction, all or none ("Acknowledge all").

    ``alert_ids``: the ids the trader saw (an id already acknowledged is fine; one that does not
    exist refuses the whole command). A queued command's JSON list becomes a tuple.
    """

    alert_ids: tuple[int, ...]
    request_id: str = field(default_factory=new_request_id)

    def __post_init__(self) -> None:
        ids: Any = self.alert_ids  # a list when it comes back from a queued command's JSON
        if isinstance(ids, (str, bytes)) or not hasattr(ids, "__iter__"):
            raise TypeError(f"alert_ids: {ids!r} must be a list of alert ids")
        object.__setattr__(self, "alert_ids", tuple(ids))


@dataclass(frozen=True, slots=True)
class SetPaused:
    """Pause or resume the feed (the book keeps its last marks)."""

    paused: bool
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class SetSpeed:
    """Set the simulation or replay speed multiplier."""

    speed: float
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class ReadJournal:
    """Ask for journal entries (read-only): of one position, of one account (by name), or all when neither.

    Answered with an accepted :class:`Result` whose ``payload`` is a :class:`JournalPage`.
    """

    position_id: int | None = None
    account: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class JournalPage:
    """The answer to :class:`ReadJournal`: entries oldest first, with the names a view needs.

    ``labels`` maps position ids (every position, closed ones too) to labels; ``accounts`` and
    ``currencies`` map account ids to names and settlement currencies. Read-only mappings.
    """

    entries: tuple[JournalEntry, ...]
    labels: Mapping[int, str]
    accounts: Mapping[int, str]
    currencies: Mapping[int, str]


@dataclass(frozen=True, slots=True)
class ImportPositions:
    """Import every position of a CSV or JSON file (``path``, absolute) in one transaction, or none."""

    path: str
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class StoreTierTables:
    """Store one venue's tier tables in the book (``isodesk tiers refresh`` / ``tiers import``).

    ``tables``: each table as :meth:`isodesk.venues.tier_bodies.VenueTierTable.to_json` writes it
    (exact texts); ``source``: ``refresh`` or ``import``; ``fetched_at``: Unix seconds when the
    venue answered (refresh) or the file was read (import); ``complete``: the tables are everything
    the venue lists (a refresh), so stored ones it no longer lists are reported removed (kept).
    The desk records an alert on every open position whose table changed and recomputes.
    """

    venue: str
    source: str
    tables: tuple[Mapping[str, object], ...]
    fetched_at: float
    complete: bool = False
    request_id: str = field(default_factory=new_request_id)


Command = (Deposit | Withdraw | OpenPosition | IncreasePosition | ClosePosition | AddCollateral | RemoveCollateral
           | UndoAdjustment | SetThresholds | AcknowledgeAlert | AcknowledgeAlerts | SetPaused | SetSpeed | ReadJournal
           | ImportPositions | StoreTierTables)


class Reply(StrEnum):
    """What kind of answer a :class:`Result` is; code decides by this, never by the reason's text."""

    ACCEPTED = "accepted"        # done now
    REJECTED = "rejected"        # refused; nothing changed; ``reason`` says why
    REPEATED = "repeated"        # this request id was answered before: the original answer, nothing done again
    UNKNOWN = "unknown"          # the desk failed mid-way; retrying with the same request id is safe
    STARTED = "started"          # a background job began; its final answer follows with the same request id


@dataclass(frozen=True, slots=True)
class Result:
    """The desk's answer: accepted, or rejected with the reason shown to the user verbatim.

    ``kind`` names the command (``"Deposit"``…) and ``reply`` says what kind of answer this is;
    ``accepted`` is True for ``accepted``, ``repeated`` of an accepted command, and ``started``.
    """

    request_id: str
    accepted: bool
    reason: str = ""
    ledger_entry_id: int | None = None
    position_id: int | None = None
    snapshot_version: int | None = None
    payload: object = None
    kind: str = ""
    reply: Reply | None = None

    def __post_init__(self) -> None:
        if self.reply is None:
            object.__setattr__(self, "reply", Reply.ACCEPTED if self.accepted else Reply.REJECTED)


class CommandRejected(Exception):
    """Raised inside the desk to reject a command; its message becomes ``Result.reason``."""
