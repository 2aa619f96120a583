"""The price paths shipped in resources/paths: well-formed, small, and shaped as their names say."""

import numpy as np
import pytest

from isodesk.feeds import ReplayFeed
from isodesk.paths import resource_path

DEMO_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"]
START = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0, "SOLUSDT": 150.0, "DOGEUSDT": 0.15, "XRPUSDT": 0.6}


def series(feed, symbol):
    ticks = [t for t in feed.ticks if t.symbol == symbol]
    return np.array([t.ts for t in ticks]), np.array([t.price for t in ticks])


@pytest.mark.parametrize("name", ["crash-30pct-rebound.csv", "slow-bleed.csv"])
def test_shipped_path_is_small_and_plays_through_the_guard(name):
    path = resource_path("paths", name)
    assert path.stat().st_size < 300_000
    feed = ReplayFeed(path)
    assert feed.symbols == DEMO_SYMBOLS
    assert feed.first_prices() == START
    polls = 0
    while not feed.finished:
        feed.poll(0.0)
        polls += 1
    health = feed.health(feed.last_ts)
    assert health.rejected == 0 and health.accepted == len(feed.ticks)
    assert polls == len({t.ts for t in feed.ticks})


def test_crash_path_falls_30_pct_in_about_ten_minutes_then_half_rebounds():
    feed = ReplayFeed(resource_path("paths", "crash-30pct-rebound.csv"))
    ts, btc = series(feed, "BTCUSDT")
    assert set(np.diff(ts)) <= set(range(5, 11))
    bottom = int(np.argmin(btc))
    assert btc[bottom] / 60000.0 - 1 == pytest.approx(-0.30, abs=0.02)
    assert 8 * 60 <= ts[bottom] - ts[0] <= 16 * 60
    assert -0.20 < btc[-1] / 60000.0 - 1 < -0.10
    for symbol in DEMO_SYMBOLS[1:]:
        _, alt = series(feed, symbol)
        assert alt.min() / alt[0] - 1 <= -0.30


def test_slow_bleed_declines_20_pct_over_hours():
    feed = ReplayFeed(resource_path("paths", "slow-bleed.csv"))
    ts, btc = series(feed, "BTCUSDT")
    assert set(np.diff(ts)) == {60.0}
    assert ts[-1] - ts[0] >= 3 * 3600
    assert btc[-1] / btc[0] - 1 == pytest.approx(-0.20, abs=0.02)
    assert np.abs(np.diff(np.log(btc))).max() < 0.01
