"""isodesk.feeds."""
