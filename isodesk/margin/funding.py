"""Funding of perpetual positions under ISOLATED margin: how much, who pays, and where it settles.

Amount. Every venue here computes one funding payment as *position value × funding rate*, the
value at a price (settlement currency: quote for linear contracts, the coin for inverse ones), the
rate per funding interval as the venue publishes it; a positive rate makes longs pay shorts. So the
cash flow **to** the holder of a position of side ``s`` (+1 long, −1 short) is::

    flow = −s · value · rate        value = Q·P (linear, Q in base units) or N/P (inverse, N in USD)

Sources, per venue (searched 2026-12-02; the venues' pages as quoted by the documents found):

- **Binance USDⓈ-M and COIN-M**: "Funding Amount = Nominal Value of Positions × Funding Rate",
  nominal value = Mark Price × size (USDⓈ-M), contract multiplier × contracts ÷ Mark Price
  (COIN-M); funding at 00:00, 08:00 and 16:00 UTC ("Introduction to Binance Futures Funding Rates",
  Binance FAQ 360033525031, as quoted by docs.traderwagon.com "Funding Fee" and
  blogs.density.exchange "Funding Rate Explained"). *Where* an isolated position's funding settles
  was not found on a Binance page; the issue states that the isolated wallet moves with funding.
  Rule used (conservative, see the README): paid from the isolated margin, received into the free
  balance.
- **Bybit** (unified and classic accounts): "The funding fee charged will be deducted from the
  trader's available balance. In the event when a trader has no sufficient available balance, the
  funding fee will be deducted from the position margin and the liquidation price of the position
  will be more prone to the mark price" (Bybit help "Funding Fee Calculation", 2024-12-19;
  ``help-center/article/Funding-fee-calculationDerivatives_Trading_Mechanism_UTA``). Value at
  mark price. Received funding: the page does not say; credited to the available (free) balance.
- **OKX**: "Funding fee = Position value × Current funding rate", position value = face value ×
  contracts × latest mark price (OKX help 360053909272 "Introduction to perpetual swap funding
  fee"). Since OKX's June/July 2024 change of the funding-fee mechanism (all perpetuals from
  2024-07-01): in isolated margin mode the fee is "deducted directly from isolated position
  margin", in full, even past the liquidation threshold, and received funding is "credited to
  position margin" (OKX announcement, as quoted by open-lib.com/5266.html, wuyelx.com/6004.html,
  365shuku.com/202.html; OKX's own page not in the corpus). Rule: both ways through the isolated
  margin.
- **Hyperliquid**: funding every hour, "payment = position_size × oracle_price × funding_rate" (uses
  the oracle price, not the mark), the hourly rate being one eighth of the 8-hour rate; cap 4 % an
  hour (Hyperliquid docs "Trading › Funding", hyperliquid.gitbook.io/hyperliquid-docs/trading/funding,
  as quoted by cortex-vigil.com/wiki/funding-rates 2026-04-16 and the community docs). isodesk
  has no oracle price: the venue's mark stands in for it. Where an isolated position's funding
  settles was not found: conservative rule, paid from the isolated margin, received into free.
- **Gate** and **custom**: no source searched; the conservative rule, 8-hour interval.

The conservative rule (lowest isolated margin) is: pay from the isolated margin, never credit the
isolated margin with received funding.

Everything here is vectorized over N positions (numpy arrays in, arrays out) and in floats; the
desk turns one settlement into exact ``Decimal`` ledger amounts (:func:`split_payment` is the rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum
from typing import TypeVar

import numpy as np

from isodesk.margin.engine import PositionBatch, price_levels

Num = TypeVar("Num", float, Decimal)

HOUR_S = 3600.0
DAY_S = 86_400.0
#: The largest |funding rate| per interval isodesk accepts (fraction). Hyperliquid caps at 4 % an
#: hour; Binance/Bybit/OKX caps are a few percent per interval. A rate beyond this is a bad quote.
MAX_FUNDING_RATE = 0.1


class Settles(IntEnum):
    """Where a venue takes paid funding from, and puts received funding, for an isolated position."""

    ISOLATED = 0
    """Paid from and received into the position's isolated margin (OKX since 2024-07-01)."""
    FREE_FIRST = 1
    """Paid from the account's free balance while it lasts, the rest from the isolated margin;
    received into the free balance (Bybit)."""
    ISOLATED_PAY = 2
    """Paid from the isolated margin, received into the free balance: the conservative rule where the
    venue's page was not found (Binance, Hyperliquid, Gate, custom)."""


