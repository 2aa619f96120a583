"""The risk settings: one table of keys, the desk's SetSettings command, the book's settings table."""

from __future__ import annotations

import dataclasses
import json

import pytest

from isodesk.desk import Desk
from isodesk.desk.settings import (
    DEFAULTS,
    SPECS,
    DeskSettings,
    SetSettings,
    SettingError,
    apply_changes,
    from_stored,
    parse_value,
)
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.store import Store


@pytest.fixture
def book(tmp_path):
    store = open_book(tmp_path / "b.db", demo=True)
    yield store
    store.close()


def _rows(store: Store) -> dict[str, object]:
    return {k: json.loads(v) for k, v in store.db.execute("SELECT key, value FROM settings").fetchall()}


def test_one_spec_per_setting_field():
    assert [s.attr for s in SPECS] == [f.name for f in dataclasses.fields(DeskSettings)]
    assert len({s.key for s in SPECS}) == len(SPECS)


def test_percent_and_fraction_round_trip_exactly():
    new = apply_changes(DEFAULTS, [("levels.warning_pct", "7.25"), ("levels.danger_pct", "1.5"),
                                   ("levels.hysteresis_pct", "0.25")])
    t = new.thresholds
    assert (t.warning, t.danger, t.hysteresis) == (0.0725, 0.015, 0.0025)
    again = from_stored({"desk.thresholds": {"warning": t.warning, "danger": t.danger, "hysteresis": t.hysteresis}})
    assert (again.warning_pct, again.danger_pct, again.hysteresis_pct) == (7.25, 1.5, 0.25)


@pytest.mark.parametrize(("stored", "field", "expected"), [
    ({"desk.stale_after_s": "ninety"}, "stale_after_s", 60.0),
    ({"desk.stale_after_s": 1}, "stale_after_s", 60.0),           # out of range
    ({"alerts.sound": "yes"}, "sound", False),                     # not a JSON bool
    ({"desk.thresholds": {"warning": 0.02, "danger": 0.05, "hysteresis": 0.001}}, "danger_pct", 3.0),
    ({"desk.thresholds": [1, 2]}, "warning_pct", 10.0),
    ({"prices.retention_s": 3600}, "price_retention_s", 3600.0),
])
def test_a_bad_stored_value_falls_back_to_its_default(stored, field, expected, caplog):
    assert getattr(from_stored(stored), field) == expected


def test_switch_words_and_units():
    assert parse_value("alerts.sound", "ON") is True and parse_value("alerts.sound", "0") is False
    assert parse_value("levels.dwell_s", "30s") == 30.0 and parse_value("levels.warning_pct", " 8 % ") == 8.0
    with pytest.raises(SettingError, match=r"levels\.dwell_s: '30 %' is not a number of seconds"):
        parse_value("levels.dwell_s", "30 %")


def test_the_desk_applies_a_change_in_one_transaction_or_none(book):
    desk = Desk(book, None, catalog=shipped_catalog())
    try:
        before = _rows(book)
        # one bad value refuses the whole command: nothing written, nothing changed
        bad = desk.apply(SetSettings((("levels.warning_pct", "8"), ("desk.stale_after_s", "2"))))
        assert not bad.accepted and bad.reason.startswith("desk.stale_after_s: 2 s is out of range")
        assert _rows(book) == before and desk.thresholds.warning == 0.10
        ok = desk.apply(SetSettings((("levels.warning_pct", "8"), ("desk.stale_after_s", "120"),
                                     ("venues.reconcile_tolerance_pct", "1"), ("levels.dwell_s", "0"))))
        assert ok.accepted, ok.reason
        assert ok.reason == ("levels.warning_pct 10 % → 8 %; levels.dwell_s 5 s → 0 s; desk.stale_after_s 60 s → "
                             "120 s; venues.reconcile_tolerance_pct 0.5 % → 1 %")
        assert desk.thresholds.warning == 0.08 and desk.stale_after_s == 120 and desk.reconcile_tolerance_pct == 1
        assert desk.snapshot.settings.dwell_s == 0 and desk.snapshot.reconcile_tolerance_pct == 1
        rows = _rows(book)
        assert rows["desk.thresholds"] == {"warning": 0.08, "danger": 0.03, "hysteresis": 0.005}
        assert rows["desk.stale_after_s"] == 120 and rows["levels.dwell_s"] == 0
        assert rows["venues.reconcile_tolerance_pct"] == 1
        # the same request id again: answered from the record, not run twice
        again = desk.apply(dataclasses.replace(SetSettings((("levels.warning_pct", "9"),)), request_id=ok.request_id))
        assert again.reason == ok.reason and desk.thresholds.warning == 0.08
    finally:
        desk.close()


def test_a_stale_limit_from_the_command_line_holds_until_the_trader_sets_one(book):
    desk = Desk(book, None, catalog=shipped_catalog(), stale_after_s=3600.0)  # replay's --stale-after
    try:
        assert desk.stale_after_s == 3600.0
        desk.apply(SetSettings((("levels.warning_pct", "9"),)))
        assert desk.stale_after_s == 3600.0  # another setting leaves the override alone
        desk.apply(SetSettings((("desk.stale_after_s", "45"),)))
        assert desk.stale_after_s == 45.0
    finally:
        desk.close()


def test_an_observing_desk_follows_a_change_the_writer_made(book, tmp_path):
    writer = Desk(book, None, catalog=shipped_catalog())
    other = Store.open(tmp_path / "b.db")
    observer = Desk(other, None, catalog=shipped_catalog(), observe_only=True)
    try:
        assert writer.apply(SetSettings((("levels.danger_pct", "4"),))).accepted
        observer.step()
        assert observer.thresholds.danger == 0.04 and observer.snapshot.settings.danger_pct == 4
    finally:
        observer.close()
        other.close()
        writer.close()
