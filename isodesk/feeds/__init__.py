"""Price sources behind one small interface (:class:`Feed`): simulated, replay, sqlite, live (one venue
or, grouped in a :class:`FeedGroup`, every venue of the book at once).

A :class:`Tick` belongs to a series: a venue's own mark of a market, or (``venue`` None) the
market's reference price. Every feed checks its ticks with a :class:`TickGuard` per series (bad
prices never act; a big move the next price confirms is taken) and reports a :class:`FeedHealth`;
:func:`stored_price_problem` applies the same per-tick rules to prices read back from the ``prices``
table. This package imports only the standard library, numpy, ``isodesk.paths``, the pure
``isodesk.margin`` modules ``bounds`` and ``markets`` and, for live feeds only, ``isodesk.venues``.
"""

from isodesk.feeds.base import Feed, FeedError, FeedHealth, Tick
from isodesk.feeds.factory import SPECS, make_feed
from isodesk.feeds.guard import REASONS, TickGuard, stored_price_problem
from isodesk.feeds.multi import FeedGroup
from isodesk.feeds.replay import RejectedRow, ReplayFeed
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.feeds.sqlite_feed import SqlitePricesFeed

__all__ = ["REASONS", "SPECS", "Feed", "FeedError", "FeedGroup", "FeedHealth", "RejectedRow", "ReplayFeed",
           "SimulatedFeed", "SqlitePricesFeed", "Tick", "TickGuard", "make_feed", "stored_price_problem"]
