"""Venue rules as data: which requirement a venue liquidates at, fees, the max-removable rule.

Every venue is reduced to one liquidation condition ``B(P) = R(P)`` (margin balance meets the
requirement) and one margin-ratio orientation, requirement ÷ margin balance with 1.0 meaning
liquidation, as Binance shows it. The requirement is ``R = MM + close fee``; a :class:`Formula`
says where the maintenance margin ``MM`` is valued and which close fee, if any, the venue counts.
A venue offers one formula or several selectable by name (Bybit); the first is its default.
Sources per venue are in the docstrings and ``source`` strings below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Requirement(IntEnum):
    """Where the maintenance margin is valued."""

    MM_AT_PRICE = 0
    """At the notional of the price itself, on the tier holding it (Binance, Hyperliquid, OKX, Gate,
    Bybit ``uta`` and ``exact_mm``)."""
    MM_AT_ENTRY = 1
    """At the entry notional, on the entry tier (Bybit ``entry_mm``, its older published calculator,
    and ``uta_entry``), for the liquidation price and for the maintenance margin and margin ratio
    shown at every mark alike (see :func:`isodesk.margin.engine.maintenance_requirement`)."""


class CloseFee(IntEnum):
    """Which fee to close the position the requirement counts (``f`` the taker fee rate)."""

    NONE = 0
    """No fee in the requirement."""
    AT_PRICE = 1
    """``f × n(P)``: the fee to close at the price itself (OKX, Gate)."""
    AT_BANKRUPTCY = 2
    """``f × n(P_bk)``: the fee to close at the bankruptcy price, a constant for a given margin
    (Bybit unified account, isolated). ``P_bk`` is where the margin balance just pays that fee,
    ``B(P_bk) = f × n(P_bk)`` (Bybit's fee-inclusive bankruptcy price)."""


class RemovableRule(IntEnum):
    """How much collateral the venue lets a trader take out of an isolated position."""

    NONE = 0
    """No published rule: the figure is not computed (NaN)."""
    BINANCE = 1
    """``max(0, min(W - MM, B - n/L))`` (Binance FAQ 360038447311)."""
    HYPERLIQUID = 2
    """``max(0, B - max(n/L, 0.1 n))`` (Hyperliquid docs, "Margining")."""


@dataclass(frozen=True, slots=True)
class Formula:
    """One selectable liquidation rule: where MM is valued, which close fee is counted, and why."""

    name: str
    maintenance: Requirement
    close_fee: CloseFee
    source: str

    @property
    def counts_fee(self) -> bool:
        """True when the requirement includes a close fee (the position's taker fee rate is used)."""
        return self.close_fee != CloseFee.NONE


STANDARD = "standard"

BINANCE_FORMULA = Formula(
    STANDARD, Requirement.MM_AT_PRICE, CloseFee.NONE,
    "Binance FAQ 'How to Calculate Liquidation Price of USDⓈ-M Futures Contracts' "
    "(b3c689c1f50a44cabb3a84e663b81d93) and '… of COIN-M Futures Contracts' (ceccfcfb4e3a45e3b48b0b1bb1a8ae46, "
    "2021-02-05): isolated, WB = the position's isolated wallet balance, TMM = UPNL = 0; the maintenance "
    "rate and amount are those of the level of the position notional at the liquidation price (COIN-M: "
    "notional in coin, levels by qtyFloor/qtyCap in coin, cum in coin)")

BYBIT_UTA = Formula(
    "uta", Requirement.MM_AT_PRICE, CloseFee.AT_BANKRUPTCY,
    "Bybit help 'Liquidation Price Calculation under Isolated Mode (Unified Trading Account)', updated "
    "2026-05-27: IM = position value / leverage + estimated fee to close, MM = position value × MMR − MM "
    "deduction + estimated fee to close; inverse long LP = size × (MMR + 1) ÷ [size/E + size/E/leverage + "
    "extra margin/(1 + taker fee) + MM deduction], i.e. MM at the liquidation price and the fee at the "
    "fee-inclusive bankruptcy price of the margin held. Bybit help 'The New Margin Calculation: Adjustments "
    "and Implications' (updated 2025-09-18, in force 2025-09-02): isolated MM uses the mark price, the fee "
    "term is size × entry × (1 ∓ 1/leverage) × taker fee rate")

BYBIT_UTA_ENTRY = Formula(
    "uta_entry", Requirement.MM_AT_ENTRY, CloseFee.AT_BANKRUPTCY,
    "Bybit unified account, isolated, before 2025-09-02: 'The New Margin Calculation' page, column 'Current "
    "(Based on Entry Price)': position MM = size × entry × MMR − MM deduction + size × entry × (1 ∓ "
    "1/leverage) × taker fee rate; the recorded LTCUSDT position of 2023-11-14 (positionMM 0.81072399)")

BYBIT_ENTRY_MM = Formula(
    "entry_mm", Requirement.MM_AT_ENTRY, CloseFee.NONE,
    "Bybit help 'Liquidation Price (USDT Contract)' and 'How to calculate Liquidation Price (Inverse "
    "Contract)' (360039261334), the classic account's calculator: MM = entry value × MMR − deduction")

BYBIT_EXACT_MM = Formula(
    "exact_mm", Requirement.MM_AT_PRICE, CloseFee.NONE,
    "the classic account's rule with MM valued at the liquidation price, as Binance does")

FEE_AT_PRICE = Formula(
    STANDARD, Requirement.MM_AT_PRICE, CloseFee.AT_PRICE,
    "OKX help 'Tiered maintenance margin ratio rules' (published 2022-06-16, updated 2025-05-16): forced "
    "liquidation when the margin ratio falls to 100 %, account equity ≤ maintenance margin + liquidation "
    "fees; isolated margin ratio = (margin + PnL) ÷ (face value × |contracts| × mark × (tier MMR + taker "
    "fee rate)), ÷ mark for coin-margined contracts; tiers by position size in contracts, no deduction. "
    "Gate: the same condition as freqtrade implements it (Gate help 27724)")

HYPERLIQUID_FORMULA = Formula(
    STANDARD, Requirement.MM_AT_PRICE, CloseFee.NONE,
    "Hyperliquid docs 'Liquidations' and 'Margin tiers': liquidation when account value < maintenance "
    "margin; maintenance rate = 1 / (2 × the tier's max leverage), deduction by the documented recurrence")


@dataclass(frozen=True, slots=True)
class VenueRule:
    """One venue's formula choices; the numbers (tiers) are data files.

    ``formulas``: the rules a position may select by name, the default first. ``taker_fee_rate``:
    the venue's base-tier taker fee (fraction), the default where a formula counts the close fee.
    """

    name: str
    contracts: frozenset[str]
    removable: RemovableRule
    formulas: tuple[Formula, ...]
    taker_fee_rate: float = 0.0
    source: str = ""

    @property
    def default(self) -> Formula:
        """The formula used when a position names none."""
        return self.formulas[0]

    @property
    def variants(self) -> tuple[str, ...]:
        """The names a position's ``formula_variant`` may take."""
        return tuple(f.name for f in self.formulas)

    @property
    def fee_in_requirement(self) -> bool:
        """True when the default formula counts a close fee (the catalog then supplies a fee rate)."""
        return self.default.counts_fee

    def formula(self, variant: str | None) -> Formula:
        """The formula named ``variant`` (``None``: the default); ``ValueError`` naming the choices."""
        if variant is None:
            return self.default
        for f in self.formulas:
            if f.name == variant:
                return f
        raise ValueError(f"{variant!r} is not one of {', '.join(self.variants)}")

    def tier_file(self, contract: str) -> str:
        """File name in ``resources/tiers/`` for this venue and contract kind."""
        if self.name in ("binance-usdm", "binance-coinm", "hyperliquid", "custom"):
            return f"{self.name}.json"
        return f"{self.name}-{contract}.json"


# Base-tier taker fees where a formula counts the close fee: Bybit 0.055 % (non-VIP derivatives; the
# fee in the recorded LTCUSDT positionMM), OKX 0.05 % (regular users, perpetual swaps), Gate 0.05 %.
VENUES: dict[str, VenueRule] = {
    v.name: v
    for v in (
        VenueRule("binance-usdm", frozenset({"linear"}), RemovableRule.BINANCE, (BINANCE_FORMULA,),
                  source="Binance FAQ b3c689c1f50a44cabb3a84e663b81d93 (USDⓈ-M liquidation price)"),
        VenueRule("binance-coinm", frozenset({"inverse"}), RemovableRule.BINANCE, (BINANCE_FORMULA,),
                  source="Binance FAQ ceccfcfb4e3a45e3b48b0b1bb1a8ae46 (COIN-M liquidation price)"),
        VenueRule("bybit", frozenset({"linear", "inverse"}), RemovableRule.NONE,
                  (BYBIT_UTA, BYBIT_UTA_ENTRY, BYBIT_ENTRY_MM, BYBIT_EXACT_MM), taker_fee_rate=0.00055,
                  source="Bybit help: Liquidation Price Calculation under Isolated Mode (UTA), 2026-05-27"),
        VenueRule("okx", frozenset({"linear", "inverse"}), RemovableRule.NONE, (FEE_AT_PRICE,),
                  taker_fee_rate=0.0005, source="OKX help: Tiered maintenance margin ratio rules, 2025-05-16"),
        VenueRule("gate", frozenset({"linear", "inverse"}), RemovableRule.NONE, (FEE_AT_PRICE,),
                  taker_fee_rate=0.0005, source="Gate help 27724; condition as freqtrade implements it"),
        VenueRule("hyperliquid", frozenset({"linear"}), RemovableRule.HYPERLIQUID, (HYPERLIQUID_FORMULA,),
                  source="Hyperliquid docs: Liquidations, Margin tiers, Margining"),
        VenueRule("custom", frozenset({"linear", "inverse"}), RemovableRule.NONE,
                  (Formula(STANDARD, Requirement.MM_AT_PRICE, CloseFee.NONE, "tiers typed in by the user"),),
                  source="tiers typed in by the user"),
    )
}

BYBIT_VARIANTS: dict[str, Formula] = {f.name: f for f in VENUES["bybit"].formulas}
"""Bybit's selectable formulas by name, the default (``uta``) first."""


def venue_rule(name: str) -> VenueRule:
    """The rule object of a venue name; ``ValueError`` naming the valid venues otherwise."""
    try:
        return VENUES[name]
    except KeyError:
        raise ValueError(f"venue: unknown venue {name!r} (known: {', '.join(VENUES)})") from None
