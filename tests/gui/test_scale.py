"""At scale: the positions model never resets (a liquidation, an import, a close, a filter), rows
are inserted, removed or changed in place and read right afterwards; its cached cell texts are the
formatter's; the views keep their position; the GUI benchmark runs and reports its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from isodesk.desk.commands import ClosePosition, ImportPositions
from isodesk.desk.levels import Level
from isodesk.ui.columns import COLUMN_INDEX, COLUMNS, cell_text
from isodesk.ui.models import PositionIdRole, PositionsModel, RowRole
from isodesk.ui.views import CardView, PositionsTable

ROOT = Path(__file__).resolve().parents[2]


def watch(model):
    """Every structural signal of the model, in order."""
    seen = []
    model.modelAboutToBeReset.connect(lambda: seen.append("reset"))
    model.layoutAboutToBeChanged.connect(lambda *a: seen.append("layout"))
    model.rowsInserted.connect(lambda _p, first, last: seen.append(("inserted", first, last)))
    model.rowsRemoved.connect(lambda _p, first, last: seen.append(("removed", first, last)))
    return seen


def shown_ids(model):
    return [model.index(r, 0).data(PositionIdRole) for r in range(model.rowCount())]


def live_ids_by_risk(snap):
    """The desk's own risk order (``order_by_risk``) of the positions that are not closed."""
    return [int(snap.book.position_ids[r]) for r in snap.order_by_risk if snap.book.statuses[r] != "closed"]


def assert_texts_are_the_formatters(model):
    """Every shown cell's text equals the formatter's text of its snapshot row, computed now."""
    snap = model.snapshot()
    for view_row in range(model.rowCount()):
        row = model.index(view_row, 0).data(RowRole)
        assert model.index(view_row, 0).data(PositionIdRole) == int(snap.book.position_ids[row])
        for c, column in enumerate(COLUMNS):
            assert model.index(view_row, c).data() == cell_text(column, snap, row), (column.key, view_row)


