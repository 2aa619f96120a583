"""The main window: cards or table of the book, chart and alerts docks, toolbar, status bar.

It renders what the desk publishes and sends commands; it never touches the database or the
engine. UI state (geometry, docks, view, sort, theme) persists in an ini QSettings file.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QStackedWidget,
    QSystemTrayIcon,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from isodesk import __version__
from isodesk.desk import Level, SetPaused, SetSpeed, Snapshot
from isodesk.desk.commands import AcknowledgeAlert, Reply, UndoAdjustment
from isodesk.desk.events import EventKind, PositionEvent
from isodesk.desk.rules_refresh import RefreshVenueRules
from isodesk.desk.session import DeskConfig
from isodesk.feeds.base import FeedHealth
from isodesk.ui.alerts import AlertsWidget
from isodesk.ui.books import BookMenu
from isodesk.ui.chart import ChartWidget
from isodesk.ui.columns import COLUMNS, column_for, fmt_money, total_equity_usd
from isodesk.ui.dialogs import (
    ClosePositionDialog,
    CollateralDialog,
    FundsDialog,
    IncreasePositionDialog,
    JournalView,
    OpenPositionDialog,
    VenueImportDialog,
)
from isodesk.ui.identity import DISPLAY_NAME, app_icon
from isodesk.ui.keys_dialog import KeysDialog
from isodesk.ui.models import PositionsModel
from isodesk.ui.notify import Notice, Notifier
from isodesk.ui.rules_age import refresh_summary, rules_ages, rules_text
from isodesk.ui.settings_dialog import SettingsDialog
from isodesk.ui.theme import Theme, apply_theme
from isodesk.ui.views import CardView, PositionSelection, PositionsTable
from isodesk.ui.whatif import WhatIfWorkspace
from isodesk.ui.worker import DeskController

log = logging.getLogger("isodesk.ui")

STATE_VERSION = 2  # 2: the What-if dock became a workspace page (issue 12)
WORKSPACES = ("live", "whatif")
LEVEL_FILTERS = (("All levels", None), ("Safe", "safe"), ("Warning", "warning"), ("Danger", "danger"),
                 ("Liquidated", "liquidated"), ("Stale", "stale"), ("Closed", "closed"))


def ui_settings(path: Path) -> QSettings:
    """The ini file holding the UI state (geometry, docks, view, sort, theme)."""
    return QSettings(str(path), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    """The isodesk main window.

    Signals:
        snapshot_applied(int): a snapshot (its version) reached the views (tests wait on it).
        notified(str): a desktop notification was raised (upward level change or liquidation).
        forms_opened(object): a form (dialog or journal) was opened.
        workspace_changed(str): the page shown, ``live`` or ``whatif``.
    """

    snapshot_applied = Signal(int)
    notified = Signal(str)
    forms_opened = Signal(object)
    workspace_changed = Signal(str)

    def __init__(self, config: DeskConfig, *, settings: QSettings, theme: str | None = None):
        super().__init__()
        self.setObjectName("isodesk-main")
        self.setWindowTitle(f"{config.db_path.name} — {DISPLAY_NAME}")  # ends with the display name: Qt adds none
        self.setWindowIcon(app_icon())
        self.settings = settings
        self.config = config
        self.controller = DeskController(config, self)
        self._pending_acks: dict[str, int] = {}
        self._notices: list[PositionEvent] = []  # crossings still to notify (_send_notices)
        self._notice_timer = QTimer(self)
        self._notice_timer.setObjectName("notify-slices")
        self._notice_timer.setSingleShot(True)
        self._notice_timer.setInterval(0)
        self._notice_timer.timeout.connect(self._send_notices)
        self.model = PositionsModel(self, reorder_ms=1000)
        self._theme_name = theme or str(settings.value("ui/theme", "system"))
        self.theme: Theme = apply_theme(QApplication.instance(), self._theme_name)
        self._build_views()
        self._build_docks()
        self._build_toolbar()
        self._build_menus()
        self._build_status()
        self._tray = self._make_tray()
        self.notifier = Notifier(self._tray, self)  # freedesktop notifications on Linux, the tray elsewhere
        self._wire()
        self._default_state = self.saveState(STATE_VERSION)
        self._restore()
        self._last_snapshot: Snapshot | None = None
        self._started_at = time.monotonic()
        self._health_timer = QTimer(self)
        self._health_timer.setObjectName("status-refresh")
        self._health_timer.setInterval(1000)
        self._health_timer.timeout.connect(self._refresh_status)
        self._health_timer.start()

    # -- building ---------------------------------------------------------------------------------

    def _build_views(self) -> None:
        # one selection for cards, table, chart, actions and dialogs (views.PositionSelection)
        self.selection = PositionSelection(self.model, self)
        self.cards = CardView(self.model, self, theme=self.theme, selection=self.selection)
        self.table = PositionsTable(self.model, self, theme=self.theme, selection=self.selection)
        self.cards.setObjectName("cards")
        self.table.setObjectName("table")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.cards)
        self.stack.addWidget(self.table)
        self.filter_text = QLineEdit(self)
        self.filter_text.setObjectName("filter-text")
        self.filter_text.setPlaceholderText("Filter by label, symbol or venue  (Ctrl+F)")
        self.filter_text.setClearButtonEnabled(True)
        self.filter_venue = QComboBox(self)
        self.filter_venue.setObjectName("filter-venue")
        self.filter_venue.addItem("All venues", None)
        self.filter_level = QComboBox(self)
        self.filter_level.setObjectName("filter-level")
        for text, value in LEVEL_FILTERS:
            self.filter_level.addItem(text, value)
        # the one sort state of cards and table (the model's): every sortable column, as in the header
        self.sort_box = QComboBox(self)
        self.sort_box.setObjectName("sort")
        self.sort_box.addItem("Nearest to liquidation", None)
        self.sort_box.setItemData(0, "Level first (danger, warning, safe), then distance to liquidation",
                                  Qt.ItemDataRole.ToolTipRole)
        for column in COLUMNS:
            if column.sortable:
                self.sort_box.addItem(column.header, column.key)
                if column.tooltip:
                    self.sort_box.setItemData(self.sort_box.count() - 1, column.tooltip, Qt.ItemDataRole.ToolTipRole)
        self.sort_order = QToolButton(self)
        self.sort_order.setObjectName("sort-order")
        self.sort_order.setCheckable(True)
        self.sort_order.setAutoRaise(True)
        self._show_sort()
        self.count_label = QLabel(self)
        self.totals_label = QLabel(self)
        self.totals_label.setObjectName("totals")
        self.totals_label.setTextFormat(Qt.TextFormat.RichText)
        self.totals_label.setWordWrap(True)
        self.totals_label.setContentsMargins(10, 6, 10, 0)
        bar = QHBoxLayout()
        bar.setContentsMargins(8, 6, 8, 2)
        bar.addWidget(self.filter_text, 3)
        bar.addWidget(self.filter_venue, 1)
        bar.addWidget(self.filter_level, 1)
        bar.addWidget(QLabel("Sort:", self))
        bar.addWidget(self.sort_box, 1)
        bar.addWidget(self.sort_order)
        bar.addWidget(self.count_label)
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.totals_label)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        # two workspaces (issue 12): the live view and the What-if page, one shown at a time
        self.live_page = central
        self.live_page.setObjectName("live-workspace")
        self.whatif = WhatIfWorkspace(self.controller, self, theme=self.theme)
        self.pages = QStackedWidget(self)
        self.pages.setObjectName("workspaces")
        self.pages.addWidget(self.live_page)
        self.pages.addWidget(self.whatif)
        self._live_state: QByteArray | None = None
        self._size_pages()
        self.setCentralWidget(self.pages)

    def _build_docks(self) -> None:
        self.chart = ChartWidget(self, theme=self.theme)
        self.chart_dock = QDockWidget("Chart", self)
        self.chart_dock.setObjectName("dock-chart")
        self.chart_dock.setWidget(self.chart)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.chart_dock)
        self.alerts = AlertsWidget(self, theme=self.theme)
        self.alerts_dock = QDockWidget("Alerts", self)
        self.alerts_dock.setObjectName("dock-alerts")
        self.alerts_dock.setWidget(self.alerts)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.alerts_dock)
        self.chart_dock.raise_()
        self.resizeDocks([self.chart_dock], [260], Qt.Orientation.Vertical)
        self.resizeDocks([self.alerts_dock], [380], Qt.Orientation.Horizontal)

    def _action(self, text: str, shortcut: str | QKeySequence.StandardKey | None, slot, *, checkable: bool = False,
                name: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name or text.lower().replace(" ", "-"))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_toolbar(self) -> None:
        self.act_live = self._action("Live", "Alt+1", lambda: self.set_workspace("live"), checkable=True,
                                     name="workspace-live")
        self.act_whatif = self._action("What-if", "Alt+2", lambda: self.set_workspace("whatif"), checkable=True,
                                       name="workspace-whatif")
        self.act_whatif.setShortcuts([QKeySequence("Alt+2"), QKeySequence("Ctrl+Shift+W")])
        self.act_live.setToolTip("The live book (Alt+1)")
        self.act_whatif.setToolTip("Shock a copy of the book: the What-if workspace (Alt+2, Ctrl+Shift+W)")
        pages = QActionGroup(self)
        pages.addAction(self.act_live)
        pages.addAction(self.act_whatif)
        self.act_live.setChecked(True)
        self.act_pause = self._action("Pause feed", "Ctrl+P", self._toggle_pause, checkable=True, name="pause")
        # the live view's cards or table (from the What-if page too: it goes back to the live view)
        self.act_cards = self._action("Cards", "Ctrl+1", lambda: self._show_live_view("cards"), checkable=True)
        self.act_table = self._action("Table", "Ctrl+2", lambda: self._show_live_view("table"), checkable=True)
        group = QActionGroup(self)
        group.addAction(self.act_cards)
        group.addAction(self.act_table)
        self.act_cards.setChecked(True)
        self.speed = QDoubleSpinBox(self)
        self.speed.setObjectName("speed")
        self.speed.setRange(0.1, 100.0)
        self.speed.setDecimals(1)
        self.speed.setSuffix(" ×")
        self.speed.setValue(self.controller.worker.config.speed)
        self.speed.setToolTip("Simulation or replay speed")
        self.speed.setKeyboardTracking(False)
        self.feed_label = QLabel(self)
        self.feed_label.setObjectName("feed-health")
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar-main")
        tb.setMovable(False)
        tb.addAction(self.act_live)
        tb.addAction(self.act_whatif)
        tb.addSeparator()
        tb.addAction(self.act_cards)
        tb.addAction(self.act_table)
        tb.addSeparator()
        tb.addAction(self.act_pause)
        tb.addWidget(QLabel(" Speed ", self))
        tb.addWidget(self.speed)
        tb.addSeparator()
        tb.addWidget(self.feed_label)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _build_menus(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        self.book_menu = BookMenu(self, file_menu, self.settings)  # New book…, Open book…, Recent books
        file_menu.addSeparator()
        file_menu.addAction(self._action("Risk settings…", "Ctrl+,", self.settings_dialog, name="settings"))
        file_menu.addAction(self._action("Venue API keys…", "Ctrl+Alt+K", self.keys_dialog, name="venue-keys"))
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", "Ctrl+Q", self.close))
        view = menu.addMenu("&View")
        view.addAction(self.act_cards)
        view.addAction(self.act_table)
        view.addSeparator()
        toggle_chart = self.chart_dock.toggleViewAction()
        toggle_chart.setShortcut(QKeySequence("Ctrl+Shift+C"))
        toggle_alerts = self.alerts_dock.toggleViewAction()
        toggle_alerts.setShortcut(QKeySequence("Ctrl+Shift+A"))
        view.addAction(toggle_chart)
        view.addAction(toggle_alerts)
        view.addSeparator()
        view.addAction(self.act_live)
        view.addAction(self.act_whatif)
        view.addSeparator()
        view.addAction(self._action("Find", "Ctrl+F", self._focus_filter))
        view.addSeparator()
        themes = view.addMenu("Theme")
        group = QActionGroup(self)
        for name, key, value in (("System", "Ctrl+Alt+0", "system"), ("Light", "Ctrl+Alt+L", "light"),
                                 ("Dark", "Ctrl+Alt+D", "dark")):
            act = self._action(name, key, lambda _checked=False, v=value: self.set_theme(v), checkable=True,
                               name=f"theme-{value}")
            act.setChecked(value == self._theme_name)
            group.addAction(act)
            themes.addAction(act)
        view.addSeparator()
        view.addAction(self._action("Restore default layout", "Ctrl+Shift+R", self.restore_default_layout))
        position = menu.addMenu("&Position")
        self.act_open = self._action("Open position…", "Ctrl+N", self.open_position_dialog, name="open-position")
        self.act_add = self._action("Add margin…", "Ctrl+M", lambda: self.collateral_dialog("add"), name="add-margin")
        self.act_remove = self._action("Remove margin…", "Ctrl+Shift+M", lambda: self.collateral_dialog("remove"),
                                       name="remove-margin")
        self.act_close_position = self._action("Close position…", "Ctrl+Shift+X", self.close_position_dialog,
                                               name="close-position")
        self.act_increase = self._action("Add to position…", "Ctrl+Shift+P", self.increase_position_dialog,
                                         name="increase-position")
        self.act_undo = self._action("Undo last margin change", "Ctrl+Z", self.undo_adjustment, name="undo-margin")
        self.act_journal = self._action("Position journal…", "Ctrl+J", self.position_journal, name="journal")
        for act in (self.act_open, None, self.act_add, self.act_remove, self.act_undo, None, self.act_increase,
                    self.act_close_position, None, self.act_journal):
            if act is None:
                position.addSeparator()
            else:
                position.addAction(act)
        account = menu.addMenu("A&ccount")
        account.addAction(self._action("Deposit…", "Ctrl+D", lambda: self.funds_dialog("deposit"), name="deposit"))
        account.addAction(self._action("Withdraw…", "Ctrl+Shift+D", lambda: self.funds_dialog("withdraw"),
                                       name="withdraw"))
        account.addAction(self._action("Account journal…", "Ctrl+Shift+J", self.account_journal,
                                       name="account-journal"))
        account.addAction(self._action("Allocate free collateral…", "Ctrl+Shift+L", self.allocate_dialog,
                                       name="allocate"))
        account.addSeparator()
        account.addAction(self._action("Refresh venue rules", "Ctrl+Shift+U", self.refresh_venue_rules,
                                       name="refresh-rules"))
        account.addAction(self._action("Import from venue…", "Ctrl+I", self.venue_import_dialog,
                                       name="import-venue"))
        self._position_actions = (self.act_add, self.act_remove, self.act_increase, self.act_close_position,
                                  self.act_undo, self.act_journal)
        feed = menu.addMenu("F&eed")
        feed.addAction(self.act_pause)
        feed.addAction(self._action("Faster", "Ctrl+]", lambda: self.speed.setValue(self.speed.value() * 2)))
        feed.addAction(self._action("Slower", "Ctrl+[", lambda: self.speed.setValue(self.speed.value() / 2)))
        alerts = menu.addMenu("&Alerts")
        alerts.addAction(self._action("Acknowledge selected alert", "Ctrl+K", self.alerts.acknowledge_selected))
        self.act_ack_all = self._action("Acknowledge all alerts", "Ctrl+Shift+K", self.alerts.acknowledge_all,
                                        name="acknowledge-all")
        alerts.addAction(self.act_ack_all)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("About isodesk", "F1", self._about))
        for top in menu.actions():  # the cards do not re-sort while a menu is open
            if top.menu() is not None:
                self._hold_while_open(top.menu())

    def _build_status(self) -> None:
        self.status_label = QLabel(self)
        self.status_label.setObjectName("status")
        self.statusBar().addPermanentWidget(self.status_label)
        self.rules_label = QLabel(self)
        self.rules_label.setObjectName("rules-age")
        self.statusBar().addPermanentWidget(self.rules_label)

    def _make_tray(self) -> QSystemTrayIcon | None:
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return None
        tray = QSystemTrayIcon(self.windowIcon(), self)
        tray.setToolTip("isodesk")
        tray.show()
        return tray

    def _wire(self) -> None:
        c = self.controller
        c.snapshot.connect(self.apply_snapshot)
        c.events.connect(self.on_events)
        c.result.connect(self.on_result)
        c.alerts.connect(self.on_alerts_loaded)
        c.failed.connect(self.on_failed)
        self.filter_text.textChanged.connect(self._apply_filter)
        self.filter_venue.currentIndexChanged.connect(self._apply_filter)
        self.filter_level.currentIndexChanged.connect(self._apply_filter)
        self.sort_box.currentIndexChanged.connect(self._apply_sort)
        self.sort_order.clicked.connect(self._apply_sort)
        self.model.sort_changed.connect(self._show_sort)
        self.model.hold_changed.connect(self._update_count)
        self.speed.valueChanged.connect(lambda v: self.controller.send(SetSpeed(float(v))))
        self.selection.position_changed.connect(self._select)
        self.alerts.position_selected.connect(self.select_position)
        for view in (self.cards, self.table):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, v=view: self._context_menu(v, pos))
            view.doubleClicked.connect(lambda _index: self.collateral_dialog("add"))
        self.alerts.acknowledge_requested.connect(self._acknowledge)
        self.alerts.attach(self.controller)  # the dock acknowledges a row or all in one AcknowledgeAlerts each
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.controller.shutdown)

    # -- running ------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the desk thread (after the window is shown)."""
        self.controller.start()

    @Slot(object)
    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Render a new snapshot: model, chart, totals."""
        first = self._last_snapshot is None or snapshot.book is not self._last_snapshot.book
        self._last_snapshot = snapshot
        self.model.apply(snapshot)
        if first:
            self._refresh_venues(snapshot)
            if self.selection.position_id() is None and self.model.rowCount():
                self.selection.select_position(self.model.position_id(0))  # the riskiest, in every view
        self.chart.apply(snapshot)
        self._refresh_totals(snapshot)
        self._update_count()
        self.snapshot_applied.emit(snapshot.version)

    @Slot(object)
    def on_events(self, events: tuple[PositionEvent, ...]) -> None:
        """Alerts dock, and a notification for every upward level change and liquidation."""
        self.alerts.add_events(events)
        status: tuple[str, int] | None = None  # the status bar shows the batch's last message (one repaint)
        for event in events:
            if event.kind is EventKind.FAILURE:
                status = (event.message, 0)
            if event.kind in (EventKind.LIQUIDATION, EventKind.ODDS) or (  # ODDS: 24 h odds past the alert line
                    event.kind is EventKind.LEVEL and _severity(event.level) > _severity(event.previous)):
                self._notices.append(event)
                status = (event.message, 8000)
        if status is not None:
            self.statusBar().showMessage(*status)
        self._send_notices()

    @Slot()
    def _send_notices(self) -> None:
        """Notify the waiting events in order, for at most ``NOTIFY_SLICE_S`` of the GUI thread (at
        least ``NOTIFY_SLICE_MIN`` of them), the rest a moment later: a market move across a
        10,000-position book is a thousand crossings in one batch, and notifying them in one go
        froze the window for tens of milliseconds. Every one is still sent."""
        notices = self._notices
        deadline = time.perf_counter() + NOTIFY_SLICE_S
        done = 0
        while done < len(notices) and (done < NOTIFY_SLICE_MIN or time.perf_counter() < deadline):
            self._notify(notices[done], status_bar=False)
            done += 1
        del notices[:done]
        if notices:
            self._notice_timer.start()

    def _notify(self, event: PositionEvent, *, status_bar: bool = True) -> None:
        title = f"{event.label}: {event.level.upper()}"
        # the desk decides when a sound plays (a DANGER crossing or a liquidation, with alerts.sound on)
        self.notifier.notify(Notice(title, event.message, level=event.level, key=event.position_id,
                                    sound=bool(getattr(event, "sound", False))))
        if status_bar:
            self.statusBar().showMessage(event.message, 8000)
        self.notified.emit(title)

    @Slot(int)
    def _acknowledge(self, alert_id: int) -> None:
        request = self.controller.send(AcknowledgeAlert(alert_id))
        self._pending_acks[request] = alert_id

    @Slot(object)
    def on_result(self, result) -> None:
        """Show command outcomes in the status bar (dialogs react to their own request ids)."""
        if result.accepted and result.kind == "UndoAdjustment":
            self.statusBar().showMessage(result.reason, 8000)
        alert_id = self._pending_acks.pop(result.request_id, None)
        if alert_id is not None and result.accepted:
            self.alerts.mark_acknowledged(alert_id)
        if result.kind == "RefreshVenueRules" and result.reply != Reply.STARTED:
            log.info("venue rules refresh: %s", result.reason)
            self.statusBar().showMessage(refresh_summary(result.reason), 30000)
            return
        if not result.accepted:
            self.statusBar().showMessage(result.reason, 8000)

    @Slot(object)
    def on_alerts_loaded(self, payload) -> None:
        """The alert history from the store at start."""
        alerts, labels = payload
        self.alerts.set_alerts(alerts, labels)

    @Slot(str)
    def on_failed(self, message: str) -> None:
        """A desk error: in the status bar, and a dialog if the desk never started."""
        log.error("%s", message)
        self.statusBar().showMessage(message)
        if self._last_snapshot is None:
            QMessageBox.critical(self, "isodesk", message)

    # -- actions ------------------------------------------------------------------------------------

    def set_view(self, name: str) -> None:
        """Show the cards or the table."""
        self.stack.setCurrentWidget(self.cards if name == "cards" else self.table)
        (self.act_cards if name == "cards" else self.act_table).setChecked(True)

    def view_name(self) -> str:
        """``cards`` or ``table``."""
        return "cards" if self.stack.currentWidget() is self.cards else "table"

    def set_theme(self, name: str) -> None:
        """Switch between system, light and dark."""
        self._theme_name = name
        self.theme = apply_theme(QApplication.instance(), name)
        self.cards.set_theme(self.theme)
        self.table.set_theme(self.theme)
        self.chart.set_theme(self.theme)
        self.alerts.set_theme(self.theme)
        self.whatif.set_theme(self.theme)
        if self._last_snapshot is not None:
            self._refresh_totals(self._last_snapshot)

    def restore_default_layout(self) -> None:
        """Docks and toolbar as built, on the live workspace."""
        self.set_workspace("live")
        self.restoreState(self._default_state, STATE_VERSION)
        self.chart_dock.show()
        self.alerts_dock.show()

    # -- workspaces -----------------------------------------------------------------------------------

    def set_workspace(self, name: str) -> None:
        """Show the ``live`` workspace (positions and their docks) or the ``whatif`` page.

        The What-if page takes the whole window: the docks of the live view are hidden while it is
        shown and come back as they were (``saveState``/``restoreState``), so neither page squeezes
        the other; the hidden page's size does not count in the window's minimum size.
        """
        if name not in WORKSPACES:
            raise ValueError(f"workspace must be one of {', '.join(WORKSPACES)}; got {name!r}")
        whatif = name == "whatif"
        (self.act_whatif if whatif else self.act_live).setChecked(True)
        if whatif == (self.pages.currentWidget() is self.whatif):
            return
        if whatif:
            self._live_state = self.saveState(STATE_VERSION)
            for dock in self.findChildren(QDockWidget):
                if dock.parent() is self:
                    dock.hide()
            self.pages.setCurrentWidget(self.whatif)
            self._size_pages()
            self.whatif.select_position(self.selected_position())  # the one selection follows
        else:
            self.pages.setCurrentWidget(self.live_page)
            self._size_pages()
            if self._live_state is not None:
                self.restoreState(self._live_state, STATE_VERSION)
            self._live_state = None
        self.workspace_changed.emit(name)

    def _show_live_view(self, view: str) -> None:
        self.set_workspace("live")
        self.set_view(view)

    def workspace_name(self) -> str:
        """``live`` or ``whatif``: the page shown."""
        return "whatif" if self.pages.currentWidget() is self.whatif else "live"

    def _size_pages(self) -> None:
        """Only the page shown counts in the window's size: the other is ``Ignored``."""
        for page in (self.live_page, self.whatif):
            policy = (QSizePolicy.Policy.Preferred if page is self.pages.currentWidget()
                      else QSizePolicy.Policy.Ignored)
            page.setSizePolicy(policy, policy)
        self.pages.updateGeometry()

    # -- forms (each non-modal; the desk answers every command) --------------------------------------

    def selected_position(self) -> int | None:
        """The position the trader is working on: the one selection of cards, table and chart."""
        return self.selection.position_id()

    def select_position(self, position_id: int) -> bool:
        """Select a position everywhere and bring it into view (from an alert, say); False if not shown."""
        view = self.cards if self.view_name() == "cards" else self.table
        if view.select_position(position_id):
            return True
        self.statusBar().showMessage("that position is hidden by the filters", 5000)
        return False

    def _hold_while_open(self, popup: QWidget) -> None:
        """Hold live re-sorts while a menu or form is open (released when it hides or goes)."""
        reason = f"popup:{id(popup)}"
        model = self.model
        if isinstance(popup, QMenu):
            popup.aboutToShow.connect(lambda: model.hold_order(reason, True))
            popup.aboutToHide.connect(lambda: model.hold_order(reason, False))
        else:
            model.hold_order(reason, True)
            # the form may outlive nothing else: at shutdown the window (and model) can go first
            popup.destroyed.connect(lambda *_: shiboken6.isValid(model) and model.hold_order(reason, False))

    def _show_form(self, form: QWidget) -> QWidget:
        form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._hold_while_open(form)
        form.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen warns that it cannot raise windows
            form.raise_()
        self.forms_opened.emit(form)
        return form

    def _need(self, what: str) -> int | None:
        if self._last_snapshot is None:
            self.statusBar().showMessage("the desk has not published the book yet", 5000)
            return None
        pid = self.selected_position()
        if pid is None:
            self.statusBar().showMessage(f"select a position first to {what}", 5000)
        return pid

    def collateral_dialog(self, mode: str = "add") -> QWidget | None:
        """Add or remove margin on the selected position."""
        pid = self._need("adjust its margin")
        if pid is None:
            return None
        return self._show_form(CollateralDialog(self.controller, self._last_snapshot, self, position_id=pid,
                                                mode=mode, theme=self.theme))

    def open_position_dialog(self) -> QWidget | None:
        """Open a position by hand."""
        if self._last_snapshot is None:
            return None
        return self._show_form(OpenPositionDialog(self.controller, self._last_snapshot, self, theme=self.theme))

    def close_position_dialog(self) -> QWidget | None:
        """Close the selected position at a price (default: the mark)."""
        pid = self._need("close it")
        if pid is None:
            return None
        return self._show_form(ClosePositionDialog(self.controller, self._last_snapshot, self, position_id=pid,
                                                   theme=self.theme))

    def increase_position_dialog(self) -> QWidget | None:
        """Add size to the selected position at a price (default: the mark)."""
        pid = self._need("add to it")
        if pid is None:
            return None
        return self._show_form(IncreasePositionDialog(self.controller, self._last_snapshot, self, position_id=pid,
                                                      theme=self.theme))

    def funds_dialog(self, mode: str) -> QWidget | None:
        """Deposit into or withdraw from an account's free balance."""
        if self._last_snapshot is None:
            return None
        return self._show_form(FundsDialog(self.controller, self._last_snapshot, self, mode=mode, theme=self.theme))

    def allocate_dialog(self) -> QWidget | None:
        """Split free collateral over an account's positions (preview, then one command)."""
        if self._last_snapshot is None:
            return None
        from isodesk.ui.dialogs.allocate import AllocateDialog

        return self._show_form(AllocateDialog(self.controller, self._last_snapshot, self, theme=self.theme))

    def position_journal(self) -> QWidget | None:
        """The collateral journal of the selected position."""
        pid = self._need("see its journal")
        if pid is None:
            return None
        return self._show_form(JournalView(self.controller, self._last_snapshot, self, position_id=pid,
                                           theme=self.theme))

    def account_journal(self) -> QWidget | None:
        """The collateral journal of every account."""
        if self._last_snapshot is None:
            return None
        return self._show_form(JournalView(self.controller, self._last_snapshot, self, theme=self.theme))

    def refresh_venue_rules(self, *, base_url: str | None = None) -> str:
        """Ask the desk to fetch the current tier tables of every venue the book holds (in the
        background; ``base_url``: a local recorded venue); its final answer shows in the status
        bar, the positions whose table changed in the alerts. Returns the request id."""
        self.statusBar().showMessage("reading the venues' rules…", 15000)
        return self.controller.send(RefreshVenueRules(base_url=base_url))

    def settings_dialog(self) -> QWidget | None:
        """The risk settings (thresholds, dwell, staleness, tolerance, retention, sound), as the desk runs them."""
        if self._last_snapshot is None:
            self.statusBar().showMessage("the desk has not published the book yet", 5000)
            return None
        form = SettingsDialog(self.controller, self._last_snapshot.settings, self, theme=self.theme)
        self.controller.snapshot.connect(form.on_snapshot)
        return self._show_form(form)

    def keys_dialog(self, venue: str | None = None) -> QWidget:
        """Enter a venue's read-only API keys into the system keyring (or learn what to install)."""
        return self._show_form(KeysDialog(self, venue=venue, theme=self.theme))

    def venue_import_dialog(self) -> QWidget:
        """Import the isolated positions of a live venue (keys from the keyring), reconciled."""
        return self._show_form(VenueImportDialog(self.controller, self))

    def undo_adjustment(self) -> None:
        """Undo the selected position's last margin change (the desk may refuse, and says why)."""
        pid = self._need("undo its last margin change")
        if pid is not None:
            self.controller.send(UndoAdjustment(pid))

    def _context_menu(self, view: QWidget, pos) -> None:
        index = view.indexAt(pos)
        if index.isValid():
            self.selection.select_position(self.model.position_id(index.row()))
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._hold_while_open(menu)
        for act in (self.act_add, self.act_remove, self.act_undo, self.act_increase, self.act_close_position,
                    self.act_journal):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_open)
        menu.popup(view.viewport().mapToGlobal(pos))

    def _toggle_pause(self, checked: bool) -> None:
        self.controller.send(SetPaused(bool(checked)))
        self.act_pause.setText("Resume feed" if checked else "Pause feed")

    def _focus_filter(self) -> None:
        self.filter_text.setFocus()
        self.filter_text.selectAll()

    def _about(self) -> None:
        from isodesk.logfile import log_path

        self.model.hold_order("about", True)
        QMessageBox.about(self, "About isodesk", f"isodesk {__version__}\nIsolated-margin risk dashboard.\n\n"
                          f"Book: {self.config.db_path}\nLog file: {log_path()}")
        self.model.hold_order("about", False)

    @Slot(object)
    def _select(self, position_id: int | None) -> None:
        if position_id is None:
            return  # nothing selected (filtered out): the chart keeps the last position
        self.chart.show_position(position_id)
        label = self._label_of(position_id)
        self.chart_dock.setWindowTitle(f"Chart — {label}" if label else "Chart")

    def _label_of(self, position_id: int) -> str:
        snap = self._last_snapshot
        if snap is None:
            return ""
        row = snap.book.row_of(position_id)
        return "" if row is None else snap.book.labels[row]

    def _apply_filter(self) -> None:
        self.model.set_filter(text=self.filter_text.text() or None, venue=self.filter_venue.currentData(),
                              level=self.filter_level.currentData())
        self._update_count()

    def _update_count(self, _held: bool = False) -> None:
        snap = self._last_snapshot if hasattr(self, "_last_snapshot") else None
        if snap is None:
            return
        held = " · order held" if self.model.order_held() else ""
        self.count_label.setText(f"{self.model.rowCount()} of {self.model.population()}{held}")
        self.count_label.setToolTip("The order waits while the pointer is over the positions or a menu or form "
                                    "is open" if held else "")

    def _apply_sort(self) -> None:
        """The sort box (and its direction button) chose: sort the model; every view follows."""
        key = self.sort_box.currentData()
        if key is None:
            self.model.sort_by_key(None)
            return
        natural = column_for(key).descending
        changed_column = key != self.model.sort_state()[0]
        descending = natural if changed_column else self.sort_order.isChecked()
        self.model.sort_by_key(key, descending)
        self._show_sort()

    def _show_sort(self) -> None:
        """The sort box and direction button from the model's one sort state (a header click lands here)."""
        key, descending = self.model.sort_state()
        self.sort_box.blockSignals(True)
        self.sort_box.setCurrentIndex(max(self.sort_box.findData(key), 0))
        self.sort_box.blockSignals(False)
        self.sort_order.setEnabled(key is not None)
        self.sort_order.setChecked(descending)
        self.sort_order.setText("" if key is None else "↓" if descending else "↑")
        self.sort_order.setToolTip("Descending (click for ascending)" if descending
                                   else "Ascending (click for descending)")

    def _refresh_venues(self, snapshot: Snapshot) -> None:
        current = self.filter_venue.currentData()
        venues = sorted(set(snapshot.book.venues))
        self.filter_venue.blockSignals(True)
        self.filter_venue.clear()
        self.filter_venue.addItem("All venues", None)
        for v in venues:
            self.filter_venue.addItem(v, v)
        index = self.filter_venue.findData(current)
        self.filter_venue.setCurrentIndex(max(index, 0))
        self.filter_venue.blockSignals(False)

    def _refresh_totals(self, snapshot: Snapshot) -> None:
        parts = []
        for a in snapshot.accounts:
            upnl = a.unrealized_pnl
            colour = self.theme.level_color(Level.SAFE if upnl >= 0 else Level.DANGER).name()
            ccy = a.currency
            # a line may break between two figures, never inside one ("margin" and its value stay together)
            parts.append(f"<b>{a.name}</b>&nbsp; free&nbsp;{fmt_money(a.free_balance, ccy)} · "
                         f"margin&nbsp;{fmt_money(a.total_isolated_margin, ccy)} · "
                         f"equity&nbsp;{fmt_money(a.equity, ccy)} · "
                         f"uPnL&nbsp;<span style='color:{colour}'>{fmt_money(upnl, ccy)}</span>&nbsp;{ccy}")
        if parts:
            total, unpriced = total_equity_usd(snapshot)
            extra = f" + {', '.join(unpriced)} unpriced" if unpriced else ""
            parts.append(f"<b>total&nbsp;equity</b>&nbsp;≈&nbsp;{fmt_money(total, 'USD')}&nbsp;USD{extra}")
        self.totals_label.setText("&nbsp;&nbsp; │ &nbsp;&nbsp;".join(parts) if parts
                                  else "No accounts yet: deposit or import positions to start.")
        self.totals_label.setToolTip("Per account, in its settlement currency")

    def _refresh_status(self) -> None:
        snap = self._last_snapshot
        if snap is None:
            self.feed_label.setText("starting…")
            return
        h = snap.feed
        age = "no tick yet" if h.last_tick_age_s is None else f"last tick {h.last_tick_age_s:.1f} s ago"
        state = "paused" if snap.paused else ("connected" if h.connected else "disconnected")
        if h.parts:  # one feed per venue: each venue's own health
            self.feed_label.setText("  " + " │ ".join(_part_text(p, snap.paused) for p in h.parts) + "  ")
            self.feed_label.setToolTip(h.last_error or "")
        else:
            self.feed_label.setText(f"  {h.source}: {state} · {age} · rejected {h.rejected}  ")
        stale = int(snap.stale.sum())
        extra = ""
        if not snap.writer:
            extra += f" · READ-ONLY: {snap.writer_note}"
        if snap.failures:
            extra += f" · {snap.failures} failed step{'s' if snap.failures != 1 else ''} (see Help → About: log)"
        self.status_label.setText(f"{self.model.live_count()} positions · {stale} stale · snapshot {snap.version} · "
                                  f"{self.controller.dropped_snapshots} frames coalesced{extra}")
        if snap.catalog is not None:
            text, tip = rules_text(rules_ages(snap, snap.catalog, time.time()))
            self.rules_label.setText(f"  {text}  " if text else "")
            self.rules_label.setToolTip(tip)

    # -- persistence ----------------------------------------------------------------------------------

    def _restore(self) -> None:
        s = self.settings
        geometry = s.value("ui/geometry", type=QByteArray)
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        state = s.value("ui/state", type=QByteArray)
        if state:
            self.restoreState(state, STATE_VERSION)
        self.set_view(str(s.value("ui/view", "cards")))
        header = s.value("ui/table_header2", type=QByteArray)  # 2: the columns of issue 12
        if header:
            self.table.restore_header(header)
        key = s.value("ui/sort", None)
        if key is not None and self.sort_box.findData(key) > 0:
            self.model.sort_by_key(str(key), s.value("ui/sort_descending", column_for(str(key)).descending, type=bool))

    def save_settings(self) -> None:
        """Write the UI state to the settings file."""
        s = self.settings
        s.setValue("ui/geometry", self.saveGeometry())
        # the live layout, also while the What-if page hides its docks
        s.setValue("ui/state", self._live_state if self._live_state is not None else self.saveState(STATE_VERSION))
        s.setValue("ui/view", self.view_name())
        key, descending = self.model.sort_state()
        s.setValue("ui/sort", key)
        s.setValue("ui/sort_descending", descending)
        s.setValue("ui/theme", self._theme_name)
        s.setValue("ui/table_header2", self.table.save_header())
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Save the UI state, stop the feed and join the desk thread."""
        self.save_settings()
        self._health_timer.stop()
        if not self.controller.shutdown():
            log.warning("the desk thread did not stop within 5 s")
        self.notifier.close()
        if self._tray is not None:
            self._tray.hide()
        super().closeEvent(event)


NOTIFY_SLICE_S = 0.008
"""GUI-thread seconds one slice of notifications may take (:meth:`MainWindow._send_notices`)."""
NOTIFY_SLICE_MIN = 20


def _severity(level: str) -> int:
    order = {"safe": 0, "stale": 0, "warning": 1, "danger": 2, "liquidated": 3}
    return order.get(level, 0)


def _part_text(h: FeedHealth, paused: bool) -> str:
    """One venue's feed in the status bar: ``binance-usdm ✓ 0.8 s`` (✗ when disconnected)."""
    name = h.source.removeprefix("live:")
    if paused:
        return f"{name} paused"
    age = "–" if h.last_tick_age_s is None else f"{h.last_tick_age_s:.1f} s"
    return f"{name} {'✓' if h.connected else '✗'} {age}"
