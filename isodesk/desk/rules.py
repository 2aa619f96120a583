"""The desk's rules for commands and levels, pure: the desk and the forms both call these, so a form
can never accept what the desk refuses, nor the reverse.

Each ``*_problem`` function returns the sentence the trader sees (the field first), or ``""`` when
the value passes. The desk raises it as :class:`~isodesk.desk.commands.CommandRejected`; a form
shows it under its fields and keeps its button disabled. Amounts are exact ``Decimal`` in the
settlement currency; limits computed by the engine are floats and are compared as such.
No Qt, no database.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal

import numpy as np

from isodesk.desk.levels import Level, Thresholds, classify
from isodesk.desk.snapshot import Snapshot
from isodesk.formats import fmt_price
from isodesk.margin import Position, PositionError, TierTable, compute_one
from isodesk.margin.bounds import (
    BoundsError,
    check_amount,
    check_leverage,
    check_price,
    check_quantity,
    check_text,
    plain,
)

MONEY_STEP = Decimal("0.00000001")
LIMIT_TOLERANCE = 1e-12  # relative slack when an exact amount meets a float limit at its last digit

__all__ = [
    "CLOSE_PRICE_BAND", "CLOSE_PRICE_CONFIRM_BAND", "Level", "Thresholds", "add_problem", "amount_problem",
    "classify", "close_price_away", "close_price_needs_confirmation", "close_price_problem", "close_quantity_problem",
    "increase_problem", "initial_margin", "open_problem", "plain", "removable_limit", "remove_problem", "signed_plain",
    "tier_cliff_warning", "withdraw_problem",
]


def amount_problem(amount: object, field: str = "amount", currency: str = "") -> str:
    """The bounds problem of an amount (:mod:`isodesk.margin.bounds`), or ``""``."""
    try:
        check_amount(amount, field, currency)
    except BoundsError as exc:
        return str(exc)
    return ""


def add_problem(amount: Decimal, free: Decimal, currency: str, account: str) -> str:
    """Why ``amount`` cannot move from the free balance ``free`` into a position, or ``""``."""
    problem = amount_problem(amount, currency=currency)
    if problem:
        return problem
    if amount > free:
        return (f"amount: {plain(amount)} is more than the free balance {plain(free)} {currency} of {account} "
                "(max addable)")
    return ""


def withdraw_problem(amount: Decimal, free: Decimal, currency: str, account: str) -> str:
    """Why ``amount`` cannot leave the account's free balance ``free``, or ``""``."""
    problem = amount_problem(amount, currency=currency)
    if problem:
        return problem
    if amount > free:
        return f"amount: {plain(amount)} {currency} is more than the free balance {plain(free)} of {account}"
    return ""


def removable_limit(snap: Snapshot, row: int) -> float:
    """Collateral removable from a snapshot row's position (settlement currency), by the venue's rule.

    Binance publishes the rule (its max removable, computed by the engine): what stays must cover
    the maintenance margin and the initial margin at the mark. Venues that publish no rule (Bybit,
    OKX, Gate) get the same conservative rule. NaN when there is no fresh mark.
    """
    if snap.stale[row] or not math.isfinite(snap.cols["mark"][row]):
        return math.nan
    published = float(snap.cols["max_removable"][row])
    if math.isfinite(published):
        return published
    cols = {k: float(snap.cols[k][row]) for k in ("isolated_margin", "maintenance_margin", "margin_balance",
                                                   "notional", "leverage")}
    return max(0.0, min(cols["isolated_margin"] - cols["maintenance_margin"],
                        cols["margin_balance"] - cols["notional"] / cols["leverage"]))


def remove_problem(amount: Decimal, limit: float, *, margin: Decimal, label: str, symbol: str,
                   currency: str, strict_isolated: bool = False) -> str:
    """Why ``amount`` cannot leave a position holding ``margin`` whose removable limit is ``limit``
    (NaN: no fresh mark), or ``""``.

    ``strict_isolated``: the venue lets no margin be removed at all. Hyperliquid docs, Trading →
    Margining: "Some assets are isolated-only, which are the same as isolated margin, but with an
    additional constraint that margin cannot be removed. In isolated-only markets, margin is
    proportionally removed as the position is closed." (``meta``: ``marginMode`` ``strictIsolated``,
    older ``onlyIsolated``.)
    """
    problem = amount_problem(amount, currency=currency)
    if problem:
        return problem
    if strict_isolated:
        return (f"{label}: {symbol} is isolated-only on its venue, which lets no margin be removed from it "
                "(add margin, or close part of the position)")
    if not math.isfinite(limit):
        return f"no fresh mark for {symbol}: collateral cannot be removed on a stale price"
    if amount >= margin:
        return f"amount: {plain(amount)} would leave no margin in {label}"
    if float(amount) > limit * (1 + LIMIT_TOLERANCE):
        return (f"amount: {plain(amount)} is more than the {limit:,.8f} {currency} the venue lets you remove "
                f"from {label} now (max removable)")
    return ""


