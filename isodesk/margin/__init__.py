"""The pure margin core: numpy and the standard library only.

Margin ratio convention for the whole product: maintenance margin (plus the close fee where the
venue counts it) ÷ margin balance; 1.0 (100 %) is liquidation, lower is safer. The maintenance
requirement has one definition, :func:`maintenance_requirement`, so the ratio is exactly 1.0 at
the liquidation price for every venue and variant.
"""

from isodesk.margin.engine import (
    Maintenance,
    PositionBatch,
    PriceLevels,
    Risk,
    RiskArrays,
    compute,
    compute_one,
    maintenance_requirement,
)
from isodesk.margin.position import Position, PositionError, check, problems
from isodesk.margin.tiers import TierError, TierSet, TierTable, load_tier_file
from isodesk.margin.venues import VENUES, RemovableRule, Requirement, VenueRule, venue_rule

__all__ = [
    "VENUES", "Maintenance", "Position", "PositionBatch", "PositionError", "PriceLevels", "RemovableRule",
    "Requirement", "Risk", "RiskArrays", "TierError", "TierSet", "TierTable", "VenueRule", "check", "compute",
    "compute_one", "load_tier_file", "maintenance_requirement", "problems", "venue_rule",
]
