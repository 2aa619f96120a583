"""`isodesk config get|set`: the risk settings in the book's settings table, written through the desk.

The defaults checked here are the ones DESIGN.md and the README state (warning within 10 %, danger
within 3 %, 0.5 % hysteresis, stale after 60 s, reconciliation tolerance 0.5 %, prices kept tick by
tick for a day, no sound), not values read back from the code under test.
"""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from isodesk.desk import Desk, Level
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.store import Store
from tests.cli.conftest import run
from tests.desk.fakes import ScriptedFeed

DOCUMENTED = {  # key: (default as printed, unit)
    "levels.warning_pct": ("10", "%"),
    "levels.danger_pct": ("3", "%"),
    "levels.hysteresis_pct": ("0.5", "%"),
    "levels.dwell_s": ("5", "s"),
    "desk.stale_after_s": ("60", "s"),
    "venues.reconcile_tolerance_pct": ("0.5", "%"),
    "prices.retention_s": ("86400", "s"),
    "alerts.sound": ("off", "on/off"),
    "odds.half_life_s": ("3600", "s"),
    "odds.alert_pct": ("20", "%"),
}


def _rows(out: str) -> dict[str, list[str]]:
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["KEY", "VALUE", "UNIT", "DEFAULT"]
    return {cells[0]: cells for cells in (line.split() for line in lines[2:])}


def _settings_rows(db) -> dict[str, str]:
    store = Store.open(db)
    try:
        return {k: v for k, v in store.db.execute("SELECT key, value FROM settings").fetchall()}
    finally:
        store.close()


def test_get_prints_every_key_with_value_unit_and_default(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    code, out, err = run(capsys, "config", "get", "--db", db)
    assert code == 0, err
    rows = _rows(out)
    assert set(rows) == set(DOCUMENTED)
    for key, (default, unit) in DOCUMENTED.items():
        assert rows[key][1:4] == [default, unit, default], rows[key]
        assert len(rows[key]) > 4  # and what it means
    code, out, _ = run(capsys, "config", "get", "--json", "--db", db)
    doc = json.loads(out)
    assert doc["levels.warning_pct"] == 10 and doc["levels.danger_pct"] == 3 and doc["alerts.sound"] is False


def test_set_writes_the_book_and_a_new_desk_uses_it(tmp_path, capsys):
    db = str(tmp_path / "b.db")
    code, out, err = run(capsys, "config", "set", "levels.warning_pct", "8", "--db", db)
    assert code == 0, err
    assert out.strip() == "levels.warning_pct 10 % → 8 %"
    code, out, err = run(capsys, "config", "set", "alerts.sound", "on", "--db", db)
    assert code == 0 and out.strip() == "alerts.sound off → on"
    code, _, _ = run(capsys, "config", "set", "desk.stale_after_s", "90 s", "--db", db)
    assert code == 0
    stored = _settings_rows(db)
    # the thresholds keep the format SetThresholds always wrote: one object of fractions
    assert json.loads(stored["desk.thresholds"]) == {"warning": 0.08, "danger": 0.03, "hysteresis": 0.005}
    assert json.loads(stored["alerts.sound"]) is True
    assert json.loads(stored["desk.stale_after_s"]) == 90
    store = open_book(db)
    desk = Desk(store, None, catalog=shipped_catalog())
    try:
        assert desk.thresholds.warning == 0.08 and desk.thresholds.danger == 0.03
        assert desk.stale_after_s == 90 and desk.snapshot.settings.sound is True
    finally:
        desk.close()
        store.close()
    code, out, _ = run(capsys, "config", "get", "levels.warning_pct", "--db", db)
    assert _rows(out)["levels.warning_pct"][1:4] == ["8", "%", "10"]
    code, out, _ = run(capsys, "config", "set", "levels.warning_pct", "default", "--db", db)
    assert code == 0 and out.strip() == "levels.warning_pct 8 % → 10 %"


@pytest.mark.parametrize(("key", "value", "says"), [
    ("levels.warning_pct", "150", "levels.warning_pct: 150 % is out of range; it must be greater than 0 % and less "
                                  "than 100 %"),
    ("levels.warning_pct", "0", "levels.warning_pct: 0 % is out of range"),
    ("levels.danger_pct", "12", "levels.danger_pct: 12 % must be less than levels.warning_pct (10 %)"),
    ("levels.hysteresis_pct", "3", "levels.hysteresis_pct: 3 % must be less than levels.danger_pct (3 %)"),
    ("levels.dwell_s", "-1", "levels.dwell_s: -1 s is out of range; it must be at least 0 s and at most 3600 s"),
    ("desk.stale_after_s", "1", "desk.stale_after_s: 1 s is out of range; it must be at least 5 s"),
    ("prices.retention_s", "abc", "prices.retention_s: 'abc' is not a number of seconds"),
    ("levels.warning_pct", "7,5", "levels.warning_pct: '7,5' is not a number of percent (written with a '.' decimal "
                                  "point"),
    ("levels.warning_pct", "nan", "levels.warning_pct: 'nan' is not a finite number"),
    ("levels.warning_pct", "8.1234567", "levels.warning_pct: 8.1234567 has more than 6 decimals"),
    ("alerts.sound", "loud", "alerts.sound: 'loud' must be on or off"),
    ("levels.nope", "1", "'levels.nope' is not a setting; the settings are levels.warning_pct"),
])
def test_a_refused_value_is_one_line_naming_key_range_and_unit_and_writes_nothing(tmp_path, capsys, key, value, says):
    db = str(tmp_path / "b.db")
    run(capsys, "config", "get", "--db", db)  # the book exists
    before = _settings_rows(db)
    code, out, err = run(capsys, "config", "set", key, value, "--db", db)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"isodesk config: {says}"), lines[0]
    assert _settings_rows(db) == before