def initial_margin(quantity: Decimal, entry_price: Decimal, leverage: Decimal, *, contract: str,
                   contract_size: Decimal) -> Decimal:
    """Initial margin (settlement currency, exact, 8 decimals) of a position: notional ÷ leverage."""
    face = quantity * contract_size if contract == "inverse" else quantity
    notional = face / entry_price if contract == "inverse" else face * entry_price
    return (notional / leverage).quantize(MONEY_STEP)


def open_problem(*, label: str, quantity: Decimal, entry_price: Decimal, leverage: Decimal, margin: Decimal,
                 contract: str, contract_size: Decimal, currency: str, free: Decimal | None, account: str,
                 taken_labels: set[str] | frozenset[str] | tuple[str, ...] = (),
                 distance_frac: float | None = None, liquidation_price: float | None = None,
                 mark: float | None = None) -> str:
    """Why this position cannot be opened from ``account`` with ``free`` balance (None: no such account),
    or ``""``. ``distance_frac``/``liquidation_price`` at ``mark`` come from the engine when known."""
    try:
        check_text(label, "label")
        check_quantity(quantity)
        check_price(entry_price, "entry_price")
        check_leverage(leverage)
        check_amount(margin, "margin", currency)
    except BoundsError as exc:
        return str(exc)
    if label.strip() in taken_labels:
        return f"label: a position named {label.strip()!r} already exists"
    initial = initial_margin(quantity, entry_price, leverage, contract=contract, contract_size=contract_size)
    if margin < initial:
        return (f"margin: {plain(margin)} is below the initial margin {plain(initial)} {currency} that "
                f"{plain(leverage)}× leverage needs")
    if free is None:
        return f"account: there is no {account} account yet; deposit {currency} into it first"
    if margin > free:
        return f"margin: {plain(margin)} {currency} is more than the free balance {plain(free)} of {account}"
    if distance_frac is not None and math.isfinite(distance_frac) and distance_frac <= 0:
        return (f"the position would be liquidated at once: mark {mark:,.8g} is past its liquidation price "
                f"{liquidation_price:,.8g}")
    return ""


CLOSE_PRICE_CONFIRM_BAND = 0.05
"""A close price further than this from a fresh mark (a fraction: 5 %) needs the trader's explicit
confirmation in the form; further than :data:`CLOSE_PRICE_BAND` it is refused."""
CLOSE_PRICE_BAND = 0.5


def close_price_problem(price: Decimal, mark: float | None, *, band: float = CLOSE_PRICE_BAND,
                        what: str = "a close price") -> str:
    """Why ``price`` cannot close a position whose fresh mark is ``mark`` (None: none), or ``""``.

    A close price further than ``band`` (a fraction: 0.5 = 50 %) from the mark is a typing mistake
    far more often than a fill; the trader closes at such a price only with a fresh mark near it.
    ``what`` names the price in the sentence (``a fill price`` for size added to a position).
    """
    try:
        check_price(price, "price")
    except BoundsError as exc:
        return str(exc)
    if mark is not None and math.isfinite(mark) and mark > 0 and abs(float(price) / mark - 1.0) > band:
        away = abs(float(price) / mark - 1.0) * 100
        return (f"price: {plain(price)} is {away:.0f} % away from the mark {mark:,.8g}; "
                f"{what} must be within {band * 100:.0f} % of it")
    return ""


def increase_problem(*, quantity: Decimal, price: Decimal, margin: Decimal | None, leverage: Decimal,
                     contract: str, contract_size: Decimal, free: Decimal, currency: str, account: str,
                     unit: str = "") -> str:
    """Why ``quantity`` (base units, or contracts for inverse: ``unit``) cannot be added to an open
    position at the fill ``price`` (quote per coin, already checked against the mark by
    :func:`close_price_problem` when typed) with ``margin`` from the free balance ``free``
    (settlement currency), or ``""``. ``margin`` None means the added part's initial margin at the
    position's ``leverage`` (:func:`initial_margin`); a given margin may be more, never less."""
    try:
        check_quantity(quantity)
    except BoundsError as exc:
        return str(exc)
    initial = initial_margin(quantity, price, leverage, contract=contract, contract_size=contract_size)
    if margin is None:
        margin = initial
    else:
        problem = amount_problem(margin, "margin", currency)
        if problem:
            return problem
        if margin < initial:
            suffix = f" {unit}" if unit else ""
            return (f"margin: {plain(margin)} is below the initial margin {plain(initial)} {currency} that "
                    f"{plain(leverage)}× leverage needs for the added {plain(quantity)}{suffix}")
    if margin > free:
        return f"margin: {plain(margin)} {currency} is more than the free balance {plain(free)} of {account}"
    return ""


