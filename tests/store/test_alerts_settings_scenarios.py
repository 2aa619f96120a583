"""Alerts, settings and scenarios."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.store import Alert, StoreError


def test_alerts_newest_first_and_acknowledge(book):
    store, _, pid = book
    first = store.add_alert(ts=10.0, position_id=pid, level="warning", kind="level", message="within 10 %")
    second = store.add_alert(ts=20.0, position_id=pid, level="danger", kind="level", message="within 3 %")
    book_wide = store.add_alert(ts=20.0, position_id=None, level="stale", kind="feed", message="feed quiet 30 s")
    assert [a.id for a in store.alerts()] == [book_wide, second, first]
    assert store.alerts(limit=1)[0] == Alert(book_wide, 20.0, None, "stale", "feed", "feed quiet 30 s", False)
    store.acknowledge_alert(second)
    assert [a.id for a in store.alerts(unacknowledged_only=True)] == [book_wide, first]
    assert store.alerts()[1].acknowledged is True
    with pytest.raises(StoreError, match="no alert with id 999"):
        store.acknowledge_alert(999)
    with pytest.raises(ValueError, match="level must be one of"):
        store.add_alert(ts=1, position_id=pid, level="panic", kind="x", message="y")


def test_settings_round_trip(store):
    assert store.get_setting("theme") is None
    assert store.get_setting("theme", "system") == "system"
    store.set_setting("theme", "dark")
    store.set_setting("bands", {"warning_pct": 10, "danger_pct": 3.5, "min_margin": Decimal("0.0001")})
    store.set_setting("theme", "light")
    assert store.get_setting("theme") == "light"
    assert store.get_setting("bands") == {"warning_pct": 10, "danger_pct": 3.5, "min_margin": "0.0001"}
    with pytest.raises(ValueError):
        store.set_setting("bad", float("nan"))


def test_scenarios_round_trip(store):
    body = {"shocks": {"BTCUSDT": -0.2}, "topups": [{"label": "btc-long", "amount": Decimal("250.75")}]}
    store.save_scenario("crash", body, ts=1.0)
    store.save_scenario("pump", {"shocks": {"BTCUSDT": 0.1}}, ts=2.0)
    assert store.load_scenario("crash") == {
        "shocks": {"BTCUSDT": -0.2},
        "topups": [{"label": "btc-long", "amount": "250.75"}],
    }
    store.save_scenario("crash", {"shocks": {"BTCUSDT": -0.3}}, ts=3.0)
    row = store.db.execute("SELECT created_at, updated_at FROM scenarios WHERE name = 'crash'").fetchone()
    assert row == (1.0, 3.0)
    assert store.scenario_names() == ["crash", "pump"]
    store.rename_scenario("crash", "deep crash")
    assert store.scenario_names() == ["deep crash", "pump"]
    assert store.load_scenario("deep crash") == {"shocks": {"BTCUSDT": -0.3}}
    with pytest.raises(StoreError, match="'pump' already exists"):
        store.rename_scenario("deep crash", "pump")
    with pytest.raises(StoreError, match="no scenario named 'gone'"):
        store.rename_scenario("gone", "x")
    assert store.delete_scenario("pump") is True
    assert store.delete_scenario("pump") is False
    assert store.load_scenario("pump") is None
    assert store.scenario_names() == ["deep crash"]
