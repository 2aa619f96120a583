"""Venue rules as data: which requirement a venue liquidates at, fees, the max-removable rule.

Every venue is reduced to one liquidation condition ``B(P) = R(P)`` (margin balance meets the
requirement) and one margin-ratio orientation, maintenance ÷ margin balance with 1.0 meaning
liquidation, as Binance shows it. Sources per venue are in ``resources/tiers/README.md`` and the
docstrings below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Requirement(IntEnum):
    """What the margin balance is compared with at liquidation."""

    MM_AT_PRICE = 0
    """Maintenance valued at the liquidation price itself (Binance, Hyperliquid, Bybit ``exact_mm``, OKX, Gate)."""
    MM_AT_ENTRY = 1
    """Maintenance valued at the entry notional (Bybit ``entry_mm``, its published calculator), for the
    liquidation price and for the maintenance margin and margin ratio shown at every mark alike
    (see :func:`isodesk.margin.engine.maintenance_requirement`)."""


class RemovableRule(IntEnum):
    """How much collateral the venue lets a trader take out of an isolated position."""

    NONE = 0
    """No published rule: the figure is not computed (NaN)."""
    BINANCE = 1
    """``max(0, min(W - MM, B - n/L))`` (Binance FAQ 360038447311)."""
    HYPERLIQUID = 2
    """``max(0, B - max(n/L, 0.1 n))`` (Hyperliquid docs, "Margining")."""


@dataclass(frozen=True, slots=True)
class VenueRule:
    """One venue's formula choices; the numbers (tiers) are data files."""

    name: str
    contracts: frozenset[str]
    removable: RemovableRule
    fee_in_requirement: bool = False
    default_requirement: Requirement = Requirement.MM_AT_PRICE
    source: str = ""

    def tier_file(self, contract: str) -> str:
        """File name in ``resources/tiers/`` for this venue and contract kind."""
        if self.name in ("binance-usdm", "binance-coinm", "hyperliquid", "custom"):
            return f"{self.name}.json"
        return f"{self.name}-{contract}.json"


VENUES: dict[str, VenueRule] = {
    v.name: v
    for v in (
        VenueRule("binance-usdm", frozenset({"linear"}), RemovableRule.BINANCE,
                  source="Binance FAQ b3c689c1f50a44cabb3a84e663b81d93 (USDⓈ-M liquidation price)"),
        VenueRule("binance-coinm", frozenset({"inverse"}), RemovableRule.BINANCE,
                  source="Binance FAQ ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (COIN-M liquidation price)"),
        VenueRule("bybit", frozenset({"linear", "inverse"}), RemovableRule.NONE,
                  default_requirement=Requirement.MM_AT_ENTRY,
                  source="Bybit help: Liquidation Price (USDT Contract), (Inverse Contract) 360039261334"),
        VenueRule("okx", frozenset({"linear", "inverse"}), RemovableRule.NONE, fee_in_requirement=True,
                  source="OKX help 360053909592; condition as freqtrade implements it"),
        VenueRule("gate", frozenset({"linear", "inverse"}), RemovableRule.NONE, fee_in_requirement=True,
                  source="Gate help 27724; condition as freqtrade implements it"),
        VenueRule("hyperliquid", frozenset({"linear"}), RemovableRule.HYPERLIQUID,
                  source="Hyperliquid docs: Liquidations, Margin tiers, Margining"),
        VenueRule("custom", frozenset({"linear", "inverse"}), RemovableRule.NONE,
                  source="tiers typed in by the user"),
    )
}

BYBIT_VARIANTS = {"entry_mm": Requirement.MM_AT_ENTRY, "exact_mm": Requirement.MM_AT_PRICE}


def venue_rule(name: str) -> VenueRule:
    """The rule object of a venue name; ``ValueError`` naming the valid venues otherwise."""
    try:
        return VENUES[name]
    except KeyError:
        raise ValueError(f"venue: unknown venue {name!r} (known: {', '.join(VENUES)})") from None