def close_price_away(price: Decimal, mark: float | None) -> float | None:
    """How far ``price`` is from a fresh ``mark``, as an unsigned fraction of the mark; None without one."""
    if mark is None or not math.isfinite(mark) or mark <= 0:
        return None
    return abs(float(price) / mark - 1.0)


def close_price_needs_confirmation(price: Decimal, mark: float | None) -> float | None:
    """The distance (fraction) of a close price beyond :data:`CLOSE_PRICE_CONFIRM_BAND` but within the
    refusal band (the form then asks "I accept closing x % from the mark"); None when no
    confirmation is needed (near the mark, no fresh mark, or refused anyway)."""
    away = close_price_away(price, mark)
    if away is None or not CLOSE_PRICE_CONFIRM_BAND < away <= CLOSE_PRICE_BAND:
        return None
    return away


def close_quantity_problem(quantity: Decimal | None, held: Decimal, *, unit: str = "") -> str:
    """Why ``quantity`` cannot be closed of a position holding ``held`` (None: all of it), or ``""``.

    A quantity is exact, within the bounds of a quantity (:func:`isodesk.margin.bounds.check_quantity`),
    greater than 0 and at most the position's own quantity (``unit``: ``contracts`` for an inverse
    position, "" for base units).
    """
    if quantity is None:
        return ""
    try:
        check_quantity(quantity)
    except BoundsError as exc:
        return str(exc)
    if quantity > held:
        suffix = f" {unit}" if unit else ""
        return (f"quantity: {plain(quantity)}{suffix} is more than the position's {plain(held)}{suffix}; "
                "close at most all of it")
    return ""


def signed_plain(value: Decimal) -> str:
    """An exact amount with its sign, as in a sentence: ``+200``, ``−12.5`` (a typographic minus)."""
    return f"+{plain(value)}" if value >= 0 else f"−{plain(-value)}"


def levels(distance: np.ndarray, previous: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """The level of each position from its distance to liquidation (fraction of the mark) and its
    previous level, with the thresholds' hysteresis (:func:`isodesk.desk.levels.classify`)."""
    return classify(distance, previous, thresholds)


def tier_cliff_warning(after: Position, before: Position | None = None) -> str:
    """A warning (never a refusal) when a size crosses a tier cliff: ``after``, the position as it
    would be (opened, or added to), sits on a higher maintenance tier than ``before`` (the position
    as it is now; None for a new one, compared with the venue's first tier). The sentence names the
    tier (1-based), the maintenance rates (percent) and the liquidation prices (quote per coin)
    before → after, both from the engine (:func:`isodesk.margin.compute_one`): "this size moves the
    position into tier 3: maintenance 1 % → 2.5 %, liquidation price 57,200 → 58,900". ``""`` when
    the size stays on its tier or a figure cannot be computed. A new position's "before" is the same
    position with the first tier's rate, which is what the trader expects of its leverage."""
    tiers = after.tiers
    k_after = tiers.row_for(after.entry_notional(), after.contracts)
    if before is None:
        first = TierTable.from_rows([[0.0, None, float(tiers.mmr[0]), 0.0, None]], basis=tiers.basis,
                                    contract_value=tiers.contract_value)
        before, k_before = replace(after, tiers=first), 0
    else:
        k_before = before.tiers.row_for(before.entry_notional(), before.contracts)
    if k_after <= k_before:
        return ""
    try:
        liq_before, liq_after = compute_one(before).liquidation_price, compute_one(after).liquidation_price
    except PositionError:
        return ""
    if liq_before is None or liq_after is None:
        return ""
    rate_before, rate_after = float(before.tiers.mmr[k_before]), float(tiers.mmr[k_after])
    return (f"this size moves the position into tier {k_after + 1}: maintenance {rate_before * 100:.4g} % → "
            f"{rate_after * 100:.4g} %, liquidation price {fmt_price(liq_before)} → {fmt_price(liq_after)}")
