"""Alerts a trader can trust (issue 12), on the desk: one summary per risky position at start, a
dwell before an easing is reported (a worsening at once), flapping collapsed into one stored alert
with a count, acknowledge-all in one transaction, the sound asked on DANGER and liquidation only,
and the desk's risk order (level first, then distance).

Driven by the scripted feed and the manual clock; the expected figures are computed here from the
positions' terms (isolated liquidation price of a linear long at the first tier, mmr 0.4 %)."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import numpy as np
import pytest

from isodesk.desk import AddCollateral, Desk, EventKind, Level
from isodesk.desk.commands import AcknowledgeAlert, AcknowledgeAlerts, Reply
from isodesk.desk.registry import decode, encode, spec_of
from isodesk.desk.settings import SetSettings
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.store import Store, command_log
from tests.desk.fakes import ManualClock, ScriptedFeed

WARNING, DANGER = 0.10, 0.03  # the default thresholds (fractions of the mark)
MMR = 0.004                   # Binance USDⓈ-M BTCUSDT first tier


def long_liquidation(margin: float, qty: float, entry: float) -> float:
    """Isolated liquidation price of a linear long in its first tier: margin + qty·(liq − entry) = mmr·qty·liq."""
    return (margin - qty * entry) / (qty * (MMR - 1))


TIGHT_LIQ = long_liquidation(3000, 0.5, 60_000)  # 54,216.87: the 'tight' long of the two_btc_longs fixture


def price_at(distance: float) -> float:
    """The BTC price at which 'tight' is ``distance`` (fraction of the mark) above its liquidation price."""
    return TIGHT_LIQ / (1 - distance)


def raw_level(distance: float) -> Level:
    """The level of a distance with no previous level (no hysteresis, no dwell)."""
    return Level.DANGER if distance <= DANGER else Level.WARNING if distance <= WARNING else Level.SAFE


class Tight:
    """Drives the 'tight' position of ``two_btc_longs``: prices, steps, its level and its events."""

    def __init__(self, desk, feed, clock):
        self.desk, self.feed, self.clock = desk, feed, clock
        self.pid = desk.store.position_by_label("tight").id

    def move(self, distance: float, after: float = 1.0) -> Level:
        """A BTC tick putting 'tight' at ``distance``, ``after`` seconds on; one step; its shown level."""
        self.feed.push("BTCUSDT", price_at(distance), self.clock.advance(after))
        self.desk.step()
        return self.level()

    def wait(self, seconds: float) -> Level:
        """``seconds`` on without a tick (the mark stays fresh); one step; its shown level."""
        self.clock.advance(seconds)
        self.desk.step()
        return self.level()

    def level(self) -> Level:
        snap = self.desk.snapshot
        return Level(int(snap.level[snap.book.row_of(self.pid)]))

    def changes(self) -> list[tuple[str, str, float]]:
        """(previous, level, ts) of the level events of 'tight' since the last call."""
        return [(e.previous, e.level, e.ts) for e in self.desk.drain_events()
                if e.kind is EventKind.LEVEL and e.position_id == self.pid]

    def settle_safe(self) -> None:
        """'tight' (opened at WARNING, 9.6 %) SAFE and reported so (a safe price held past the dwell),
        every alert so far acknowledged: the tests start from a quiet book."""
        self.move(0.20)
        self.wait(self.desk.settings.dwell_s + 1)
        assert self.level() is Level.SAFE
        self.desk.drain_events()
        ids = tuple(a.id for a in self.desk.store.alerts(unacknowledged_only=True))
        assert self.desk.apply(AcknowledgeAlerts(ids)).accepted


@pytest.fixture
def tight(two_btc_longs, feed, clock):
    return Tight(two_btc_longs, feed, clock)


# -- 1. one summary per position already at warning or danger ----------------------------------------------


def _demo_desk(path, clock, feed=None, **kw) -> Desk:
    store = open_book(path, demo=True, ts=1_700_000_000.0)
    return Desk(store, feed if feed is not None else ScriptedFeed(), catalog=shipped_catalog(), clock=clock, **kw)


def _expected_at_start(desk) -> dict[str, Level]:
    """Each open position's level from its mark and liquidation price, distance s·(mark − liq)/mark."""
    snap = desk.snapshot
    out = {}
    for row, label in enumerate(snap.book.labels):
        side = 1 if snap.book.sides[row] == "long" else -1
        mark, liq = snap.cols["mark"][row], snap.cols["liquidation_price"][row]
        level = raw_level(side * (mark - liq) / mark)
        if level is not Level.SAFE:
            out[label] = level
    return out


