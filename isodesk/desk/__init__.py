"""isodesk.desk."""
