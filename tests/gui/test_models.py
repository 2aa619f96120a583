"""PositionsModel over real desk snapshots: order, sort, filters, change signals, pulse."""

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from isodesk.desk.levels import Level
from isodesk.ui.columns import COLUMN_INDEX, COLUMNS
from isodesk.ui.models import (
    LevelRole,
    PositionIdRole,
    PositionsModel,
    PulseRole,
    RowRole,
    SortKeyRole,
    StaleRole,
)


def ids_in_view(model):
    return [model.index(r, 0).data(PositionIdRole) for r in range(model.rowCount())]


def sort_keys(model, key):
    col = COLUMN_INDEX[key]
    return [model.index(r, col).data(SortKeyRole) for r in range(model.rowCount())]


def test_the_model_passes_the_model_tester_through_updates_reorders_and_resets(qtmodeltester, demo_desk, light):
    model = PositionsModel()
    model.set_theme(light)
    model.apply(demo_desk.desk.snapshot)
    qtmodeltester.check(model)
    demo_desk.tick({"XRPUSDT": 0.601})  # values only
    model.apply(demo_desk.desk.snapshot)
    model.apply(demo_desk.tick({"XRPUSDT": 0.66}))  # xrp moves up the risk order
    model.set_filter(text="eth")
    model.apply(demo_desk.tick({"ETHUSDT": 2950}))
    model.set_filter()
    model.sort(COLUMN_INDEX["unrealized_pnl"], Qt.SortOrder.DescendingOrder)
    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # liquidation: a new book, a reset
    qtmodeltester.check(model)
    assert model.rowCount() == 13


def test_default_order_is_nearest_to_liquidation_first(demo_desk):
    model = PositionsModel()
    snap = demo_desk.desk.snapshot
    model.apply(snap)
    assert ids_in_view(model) == [int(snap.book.position_ids[r]) for r in snap.order_by_risk]
    distances = [snap.cols["distance_frac"][model.index(r, 0).data(RowRole)] for r in range(model.rowCount())]
    assert distances == sorted(distances)
    assert model.index(0, 0).data() == "sol-degen-long"
    assert model.index(0, COLUMN_INDEX["level"]).data(LevelRole) == Level.DANGER
    assert model.position_id(0) == demo_desk.pid("sol-degen-long")
    assert model.view_row_of(demo_desk.pid("sol-degen-long")) == 0


def test_cells_are_formatted_by_magnitude_and_currency(demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    row = model.view_row_of(demo_desk.pid("btc-inverse-long"))
    assert model.index(row, COLUMN_INDEX["isolated_margin"]).data() == "0.10000000"  # BTC: 8 decimals
    assert model.index(row, COLUMN_INDEX["mark"]).data() == "60,000.00"
    row = model.view_row_of(demo_desk.pid("doge-long"))
    assert model.index(row, COLUMN_INDEX["mark"]).data() == "0.150000"
    assert model.index(row, COLUMN_INDEX["isolated_margin"]).data() == "1,600.00"
    assert model.index(row, COLUMN_INDEX["unrealized_pnl"]).data() == "−1,000.00"
    assert model.index(row, COLUMN_INDEX["level"]).data() == "WARNING"


@pytest.mark.parametrize("key", ["mark", "unrealized_pnl", "margin_ratio"])
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_sort_by_a_numeric_column_keeps_nan_last(demo_desk, key, order):
    model = PositionsModel()
    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # xrp liquidated: its margin ratio is NaN
    model.sort(COLUMN_INDEX[key], order)
    values = sort_keys(model, key)
    finite = [v for v in values if not math.isnan(v)]
    assert values[: len(finite)] == finite
    assert finite == sorted(finite, reverse=order == Qt.SortOrder.DescendingOrder)
    model.apply(demo_desk.tick({"BTCUSDT": 59000}))  # sorted again for the next snapshot
    values = [v for v in sort_keys(model, key) if not math.isnan(v)]
    assert values == sorted(values, reverse=order == Qt.SortOrder.DescendingOrder)


def test_sort_by_label_and_back_to_risk_order(demo_desk):
    model = PositionsModel()
    snap = demo_desk.desk.snapshot
    model.apply(snap)
    model.sort_by_key("label")
    labels = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert labels == sorted(labels)
    model.sort_by_key(None)
    assert ids_in_view(model) == [int(snap.book.position_ids[r]) for r in snap.order_by_risk]


def test_filters_by_text_venue_and_level(demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    model.set_filter(text="BTC")
    assert model.rowCount() == 5
    assert all("btc" in model.index(r, 0).data() for r in range(model.rowCount()))
    model.set_filter(venue="hyperliquid")
    assert {model.index(r, COLUMN_INDEX["venues"]).data() for r in range(model.rowCount())} == {"hyperliquid"}
    assert model.rowCount() == 4
    model.set_filter(text="btc", venue="hyperliquid")
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["btc-hedge-short"]
    model.set_filter(level="danger")
    assert [model.index(r, 0).data() for r in range(model.rowCount())] == ["sol-degen-long", "doge-hl-long"]
    assert model.view_row_of(demo_desk.pid("btc-core-long")) is None
    model.set_filter()
    assert model.rowCount() == 13
    with pytest.raises(ValueError, match="level filter"):
        model.set_filter(level="calm")


def test_stale_is_a_filter_and_a_mark_but_keeps_the_level(demo_desk):
    model = PositionsModel()
    demo_desk.tick({"BTCUSDT": 60000})
    snap = demo_desk.tick({"BTCUSDT": 60010}, advance=61)  # every other market is now stale
    model.apply(snap)
    model.set_filter(level="stale")
    stale = {model.index(r, 0).data() for r in range(model.rowCount())}
    assert stale and not any("btc" in s for s in stale)
    assert all(model.index(r, 0).data(StaleRole) for r in range(model.rowCount()))
    # each keeps its own level (a stale DANGER position stays DANGER, with a STALE mark)
    sol = model.view_row_of(demo_desk.pid("sol-degen-long"))
    assert model.index(sol, 0).data(LevelRole) == snap.level[demo_desk.row(snap, "sol-degen-long")] == Level.DANGER
    assert model.index(sol, COLUMN_INDEX["level"]).data() == "DANGER · STALE"
    model.set_filter(level="danger")  # the level filter still finds it
    assert demo_desk.pid("sol-degen-long") in ids_in_view(model)


def test_a_value_change_emits_one_data_changed_for_the_changed_span(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    seen = []
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), b.row(), list(roles))))
    model.layoutChanged.connect(lambda *a: seen.append("layout"))
    model.modelReset.connect(lambda: seen.append("reset"))
    with qtbot.waitSignal(model.applied, timeout=1000) as blocker:
        model.apply(demo_desk.tick({"XRPUSDT": 0.601}))
    assert blocker.args == [demo_desk.desk.snapshot.version]
    row = model.view_row_of(demo_desk.pid("xrp-short"))
    assert len(seen) == 1
    first, last, roles = seen[0]
    assert (first, last) == (row, row)
    assert Qt.ItemDataRole.DisplayRole in roles
    seen.clear()
    model.apply(demo_desk.tick({"XRPUSDT": 0.601000001}))  # below the displayed precision
    assert seen == []


