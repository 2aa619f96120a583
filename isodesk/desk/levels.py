"""Risk levels from the distance to liquidation, with hysteresis so a level does not flicker.

The distance is ``s·(mark − liq)/mark`` (a fraction: the relative price move left before
liquidation). The margin ratio alone is a poor warning: in the Binance orientation it stays low
until the last moment (22 % at 1.4 % from liquidation), so levels follow the distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Level(IntEnum):
    """Risk level of a position; the order is the order of severity."""

    SAFE = 0
    WARNING = 1
    DANGER = 2
    LIQUIDATED = 3

    @property
    def label(self) -> str:
        """Lower-case name as stored and shown (``safe``, ``warning``…)."""
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Distances (fractions of the mark) at which a position turns warning and danger.

    A position moves to a more severe level as soon as its distance is at or under the level's
    threshold, and back to a milder one only once the distance exceeds the threshold plus
    ``hysteresis``.
    """

    warning: float = 0.10
    danger: float = 0.03
    hysteresis: float = 0.005

    def __post_init__(self) -> None:
        if not 0 < self.danger < self.warning < 1:
            raise ValueError(f"thresholds: need 0 < danger ({self.danger}) < warning ({self.warning}) < 1")
        if not 0 <= self.hysteresis < self.danger:
            raise ValueError(f"thresholds: hysteresis {self.hysteresis} must be in [0, danger)")


def classify(distance: np.ndarray, previous: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    """New levels (int8) from distances and the previous levels; NaN distances keep the previous level.

    Liquidated positions stay liquidated; the desk alone decides liquidation (margin balance at
    the maintenance requirement), not this function.
    """
    t = thresholds
    raw = np.where(distance <= t.danger, Level.DANGER, np.where(distance <= t.warning, Level.WARNING, Level.SAFE))
    # Relaxing to a milder level needs the distance to clear that level's threshold by the hysteresis.
    relaxed_raw = np.where(distance <= t.danger + t.hysteresis, Level.DANGER,
                           np.where(distance <= t.warning + t.hysteresis, Level.WARNING, Level.SAFE))
    new = np.where(raw >= previous, raw, np.maximum(relaxed_raw, raw))
    new = np.where(np.isnan(distance), previous, new)
    new = np.where(previous == Level.LIQUIDATED, Level.LIQUIDATED, new)
    return new.astype(np.int8)
