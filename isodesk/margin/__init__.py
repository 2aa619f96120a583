"""isodesk.margin."""
