"""Shared lookups for subcommands: the tier catalog of the shipped resources."""

from __future__ import annotations

from functools import cache

from isodesk.margin.catalog import TierCatalog
from isodesk.paths import resource_path


@cache
def catalog() -> TierCatalog:
    """The tier catalog of ``resources/tiers`` (loaded lazily, once per process)."""
    return TierCatalog(resource_path("tiers"))