def test_a_liquidation_changes_rows_in_place_without_a_reset(qtbot, qtmodeltester, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    qtmodeltester.check(model)
    seen = watch(model)
    pid = demo_desk.pid("xrp-short")
    snap = demo_desk.tick({"XRPUSDT": 0.71})  # xrp-short is liquidated: a new book (its status changed)
    assert snap.book.statuses[demo_desk.row(snap, "xrp-short")] == "liquidated"
    model.apply(snap)
    assert seen == []  # the same 13 positions: no reset, no row in or out, only new data in ranks
    assert shown_ids(model) == live_ids_by_risk(snap)
    assert shown_ids(model)[-1] == pid  # liquidated positions go last
    assert model.index(model.rowCount() - 1, COLUMN_INDEX["level"]).data() == "LIQUIDATED"
    assert_texts_are_the_formatters(model)
    qtmodeltester.check(model)


def test_an_import_inserts_its_rows_and_a_close_removes_its_row(qtbot, qtmodeltester, demo_desk, tmp_path):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    before = shown_ids(model)
    seen = watch(model)
    csv = tmp_path / "more.csv"
    csv.write_text("label,venue,symbol,side,quantity,entry_price,leverage,isolated_margin\n"
                   "eth-import-a,binance-usdm,ETHUSDT,long,1,3000,5,600\n"
                   "btc-import-b,binance-usdm,BTCUSDT,short,0.01,60000,5,120\n")
    result = demo_desk.desk.apply(ImportPositions(str(csv)))
    assert result.accepted, result.reason
    snap = demo_desk.tick()
    model.apply(snap)
    assert "reset" not in seen and "layout" not in seen
    new_ids = [int(snap.book.position_ids[snap.book.labels.index(label)]) for label in ("eth-import-a", "btc-import-b")]
    assert shown_ids(model) == live_ids_by_risk(snap)
    assert set(shown_ids(model)) == set(before) | set(new_ids)
    # one insertion per run of new rows, each at the place of its positions in the new order
    inserted = [s for s in seen if s[0] == "inserted"]
    rows = sorted(r for _, first, last in inserted for r in range(first, last + 1))
    assert rows == sorted(shown_ids(model).index(pid) for pid in new_ids)
    assert_texts_are_the_formatters(model)
    qtmodeltester.check(model)

    seen.clear()
    gone = new_ids[0]
    at = shown_ids(model).index(gone)
    result = demo_desk.desk.apply(ClosePosition(gone))
    assert result.accepted, result.reason
    snap = demo_desk.tick()
    model.apply(snap)
    assert seen == [("removed", at, at)]  # a closed position leaves the live view: one row out
    assert gone not in shown_ids(model)
    assert shown_ids(model) == live_ids_by_risk(snap)
    assert_texts_are_the_formatters(model)


def test_a_filter_change_removes_and_inserts_rows_without_a_reset(qtbot, qtmodeltester, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    snap = demo_desk.desk.snapshot
    everything = shown_ids(model)
    seen = watch(model)
    model.set_filter(text="btc")
    btc = [pid for pid in everything if "btc" in snap.book.labels[snap.book.row_of(pid)].lower()
           or "btc" in snap.book.symbols[snap.book.row_of(pid)].lower()]
    assert shown_ids(model) == btc  # the risk order, filtered
    assert "reset" not in seen and seen and all(s[0] == "removed" for s in seen)
    assert_texts_are_the_formatters(model)
    seen.clear()
    model.set_filter(level="danger")
    danger = [pid for pid in everything if int(snap.level[snap.book.row_of(pid)]) == Level.DANGER]
    assert shown_ids(model) == danger
    seen.clear()
    model.set_filter()
    assert shown_ids(model) == everything
    assert "reset" not in seen and all(s[0] == "inserted" for s in seen)
    qtmodeltester.check(model)


def test_cached_texts_follow_every_tick_and_equal_the_formatter(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    rng = np.random.default_rng(7)
    marks = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15}
    for step in range(12):
        # a few markets move a little (some rows keep their cached texts, some must not), one stays
        moved = {m: p * (1 + float(rng.normal(0, 0.004))) for m, p in marks.items() if rng.random() < 0.6}
        marks.update(moved)
        model.apply(demo_desk.tick(moved))
        if step % 3 == 0:
            # every row read (cached), then the check against a fresh formatting of each cell
            for r in range(model.rowCount()):
                model.row_look(r)
        assert_texts_are_the_formatters(model)
        look = model.row_look(0)
        assert tuple(look.texts) == tuple(model.index(0, c).data() for c in range(len(COLUMNS)))
        assert tuple(look.texts) == tuple(cell_text(c, model.snapshot(), look.row) for c in COLUMNS)


def test_views_keep_the_selected_position_across_a_liquidation_without_a_reset(qtbot, demo_desk):
    model = PositionsModel()
    cards, table = CardView(model), PositionsTable(model, selection=None)
    for w in (cards, table):
        qtbot.addWidget(w)
        w.resize(1060, 500)
        w.show()
    model.apply(demo_desk.desk.snapshot)
    pid = demo_desk.pid("btc-core-long")
    assert cards.select_position(pid)
    resets = watch(model)
    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # a liquidation elsewhere
    assert resets == []
    assert cards.selected_position_id() == pid
    assert cards.currentIndex().data(PositionIdRole) == pid
    # the table paints the cached texts (its cell delegate): the grab shows the rows, no error
    table.grab()
    assert table.itemDelegate() is table.text_delegate


def test_the_gui_benchmark_runs_and_reports_its_figures(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gui.py"), "--positions", "150", "--seconds",
                           "2", "--json", "--view", "table"], capture_output=True, text=True, timeout=180,
                          cwd=ROOT, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("max_stall_ms", "p99_stall_ms", "latency_ms", "peak_rss_mb", "model_resets", "view"):
        assert key in doc
    assert set(doc["latency_ms"]) >= {"median", "p99"}
    assert doc["view"] == "table" and doc["positions"] == 150
    assert doc["model_resets"] == 0
    assert doc["peak_rss_mb"] > 0 and doc["max_stall_ms"] is not None


def test_a_large_book_settles_the_heap_and_a_small_one_does_not(demo_desk, monkeypatch):
    import isodesk.ui.models as models

    frozen = []
    monkeypatch.setattr(models.gc, "freeze", lambda: frozen.append(1))
    models.PositionsModel().apply(demo_desk.desk.snapshot)  # 13 positions: well under SETTLE_FROM
    assert frozen == []
    monkeypatch.setattr(models, "SETTLE_FROM", len(demo_desk.desk.snapshot))
    models.PositionsModel().apply(demo_desk.desk.snapshot)
    assert frozen == [1]
