"""The liquidation ladder: whether a venue liquidates a position at once or in steps, and the steps.

Every figure comes from the engine's own rule (:func:`isodesk.margin.engine.price_levels`, the
one liquidation condition ``B = R`` of :mod:`isodesk.margin.engine`); this module only says, per
venue, how much of the position the venue removes when the mark reaches the liquidation price,
and recomputes the rest with the same engine. Prices are quote per coin, money in the settlement
currency, fractions as fractions.

What each venue documents (each procedure is a :class:`Procedure` code):

- **Bybit** (:attr:`Procedure.TIER_DOWN`). Help centre "Liquidation Process (USDT Contract)"
  (help.bybit.com article 900000167723), "Liquidation Process (Inverse Contract)" (article
  000001098, dated 2024-01-24) and the USDC contracts' page (article 000001381): "Traders under the
  lowest margin tier: … that position will be closed at the bankruptcy price by the Liquidation
  Engine. Traders under second or higher margin tier: … Submit a FillOrKill order of the
  difference between the current position value and the lower margin tier value which satisfies
  the margin requirement … If the position is still in liquidation, this position shall be taken
  over by the liquidation engine at the bankruptcy price." Read here as: at the liquidation price,
  a position on tier ``k ≥ 2`` (row ``k ≥ 1``) is cut down to the top of the next lower tier (its
  value becomes the floor of tier ``k``, the cap of tier ``k − 1``); the balance left to the rest,
  the whole margin less the loss realized on the part removed, then exceeds the rest's lower
  requirement, so the smallest cut already "satisfies the margin requirement". On the lowest tier
  the position goes at once.
- **OKX** (:attr:`Procedure.TWO_TIERS`). OKX help "Tiered maintenance margin ratio rules"
  (published 2022-06-16, updated 2025-05-16): the liquidation process "includes order
  cancellation, partial liquidation, and/or full liquidation". The quantity comes from OKX's
  forced partial liquidation rules as restated in public copies of OKX's page (OKX's own
  partial-liquidation paragraph was not found in the stored sources): "when a user's position tier
  is Level 3 or higher" and the margin ratio is below the current tier's maintenance rate + the
  liquidation fee but above the lowest tier's, "the system calculates the number of contracts
  needed to reduce the position by two tiers"; if the rest meets its new tier, liquidation stops,
  else it repeats. Read here as: a position on tier ``k ≥ 3`` (row ``k ≥ 2``) is cut to the
  largest size of tier ``k − 2`` (its ``maxSz``, contracts); tiers 1 and 2 go at once. At the
  liquidation price the ratio is exactly the current tier's rate + fee, above the lowest tier's
  whenever the rates rise, so the condition holds. OKX's own older help-centre article "V. Forced
  Partial or Full Liquidation" (okx.com/hc/en-us/articles/360020411711, undated, for its earlier
  perpetual swaps) confirms partial liquidation from tier 3 in isolated ("fixed") margin, repeated
  about a minute apart until the ratio meets the tier's maintenance rate + liquidation fee, but there
  the position was cut "until it is at Tier 1"; the two-tier cut of the newer rule is kept here
  and the difference is named in the README.
- **Hyperliquid** (:attr:`Procedure.CHUNK`). Docs, Trading → "Liquidations" (the page carries no
  date; text as mirrored by the HIP-3 deployers' docs, which "inherit Hyperliquid's core
  liquidation system", and by Hyperliquid's own announcement): "For liquidatable positions larger
  than 100k USDC …, only 20% of the position will be sent as a market liquidation order to the
  book. After a block where any position of a user is partially liquidated, there is a cooldown
  period of 30 seconds. During this cooldown period, all market liquidation orders for that user
  will be for the entire position." Read here as: a position whose value at the liquidation price
  is above 100,000 loses 20 % of its size there; the ladder assumes the next crossing comes after
  the cooldown (a price path is not a clock; the desk applies the cooldown with its own clock).
- **Binance** USDⓈ-M and COIN-M, Gate and ``custom`` (:attr:`Procedure.AT_ONCE`). Binance's
  liquidation protocol ("Smart Liquidation", as its affiliated TraderWagon docs restate it:
  "attempt to reduce the user's margin limit with one large Immediate or Cancel order without
  fully liquidating the user") says neither which tier triggers it nor how much the order is, so
  no step can be computed from it: the conservative reading, the whole position at the first
  crossing, is taken. Gate and the user's own venue publish nothing on it here.

What the venue leaves to the rest: its whole isolated margin less the loss realized on the part
removed (a liquidation order releases nothing to the free balance; Hyperliquid: "any remaining
collateral remains with the trader", the rest stays open on it). The removed part closes at the
liquidation price, so the rest's margin balance at that price equals the position's, ``B`` (the
realized loss plus the rest's unrealized PnL is the position's PnL). No venue liquidation or
clearance fee is charged in these figures (isodesk's own full liquidation takes the whole margin,
the harsher figure, and the last rung does the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np

from isodesk.margin.engine import PositionBatch, PriceLevels, price_levels


class Procedure(IntEnum):
    """How a venue removes a position that reached its liquidation price (module docstring)."""

    AT_ONCE = 0
    """The whole position at the first crossing (Binance, Gate, custom: conservative reading)."""
    TIER_DOWN = 1
    """Bybit: above the lowest tier, cut to the top of the next lower tier."""
    TWO_TIERS = 2
    """OKX: from tier 3 up, cut to the largest size of the tier two below."""
    CHUNK = 3
    """Hyperliquid: above 100,000 USDC of value, 20 % of the position (30 s cooldown)."""


PROCEDURES: dict[str, Procedure] = {
    "bybit": Procedure.TIER_DOWN,
    "okx": Procedure.TWO_TIERS,
    "hyperliquid": Procedure.CHUNK,
    "binance-usdm": Procedure.AT_ONCE,
    "binance-coinm": Procedure.AT_ONCE,
    "gate": Procedure.AT_ONCE,
    "custom": Procedure.AT_ONCE,
}
"""Each venue's procedure; a venue not listed goes at once."""

