"""Price sources behind one small interface (:class:`Feed`): simulated, replay, sqlite.

Every feed checks its ticks with a :class:`TickGuard` and reports a :class:`FeedHealth`. This
package imports only the standard library, numpy and ``isodesk.paths``.
"""

from isodesk.feeds.base import Feed, FeedError, FeedHealth, Tick
from isodesk.feeds.factory import SPECS, make_feed
from isodesk.feeds.guard import REASONS, TickGuard
from isodesk.feeds.replay import ReplayFeed
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.feeds.sqlite_feed import SqlitePricesFeed

__all__ = ["REASONS", "SPECS", "Feed", "FeedError", "FeedHealth", "ReplayFeed", "SimulatedFeed",
           "SqlitePricesFeed", "Tick", "TickGuard", "make_feed"]
