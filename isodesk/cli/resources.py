"""Shared lookups for subcommands: the tier catalog of the shipped resources."""

from __future__ import annotations

from isodesk.margin.catalog import TierCatalog
from isodesk.store.tier_tables import shipped_catalog


def catalog() -> TierCatalog:
    """The tier catalog of ``resources/tiers`` (loaded lazily, once per process); a command on a
    book puts the book's own tables first (:func:`isodesk.store.tier_tables.catalog_for`)."""
    return shipped_catalog()
