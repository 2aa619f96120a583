"""Real venues through ccxt (the optional ``live`` extra): clients, keys, positions, mark prices, reconciliation.

Imports neither ccxt nor keyring until a client is made or a key is read, so isodesk without the
extra keeps working. Sits below ``isodesk.feeds`` and ``isodesk.store`` and above ``isodesk.margin``;
writing an import into the book is :mod:`isodesk.desk.venue_sync`.
"""

from isodesk.venues.errors import LiveUnavailable, MalformedResponse, MissingKeys, VenueError
from isodesk.venues.positions import PositionRead, VenuePosition, fetch_isolated_positions
from isodesk.venues.reconcile import DEFAULT_TOLERANCE_PCT, Reconciliation, reconcile
from isodesk.venues.registry import SPECS, VenueSpec, venue_spec

__all__ = ["DEFAULT_TOLERANCE_PCT", "SPECS", "LiveUnavailable", "MalformedResponse", "MissingKeys", "PositionRead",
           "Reconciliation", "VenueError", "VenuePosition", "VenueSpec", "fetch_isolated_positions", "reconcile",
           "venue_spec"]