def test_a_reorder_is_new_data_in_the_ranks_that_moved_not_a_relayout(qtbot, demo_desk):
    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    pid = demo_desk.pid("xrp-short")
    before = model.view_row_of(pid)
    assert before > 0
    ids_before = ids_in_view(model)
    seen = []
    model.order_about_to_change.connect(lambda: seen.append("about"))
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), a.column(), b.row(), b.column(), list(roles))))
    model.order_changed.connect(lambda: seen.append("changed"))
    model.layoutChanged.connect(lambda *a: seen.append("layout"))
    model.modelReset.connect(lambda: seen.append("reset"))
    snap = demo_desk.tick({"XRPUSDT": 0.687})  # xrp is now nearest to liquidation
    model.apply(snap)
    # one dataChanged over the ranks whose position changed (xrp went up from `before`: ranks 0..before
    # now show another position), every column, all roles, between the two order signals; no relayout
    ids_after = ids_in_view(model)
    moved = [r for r in range(len(ids_after)) if ids_after[r] != ids_before[r]]
    assert moved == list(range(before + 1))
    assert seen == ["about", (0, 0, before, len(COLUMNS) - 1, []), "changed"]
    # what a user sees: every row shows the position of its rank, and each row's data follows it
    assert ids_in_view(model) == [int(snap.book.position_ids[r]) for r in snap.order_by_risk]
    assert model.view_row_of(pid) == 0
    assert model.index(0, 0).data() == "xrp-short"
    assert model.index(0, 0).data(RowRole) == demo_desk.row(snap, "xrp-short")
    assert model.position_id(before) != pid


def test_upward_crossing_pulses_once_and_signals(qtbot, demo_desk):
    model = PositionsModel(pulse_ms=150)
    model.apply(demo_desk.desk.snapshot)
    pid = demo_desk.pid("xrp-short")
    with qtbot.waitSignal(model.level_crossed, timeout=1000) as blocker:
        model.apply(demo_desk.tick({"XRPUSDT": 0.64}))
    assert blocker.args == [pid, Level.SAFE, Level.WARNING]
    assert model.pulsing() == {pid}
    index = model.index_of(pid)
    assert index.data(LevelRole) == Level.WARNING
    qtbot.waitUntil(lambda: 0.0 < index.data(PulseRole) < 1.0 or not model.pulsing(), timeout=1000)

    def finished():
        assert not model.pulsing()
        assert model.index_of(pid).data(PulseRole) == 0.0

    qtbot.waitUntil(finished, timeout=2000)
    with qtbot.assertNotEmitted(model.level_crossed):
        model.apply(demo_desk.tick({"XRPUSDT": 0.6401}))
    assert not model.pulsing()


