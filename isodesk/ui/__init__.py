"""isodesk.ui."""
