"""A step's alerts and events, derived from the rules and checked against what the desk gives.

The desk builds a step's alerts and events from per-step arrays and plain Python lists (helper K,
issue 13); these tests derive every alert independently:

- the alerts table is exactly the table the drained events describe under the collapse rule of
  :mod:`isodesk.desk.events` (an unacknowledged level alert between the same two levels counts the
  change, anything else adds the next id), acknowledgements included;
- in a step that liquidated nothing, one LEVEL event per classified open position whose published
  level changed, in row order, with its text from the published figures
  (``"p3 rose to DANGER: 1.92 % from liquidation at 58,800 (mark 59,931.2)"``);
- one SUMMARY per position first classified at WARNING or DANGER, with its text from the figures of
  the step that classified it, written the least risky first.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk import Desk
from isodesk.desk import desk as desk_module
from isodesk.desk.events import EventKind, PositionEvent, new_event
from isodesk.desk.levels import Level
from isodesk.feeds.base import FeedError
from isodesk.feeds.replay import ReplayFeed
from isodesk.store import ALERT_LEVELS, Alert, Store
from tests.desk.fakes import ManualClock
from tests.desk.test_fast_replay import CATALOG, LEVELS, T0, VENUES, books, make_book, paths, write_path

NAMES = ("safe", "warning", "danger", "liquidated")


# -- the fast constructors are the constructors ------------------------------------------------------

def test_new_event_is_the_constructors_event_field_by_field():
    values = dict(kind=EventKind.SUMMARY, position_id=7, label="p7", symbol="BTC", level="danger", previous="safe",
                  ts=12.5, price=60_000.25, message="m", alert_id=41, count=3, sound=True)
    assert [f.name for f in dataclasses.fields(PositionEvent)] == list(values)  # every field, distinct values
    made = new_event(*values.values())
    assert made == PositionEvent(**values) and hash(made) == hash(PositionEvent(**values))
    assert {f.name: getattr(made, f.name) for f in dataclasses.fields(made)} == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 4  # type: ignore[misc]


def test_new_alert_is_the_constructors_alert_field_by_field():
    values = dict(id=9, ts=1.5, position_id=3, level="warning", kind="level", message="m", acknowledged=True, count=2,
                  previous="safe", first_ts=0.5)
    assert [f.name for f in dataclasses.fields(Alert)] == list(values)
    made = desk_module._new_alert(*values.values())
    assert made == Alert(**values) and hash(made) == hash(Alert(**values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.count = 3  # type: ignore[misc]


def test_write_alerts_names_the_first_bad_level_as_before(tmp_path):
    store = Store.open(tmp_path / "b.db")
    with store.transaction():
        first = store.next_alert_id()
        good = (first, 1.0, None, "danger", "level", "m", "safe")
        with pytest.raises(ValueError, match=r"previous must be one of .*; got 'sunny'"):
            store.write_alerts([good, (first + 1, 1.0, None, "safe", "level", "m", "sunny")], [])
        with pytest.raises(ValueError, match=r"level must be one of .*; got 'hot'"):
            store.write_alerts([], [(1.0, "hot", None, "m", first)])
        with pytest.raises(ValueError, match="level must be one of"):
            store.write_alerts([(first, 1.0, None, ["danger"], "level", "m", None)], [])  # type: ignore[list-item]
    assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0


# -- the alerts table from the events -----------------------------------------------------------------

def table_from_events(events, acknowledged_after=None):
    """The alerts rows ``(id, ts, position_id, level, kind, message, acknowledged, count, previous,
    first_ts)`` the events describe, asserting each event's id and count follow the collapse rule.
    ``acknowledged_after``: {event index: alert ids the trader acknowledged after that event}."""
    rows: dict[int, list] = {}
    newest: dict[int, int] = {}  # position -> id of its newest alert (odds alerts not counted)
    next_id = 1
    for i, e in enumerate(events):
        if e.alert_id is None:
            continue
        latest = rows.get(newest.get(e.position_id, -1))
        collapses = (e.kind is EventKind.LEVEL and latest is not None and not latest[6] and latest[4] == "level"
                     and latest[8] is not None and {latest[3], latest[8]} == {e.level, e.previous})
        if collapses:
            assert (e.alert_id, e.count) == (latest[0], latest[7] + 1), e
            latest[9] = latest[1] if latest[9] is None else latest[9]
            latest[1], latest[3], latest[8], latest[5] = e.ts, e.level, e.previous, e.message
            latest[7] += 1
        else:
            assert (e.alert_id, e.count) == (next_id, 1), e
            rows[next_id] = [next_id, e.ts, e.position_id, e.level, e.kind.value, e.message, 0, 1,
                             e.previous if e.previous in ALERT_LEVELS else None, None]
            next_id += 1
        if e.kind is not EventKind.ODDS:
            newest[e.position_id] = e.alert_id
        for alert_id in (acknowledged_after or {}).get(i, ()):
            rows[alert_id][6] = 1
    return [tuple(r) for _, r in sorted(rows.items())]


def stored_alerts(store: Store):
    return [tuple(r) for r in store.db.execute(
        "SELECT id, ts, position_id, level, kind, message, acknowledged, count, previous, first_ts FROM alerts "
        "ORDER BY id").fetchall()]


def level_message(label, new, old, distance, liq, mark):
    verb = "rose" if new > old else "eased"
    return (f"{label} {verb} to {NAMES[new].upper()}: {distance * 100:.2f} % from liquidation at {liq:,.6g} "
            f"(mark {mark:,.6g})")


def summary_message(label, level, distance, liq, mark, when="at start"):
    return (f"{label} {when}: {NAMES[level].upper()}, {distance * 100:.2f} % from liquidation at {liq:,.6g} "
            f"(mark {mark:,.6g})")


def play(db: Path, path: Path, stale_after: float):
    """Step the desk through the replay path; per step its events, its snapshot and the rows the
    level track had classified before it."""
    feed = ReplayFeed(path, speed=None)
    store = Store.open(db)
    desk = Desk(store, feed, catalog=CATALOG, clock=ManualClock(T0 + 10 ** 6), stale_after_s=stale_after)
    sound = desk.settings.sound
    steps = [(list(desk.drain_events()), desk.snapshot, None)]
    while True:
        classified = desk.level_track.classified.copy()
        snap = desk.step()
        steps.append((list(desk.drain_events()), snap, classified))
        if snap.feed.finished:
            break
    alerts = stored_alerts(store)
    desk.close()
    return steps, alerts, sound


def check_steps(steps, sound):
    """LEVEL events of quiet steps and every SUMMARY, from the published levels and figures."""
    summaries_due: dict[int, str] = {}  # position -> its summary text, from the step that classified it
    summary_levels: dict[int, tuple[int, float]] = {}
    for k in range(1, len(steps)):
        events, snap, classified = steps[k]
        before = steps[k - 1][1]
        ids = snap.book.position_ids.tolist()
        assert before.book.position_ids.tolist() == ids  # a replay's book keeps its rows
        cols = snap.cols
        liquidating = any(e.kind is EventKind.LIQUIDATION for e in events)
        level, old_level = snap.level.tolist(), before.level.tolist()
        open_now = [s == "open" for s in snap.book.statuses]
        # summaries: noted when first classified (the figures of that step), written with the step's alerts
        newly = [r for r in range(len(ids)) if not classified[r] and not snap.stale[r] and open_now[r]]
        for r in newly:
            if Level.WARNING <= level[r] <= Level.DANGER:
                summaries_due[ids[r]] = summary_message(
                    snap.book.labels[r], level[r], cols["distance_frac"][r], cols["liquidation_price"][r],
                    cols["mark"][r])
                summary_levels[ids[r]] = (level[r], float(cols["distance_frac"][r]))
        written = [e for e in events if e.kind is EventKind.SUMMARY]
        liquidated = {e.position_id for e in events if e.kind is EventKind.LIQUIDATION}
        for e in written:
            if e.position_id not in summaries_due:  # classified in the step that liquidated it
                assert e.position_id in liquidated, e
                continue
            assert e.message == summaries_due.pop(e.position_id), e
            assert e.level == NAMES[summary_levels[e.position_id][0]] and e.previous == "" and not e.sound
        keys = [summary_levels[e.position_id] for e in written if e.position_id in summary_levels]
        assert keys == sorted(keys, key=lambda lv: (lv[0], -lv[1]))  # the least risky first
        if written:
            assert events[:len(written)] == written  # before the step's other alerts
        if liquidating:
            continue
        changed = [r for r in range(len(ids))
                   if open_now[r] and classified[r] and level[r] != old_level[r]]
        got = [e for e in events if e.kind is EventKind.LEVEL]
        assert [e.position_id for e in got] == [ids[r] for r in changed]
        for e, r in zip(got, changed, strict=True):
            assert e.message == level_message(snap.book.labels[r], level[r], old_level[r], cols["distance_frac"][r],
                                              cols["liquidation_price"][r], cols["mark"][r])
            assert (e.level, e.previous, e.ts, e.price) == (NAMES[level[r]], NAMES[old_level[r]], snap.clock,
                                                          cols["mark"][r])
            assert e.sound == (sound and level[r] == Level.DANGER)
            assert (e.label, e.symbol) == (snap.book.labels[r], snap.book.symbols[r])
        # prices stop: one STALE per open row turning stale; prices back: one RECOVERED per classified row
        went = [r for r in range(len(ids)) if snap.stale[r] and not before.stale[r]]
        back = [r for r in range(len(ids)) if open_now[r] and classified[r] and before.stale[r] and not snap.stale[r]]
        stale_events = [e for e in events if e.kind is EventKind.STALE]
        back_events = [e for e in events if e.kind is EventKind.RECOVERED]
        assert [e.position_id for e in stale_events] == [ids[r] for r in went]
        assert [e.position_id for e in back_events] == [ids[r] for r in back]
        for e, r in zip(stale_events, went, strict=True):
            label, venue, symbol = snap.book.labels[r], snap.book.venues[r], snap.book.symbols[r]
            market = next(m for m, sym in VENUES[venue][2].items() if sym == symbol)
            by_reference = (snap.by_reference is not None and snap.by_reference[r]) or np.isnan(cols["mark"][r])
            series = f"{market} (reference price)" if by_reference else f"{market} on {venue}"
            assert e.message == f"{label}: no fresh price for {series}", e
            assert (e.level, e.previous, repr(e.price)) == ("stale", NAMES[level[r]], repr(float(cols["mark"][r])))
        for e, r in zip(back_events, back, strict=True):
            assert e.message == f"{snap.book.labels[r]}: prices flow again"
            assert (e.level, e.previous, repr(e.price)) == (NAMES[level[r]], "stale", repr(float(cols["mark"][r])))
        kinds = [e.kind for e in events if e.kind is not EventKind.ODDS]
        order = [EventKind.SUMMARY, EventKind.LEVEL, EventKind.STALE, EventKind.RECOVERED]
        assert kinds == sorted(kinds, key=order.index)
    # a summary left unwritten belongs to a position that stopped being open (or repeated the book)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(positions=books(), rows=paths(), stale_after=st.sampled_from([30.0, 60.0, 3600.0]), levels=LEVELS)
def test_each_alert_and_event_follows_from_the_rules(tmp_path_factory, positions, rows, stale_after, levels):
    tmp = tmp_path_factory.mktemp("alerts")
    make_book(tmp / "b.db", positions, levels=levels)
    write_path(tmp / "p.csv", rows, venue_column=True)
    try:
        steps, alerts, sound = play(tmp / "b.db", tmp / "p.csv", stale_after)
    except FeedError:  # a path the feed refuses whole: nothing to check
        return
    events = [e for step in steps for e in step[0]]
    assert alerts == table_from_events(events)
    check_steps(steps, sound)


def test_a_big_simulated_book_writes_the_alerts_its_events_describe(tmp_path):
    """2,000 positions on the simulated feed with jumps: thousands of summaries, level changes that
    collapse, liquidations, an acknowledgement in the middle (collapsing starts over)."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from bookgen import SYMBOLS
    from bookgen import make_book as make_big_book

    from isodesk.feeds.simulated import SimulatedFeed

    make_big_book(tmp_path / "b.db", 2000)
    clock = ManualClock(1_700_000_000.0)
    desk = Desk(Store.open(tmp_path / "b.db"), SimulatedFeed(SYMBOLS, seed=7, interval_s=0.1), catalog=CATALOG,
                clock=clock)
    events = list(desk.drain_events())
    acknowledged: dict[int, list[int]] = {}
    summaries_seen = False
    for i in range(160):
        clock.advance(0.1 if i % 17 else 3.0)
        snap = desk.step()
        step_events = desk.drain_events()
        if not summaries_seen and any(e.kind is EventKind.SUMMARY for e in step_events):
            summaries_seen = True  # every open position found at WARNING or DANGER at start has one
            first = snap.level.tolist()
            risky = {int(p) for p, lv, s in zip(snap.book.position_ids.tolist(), first, snap.book.statuses, strict=True)
                     if Level.WARNING <= lv <= Level.DANGER and s == "open"}
            assert {e.position_id for e in step_events if e.kind is EventKind.SUMMARY} == risky
        events += step_events
        if i == 60 and events:
            ids = [r[0] for r in desk.store.db.execute("SELECT id FROM alerts WHERE id % 3 = 0").fetchall()]
            desk.store.acknowledge_alerts(ids)
            acknowledged[len(events) - 1] = ids
    alerts = stored_alerts(desk.store)
    desk.close()
    kinds = {e.kind for e in events}
    assert summaries_seen and {EventKind.LEVEL, EventKind.LIQUIDATION} <= kinds
    assert any(e.count > 1 for e in events)  # flapping collapsed
    assert alerts == table_from_events(events, acknowledged)
    assert len(np.unique([e.alert_id for e in events])) == len(alerts)
