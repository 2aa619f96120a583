"""The What-if page in the main window (switching, 1280×720, theme) and at 1,000 positions."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractSpinBox, QDockWidget, QSlider, QToolButton

from isodesk.desk.commands import Result
from isodesk.desk.scenario_jobs import MarkedBook, RunScenario
from isodesk.desk.session import DeskConfig
from isodesk.margin import Position
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.scenario import ScenarioBook, evaluate, uniform_grid
from isodesk.paths import resource_path
from isodesk.ui.mainwindow import MainWindow, ui_settings
from isodesk.ui.theme import dark_theme, light_theme
from isodesk.ui.whatif import WhatIfWorkspace
from tests.desk.fakes import ScriptedFeed

MARKETS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15,
           "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LINKUSDT": 14.0, "AVAXUSDT": 30.0, "LTCUSDT": 80.0}


class FakeDesk(QObject):
    """Stands in for the DeskController: records what the page sends; the test answers."""

    result = Signal(object)

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, command):
        self.sent.append(command)
        return command.request_id

    def answer_run(self, book):
        """Evaluate the newest RunScenario here (at its pinned marks) and hand the answer back."""
        run = next(c for c in reversed(self.sent) if isinstance(c, RunScenario))
        pinned = book.with_marks(dict(run.marks)) if run.marks else book
        outcome = evaluate(pinned, run.scenario)
        grid = uniform_grid(pinned, np.asarray(run.grid), betas=run.scenario.betas, edits=run.scenario)
        self.result.emit(Result(run.request_id, True, "evaluated with grid", payload=(outcome, grid)))


def big_book(n: int) -> ScenarioBook:
    """``n`` Binance positions over ten markets and four accounts (the benchmark's book)."""
    rng = np.random.default_rng(3)
    cat = TierCatalog(resource_path("tiers"))
    symbols = list(MARKETS)
    positions, accounts = [], []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        entry = MARKETS[symbol] * float(rng.uniform(0.9, 1.1))
        qty = float(10 ** rng.uniform(2.5, 4.5)) / entry
        lev = float(rng.uniform(2, 20))
        positions.append(Position(venue="binance-usdm", side="long" if i % 3 else "short", entry_price=entry,
                                  quantity=qty, isolated_margin=qty * entry / lev, leverage=lev,
                                  tiers=cat.table("binance-usdm", "linear", symbol), symbol=symbol, label=f"p{i:04d}"))
        accounts.append(f"acct{i % 4}")
    return ScenarioBook.build(positions, marks=MARKETS, accounts=accounts,
                              free={f"acct{k}": 50_000.0 for k in range(4)})


def test_a_thousand_positions_build_one_table_quickly(qtbot):
    desk = FakeDesk()
    page = WhatIfWorkspace(desk, theme=light_theme())
    qtbot.addWidget(page)
    page.resize(1280, 640)
    page.show()
    book = big_book(1000)
    started = time.perf_counter()
    page.take(MarkedBook(book, time.time()))
    page.run_now()
    built = time.perf_counter() - started
    with qtbot.waitSignal(page.outcome_shown, timeout=5000):
        desk.answer_run(book)
    shown = time.perf_counter() - started
    qtbot.wait(10)  # a paint of the visible rows
    assert page.positions.rowCount() == 1000 and page.positions_view.model().rowCount() == 1000
    assert page.markets.rowCount() == 10
    assert built < 0.5, f"building the editor for 1,000 positions took {built:.2f} s"
    assert shown < 1.5, f"building and rendering 1,000 positions took {shown:.2f} s"
    # no widget per position: the cells are painted; the only spin box is the market shock's
    assert page.per_position_widgets() == []
    assert len(page.findChildren(QAbstractSpinBox)) == 1
    assert len(page.findChildren(QSlider)) == 3  # market shock, path scrub, own shock of the picked market
    # an edit on row 999 is one cell of the one table
    pid = int(book.position_ids[999])
    assert page.edit_cell(pid, "Margin ±", "250")
    assert page.scenario().margin_edits == {pid: 250.0}
    started = time.perf_counter()
    page.positions_view.sortByColumn(page.positions.column("Needs"), Qt.SortOrder.DescendingOrder)
    assert time.perf_counter() - started < 0.5
    needs = [page.positions.value(r, "Needs") for r in range(1000)]
    assert needs == sorted(needs, reverse=True)


def _lightness(image: QImage, x: int, y: int) -> int:
    return image.pixelColor(x, y).lightness()


def _plot_image(page):
    plot = page.plot.plot
    image = plot.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    view = plot.getPlotItem().getViewBox()
    rect = view.mapRectToScene(view.boundingRect()).toRect()  # the data area, in the plot's pixels
    return image, rect


def test_the_dark_theme_reaches_the_plot(qtbot):
    desk = FakeDesk()
    page = WhatIfWorkspace(desk, theme=dark_theme())
    qtbot.addWidget(page)
    page.resize(1280, 640)
    page.show()
    book = big_book(40)
    page.take(MarkedBook(book, time.time()))
    page.run_now()
    with qtbot.waitSignal(page.outcome_shown, timeout=5000):
        desk.answer_run(book)
    qtbot.wait(20)
    image, rect = _plot_image(page)
    assert rect.width() > 100 and rect.height() > 100
    # the data area's corners are the theme's dark chart background, not white
    dark_bg = dark_theme().chart_bg
    for x, y in ((rect.left() + 3, rect.top() + 3), (rect.right() - 3, rect.top() + 3),
                 (rect.left() + 3, rect.bottom() - 3)):
        assert _lightness(image, x, y) < 40, (x, y, image.pixelColor(x, y).name())
    assert image.pixelColor(rect.left() + 3, rect.top() + 3).name() == dark_bg.name()
    # the axes are readable: the tick labels left of the data area are light text on the dark ground
    light_text = sum(1 for y in range(rect.top(), rect.bottom(), 2) for x in range(0, max(rect.left() - 2, 1))
                     if _lightness(image, x, y) > 150)
    assert light_text > 30
    # and back to light: the same pixels turn white
    page.set_theme(light_theme())
    qtbot.wait(20)
    image, rect = _plot_image(page)
    assert image.pixelColor(rect.left() + 3, rect.top() + 3).name() == light_theme().chart_bg.name()


# -- in the main window -------------------------------------------------------------------------------

@pytest.fixture
def make_window(qtbot, tmp_path):
    made = []

    def make(size=(1400, 900), theme="light"):
        config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20,
                            feed_factory=lambda store: ScriptedFeed())
        window = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme=theme)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        with qtbot.waitSignal(window.snapshot_applied, timeout=5000):
            window.start()
        made.append(window)
        return window

    yield make
    for window in made:
        window.close()
        assert window.controller.thread.isFinished()