HYPERLIQUID_PARTIAL_VALUE = 100_000.0
"""Hyperliquid docs, "Liquidations": positions "larger than 100k USDC" are liquidated in chunks (USDC)."""
HYPERLIQUID_CHUNK = 0.2
"""Hyperliquid docs, "Liquidations": "only 20% of the position" per market liquidation order."""
HYPERLIQUID_COOLDOWN_S = 30.0
"""Hyperliquid docs, "Liquidations": after a partial liquidation, 30 s in which any further one takes
the entire position (of every position of the same user)."""
MAX_STEPS = 12
"""Rungs computed per position; the last one computed is taken as the whole rest (a venue cutting
tier by tier can need many rungs for a short whose value grows as the price rises)."""
_EDGE = 0.01
"""Relative: a value within 1 % above a tier floor counts as on the floor, and Bybit cuts to the floor
below instead. Without it a short (whose value grows as the price rises back into the same tier)
would be cut again and again by ever smaller slivers converging on the floor; the venue's rule
re-applied at each crossing, these slivers are merged into the next cut (a simplification of
at most 1 % of the size held, stated here)."""


def procedure_codes(venues: Any) -> np.ndarray:
    """The :class:`Procedure` code (int8) of each venue name in ``venues``."""
    return np.array([PROCEDURES.get(v, Procedure.AT_ONCE) for v in venues], dtype=np.int8)