@dataclass(frozen=True, slots=True)
class FundingRule:
    """One venue's funding rule: ``settles`` (:class:`Settles`), ``interval_s`` (the default funding
    interval, seconds; a feed's quote may say otherwise), ``price`` (the price the value is taken at:
    ``mark`` or ``oracle``, for which isodesk uses the mark) and ``source`` (the page cited)."""

    venue: str
    settles: Settles
    interval_s: float
    price: str
    source: str
    found: bool = True  # False: the settlement side was not found in the venue's documentation


RULES: dict[str, FundingRule] = {
    r.venue: r
    for r in (
        FundingRule("binance-usdm", Settles.ISOLATED_PAY, 8 * HOUR_S, "mark",
                    "Binance FAQ 360033525031 'Introduction to Binance Futures Funding Rates'", found=False),
        FundingRule("binance-coinm", Settles.ISOLATED_PAY, 8 * HOUR_S, "mark",
                    "Binance FAQ 360033525031 'Introduction to Binance Futures Funding Rates'", found=False),
        FundingRule("bybit", Settles.FREE_FIRST, 8 * HOUR_S, "mark",
                    "Bybit help 'Funding Fee Calculation', 2024-12-19"),
        FundingRule("okx", Settles.ISOLATED, 8 * HOUR_S, "mark",
                    "OKX help 360053909272; OKX funding-fee mechanism change, 2024-06-12..2024-07-01"),
        FundingRule("hyperliquid", Settles.ISOLATED_PAY, HOUR_S, "oracle",
                    "Hyperliquid docs 'Trading > Funding' (hourly, oracle price)", found=False),
        FundingRule("gate", Settles.ISOLATED_PAY, 8 * HOUR_S, "mark", "not searched: conservative rule",
                    found=False),
        FundingRule("custom", Settles.ISOLATED_PAY, 8 * HOUR_S, "mark", "user venue: conservative rule",
                    found=False),
    )
}


def funding_rule(venue: str) -> FundingRule:
    """The funding rule of ``venue``; an unknown venue gets the conservative rule (8 h, isolated pay)."""
    return RULES.get(venue) or FundingRule(venue, Settles.ISOLATED_PAY, 8 * HOUR_S, "mark",
                                           "unknown venue: conservative rule", found=False)