def test_set_reaches_the_running_desk_which_uses_it_at_once(tmp_path, capsys):
    """Another process holds the book (the app): `config set` is queued to its desk, which answers and
    reclassifies at once — a SAFE position inside the new danger distance is DANGER right away."""
    db = str(tmp_path / "b.db")
    store = open_book(db, demo=True)
    desk = Desk(store, ScriptedFeed(), catalog=shipped_catalog())
    try:
        snap = desk.step()
        distance = snap.cols["distance_frac"]
        safe = [r for r in range(len(snap)) if snap.level[r] == Level.SAFE and math.isfinite(distance[r])
                and not snap.stale[r]]
        row = min(safe, key=lambda r: distance[r])
        pid, d_pct = int(snap.book.position_ids[row]), float(distance[row]) * 100
        assert 10 < d_pct < 90, d_pct  # the demo's nearest SAFE position
        warning, danger = math.ceil(d_pct) + 2, math.ceil(d_pct) + 1

        def cli(*argv: str) -> tuple[int, str, str]:
            result: list = []
            done = threading.Event()

            def go() -> None:
                try:
                    result.append(run(capsys, *argv))
                finally:
                    done.set()
            threading.Thread(target=go, daemon=True).start()
            deadline = time.monotonic() + 20
            while not done.is_set() and time.monotonic() < deadline:
                desk.step()  # the app's desk keeps stepping and answers the queued command
                time.sleep(0.005)
            assert result, "the command got no answer"
            return result[0]

        code, out, err = cli("config", "set", "levels.warning_pct", str(warning), "--db", db)
        assert code == 0, err
        assert out.strip() == f"levels.warning_pct 10 % → {warning} %"
        assert desk.thresholds.warning == pytest.approx(warning / 100)
        code, out, err = cli("config", "set", "levels.danger_pct", str(danger), "--db", db)
        assert code == 0, err
        assert desk.thresholds.danger == pytest.approx(danger / 100)
        now = desk.snapshot
        assert now.settings.danger_pct == danger
        assert now.level[now.book.row_of(pid)] == Level.DANGER
        # the desk refuses what the rules refuse, and says so through the queue
        code, out, err = cli("config", "set", "levels.hysteresis_pct", str(danger), "--db", db)
        assert code == 2 and "levels.hysteresis_pct" in err
    finally:
        desk.close()
        store.close()


def test_the_command_is_queued_as_json_and_decodes_to_the_same_command():
    from isodesk.desk.registry import decode, encode
    from isodesk.desk.settings import SetSettings

    command = SetSettings((("levels.warning_pct", "8"), ("alerts.sound", "on")))
    kind, body = encode(command)
    assert kind == "SetSettings"
    again = decode(kind, json.loads(json.dumps(body)))
    assert again == command and isinstance(again.changes, tuple)


def test_get_refuses_an_unknown_key(tmp_path, capsys):
    code, out, err = run(capsys, "config", "get", "levels.bogus", "--db", str(tmp_path / "b.db"))
    assert code == 2 and out == "" and err.startswith("isodesk config: KEY: 'levels.bogus' is not a setting")


def test_subcommand_is_required(capsys):
    with pytest.raises(SystemExit) as info:
        run(capsys, "config")
    assert info.value.code == 2


