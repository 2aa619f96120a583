"""The reference cases (copied from shared/reference, each with its source) and their tolerance rule."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def load(name: str = "margin-cases.json") -> list[dict[str, Any]]:
    """The cases of one reference file."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def within(got: float | None, want: float | None, tolerance: dict[str, float]) -> bool:
    """margin-cases.md §4: null must be null; else |got − want| ≤ max(abs, rel·|want|)."""
    if want is None:
        return got is None
    if got is None or not math.isfinite(got):
        return False
    return abs(got - want) <= max(tolerance.get("abs", 0.0), tolerance.get("rel", 0.0) * abs(want))
