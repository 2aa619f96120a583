"""Price sources behind one small interface (:class:`Feed`): simulated, replay, sqlite.

Every feed checks its ticks with a :class:`TickGuard` (bad prices never act; a big move the next
price confirms is taken) and reports a :class:`FeedHealth`; :func:`stored_price_problem` applies the
same per-tick rules to prices read back from the ``prices`` table. This package imports only the
standard library, numpy, ``isodesk.paths`` and the pure ``isodesk.margin.bounds``.
"""

from isodesk.feeds.base import Feed, FeedError, FeedHealth, Tick
from isodesk.feeds.factory import SPECS, make_feed
from isodesk.feeds.guard import REASONS, TickGuard, stored_price_problem
from isodesk.feeds.replay import RejectedRow, ReplayFeed
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.feeds.sqlite_feed import SqlitePricesFeed

__all__ = ["REASONS", "SPECS", "Feed", "FeedError", "FeedHealth", "RejectedRow", "ReplayFeed", "SimulatedFeed",
           "SqlitePricesFeed", "Tick", "TickGuard", "make_feed", "stored_price_problem"]
