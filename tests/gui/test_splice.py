"""A spliced book (a liquidation step: the same positions in the same rows, some statuses changed) is
an in-place change of the model: every value it shows afterwards equals a model built fresh on the
new snapshot, and no row is reset, removed or inserted that a fresh model would not lose or gain."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from isodesk.desk.levels import Level
from isodesk.ui.columns import COLUMN_INDEX, COLUMNS
from isodesk.ui.models import (
    LevelRole,
    PositionIdRole,
    PositionsModel,
    RowRole,
    SortKeyRole,
    StaleRole,
    spliced_rows,
)

_ROLES = (Qt.ItemDataRole.DisplayRole, PositionIdRole, RowRole, LevelRole, StaleRole, SortKeyRole,
          Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole,
          Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.TextAlignmentRole)


def _plain(value):
    """A comparable form of a role's value (QColor/QFont compare by value already; NaN by identity)."""
    if isinstance(value, float) and value != value:
        return "nan"
    return value


def shown(model):
    """Every value the model shows: per view row, per column, per role; plus each row's table look."""
    out = []
    for r in range(model.rowCount()):
        cells = tuple(tuple(_plain(model.index(r, c).data(role)) for role in _ROLES) for c in range(len(COLUMNS)))
        look = model.row_look(r)
        out.append((cells, tuple(look.texts), look.colours, look.tint, look.level, look.stale, look.font))
    return out


def fresh(snapshot, light, configure):
    model = PositionsModel()
    model.set_theme(light)
    configure(model)
    model.apply(snapshot)
    return model


_SETUPS = {
    "risk order": lambda m: None,
    "sorted by label": lambda m: m.sort_by_key("label"),
    "sorted by margin ratio": lambda m: m.sort_by_key("margin_ratio"),
    "danger only": lambda m: m.set_filter(level="danger"),
    "liquidated only": lambda m: m.set_filter(level="liquidated"),
    "text": lambda m: m.set_filter(text="usdt"),
}


@pytest.mark.parametrize("setup", list(_SETUPS))
def test_a_liquidation_splice_shows_what_a_fresh_model_shows(qtbot, demo_desk, light, setup):
    configure = _SETUPS[setup]
    model = PositionsModel()
    model.set_theme(light)
    configure(model)
    before = demo_desk.desk.snapshot
    model.apply(before)
    for r in range(model.rowCount()):  # every row's texts and look cached from the old snapshot
        model.row_look(r)
    resets = []
    model.modelAboutToBeReset.connect(lambda: resets.append(1))
    after = demo_desk.tick({"XRPUSDT": 0.71, "ETHUSDT": 2950.0})  # xrp liquidated, eth moves
    assert after.book is not before.book
    moved = spliced_rows(before.book, after.book)
    assert moved is not None  # the splice path, not the full adopt
    xrp = demo_desk.row(after, "xrp-short")
    assert np.flatnonzero(moved).tolist() == [xrp]
    assert after.level[xrp] == Level.LIQUIDATED
    model.apply(after)
    assert resets == []
    assert shown(model) == shown(fresh(after, light, configure))
    # and the next tick on the same book still agrees
    later = demo_desk.tick({"ETHUSDT": 2990.0, "SOLUSDT": 140.0})
    model.apply(later)
    assert shown(model) == shown(fresh(later, light, configure))


def test_a_splice_repaints_the_rows_that_changed(qtbot, demo_desk, light):
    model = PositionsModel()
    model.set_theme(light)
    model.apply(demo_desk.desk.snapshot)
    xrp_id = demo_desk.pid("xrp-short")
    spans = []
    model.dataChanged.connect(lambda a, b, roles: spans.append((a.row(), b.row())))
    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))
    row = model.view_row_of(xrp_id)
    assert any(a <= row <= b for a, b in spans)
    assert model.index(row, COLUMN_INDEX["level"]).data(LevelRole) == Level.LIQUIDATED


def test_books_that_differ_beyond_statuses_are_not_a_splice(demo_desk):
    from dataclasses import replace

    book = demo_desk.desk.snapshot.book
    assert spliced_rows(book, book).tolist() == [False] * len(book)
    labels = list(book.labels)
    labels[0] = labels[0] + "-renamed"
    assert spliced_rows(book, replace(book, labels=tuple(labels))) is None
    ids = book.position_ids.copy()
    ids[[0, 1]] = ids[[1, 0]]
    assert spliced_rows(book, replace(book, position_ids=ids)) is None
    assert spliced_rows(book, replace(book, position_ids=ids[:-1], labels=book.labels[:-1])) is None
    statuses = list(book.statuses)
    statuses[2] = "liquidated"
    assert spliced_rows(book, replace(book, statuses=tuple(statuses))).tolist() == \
        [i == 2 for i in range(len(book))]