def _docks(window):
    return {d.objectName(): d.isVisible() for d in window.findChildren(QDockWidget) if d.parent() is window}


def test_two_workspaces_switched_by_toolbar_menu_and_shortcuts(make_window, qtbot):
    window = make_window()
    assert window.workspace_name() == "live" and window.act_live.isChecked()
    assert not window.whatif.isVisible()
    docks = _docks(window)
    assert docks["dock-chart"] and docks["dock-alerts"]
    # Alt+2: the What-if page, docks out of its way; its first showing takes the book and marks
    with qtbot.waitSignal(window.whatif.outcome_shown, timeout=5000):
        qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert window.workspace_name() == "whatif" and window.act_whatif.isChecked()
    assert window.whatif.isVisible() and not window.live_page.isVisible()
    assert not any(_docks(window).values())
    assert len(window.whatif.book.labels) == 13
    assert window.whatif.marks_bar.label.text().startswith("Marks of ")
    # the live selection follows to the page's positions table
    selected = window.selected_position()
    assert selected is not None
    current = window.whatif.positions_view.currentIndex()
    assert current.isValid() and window.whatif.positions.position_id(current.row()) == selected
    # Alt+1: back to live, docks as they were
    with qtbot.waitSignal(window.workspace_changed, timeout=1000) as changed:
        qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)
    assert changed.args == ["live"]
    assert window.live_page.isVisible() and not window.whatif.isVisible()
    assert _docks(window) == docks
    # the old dock's shortcut and menu entry now switch to the page
    assert "Ctrl+Shift+W" in [k.toString() for k in window.act_whatif.shortcuts()]
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.workspace_name() == "whatif"
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.act_whatif in view_menu.actions() and window.act_live in view_menu.actions()
    # the toolbar's buttons
    live_button = window.toolbar.widgetForAction(window.act_live)
    assert isinstance(live_button, QToolButton)
    qtbot.mouseClick(live_button, Qt.MouseButton.LeftButton)
    assert window.workspace_name() == "live"
    assert not hasattr(window, "whatif_dock")
    # Cards / Table from the What-if page go back to the live view
    window.set_workspace("whatif")
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.workspace_name() == "live" and window.view_name() == "table"