def test_start_writes_one_summary_per_risky_position_and_a_restart_adds_none(tmp_path):
    clock = ManualClock(1_700_000_001.0)
    path = tmp_path / "demo.db"
    desk = _demo_desk(path, clock)
    expected = _expected_at_start(desk)
    assert sorted(expected.values()).count(Level.DANGER) == 2 and len(expected) == 6  # the demo book, by hand
    assert desk.store.alerts() == []  # building a desk only reads
    clock.advance(1)
    desk.step()
    summaries = [e for e in desk.drain_events() if e.kind is EventKind.SUMMARY]
    assert {e.label: Level[e.level.upper()] for e in summaries} == expected
    assert len(summaries) == len(expected)  # one each
    snap = desk.snapshot
    for e in summaries:
        row = snap.book.labels.index(e.label)
        distance = snap.cols["distance_frac"][row]
        assert e.message.startswith(f"{e.label} at start: {e.level.upper()}, {distance * 100:.2f} % from liquidation")
        assert not e.sound  # a summary is no crossing
    assert summaries[-1].label == snap.book.labels[snap.order_by_risk[0]]  # the riskiest is the newest
    stored = [a for a in desk.store.alerts() if a.kind == "summary"]
    assert sorted(a.id for a in stored) == sorted(e.alert_id for e in summaries)
    desk.close()

    # a restart: the unacknowledged summaries are still the positions' newest alerts -> no copy
    desk = Desk(Store.open(path), ScriptedFeed(), catalog=shipped_catalog(), clock=clock)
    clock.advance(1)
    desk.step()
    assert [e for e in desk.drain_events() if e.kind is EventKind.SUMMARY] == []
    assert len([a for a in desk.store.alerts() if a.kind == "summary"]) == len(expected)
    # the trader acknowledges the riskiest one; the next start says it again, and only it
    riskiest = summaries[-1]
    assert desk.apply(AcknowledgeAlert(riskiest.alert_id)).accepted
    desk.close()
    desk = Desk(Store.open(path), ScriptedFeed(), catalog=shipped_catalog(), clock=clock)
    clock.advance(1)
    desk.step()
    again = [e for e in desk.drain_events() if e.kind is EventKind.SUMMARY]
    assert [(e.label, e.level) for e in again] == [(riskiest.label, riskiest.level)]
    desk.close()


def test_a_command_desk_without_feed_writes_no_summary(tmp_path):
    clock = ManualClock(1_700_000_001.0)
    store = open_book(tmp_path / "demo.db", demo=True, ts=1_700_000_000.0)
    desk = Desk(store, None, catalog=shipped_catalog(), clock=clock)  # as `isodesk deposit` builds it
    from isodesk.desk import Deposit

    assert desk.apply(Deposit(Decimal("10"), account="binance-usdm:USDT")).accepted
    assert [a for a in store.alerts() if a.kind == "summary"] == []
    desk.close()


