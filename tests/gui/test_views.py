"""Card grid and table over one model: selection by position id, header sorting, header state."""

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt
from PySide6.QtWidgets import QApplication, QListView

from isodesk.ui.columns import COLUMN_INDEX
from isodesk.ui.delegates import CARD_SIZE
from isodesk.ui.models import PositionsModel, SortKeyRole
from isodesk.ui.views import TABLE_ROW_HEIGHT, CardView, PositionsTable


def make(qtbot, demo_desk):
    model = PositionsModel()
    cards, table = CardView(model), PositionsTable(model)
    for w in (cards, table):
        qtbot.addWidget(w)
        w.resize(1060, 700)
    model.apply(demo_desk.desk.snapshot)
    return model, cards, table


def test_card_view_is_configured_as_a_uniform_grid(qtbot, demo_desk):
    model, cards, _ = make(qtbot, demo_desk)
    assert cards.viewMode() == QListView.ViewMode.IconMode
    assert cards.uniformItemSizes() and cards.isWrapping()
    assert cards.movement() == QListView.Movement.Static
    hint = cards.itemDelegate().sizeHint(None, model.index(0, 0))
    assert hint == cards.card_size() and hint.height() == CARD_SIZE.height()


def test_selection_is_by_position_id_and_survives_reorders_and_resets(qtbot, demo_desk):
    model, cards, table = make(qtbot, demo_desk)
    cards.show()
    pid = demo_desk.pid("xrp-short")
    with qtbot.waitSignal(cards.position_selected, timeout=1000) as blocker:
        assert cards.select_position(pid)
    assert blocker.args == [pid]
    assert cards.selected_position_id() == pid
    model.apply(demo_desk.tick({"XRPUSDT": 0.687}))  # reorder: xrp to the top
    assert cards.selected_position_id() == pid
    assert cards.currentIndex().row() == 0
    model.apply(demo_desk.tick({"XRPUSDT": 0.71}))  # liquidation: model reset
    assert cards.selected_position_id() == pid
    with qtbot.waitSignal(table.position_selected, timeout=1000) as blocker:
        table.select_position(demo_desk.pid("btc-core-long"))
    assert blocker.args == [demo_desk.pid("btc-core-long")]
    assert not cards.select_position(10_000)


def test_clicking_a_header_sorts_in_the_model(qtbot, demo_desk):
    model, _, table = make(qtbot, demo_desk)
    table.show()
    assert table.verticalHeader().defaultSectionSize() == TABLE_ROW_HEIGHT
    assert model.sort_column() == -1  # enabling sorting kept the risk order
    header = table.horizontalHeader()
    col = COLUMN_INDEX["isolated_margin"]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().center().__class__(header.sectionViewportPosition(col) + 10, 5))
    assert model.sort_column() == col
    values = [model.index(r, col).data(SortKeyRole) for r in range(model.rowCount())]
    assert values == sorted(values, reverse=header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder)


def test_header_state_round_trips(qtbot, demo_desk):
    model, _, table = make(qtbot, demo_desk)
    table.setColumnWidth(0, 211)
    table.sortByColumn(COLUMN_INDEX["mark"], Qt.SortOrder.DescendingOrder)
    state = table.save_header()
    assert isinstance(state, QByteArray) and not state.isEmpty()
    other = PositionsTable(model)
    qtbot.addWidget(other)
    assert other.restore_header(state)
    assert other.columnWidth(0) == 211
    assert other.horizontalHeader().sortIndicatorSection() == COLUMN_INDEX["mark"]
    assert not other.restore_header(QByteArray(b"junk"))


def test_a_reorder_keeps_each_views_selection_on_its_position_without_scrolling(qtbot, demo_desk):
    model, cards, table = make(qtbot, demo_desk)
    for w in (cards, table):
        w.show()
    xrp, btc = demo_desk.pid("xrp-short"), demo_desk.pid("btc-core-long")
    assert cards.select_position(xrp) and table.select_position(btc)
    scrolled = cards.verticalScrollBar().value(), table.verticalScrollBar().value()
    with qtbot.assertNotEmitted(cards.position_selected), qtbot.assertNotEmitted(table.position_selected):
        model.apply(demo_desk.tick({"XRPUSDT": 0.687}))  # reorder: xrp to the top, btc moves down one
    assert model.view_row_of(xrp) == 0
    assert cards.selected_position_id() == xrp
    assert {i.row() for i in cards.selectionModel().selectedIndexes()} == {0}
    assert table.selected_position_id() == btc
    assert {i.row() for i in table.selectionModel().selectedIndexes()} == {model.view_row_of(btc)}
    assert table.selectionModel().isRowSelected(model.view_row_of(btc))
    assert (cards.verticalScrollBar().value(), table.verticalScrollBar().value()) == scrolled
    model.sort_by_key("label")  # a user sort is a reorder too
    assert cards.selected_position_id() == xrp and table.selected_position_id() == btc
    assert cards.currentIndex().row() == model.view_row_of(xrp)



class _Paints(QObject):
    """Records the regions a widget is asked to paint."""

    def __init__(self, widget):
        super().__init__()
        self.rects = []
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.region().boundingRect())
        return False


def test_a_pulse_frame_repaints_only_the_pulsing_cards_in_view(qtbot, demo_desk):
    """A pulse frame is one dataChanged from the first to the last pulsing row; the grid repaints the
    cells of the pulsing rows in view and nothing else (Qt would repaint the whole viewport, ~30 times a
    second), and the table, which draws no pulse, repaints nothing."""
    model, cards, table = make(qtbot, demo_desk)
    cards.resize(1060, cards.card_size().height() + 40)  # one line of cards in view, the rest below
    for w in (cards, table):
        w.show()
        qtbot.waitExposed(w)
    per_line = cards.columns()
    assert model.rowCount() > 2 * per_line
    seen, below = model.position_id(1), model.position_id(model.rowCount() - 1)
    card_paints, table_paints = _Paints(cards.viewport()), _Paints(table.viewport())
    qtbot.wait(200)  # the first layout and paints
    card_paints.rects.clear()
    table_paints.rects.clear()

    def frame(*pids):
        for pid in pids:
            model._pulses[pid] = model._clock.elapsed()
        model._advance_pulses()
        QApplication.processEvents()

    frame(below)
    assert card_paints.rects == [] and table_paints.rects == []
    frame(seen, below)
    assert card_paints.rects == [cards.visualRect(model.index(1, 0))]
    assert table_paints.rects == []
    # the frame that ends a pulse repaints its card once more (the glow goes)
    card_paints.rects.clear()
    model._pulses = {pid: start - 10 * model._pulse_ms for pid, start in model._pulses.items()}
    model._advance_pulses()
    QApplication.processEvents()
    assert model.pulsing() == frozenset()
    assert card_paints.rects == [cards.visualRect(model.index(1, 0))]
