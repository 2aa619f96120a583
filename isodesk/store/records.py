"""The rows the store hands out: frozen dataclasses with Decimal money, plus the domain vocabularies.

Money (``quantity``, prices, ``leverage``, margins, ledger ``amount``) is exact ``Decimal``; times
(``ts``, ``*_at``) are Unix seconds as float.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

VENUES = ("binance-usdm", "binance-coinm", "bybit", "okx", "gate", "hyperliquid", "custom")
CONTRACTS = ("linear", "inverse")
SIDES = ("long", "short")
POSITION_STATUSES = ("open", "closed", "liquidated")
ALERT_LEVELS = ("safe", "warning", "danger", "liquidated", "stale")


def require_choice(value: object, choices: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``choices``; otherwise ``ValueError`` naming the field and the value."""
    if value not in choices:
        raise ValueError(f"{field} must be one of {', '.join(choices)}; got {value!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class Account:
    """A trading account on one venue; its collateral is counted in ``currency``."""

    id: int
    name: str
    venue: str
    currency: str
    created_at: float


@dataclass(frozen=True, slots=True)
class PositionRecord:
    """A stored position. ``quantity``: linear, base units; inverse, contracts of ``contract_size``
    USD each. ``isolated_margin`` is the position's ledger balance in the account currency."""

    id: int
    label: str
    account_id: int
    venue: str
    symbol: str
    contract: str
    side: str
    quantity: Decimal
    contract_size: Decimal | None
    entry_price: Decimal
    leverage: Decimal
    isolated_margin: Decimal
    status: str
    opened_at: float
    closed_at: float | None
    close_price: Decimal | None
    venue_position_id: str | None


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One movement of ``amount`` (> 0, account currency) from the ref ``source`` to the ref ``dest``."""

    id: int
    ts: float
    kind: str
    amount: Decimal
    source: str
    dest: str
    account_id: int
    position_id: int | None
    request_id: str | None
    memo: str
    reverses: int | None


@dataclass(frozen=True, slots=True)
class Alert:
    """A risk alert about one position (or the whole book when ``position_id`` is None).

    ``count``: how many changes the alert stands for (flapping between two levels collapses into
    one alert; ``ts``, ``level`` and ``message`` are then the latest change's, ``first_ts`` when the
    run began); ``previous``: the level before a level change (None for other kinds).
    """

    id: int
    ts: float
    position_id: int | None
    level: str
    kind: str
    message: str
    acknowledged: bool
    count: int = 1
    previous: str | None = None
    first_ts: float | None = None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One collateral movement of a position with its figures before and after (floats, for display).

    ``kind``: open, add, remove, close, liquidation, undo. ``amount`` is exact, in the account
    currency (for a close: the margin released). A close also keeps ``realized_pnl`` (the PnL the
    account realized, exact, a loss capped at the margin released) and ``closed_quantity`` (a
    partial close closes less than the position held); both None for other entries.
    ``before``/``after`` map figure names (isolated_margin, effective_leverage, liquidation_price,
    margin_ratio, distance_frac, mark) to numbers or None.
    """

    id: int
    ts: float
    position_id: int
    account_id: int
    ledger_id: int | None
    kind: str
    amount: Decimal
    before: dict[str, float | None]
    after: dict[str, float | None]
    reason: str
    undoes: int | None
    realized_pnl: Decimal | None = None
    closed_quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueReport:
    """What one import from a venue said about a position (append-only).

    ``venue_liquidation_price`` (quote per coin) and ``venue_margin`` (isolated margin without
    uPnL, account currency) are the venue's own figures, exact, None where it showed none.
    ``changes`` maps each changed field to ``[before, after]`` (exact strings); a new position has
    ``{"created": true}``. ``auto_add_margin``: the venue tops the margin up by itself before
    liquidating; ``adl_rank``: its auto-deleveraging rank (0–5); None where the venue did not say.
    """

    id: int
    ts: float
    position_id: int
    venue: str
    venue_liquidation_price: Decimal | None
    venue_margin: Decimal | None
    changes: dict[str, object]
    auto_add_margin: bool | None = None
    adl_rank: int | None = None
