"""Replay at the speed of the data (issue 13): a whole price path against the book, with the tick-by-tick
desk's events and summary, found with vectorized searches instead of a desk step per instant.

- :mod:`~isodesk.desk.replay.guard`: the replay feed's tick guard over chunks of rows;
- :mod:`~isodesk.desk.replay.bands`: the prices inside which a position's level holds;
- :mod:`~isodesk.desk.replay.engine`: the search and the desk's judgement of the instants found.

The rows come in chunks from :mod:`isodesk.feeds.chunks` (``ts,[venue,]symbol,price`` files) or
:mod:`isodesk.feeds.klines` (Binance mark-price kline files), so memory follows the book and one
chunk, never the path.
"""

from isodesk.desk.replay.engine import FastReplay, InstantFeed
from isodesk.desk.replay.guard import ChunkGuard

__all__ = ["ChunkGuard", "FastReplay", "InstantFeed"]