def test_the_what_if_page_fits_1280_by_720(make_window, qtbot):
    window = make_window(size=(1280, 720))
    live_min = window.minimumSizeHint()
    with qtbot.waitSignal(window.whatif.outcome_shown, timeout=5000):
        window.set_workspace("whatif")
    qtbot.wait(50)
    hint = window.minimumSizeHint()
    assert hint.width() <= 1280 and hint.height() <= 720, hint
    assert window.size() == QSize(1280, 720)  # nothing forced the window to grow
    page = window.whatif
    assert page.height() >= 560  # the page has the window, no dock takes a share
    # what matters is in view: the plot, ten position rows, every account
    assert page.plot.plot.height() >= 250 and page.plot.plot.width() >= 380
    rows = page.positions_view.viewport().height() // page.positions_view.verticalHeader().defaultSectionSize()
    assert rows >= 8
    for view in (page.account_view, page.totals_view):  # every account and currency row, uncut
        model = view.model()
        last = view.visualRect(model.index(model.rowCount() - 1, 0))
        assert model.rowCount() >= 3 and last.bottom() <= view.viewport().height()
        bottom = view.mapTo(page, view.rect().bottomLeft()).y()
        assert bottom <= page.height() and view.visibleRegion().boundingRect().height() == view.height()
    assert page.marks_bar.take_button.isVisible() and page.marks_bar.take_button.width() > 60
    right = page.mapTo(window, page.rect().topRight()).x()
    for widget in (page.saved.delete_button, page.path_bar.back_button, page.plot.unit_combo):
        assert widget.mapTo(window, widget.rect().topRight()).x() <= right  # nothing cut at the right edge
    # back on the live view the page's size does not count
    window.set_workspace("live")
    qtbot.wait(20)
    assert window.minimumSizeHint().height() <= max(live_min.height(), 720)
    assert window.size() == QSize(1280, 720)


def test_the_window_theme_reaches_the_what_if_plot(make_window, qtbot):
    window = make_window(theme="light")
    with qtbot.waitSignal(window.whatif.outcome_shown, timeout=5000):
        window.set_workspace("whatif")
    window.set_theme("dark")
    qtbot.wait(20)
    image, rect = _plot_image(window.whatif)
    assert image.pixelColor(rect.left() + 3, rect.top() + 3).name() == dark_theme().chart_bg.name()
    assert window.whatif.theme is window.theme


@pytest.mark.slow
def test_the_screenshot_command_pictures_the_what_if_page(tmp_path):
    out = tmp_path / "whatif.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path),
           "XDG_CONFIG_HOME": str(tmp_path)}
    base = [sys.executable, "-m", "isodesk", "screenshot", str(out), "--db", str(tmp_path / "s.db"), "--demo"]
    proc = subprocess.run([*base, "--after", "0", "--size", "1280x720", "--theme", "dark", "--workspace", "whatif",
                           "--shock", "-20"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    image = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB32)
    assert (image.width(), image.height()) == (1280, 720)
    theme = dark_theme()
    # the right half holds the plot on the dark chart background; the left, liquidated rows tinted red
    right = [image.pixelColor(x, y).name() for x in range(900, 1270, 7) for y in range(200, 650, 7)]
    assert right.count(theme.chart_bg.name()) > len(right) // 2
    reds = sum(1 for x in range(0, 700, 3) for y in range(150, 450, 3)
               if image.pixelColor(x, y).name() == theme.danger.name())
    assert reds > 20
    # --shock belongs to the What-if page
    proc = subprocess.run([*base, "--shock", "-20"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0 and "--shock: only with --workspace whatif" in proc.stderr