@dataclass(frozen=True, slots=True)
class Step:
    """The next rung of every position of a batch (arrays of length N; NaN where no figure).

    ``mark``: the price the rung happens at, the position's liquidation price (quote per coin; NaN
    where the position has none). ``partial``: the venue removes only part of it there.
    ``removed_frac``: the share of the position's size removed (1.0 at once, NaN without a price).
    ``loss``: what the position loses at the rung (settlement currency): the loss realized on the
    removed part, or, at once, its whole margin. ``margin_after``, ``size_after`` and
    ``contracts_after``: the rest's isolated margin, size (linear base units, inverse USD face)
    and contracts (0 at once). ``notional``: the position's value at the rung (settlement currency).
    ``tier``: the tier row it was liquidated on.
    """

    mark: np.ndarray
    partial: np.ndarray
    removed_frac: np.ndarray
    loss: np.ndarray
    margin_after: np.ndarray
    size_after: np.ndarray
    contracts_after: np.ndarray
    notional: np.ndarray
    tier: np.ndarray


def next_step(batch: PositionBatch, levels: PriceLevels, procedure: np.ndarray) -> Step:
    """The next rung of each position of ``batch`` (``levels`` its :func:`price_levels`;
    ``procedure`` one :class:`Procedure` code per position), vectorized. Units as in :class:`Step`."""
    n = len(batch)
    price = np.asarray(levels.liquidation_price, dtype=np.float64)
    k = np.asarray(levels.liquidation_tier, dtype=np.intp)
    has = np.isfinite(price)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x1 = batch.linear_size * price + batch.inverse_size / price
        keep = np.full(n, np.nan)
        floors, caps = batch.tiers.flat("floors"), batch.tiers.flat("caps")
        base = batch.base
        sized = batch.tiers.sized[batch.table]
        # Bybit: cut to the floor of the liquidation tier (the next lower tier's top), or, standing on
        # that floor already, to the floor below it; nothing to cut to on the lowest tier.
        bybit = np.flatnonzero(has & (procedure == Procedure.TIER_DOWN) & (k >= 1) & ~sized)
        if bybit.size:
            on_floor = floors[base[bybit] + k[bybit]]
            below = floors[base[bybit] + k[bybit] - 1]
            target = np.where(on_floor < x1[bybit] * (1 - _EDGE), on_floor, below)
            keep[bybit] = np.where(target > 0, target / x1[bybit], np.nan)
        # OKX: cut to the largest size of the tier two below (contracts, or the notional on a table
        # kept by notional), from tier 3 (row 2) up.
        okx = np.flatnonzero(has & (procedure == Procedure.TWO_TIERS) & (k >= 2))
        if okx.size:
            cap = caps[base[okx] + k[okx] - 2]
            held = np.where(sized[okx], batch.contracts[okx], x1[okx])
            keep[okx] = np.where(cap < held * (1 - _EDGE), cap / held, np.nan)
        # Hyperliquid: 20 % of a position worth more than 100,000 at the liquidation price.
        chunk = np.flatnonzero(has & (procedure == Procedure.CHUNK) & (x1 > HYPERLIQUID_PARTIAL_VALUE))
        keep[chunk] = 1.0 - HYPERLIQUID_CHUNK
        partial = np.isfinite(keep) & (keep > 0) & (keep < 1)
        keep = np.where(partial, keep, 0.0)
        balance = batch.c0 + batch.c1 * x1  # the margin balance at the liquidation price
        removed = 1.0 - keep
        realized = removed * np.maximum(batch.margin - balance, 0.0)  # loss on the part removed
        loss = np.where(partial, np.minimum(realized, batch.margin), batch.margin)
        margin_after = np.where(partial, batch.margin - loss, 0.0)
    nan = np.full(n, np.nan)
    return Step(mark=np.where(has, price, nan), partial=partial & has,
                removed_frac=np.where(has, removed, nan), loss=np.where(has, loss, nan),
                margin_after=np.where(has, margin_after, nan), size_after=batch.size * keep,
                contracts_after=batch.contracts * keep, notional=np.where(has, x1, nan), tier=k)


def first_step(batch: PositionBatch, procedure: np.ndarray, levels: PriceLevels | None = None) -> Step:
    """The first rung of every position (``levels``: the batch's :func:`price_levels`, computed if
    not given). Units as in :class:`Step`."""
    return next_step(batch, price_levels(batch) if levels is None else levels, procedure)