def position_value(batch: PositionBatch, price: np.ndarray) -> np.ndarray:
    """The value of each position at ``price`` (quote per coin), in the settlement currency:
    linear ``Q·P`` (quote), inverse ``N/P`` (coin); NaN where the price is NaN."""
    price = np.asarray(price, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        value: np.ndarray = batch.linear_size * price + batch.inverse_size / price
    return value


def funding_flow(side: np.ndarray, value: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """The funding cash flow **to** each position's holder for one payment, settlement currency:
    ``−side · value · rate`` (negative = paid; a positive rate makes longs pay)."""
    flow: np.ndarray = -np.asarray(side, dtype=np.float64) * np.asarray(value, dtype=np.float64) * np.asarray(
        rate, dtype=np.float64)
    return flow + 0.0  # −0.0 → 0.0


def split_payment(flow: np.ndarray, free: np.ndarray, settles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each funding flow settles: ``(to_margin, to_free)``, signed changes of the isolated margin
    and of the account's free balance (settlement currency), ``to_margin + to_free == flow``.

    ``free`` is the free balance available to each payment (≥ 0; only :attr:`Settles.FREE_FIRST`
    reads it). Paid (flow < 0): ISOLATED and ISOLATED_PAY take it all from the margin; FREE_FIRST
    takes ``min(paid, free)`` from free and the rest from the margin. Received (flow > 0): ISOLATED
    into the margin, the others into free."""
    flow = np.asarray(flow, dtype=np.float64)
    free = np.maximum(np.asarray(free, dtype=np.float64), 0.0)
    settles = np.asarray(settles)
    paid = np.maximum(-flow, 0.0)
    received = np.maximum(flow, 0.0)
    from_free = np.where(settles == Settles.FREE_FIRST, np.minimum(paid, free), 0.0)
    to_margin = -(paid - from_free) + np.where(settles == Settles.ISOLATED, received, 0.0)
    to_free = flow - to_margin
    return to_margin + 0.0, to_free + 0.0


def split_one(flow: Num, free: Num, settles: Settles) -> tuple[Num, Num]:
    """:func:`split_payment` for one payment in any exact number type (the desk's ``Decimal``):
    ``(to_margin, to_free)``, signed changes of the isolated margin and of the free balance."""
    zero = flow - flow
    paid = max(-flow, zero)
    from_free = min(paid, max(free, zero)) if settles == Settles.FREE_FIRST else zero
    to_margin = -(paid - from_free) + (max(flow, zero) if settles == Settles.ISOLATED else zero)
    return to_margin, flow - to_margin


def payments_per_day(interval_s: np.ndarray | float) -> np.ndarray:
    """How many funding payments fall in one day at each interval (seconds): ``86400 / interval``."""
    return DAY_S / np.asarray(interval_s, dtype=np.float64)


def liq_drift_pct_day(batch: PositionBatch, mark: np.ndarray, rate: np.ndarray,
                      interval_s: np.ndarray | float, settles: np.ndarray,
                      liq_now: np.ndarray | None = None) -> np.ndarray:
    """How far each liquidation price moves in one day of funding at the current rate and mark, as a
    percentage of the mark, **positive towards the mark** (the position gets riskier).

    One day of payments (``86400 / interval`` of :func:`funding_flow` at ``mark``) is applied to the
    isolated margin as the venue would if it had to take it from there: paid funding always lowers
    the margin (for Bybit, the worst case of an empty free balance); received funding raises it only
    where the venue credits the margin (OKX). The new liquidation price comes from the engine's
    solver (:func:`isodesk.margin.engine.price_levels`); drift = ``s·(liq_after − liq_now) / mark × 100``;
    ``liq_now``: the batch's liquidation prices when the caller has them (else solved here).
    NaN where the mark, the rate or a liquidation price is missing."""
    mark = np.asarray(mark, dtype=np.float64)
    value = position_value(batch, mark)
    daily = funding_flow(batch.side, value, rate) * payments_per_day(interval_s)
    to_margin, _ = split_payment(daily, np.zeros(len(batch)), settles)
    # the Bybit worst case: nothing free, so a payment comes out of the margin (split gave that already)
    delta = np.where(np.isfinite(to_margin), to_margin, 0.0)
    before = price_levels(batch).liquidation_price if liq_now is None else np.asarray(liq_now, dtype=np.float64)
    after = price_levels(batch.replace(margin=batch.margin + delta)).liquidation_price
    with np.errstate(invalid="ignore", divide="ignore"):
        drift: np.ndarray = batch.side * (after - before) / mark * 100.0
    drift[~np.isfinite(to_margin)] = np.nan
    return drift + 0.0


def next_funding_ts(now: float, interval_s: float) -> float:
    """The first funding time strictly after ``now`` (Unix seconds), funding times being the multiples
    of ``interval_s`` since 1970-01-01 00:00 UTC (00:00/08:00/16:00 UTC for 8 h, every hour for 1 h)."""
    if not (math.isfinite(now) and math.isfinite(interval_s) and interval_s > 0):
        raise ValueError(f"next funding time: now {now!r} and interval {interval_s!r} must be finite, interval > 0")
    return (math.floor(now / interval_s) + 1) * interval_s


def funding_times(after: float, until: float, interval_s: float) -> list[float]:
    """The funding times ``t`` with ``after < t ≤ until`` (Unix seconds) on the grid of :func:`next_funding_ts`."""
    out: list[float] = []
    t = next_funding_ts(after, interval_s)
    while t <= until:
        out.append(t)
        t += interval_s
    return out


def check_rate(rate: object, where: str) -> float:
    """``rate`` as a float if it is a finite funding rate with ``|rate| ≤`` :data:`MAX_FUNDING_RATE`;
    ``ValueError`` naming ``where`` otherwise."""
    try:
        value = float(rate)  # type: ignore[arg-type]  # anything float() takes; the rest is refused below
    except (TypeError, ValueError):
        raise ValueError(f"{where}: funding rate {rate!r} is not a number") from None
    if not math.isfinite(value) or abs(value) > MAX_FUNDING_RATE:
        raise ValueError(f"{where}: funding rate {rate!r} must be finite and within ±{MAX_FUNDING_RATE:g}")
    return value
