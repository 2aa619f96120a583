"""isodesk.store."""
