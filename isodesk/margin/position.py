"""One isolated position as the engine takes it, and the checks that refuse a bad one.

Sizes are positive; ``side`` alone gives the direction. Money is in the settlement currency
(quote for linear contracts, the coin for inverse ones); prices are quote per coin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from isodesk.margin.tiers import TierTable
from isodesk.margin.venues import VENUES, Formula, Requirement, venue_rule

SIDES = {"long": 1, "short": -1}
CONTRACTS = ("linear", "inverse")


class PositionError(ValueError):
    """A position the engine refuses; the message names the position and every bad field."""

    def __init__(self, position: str, problems: list[tuple[str, str]]):
        self.position = position
        self.problems = problems
        detail = "; ".join(f"{field}: {msg}" for field, msg in problems)
        super().__init__(f"position {position}: {detail}")


@dataclass(frozen=True, slots=True)
class Position:
    """An isolated position.

    ``quantity``: linear, the size in base units (BTC); inverse, the number of contracts, each
    worth ``contract_size`` USD. ``isolated_margin`` (W) excludes unrealized PnL. ``leverage`` is
    the position's setting, used only where a rule needs the initial-margin rate (NaN if unknown).
    ``taker_fee_rate`` counts only where the formula includes the close fee (OKX, Gate, Bybit
    ``uta``/``uta_entry``). ``formula_variant`` names one of the venue's formulas
    (:attr:`~isodesk.margin.venues.VenueRule.variants`; Bybit: ``uta``, the default, ``uta_entry``,
    ``entry_mm``, ``exact_mm``); ``None`` is the venue's default.
    """

    venue: str
    side: str
    entry_price: float
    quantity: float
    isolated_margin: float
    tiers: TierTable
    contract: str = "linear"
    contract_size: float = 1.0
    leverage: float = math.nan
    taker_fee_rate: float = 0.0
    formula_variant: str | None = None
    symbol: str = ""
    label: str = ""

    @property
    def name(self) -> str:
        """How messages refer to this position: its label, else its symbol."""
        return repr(self.label or self.symbol or "(unnamed)")

    @property
    def sign(self) -> int:
        """+1 for long, −1 for short."""
        return SIDES[self.side]

    @property
    def size(self) -> float:
        """Linear: quantity in base units. Inverse: face value in USD (contracts × contract size)."""
        return self.quantity * self.contract_size if self.contract == "inverse" else self.quantity

    @property
    def formula(self) -> Formula:
        """The liquidation rule this position uses (its ``formula_variant``, else the venue's default)."""
        return VENUES[self.venue].formula(self.formula_variant)

    @property
    def requirement(self) -> Requirement:
        """Where this position's maintenance margin is valued (see :class:`Requirement`)."""
        return self.formula.maintenance

    @property
    def counted_fee_rate(self) -> float:
        """The close-fee rate the requirement counts: ``taker_fee_rate``, or 0 where the formula counts none."""
        return self.taker_fee_rate if self.formula.counts_fee else 0.0

    @property
    def contracts(self) -> float:
        """The size in contracts: inverse, ``quantity``; linear, ``quantity / tiers.contract_value``."""
        return self.tiers.contracts_of(self.quantity, self.contract == "inverse")

    def entry_notional(self) -> float:
        """Notional at the entry price, in the settlement currency."""
        return self.quantity * self.entry_price if self.contract == "linear" else self.size / self.entry_price


def problems(p: Position) -> list[tuple[str, str]]:
    """Every reason the engine cannot compute ``p``, as ``(field, message)`` pairs."""
    out: list[tuple[str, str]] = []
    try:
        rule = venue_rule(p.venue)
    except ValueError as exc:
        return [("venue", str(exc).removeprefix("venue: "))]
    if p.contract not in CONTRACTS:
        out.append(("contract", f"{p.contract!r} is neither linear nor inverse"))
    elif p.contract not in rule.contracts:
        out.append(("contract", f"{p.venue} has no {p.contract} contracts"))
    if p.side not in SIDES:
        out.append(("side", f"{p.side!r} is neither long nor short"))
    for field in ("entry_price", "quantity", "isolated_margin", "contract_size"):
        value = getattr(p, field)
        if not _positive(value):
            out.append((field, f"{value!r} must be a positive finite number"))
    if not (math.isnan(p.leverage) or _positive(p.leverage)):
        out.append(("leverage", f"{p.leverage!r} must be a positive finite number"))
    if not (_finite(p.taker_fee_rate) and 0 <= p.taker_fee_rate < 0.1):
        out.append(("taker_fee_rate", f"{p.taker_fee_rate!r} must be a fraction in [0, 0.1)"))
    if p.formula_variant is not None and p.formula_variant not in rule.variants:
        out.append(("formula_variant", f"{p.formula_variant!r} is not one of {', '.join(rule.variants)}"))
    if not out and not math.isnan(p.leverage):
        k = p.tiers.row_for(p.entry_notional(), p.contracts)
        cap = float(p.tiers.max_leverage[k])
        if not math.isnan(cap) and p.leverage > cap + 1e-9:
            size = (f"a size of {p.contracts:,.8g} contracts" if p.tiers.sized
                    else f"a notional of {p.entry_notional():,.2f}")
            out.append(("leverage", f"{p.leverage:g}x is above the {cap:g}x maximum of the bracket for {size}"))
    return out


def check(p: Position) -> Position:
    """Return ``p`` unchanged, or raise :class:`PositionError` listing every bad field."""
    found = problems(p)
    if found:
        raise PositionError(p.name, found)
    return p


def _finite(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _positive(x: object) -> bool:
    return _finite(x) and x > 0  # type: ignore[operator]