@dataclass(frozen=True, slots=True)
class Ladder:
    """Every rung of every position, arrays of shape (N, :data:`MAX_STEPS`), NaN past the last.

    ``mark`` (quote per coin), ``removed_frac`` (share of the size held at that rung),
    ``removed_qty_frac`` (share of the position's original size), ``loss`` and ``margin_after``
    (settlement currency), ``liquidation_after`` (the rest's new liquidation price, NaN after the
    last rung), ``tier`` (the tier row liquidated on, −1 past the last). ``steps``: rungs per
    position (0 where it has no liquidation price); the last rung removes the whole rest.
    """

    mark: np.ndarray
    removed_frac: np.ndarray
    removed_qty_frac: np.ndarray
    loss: np.ndarray
    margin_after: np.ndarray
    liquidation_after: np.ndarray
    tier: np.ndarray
    steps: np.ndarray

    def rungs(self, row: int) -> list[dict[str, float | int | None]]:
        """The rungs of one position as JSON-ready dicts (``mark``, ``removed_frac``,
        ``removed_of_original``, ``loss``, ``margin_after``, ``liquidation_after``, ``tier`` 1-based)."""
        def num(v: float) -> float | None:
            return float(v) if math.isfinite(v) else None
        return [{"mark": num(self.mark[row, j]), "removed_frac": num(self.removed_frac[row, j]),
                 "removed_of_original": num(self.removed_qty_frac[row, j]), "loss": num(self.loss[row, j]),
                 "margin_after": num(self.margin_after[row, j]),
                 "liquidation_after": num(self.liquidation_after[row, j]), "tier": int(self.tier[row, j]) + 1}
                for j in range(int(self.steps[row]))]


def ladder(batch: PositionBatch, procedure: np.ndarray, *, max_steps: int = MAX_STEPS) -> Ladder:
    """The whole ladder of every position of ``batch``: rung after rung, each computed by
    :func:`next_step` on the rest the previous rung left, until the venue takes the whole rest
    (at most ``max_steps`` rungs; the last one computed is taken whole). Units as in :class:`Ladder`."""
    n = len(batch)
    shape = (n, max_steps)
    mark, frac, of_orig, loss, after, liq_after = (np.full(shape, np.nan) for _ in range(6))
    tier = np.full(shape, -1, dtype=np.intp)
    steps = np.zeros(n, dtype=np.intp)
    live = np.ones(n, dtype=bool)
    held = np.ones(n)  # share of the original size still held
    current = batch
    levels = price_levels(current)
    for j in range(max_steps):
        step = next_step(current, levels, procedure)
        live &= np.isfinite(step.mark)
        if not live.any():
            break
        last = j == max_steps - 1
        partial = step.partial & live & (not last)
        rows = np.flatnonzero(live)
        mark[rows, j] = step.mark[rows]
        tier[rows, j] = step.tier[rows]
        frac[rows, j] = np.where(partial[rows], step.removed_frac[rows], 1.0)
        of_orig[rows, j] = frac[rows, j] * held[rows]
        loss[rows, j] = np.where(partial[rows], step.loss[rows], current.margin[rows])
        after[rows, j] = np.where(partial[rows], step.margin_after[rows], 0.0)
        steps[rows] += 1
        held = np.where(partial, held * (1.0 - step.removed_frac), held)
        live = partial
        if not live.any():
            break
        # the rest: the same entry on the smaller size and the margin left; rows already gone keep theirs
        current = current.replace(size=np.where(partial, step.size_after, current.size),
                                  contracts=np.where(partial, step.contracts_after, current.contracts),
                                  margin=np.where(partial, step.margin_after, current.margin))
        levels = price_levels(current)
        liq_after[rows, j] = np.where(partial[rows], levels.liquidation_price[rows], np.nan)
    return Ladder(mark=mark, removed_frac=frac, removed_qty_frac=of_orig, loss=loss, margin_after=after,
                  liquidation_after=liq_after, tier=tier, steps=steps)