def test_a_position_entering_the_book_at_warning_gets_its_summary_at_once(make_desk, feed, clock):
    from isodesk.desk import Deposit, OpenPosition

    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    desk.drain_events()
    result = desk.apply(OpenPosition(label="tight", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                     quantity=Decimal("0.5"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                     margin=Decimal("3000")))
    assert result.accepted
    distance = (60_000 - TIGHT_LIQ) / 60_000  # 9.64 %: WARNING
    assert raw_level(distance) is Level.WARNING
    events = desk.drain_events()
    assert [(e.kind, e.level) for e in events] == [(EventKind.SUMMARY, "warning")]
    assert events[0].message.startswith(f"tight new in the book: WARNING, {distance * 100:.2f} % from liquidation")
    # not a crossing: no 'rose to WARNING' besides it
    assert [a.kind for a in desk.store.alerts()] == ["summary"]


# -- 2. dwell before an easing; a worsening at once -----------------------------------------------------------


def test_an_easing_is_reported_only_after_the_dwell_and_a_worsening_at_once(tight, clock):
    desk = tight.desk
    assert desk.settings.dwell_s == 5.0  # the default, nothing stored
    tight.settle_safe()
    # worsening: at once, in the step that saw it
    assert tight.move(0.02) is Level.DANGER
    assert tight.changes() == [("safe", "danger", clock.now)]
    # the price is safe again at t0: the desk keeps reporting DANGER for the dwell, and says nothing
    assert raw_level(0.20) is Level.SAFE
    assert tight.move(0.20) is Level.DANGER
    t0 = clock.now
    for _ in range(4):
        assert tight.wait(1.0) is Level.DANGER
    assert clock.now - t0 == 4.0 and tight.changes() == []
    assert tight.wait(1.0) is Level.SAFE  # held 5 s
    assert tight.changes() == [("danger", "safe", t0 + 5.0)]
    alert = next(a for a in desk.store.alerts() if a.kind == "level" and a.position_id == tight.pid)
    assert (alert.previous, alert.level, alert.ts) == ("danger", "safe", t0 + 5.0)


def test_the_dwell_starts_again_when_the_level_turns_back_and_eases_one_level_at_a_time(tight, clock):
    tight.settle_safe()
    assert tight.move(0.02) is Level.DANGER
    tight.changes()
    assert tight.move(0.05) is Level.DANGER   # WARNING seen at t1
    assert tight.desk.snapshot.cols["distance_frac"][tight.desk.snapshot.book.row_of(tight.pid)] == pytest.approx(0.05)
    assert tight.move(0.02, after=3) is Level.DANGER  # back to DANGER before the dwell: the timer stops
    assert tight.move(0.05) is Level.DANGER   # WARNING again at t2
    t2 = clock.now
    assert tight.wait(4.0) is Level.DANGER    # 8 s after t1, but only 4 s after t2
    assert tight.wait(1.0) is Level.WARNING
    assert tight.changes() == [("danger", "warning", t2 + 5)]
    # SAFE seen at t4: reported 5 s later, not earlier
    assert tight.move(0.20, after=2) is Level.WARNING
    t4 = clock.now
    assert tight.wait(4.0) is Level.WARNING
    assert tight.wait(1.0) is Level.SAFE
    assert tight.changes() == [("warning", "safe", t4 + 5)]


def test_a_stale_position_never_eases_and_its_dwell_restarts_with_prices(tight, clock):
    desk = tight.desk
    tight.settle_safe()
    assert tight.move(0.02) is Level.DANGER
    tight.changes()
    assert tight.wait(desk.stale_after_s + 5) is Level.DANGER  # no fresh price: stale, keeps DANGER
    assert desk.snapshot.stale[desk.snapshot.book.row_of(tight.pid)]
    assert tight.move(0.20) is Level.DANGER  # prices flow again: the dwell starts now
    t0 = clock.now
    assert tight.wait(4.0) is Level.DANGER
    assert tight.wait(1.0) is Level.SAFE
    assert tight.changes() == [("danger", "safe", t0 + 5)]


def test_a_dwell_of_zero_eases_at_once_and_a_top_up_eases_at_once(tight, clock):
    desk = tight.desk
    tight.settle_safe()
    assert tight.move(0.02) is Level.DANGER
    tight.changes()
    # the trader's own top-up is not a price that may turn back: reported in the command's answer
    free = 10_000 - 3000 - 2000
    after = long_liquidation(3000 + free, 0.5, 60_000)
    mark = price_at(0.02)
    assert raw_level((mark - after) / mark) is Level.SAFE
    assert desk.apply(AddCollateral(tight.pid, Decimal(free))).accepted
    assert tight.level() is Level.SAFE
    assert tight.changes() == [("danger", "safe", clock.now)]
    # dwell 0 (a setting of the book): easings as soon as the hysteresis allows
    assert desk.apply(SetSettings((("levels.dwell_s", "0"),))).accepted
    assert desk.settings.dwell_s == 0
    loose = desk.store.position_by_label("loose").id
    loose_liq = long_liquidation(2000, 0.1, 60_000)
    row = desk.snapshot.book.row_of(loose)

    def loose_at(distance):
        tight.feed.push("BTCUSDT", loose_liq / (1 - distance), clock.advance(1))
        desk.step()
        return Level(int(desk.snapshot.level[row]))

    assert loose_at(0.02) is Level.DANGER
    assert loose_at(0.20) is Level.SAFE


# -- 3. flapping collapses in the book ----------------------------------------------------------------------


def test_flapping_ten_times_is_one_stored_alert_with_count_ten(tight, clock):
    desk = tight.desk
    tight.settle_safe()
    dwell = desk.settings.dwell_s
    first_ts = None
    for i in range(10):  # SAFE→WARNING, WARNING→SAFE, … ten changes, each easing held for the dwell
        if i % 2 == 0:
            assert tight.move(0.08) is Level.WARNING
        else:
            tight.move(0.20)
            assert tight.wait(dwell) is Level.SAFE
        first_ts = first_ts or clock.now
    events = [e for e in desk.drain_events() if e.kind is EventKind.LEVEL and e.position_id == tight.pid]
    assert [e.count for e in events] == list(range(1, 11))
    assert len({e.alert_id for e in events}) == 1  # every change counts on the same alert
    level_alerts = [a for a in desk.store.alerts(unacknowledged_only=True) if a.position_id == tight.pid]
    assert [a.id for a in level_alerts] == [events[0].alert_id]  # one stored alert for the ten changes
    run = level_alerts[0]
    assert run.count == 10
    assert (run.previous, run.level) == ("warning", "safe")  # the last change
    assert run.first_ts == first_ts and run.ts == clock.now
    # once acknowledged, the next change starts a new alert
    assert desk.apply(AcknowledgeAlert(run.id)).accepted
    assert tight.move(0.08) is Level.WARNING
    again = [e for e in desk.drain_events() if e.kind is EventKind.LEVEL]
    assert len(again) == 1 and again[0].alert_id != run.id and again[0].count == 1


def test_a_change_between_other_levels_is_a_new_alert(tight):
    tight.settle_safe()
    tight.move(0.08)   # SAFE→WARNING: a new alert
    tight.move(0.02)   # WARNING→DANGER: another pair, a new alert (an escalation is never hidden in a count)
    events = [e for e in tight.desk.drain_events() if e.kind is EventKind.LEVEL]
    assert [(e.previous, e.level, e.count) for e in events] == [("safe", "warning", 1), ("warning", "danger", 1)]
    assert events[0].alert_id != events[1].alert_id


# -- 4. acknowledge all in one transaction ------------------------------------------------------------------


def _alerts_on_the_book(tight) -> list[int]:
    tight.settle_safe()
    tight.move(0.08)
    tight.move(0.02)
    ids = [a.id for a in tight.desk.store.alerts() if not a.acknowledged]
    assert len(ids) == 2
    return ids


def test_acknowledge_all_is_one_transaction(tight):
    desk = tight.desk
    ids = _alerts_on_the_book(tight)
    statements: list[str] = []
    conn = desk.store.db.conn
    conn.set_trace_callback(statements.append)
    try:
        result = desk.apply(AcknowledgeAlerts(tuple(ids)))
    finally:
        conn.set_trace_callback(None)
    assert result.accepted and result.reply is Reply.ACCEPTED, result.reason
    assert result.reason == "acknowledged 2 alerts"
    begins = [s for s in statements if s.strip().upper().startswith("BEGIN")]
    commits = [s for s in statements if s.strip().upper().startswith("COMMIT")]
    assert len(begins) == 1 and len(commits) == 1, statements
    assert all(a.acknowledged for a in desk.store.alerts())
    # the same request again: answered from the record, nothing done twice
    again = desk.apply(AcknowledgeAlerts(tuple(ids), request_id=result.request_id))
    assert again.reply is Reply.REPEATED


def test_acknowledge_all_is_all_or_nothing(tight):
    desk = tight.desk
    ids = _alerts_on_the_book(tight)
    missing = max(ids) + 1000
    result = desk.apply(AcknowledgeAlerts((*ids, missing)))
    assert not result.accepted
    assert str(missing) in result.reason and "nothing acknowledged" in result.reason
    assert {a.id for a in desk.store.alerts(unacknowledged_only=True)} == set(ids)  # none of them acknowledged
    assert not desk.apply(AcknowledgeAlerts(())).accepted
    refused = desk.apply(AcknowledgeAlerts((ids[0], True)))
    assert not refused.accepted and refused.reason == "alert_ids: True is not an alert id"


def test_acknowledge_all_is_a_queueable_write_command(tight, clock):
    desk = tight.desk
    ids = _alerts_on_the_book(tight)
    command = AcknowledgeAlerts(tuple(ids))
    spec = spec_of(command)
    assert spec is not None and spec.mode == "write" and spec.queueable
    kind, body = encode(command)
    assert decode(kind, body) == command  # the JSON list comes back as a tuple
    command_log.submit(desk.store, request_id=command.request_id, kind=kind, body=body, origin="cli pid 1",
                       ts=clock.now, expires_at=clock.now + 60)
    desk.step()  # another process's command runs in the desk's step
    row = command_log.find(desk.store, command.request_id)
    assert row is not None and row.state == command_log.DONE and row.accepted
    assert all(a.acknowledged for a in desk.store.alerts())


# -- 5. the sound: asked on DANGER crossings and liquidations, only with the setting on ----------------------


@pytest.mark.parametrize("sound", [False, True])
def test_sound_is_asked_on_danger_and_liquidation_only_with_the_setting_on(tight, sound):
    desk = tight.desk
    assert desk.settings.sound is False  # off by default
    if sound:
        assert desk.apply(SetSettings((("alerts.sound", "on"),))).accepted
    tight.settle_safe()
    tight.move(0.08)          # WARNING: no sound
    tight.move(0.02)          # DANGER: sound
    tight.move(-0.01)         # through the liquidation price: sound
    events = desk.drain_events()
    asked = [(e.kind, e.level) for e in events if e.sound]
    if sound:
        assert asked == [(EventKind.LEVEL, "danger"), (EventKind.LIQUIDATION, "liquidated")]
    else:
        assert asked == []
    assert (EventKind.LEVEL, "warning") in [(e.kind, e.level) for e in events]


# -- 6. the desk's risk order: level first, then distance -------------------------------------------------------


def test_order_by_risk_is_level_first_then_distance(tmp_path):
    clock = ManualClock(1_700_000_001.0)
    feed = ScriptedFeed()
    desk = _demo_desk(tmp_path / "demo.db", clock, feed)
    clock.advance(1)
    desk.step()
    # SOL up: sol-degen-long's distance grows past the WARNING band, still DANGER for the dwell
    feed.push("SOLUSDT", 160.0, clock.advance(1))
    snap = desk.step()
    row = snap.book.labels.index("sol-degen-long")
    assert snap.level[row] == Level.DANGER and snap.cols["distance_frac"][row] > 0.05
    bybit = snap.book.labels.index("btc-bybit-long")
    assert snap.level[bybit] == Level.WARNING and snap.cols["distance_frac"][bybit] < snap.cols["distance_frac"][row]
    order = [int(r) for r in snap.order_by_risk]
    assert order.index(row) < order.index(bybit)  # DANGER before a nearer WARNING
    # the whole order, checked pairwise: open first; then level down; then distance up (unknown last)
    for a, b in itertools.pairwise(order):
        ka = (snap.book.statuses[a] != "open", -int(snap.level[a]), _dist(snap, a))
        kb = (snap.book.statuses[b] != "open", -int(snap.level[b]), _dist(snap, b))
        assert ka <= kb
    assert sorted(order) == list(range(len(snap)))
    desk.close()


def _dist(snap, row: int) -> float:
    d = float(snap.cols["distance_frac"][row])
    return math.inf if math.isnan(d) else d


def test_level_track_is_carried_by_position_id():
    from isodesk.desk.levels import LevelTrack, Thresholds

    track = LevelTrack.fresh(np.array([True, True]))
    track.advance(np.array([0.02, 0.2]), np.array([True, True]), 100.0, Thresholds(), 5.0)
    assert list(track.reported) == [Level.DANGER, Level.SAFE]
    track.advance(np.array([0.2, 0.2]), np.array([True, True]), 101.0, Thresholds(), 5.0)
    carried = track.carried(np.array([7, 8]), np.array([9, 7]), np.array([True, True]))
    assert list(carried.reported) == [Level.SAFE, Level.DANGER]       # 9 is new (unclassified), 7 kept DANGER
    assert list(carried.classified) == [False, True]
    assert carried.milder_since[1].tolist() == [101.0, 101.0]         # its easing timers too
    carried.advance(np.array([0.05, 0.2]), np.array([True, True]), 106.0, Thresholds(), 5.0)
    assert list(carried.reported) == [Level.WARNING, Level.SAFE]     # first look: as is; 5 s held: eased


def test_migration_0009_keeps_old_alerts_as_single_ones(tmp_path):
    """A book from before alert counts: every alert kept with count 1 and no previous level; the
    desk then collapses onto a new level alert only (an old one has no pair of levels)."""
    import sqlite_utils

    from isodesk.store.migrations import applied_names, migrations

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="0009_alert_counts")
    assert "count" not in {c.name for c in db["alerts"].columns}
    db.conn.execute("INSERT INTO alerts (ts, position_id, level, kind, message) VALUES (1.0, NULL, 'danger', "
                    "'level', 'old')")
    db.conn.commit()
    db.close()
    with Store.open(path) as store:
        assert "0009_alert_counts" in applied_names(store.db)
        (old,) = store.alerts()
        assert (old.count, old.previous, old.first_ts, old.message) == (1, None, None, "old")
        new = store.add_alert(ts=2.0, position_id=None, level="warning", kind="level", message="a", previous="safe")
        assert store.repeat_alert(new, ts=3.0, level="safe", previous="warning", message="b") == 2
        again = store.alerts()[0]
        assert (again.id, again.count, again.ts, again.first_ts, again.level, again.message) == (new, 2, 3.0, 2.0,
                                                                                               "safe", "b")
        with pytest.raises(ValueError, match=r"previous must be one of .*; got .calm."):
            store.add_alert(ts=4.0, position_id=None, level="safe", kind="level", message="c", previous="calm")


