"""The desk's odds of liquidation: volatility fed by accepted ticks, the snapshot's odds columns, and
the ``odds`` alert with its hysteresis."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isodesk.desk.settings import SetSettings
from isodesk.desk.volatility import REARM_FRACTION, OddsDesk

DAY = 86400.0


def odds_alerts(desk):
    return [a for a in desk.store.alerts(limit=1000) if a.kind == "odds"]


def reflection(mark, liq, side, var_per_s, horizon):
    """2·Φ(−|ln(L/S)| / (σ√T)) worked with math.erfc."""
    d = side * math.log(mark / liq)
    return math.erfc(d / math.sqrt(2 * var_per_s * horizon))


def test_no_volatility_yet_means_nan_odds(two_btc_longs):
    snap = two_btc_longs.snapshot
    for name in ("sigma_distance", "liq_prob_1h", "liq_prob_24h"):
        assert np.isnan(snap.cols[name]).all()


def test_columns_follow_the_ewma_of_the_accepted_ticks(two_btc_longs, feed, clock):
    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "200"),))).accepted
    t0 = clock.now
    prices = [60_000.0, 60_300.0, 59_900.0, 59_800.0, 60_050.0, 60_100.0]
    times = [t0 + 10, t0 + 25, t0 + 70, t0 + 71, t0 + 90, t0 + 100]
    # warm-up: 5 returns spanning 50 s (a quarter of the half-life) before any odds are shown
    for p, t in zip(prices[:4], times[:4], strict=True):
        clock.now = t
        feed.push("BTCUSDT", p, t)
        desk.step()
    assert np.isnan(desk.snapshot.cols["liq_prob_24h"]).all()
    clock.now = t0
    # the fixture's first tick, 60,000 at t0, is the walk's start
    var_w = var_s = 0.0
    last_t, last_p = t0, 60_000.0
    for i, (p, t) in enumerate(zip(prices, times, strict=True)):
        if i >= 4:  # the first four are in already
            clock.now = t
            feed.push("BTCUSDT", p, t)
            desk.step()
        dt, r = t - last_t, math.log(p / last_p)
        keep = 2 ** (-dt / 200)
        var_s = keep * var_s + (1 - keep) * r * r / dt
        var_w = keep * var_w + (1 - keep)
        last_t, last_p = t, p
    var = var_s / var_w
    snap = desk.snapshot
    assert np.isfinite(snap.cols["liq_prob_24h"][:2]).all()
    for row in range(2):
        mark, liq = snap.cols["mark"][row], snap.cols["liquidation_price"][row]
        assert mark == 60_100.0
        assert snap.cols["liq_prob_24h"][row] == pytest.approx(reflection(mark, liq, 1, var, DAY), rel=1e-9)
        assert snap.cols["liq_prob_1h"][row] == pytest.approx(reflection(mark, liq, 1, var, 3600.0), rel=1e-9)
        assert snap.cols["sigma_distance"][row] == pytest.approx(math.log(mark / liq) / math.sqrt(var * DAY),
                                                                 rel=1e-9)


def test_a_rejected_or_other_market_tick_does_not_feed_the_estimate(two_btc_longs, feed, clock):
    desk = two_btc_longs
    clock.advance(10)
    feed.push("ETHUSDT", 3_000.0, clock.now)
    feed.push("ETHUSDT", 3_300.0, clock.now + 1)
    desk.step()
    assert np.isnan(desk.snapshot.cols["liq_prob_24h"]).all()  # BTC has no return yet


def _volatile(desk, feed, clock, n=20, step=10.0, swing=0.02):
    """Ticks swinging ±swing around 60,000 every ``step`` seconds: a very high volatility."""
    for i in range(n):
        clock.advance(step)
        feed.push("BTCUSDT", 60_000.0 * (1 + (swing if i % 2 else -swing)), clock.now)
        desk.step()


def _calm(desk, feed, clock, seconds, step=5.0):
    end = clock.now + seconds
    while clock.now < end:
        clock.advance(step)
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()


def test_odds_alert_rises_once_and_rearms_only_after_the_dwell(two_btc_longs, feed, clock):
    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "60"), ("odds.alert_pct", "20"),
                                   ("levels.dwell_s", "30")))).accepted
    _volatile(desk, feed, clock)
    alerts = odds_alerts(desk)
    # both longs are far above 20 % with a ~2 % swing every 10 s (σ ≈ 1.3 per √day)
    assert len(alerts) == 2
    assert {a.position_id for a in alerts} == {int(p) for p in desk.snapshot.book.position_ids}
    assert all(a.level in ("safe", "warning", "danger") for a in alerts)
    assert "within 24 h" in alerts[0].message
    _volatile(desk, feed, clock)  # still above: no new alert
    assert len(odds_alerts(desk)) == 2
    # calm prices: the variance halves every 60 s; the probability falls below 16 % (80 % of 20 %)
    _calm(desk, feed, clock, 1200)
    assert (desk.snapshot.cols["liq_prob_24h"][:2] < REARM_FRACTION * 0.2).all()
    _volatile(desk, feed, clock)
    assert len(odds_alerts(desk)) == 4  # re-armed after the dwell: one more each


def test_a_dip_shorter_than_the_dwell_does_not_rearm():
    book = _FakeBook()
    odds = OddsDesk(60.0)
    assert odds.crossings(book, np.array([0.5]), 0.2, 0.0, 30.0) == [-1]   # first sighting of row 0
    assert odds.crossings(book, np.array([0.1]), 0.2, 10.0, 30.0) == []    # below the re-arm line…
    assert odds.crossings(book, np.array([0.5]), 0.2, 20.0, 30.0) == []    # …for 10 s < 30 s: no new alert
    assert odds.crossings(book, np.array([0.18]), 0.2, 30.0, 30.0) == []   # between 16 % and 20 %: holds
    assert odds.crossings(book, np.array([0.1]), 0.2, 40.0, 30.0) == []
    assert odds.crossings(book, np.array([0.1]), 0.2, 70.0, 30.0) == []    # 30 s below: re-armed
    assert odds.crossings(book, np.array([0.21]), 0.2, 80.0, 30.0) == [0]
    assert odds.crossings(book, np.array([np.nan]), 0.2, 90.0, 30.0) == []


class _FakeBook:
    class info:  # the shape of BookInfo the judge reads
        position_ids = np.array([7])

    open_rows = np.array([True])


def test_a_desk_without_a_feed_writes_no_odds_alert(two_btc_longs, feed, clock, make_desk):
    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "60"),))).accepted
    _volatile(desk, feed, clock)
    before = len(odds_alerts(desk))
    desk.release_writer_lock()
    quiet = make_desk(feed=None)
    # the short-lived desk seeds its volatility from the stored prices: it shows odds, writes nothing
    assert np.isfinite(quiet.snapshot.cols["liq_prob_24h"][:2]).all()
    quiet.step()
    assert len(odds_alerts(quiet)) == before


def test_the_half_life_setting_is_checked(two_btc_longs):
    bad = two_btc_longs.apply(SetSettings((("odds.half_life_s", "1"),)))
    assert not bad.accepted and "odds.half_life_s" in bad.reason
    bad = two_btc_longs.apply(SetSettings((("odds.alert_pct", "100"),)))
    assert not bad.accepted and "odds.alert_pct" in bad.reason


def test_a_restart_adds_no_copy_of_an_odds_alert_still_out(two_btc_longs, feed, clock, make_desk):
    from tests.desk.fakes import ScriptedFeed

    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "60"),))).accepted
    _volatile(desk, feed, clock)
    assert len(odds_alerts(desk)) == 2
    desk.release_writer_lock()
    again = ScriptedFeed()
    restarted = make_desk(feed=again)
    _volatile(restarted, again, clock)
    assert len(odds_alerts(restarted)) == 2   # both still out, unacknowledged: no copies


def test_the_odds_are_recomputed_at_most_once_a_second_for_the_same_book(two_btc_longs, feed, clock):
    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "60"),))).accepted
    _volatile(desk, feed, clock)
    before = desk.snapshot.cols["liq_prob_24h"].copy()
    clock.advance(0.5)
    feed.push("BTCUSDT", 61_000.0, clock.now)   # a big move: the volatility changes at once…
    desk.step()
    assert np.array_equal(desk.snapshot.cols["liq_prob_24h"], before)  # …the odds shown within the second do not
    clock.advance(0.6)
    feed.push("BTCUSDT", 61_000.0, clock.now)
    desk.step()
    assert not np.array_equal(desk.snapshot.cols["liq_prob_24h"], before)


def test_a_replay_shows_odds_but_writes_no_odds_alert(two_btc_longs, feed, clock):
    desk = two_btc_longs
    assert desk.apply(SetSettings((("odds.half_life_s", "60"),))).accepted
    feed.clock_from_ticks = True   # a replay: the fast replay could not write the same alerts
    _volatile(desk, feed, clock)
    assert (desk.snapshot.cols["liq_prob_24h"][:2] > 0.2).all()
    assert odds_alerts(desk) == []


def _reference_crossings(state, book, prob_24h, threshold, clock, dwell_s):
    """The odds hysteresis of the module docstring, row by row over every judged row (the desk's
    rule written plainly; ``state``: raised ids, below-since times, seen ids)."""
    raised, below_since, seen = state
    due = []
    for row in range(len(prob_24h)):
        if not (book.open_rows[row] and math.isfinite(prob_24h[row])):
            continue
        pid, p = int(book.info.position_ids[row]), float(prob_24h[row])
        first = pid not in seen
        seen.add(pid)
        if p > threshold:
            below_since.pop(pid, None)
            if pid not in raised:
                raised.add(pid)
                due.append(row if not first else -1 - row)
        elif pid in raised and p < REARM_FRACTION * threshold:
            since = below_since.setdefault(pid, clock)
            if clock - since >= dwell_s:
                raised.discard(pid)
                below_since.pop(pid, None)
        else:
            below_since.pop(pid, None)
    return due


@pytest.mark.parametrize("seed", range(8))
def test_crossings_visit_only_rows_that_can_change_yet_match_the_rule_row_by_row(seed):
    """The desk judges only rows above the line or with their alert out (the rest are only noted as
    seen); over random books, probabilities (NaN, reused columns as the desk's 1/s cache gives) and
    thresholds, its answers and state match the rule applied to every row."""
    rng = np.random.default_rng(seed)
    n = 60

    class Book:
        class info:
            position_ids = np.arange(100, 100 + n, dtype=np.int64)

        open_rows = rng.random(n) < 0.9

    odds = OddsDesk(60.0)
    state: tuple[set[int], dict[int, float], set[int]] = (set(), {}, set())
    prob = rng.random(n)
    clock = 0.0
    for _ in range(200):
        if rng.random() < 0.4:  # a new column (the desk's cache reuses one for a second)
            prob = np.where(rng.random(n) < 0.1, np.nan, np.clip(prob + rng.normal(0, 0.15, n), 0, 1))
        threshold = float(rng.choice([0.2, 0.5]))
        clock += float(rng.uniform(0, 20))
        expected = _reference_crossings(state, Book, prob, threshold, clock, 30.0)
        assert odds.crossings(Book, prob, threshold, clock, 30.0) == expected
        assert odds._raised == state[0] and odds._below_since == state[1] and odds._seen == state[2]
