"""Reconciliation: isodesk's liquidation price beside the venue's, the difference in %, a flag.

``diff_pct = (isodesk − venue) / venue × 100``. A position is flagged when ``|diff_pct|`` exceeds
the tolerance (default 0.5 %), or when only one side shows a liquidation price at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_TOLERANCE_PCT = 0.5
TOLERANCE_KEY = "venues.reconcile_tolerance_pct"


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """Both liquidation prices (quote per coin; None where a side shows none), the difference, the flag."""

    isodesk_liquidation_price: float | None
    venue_liquidation_price: float | None
    diff_pct: float | None
    flagged: bool
    tolerance_pct: float


def _price(value: float | Decimal | None) -> float | None:
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) and out > 0 else None


def reconcile(isodesk_liq: float | Decimal | None, venue_liq: float | Decimal | None,
              tolerance_pct: float = DEFAULT_TOLERANCE_PCT) -> Reconciliation:
    """Compare the two liquidation prices; ``tolerance_pct`` in percent (0.5 = 0.5 %)."""
    if not (math.isfinite(tolerance_pct) and tolerance_pct >= 0):
        raise ValueError(f"tolerance_pct: {tolerance_pct!r} must be a percentage >= 0")
    ours, theirs = _price(isodesk_liq), _price(venue_liq)
    if ours is None or theirs is None:
        return Reconciliation(ours, theirs, None, (ours is None) != (theirs is None), tolerance_pct)
    diff = (ours - theirs) / theirs * 100.0
    return Reconciliation(ours, theirs, diff, abs(diff) > tolerance_pct, tolerance_pct)