def test_liquidation_pulses_across_the_model_reset(qtbot, demo_desk):
    model = PositionsModel(pulse_ms=150)
    model.apply(demo_desk.desk.snapshot)
    pid = demo_desk.pid("xrp-short")
    with qtbot.waitSignal(model.level_crossed, timeout=1000) as blocker:
        model.apply(demo_desk.tick({"XRPUSDT": 0.71}))
    assert blocker.args == [pid, Level.SAFE, Level.LIQUIDATED]
    assert model.index_of(pid).data(LevelRole) == Level.LIQUIDATED
    qtbot.waitUntil(lambda: not model.pulsing(), timeout=2000)


def test_sort_column_must_be_known():
    model = PositionsModel()
    with pytest.raises(KeyError, match="no column"):
        model.sort_by_key("colour")
    assert len(COLUMNS) == model.columnCount()
    assert np.all([model.headerData(i, Qt.Orientation.Horizontal) for i in range(len(COLUMNS))])


def test_display_keys_of_every_column_at_once_equal_each_columns_own_key(demo_desk):
    """The model's batched keys (one 2-D array) are bit for bit each column's :func:`display_key`,
    and the rows they call changed are those where some column's key changed (NaN equals NaN)."""
    from isodesk.ui.columns import DisplayKeys, changed_rows, column_values, display_key, money_decimals_of
    from isodesk.ui.models import _NUMERIC

    before = demo_desk.tick({"BTCUSDT": 61_234.5, "XRPUSDT": 0.65})
    after = demo_desk.tick({"XRPUSDT": 0.6612})  # only XRP moves, visibly
    dec = money_decimals_of(after)
    assert set(dec.tolist()) >= {2}
    keyer = DisplayKeys(_NUMERIC, dec)
    keys_before, keys_after = keyer.keys(before), keyer.keys(after)
    assert keys_after.shape == (len(_NUMERIC), len(after))
    expected_changed = np.zeros(len(after), dtype=bool)
    for i, column in enumerate(_NUMERIC):
        own_before = display_key(column, column_values(column, before), dec)
        own_after = display_key(column, column_values(column, after), dec)
        np.testing.assert_array_equal(keys_before[i], own_before)  # NaN where NaN, equal elsewhere
        np.testing.assert_array_equal(keys_after[i], own_after)
        expected_changed |= ~((own_before == own_after) | (np.isnan(own_before) & np.isnan(own_after)))
    got = changed_rows(keys_before, keys_after)
    np.testing.assert_array_equal(got, expected_changed)
    xrp = np.array([s == "XRPUSDT" for s in after.book.symbols])
    assert got[xrp].all()  # the XRP positions changed (their mark is shown with 4 decimals)
    assert not changed_rows(keys_after, keyer.keys(after)).any()


def test_cells_are_enabled_selectable_and_never_parents(demo_desk):
    from isodesk.ui.models import _FLAGS

    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    assert Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren == _FLAGS
    for r in range(model.rowCount()):
        for c in (0, len(COLUMNS) - 1):
            assert model.flags(model.index(r, c)) == _FLAGS
    assert model.flags(model.index(model.rowCount(), 0)) == Qt.ItemFlag.NoItemFlags  # out of range: invalid
    assert "flags" not in PositionsModel.__dict__  # Qt's own, with no Python call per painted cell


def test_a_held_order_survives_a_new_book_with_new_positions_after_it(demo_desk):
    """While re-sorts are held, a new book (a liquidation) keeps the shown positions in their order and
    a closed one leaves at once; the re-sort comes when the hold ends."""
    from decimal import Decimal

    from isodesk.desk.commands import ClosePosition

    model = PositionsModel()
    model.apply(demo_desk.desk.snapshot)
    model.sort_by_key("label")  # an order the risk order would not keep
    shown = [model.position_id(r) for r in range(model.rowCount())]
    model.hold_order("test", True)
    xrp, btc = demo_desk.pid("xrp-short"), demo_desk.pid("btc-core-long")
    snap = demo_desk.tick({"XRPUSDT": 0.71})  # xrp liquidated: a new book
    assert snap.book is not model.snapshot().book
    model.apply(snap)
    assert [model.position_id(r) for r in range(model.rowCount())] == shown  # nothing moved
    assert model.index(model.view_row_of(xrp), 0).data(LevelRole) == Level.LIQUIDATED
    row = demo_desk.row(demo_desk.desk.snapshot, "btc-core-long")
    price = Decimal(repr(float(demo_desk.desk.snapshot.cols["mark"][row])))
    assert demo_desk.desk.apply(ClosePosition(btc, price=price)).accepted
    model.apply(demo_desk.tick())
    assert [model.position_id(r) for r in range(model.rowCount())] == [p for p in shown if p != btc]
    model.hold_order("test", False)
    by_label = sorted(shown, key=lambda p: demo_desk.desk.snapshot.book.labels[
        demo_desk.desk.snapshot.book.row_of(p)].lower())
    assert [model.position_id(r) for r in range(model.rowCount())] == [p for p in by_label if p != btc]
