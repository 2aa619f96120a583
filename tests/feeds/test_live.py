"""LiveFeed's guard: the same rules as every feed, with the poll's wall time as ``now`` (no network here)."""

from __future__ import annotations

from isodesk.feeds import Tick
from isodesk.feeds.live import LiveFeed

T0 = 1_717_200_000.0


def offline_feed() -> LiveFeed:
    feed = LiveFeed("binance-usdm", ["BTCUSDT"])
    feed.start = lambda: None  # type: ignore[method-assign]  # no thread: ticks are put in by hand
    return feed


def arrive(feed: LiveFeed, *ticks: Tick) -> None:
    for tick in ticks:
        feed._queue.put(tick)


def test_a_confirmed_crash_is_taken_a_spike_and_a_future_stamp_are_not():
    feed = offline_feed()
    arrive(feed, Tick("BTCUSDT", T0, 60000.0), Tick("BTCUSDT", T0 + 2, 600.0))
    assert feed.poll(T0 + 2) == [Tick("BTCUSDT", T0, 60000.0)]  # 600 held
    arrive(feed, Tick("BTCUSDT", T0 + 4, 59990.0), Tick("BTCUSDT", T0 + 60, 60010.0))  # a clock a minute ahead
    assert feed.poll(T0 + 4) == [Tick("BTCUSDT", T0 + 4, 59990.0)]
    arrive(feed, Tick("BTCUSDT", T0 + 6, 25000.0))
    assert feed.poll(T0 + 6) == []
    arrive(feed, Tick("BTCUSDT", T0 + 8, 24500.0))
    assert feed.poll(T0 + 8) == [Tick("BTCUSDT", T0 + 6, 25000.0), Tick("BTCUSDT", T0 + 8, 24500.0)]
    assert dict(feed.health(T0 + 8).rejected_by_reason) == {"jump": 1, "future": 1}
    feed.close()