def test_a_first_price_is_not_news_that_prices_flow_again(make_desk, feed, clock):
    """A position priced for the first time is classified (a summary if at risk), never told
    "prices flow again": it never had prices that stopped."""
    from decimal import Decimal

    from isodesk.desk.commands import Deposit, OpenPosition
    from isodesk.desk.events import EventKind

    desk = make_desk()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    feed.push("ETHUSDT", 3000.0, clock.now)
    desk.step()
    opened = desk.apply(OpenPosition(label="btc", venue="binance-usdm", symbol="BTCUSDT", side="long",
                                     quantity=Decimal("0.1"), entry_price=Decimal("60000"), leverage=Decimal("10"),
                                     margin=Decimal("600")))
    assert opened.accepted, opened.reason
    clock.advance(1.0)
    desk.step()
    desk.drain_events()
    clock.advance(1.0)
    feed.push("BTCUSDT", 60000.0, clock.now)
    desk.step()
    kinds = [e.kind for e in desk.drain_events()]
    assert EventKind.RECOVERED not in kinds
    assert not any("prices flow again" in a.message for a in desk.store.alerts(limit=50))


def test_a_dwell_started_on_another_timeline_restarts_on_the_replays_clock():
    """A desk classifies its book at wall-clock start (2026) and then replays a 2024 path: an
    easing waits the dwell on the path's clock, not until 2026 comes round again."""
    import numpy as np

    from isodesk.desk.levels import Level, LevelTrack, Thresholds

    thresholds = Thresholds(0.10, 0.03, 0.005)
    track = LevelTrack.fresh(np.array([True]))
    live = np.array([True])
    track.advance(np.array([0.02]), live, 1_795_000_000.0, thresholds, 5.0)  # DANGER at wall-clock start
    track.advance(np.array([0.20]), live, 1_795_000_001.0, thresholds, 5.0)  # eased: the dwell starts (wall)
    t0 = 1_704_067_200.0  # the replay's path time, 2024
    track.advance(np.array([0.20]), live, t0, thresholds, 5.0)
    assert track.reported[0] == Level.DANGER  # held: the dwell restarted at t0
    track.advance(np.array([0.20]), live, t0 + 5.0, thresholds, 5.0)
    assert track.reported[0] == Level.SAFE
