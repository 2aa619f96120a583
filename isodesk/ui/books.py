"""Books: File → New book…, Open book…, Recent books, and switching the window to another book.

A trader's own book never holds demo positions: a new book is an empty file (the desk creates it
with ``demo=False``); only the per-user default book is seeded with the demo, once, when it is
created. The recent books are a list of paths in the UI settings (``books/recent``, newest first,
at most :data:`MAX_RECENT`, on Ctrl+Alt+1 … 9); a path whose file has gone is pruned, with a message, when the list
is shown or used.

Switching book (:class:`BookSession`) builds a new main window on the new book, hidden, and starts
its desk; only when that desk has published the book is the new window shown and the old one
closed (which saves its layout, stops its feed and joins its desk thread). A book that cannot be
opened — missing, not an isodesk book, written by a newer isodesk, damaged — is refused before
anything starts, with a message naming the file and the reason, and the current book stays; a
desk that fails to start on the new book is closed and the current book stays as well.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QSettings, Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QWidget

from isodesk.desk.commands import ImportPositions
from isodesk.desk.session import DeskConfig
from isodesk.store import StoreError
from isodesk.store.db import connect

log = logging.getLogger("isodesk.ui")

MAX_RECENT = 9  # one shortcut each: Ctrl+Alt+1 … Ctrl+Alt+9
RECENT_KEY = "books/recent"
LAST_KEY = "books/last"
BOOK_FILTER = "isodesk books (*.db);;All files (*)"


class RecentBooks:
    """The recent books list kept in a QSettings file: absolute paths, newest first, no duplicates."""

    def __init__(self, settings: QSettings):
        self.settings = settings

    def paths(self) -> list[Path]:
        """The recent books as stored (newest first), whether their files exist or not."""
        value = self.settings.value(RECENT_KEY, [])
        items = [value] if isinstance(value, str) else list(value or [])
        return [Path(str(p)) for p in items if str(p)]

    def add(self, path: Path) -> None:
        """Put ``path`` first (it was just opened) and remember it as the last book."""
        path = Path(path).resolve()
        items = [path] + [p for p in self.paths() if p != path]
        self._store(items[:MAX_RECENT])
        self.settings.setValue(LAST_KEY, str(path))
        self.settings.sync()

    def prune(self, keep: Path | None = None) -> list[Path]:
        """Drop the books whose files no longer exist, except ``keep`` (the book open, which its
        desk may be creating); the paths dropped."""
        items = self.paths()
        kept = Path(keep).resolve() if keep is not None else None
        gone = [p for p in items if p != kept and not p.is_file()]
        if gone:
            self._store([p for p in items if p not in gone])
            self.settings.sync()
        return gone

    def last(self) -> Path | None:
        """The book opened last, if its file still exists."""
        value = self.settings.value(LAST_KEY, "")
        path = Path(str(value)) if value else None
        return path if path is not None and path.is_file() else None

    def _store(self, items: list[Path]) -> None:
        self.settings.setValue(RECENT_KEY, [str(p) for p in items])


def probe_book(path: Path) -> str:
    """Why the book at ``path`` cannot be opened ("" when it can): read-only, without changing it."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path} is a folder, not a book"
    try:
        opened = connect(path, create=False, read_only=True, verify=True, require_current=False)
    except StoreError as exc:
        return str(exc)
    opened.db.conn.close()
    return ""


def new_book_problem(path: Path) -> str:
    """Why a new book cannot be made at ``path`` ("" when it can): never over an existing file."""
    if path.exists():
        return (f"{path} already exists: a new book needs a new file name (File → Open book… opens an "
                "existing book)")
    folder = path.parent
    if not folder.is_dir():
        return f"{folder}: no such folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"{folder}: this folder cannot be written"
    return ""


def show_message(parent: QWidget, text: str, *, title: str = "isodesk") -> QMessageBox:
    """A non-modal warning box over ``parent`` (deleted when closed); returned for tests."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("book-message")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


class BookMenu(QObject):
    """The book entries of a main window's File menu: New book…, Open book…, Recent books, and
    Import positions from file… (the desk's ``ImportPositions``: every row or none).

    Signals:
        open_requested(str, bool): a book path chosen, and whether it is to be a new book.
        pruned(object): a list of recent paths removed because their files are gone.
        imported(object): the desk's Result of an import from a file (accepted or refused).
    """

    open_requested = Signal(str, bool)
    pruned = Signal(object)
    imported = Signal(object)

    def __init__(self, window: QMainWindow, menu: QMenu, settings: QSettings):
        super().__init__(window)
        self.setObjectName("book-menu")
        self.window = window
        self.recent = RecentBooks(settings)
        self.act_new = self._action("New book…", "Ctrl+Shift+N", self.new_book_dialog, "new-book")
        self.act_open = self._action("Open book…", QKeySequence.StandardKey.Open, self.open_book_dialog, "open-book")
        self.recent_menu = QMenu("Recent books", window)
        self.recent_menu.setObjectName("recent-books")
        self.recent_menu.aboutToShow.connect(self.fill_recent)
        self.act_import = self._action("Import positions from file…", "Ctrl+Shift+I", self.import_dialog,
                                       "import-file")
        self.act_import.setToolTip("Add the positions of a CSV or JSON file to this book (every row or none), "
                                   "like isodesk import FILE")
        menu.addAction(self.act_new)
        menu.addAction(self.act_open)
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addAction(self.act_import)
        self._imports: dict[str, Path] = {}
        self._recent_actions: list[QAction] = []
        window.controller.result.connect(self._on_result)
        self.fill_recent()

    def _action(self, text: str, shortcut, slot, name: str) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.window.addAction(action)
        return action

    def fill_recent(self) -> list[Path]:
        """Rebuild the Recent books menu (missing files pruned, with a message); the paths listed."""
        gone = self.recent.prune(keep=self.window.config.db_path)
        if gone:
            self._say_pruned(gone)
        for action in self._recent_actions:
            self.window.removeAction(action)
            action.deleteLater()
        self.recent_menu.clear()
        paths = self.recent.paths()
        self._recent_actions = []
        for number, path in enumerate(paths, start=1):
            action = QAction(f"&{number} {path.name}  —  {path.parent}", self.window)
            action.setObjectName(f"recent-book-{number}")
            action.setShortcut(QKeySequence(f"Ctrl+Alt+{number}"))  # Ctrl+Alt+1 … 9, newest first
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(str(path))
            action.setData(str(path))
            action.triggered.connect(lambda _checked=False, p=str(path): self.open_requested.emit(p, False))
            self.window.addAction(action)
            self.recent_menu.addAction(action)
            self._recent_actions.append(action)
        self.recent_menu.setEnabled(bool(paths))
        return paths

    def _say_pruned(self, gone: list[Path]) -> None:
        names = ", ".join(str(p) for p in gone)
        text = f"removed from Recent books (the file is gone): {names}"
        log.info("%s", text)
        self.window.statusBar().showMessage(text, 15000)
        self.pruned.emit(gone)

    def _dialog(self, title: str, save: bool) -> QFileDialog:
        dialog = QFileDialog(self.window, title, str(self._start_folder()), BOOK_FILTER)
        dialog.setObjectName("new-book-dialog" if save else "open-book-dialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        if save:
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setFileMode(QFileDialog.FileMode.AnyFile)
            dialog.setDefaultSuffix("db")
            # an existing file is refused by the session (never replaced), so no "replace it?" question
            dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
        else:
            dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        return dialog

    def _start_folder(self) -> Path:
        paths = self.recent.paths()
        if paths and paths[0].parent.is_dir():
            return paths[0].parent
        return Path.home()

    def new_book_dialog(self) -> QFileDialog:
        """Ask where to make a new, empty book (non-modal); the dialog."""
        dialog = self._dialog("New book — isodesk", save=True)
        dialog.fileSelected.connect(lambda path: self.open_requested.emit(path, True))
        dialog.open()
        return dialog

    def import_dialog(self) -> QFileDialog:
        """Ask for a CSV or JSON file of positions to import into this book (non-modal); the dialog."""
        dialog = QFileDialog(self.window, "Import positions — isodesk", str(Path.home()),
                             "Positions (*.csv *.json);;All files (*)")
        dialog.setObjectName("import-file-dialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.fileSelected.connect(self.import_file)
        dialog.open()
        return dialog

    @Slot(str)
    def import_file(self, path_text: str) -> str:
        """Send the desk the import of the file at ``path_text``; the request id (its answer shows in
        the status bar, a refusal with every problem in a message box)."""
        path = Path(path_text).expanduser().resolve()
        request = ImportPositions(str(path))
        self._imports[request.request_id] = path
        self.window.statusBar().showMessage(f"importing {path.name}…", 10000)
        return str(self.window.controller.send(request))

    @Slot(object)
    def _on_result(self, result) -> None:
        path = self._imports.pop(result.request_id, None)
        if path is None:
            return
        if result.accepted:
            self.window.statusBar().showMessage(result.reason, 15000)
        else:
            show_message(self.window, result.reason if str(path) in result.reason
                         else f"{path}: nothing imported: {result.reason}")
        self.imported.emit(result)

    def open_book_dialog(self) -> QFileDialog:
        """Ask which existing book to open (non-modal); the dialog."""
        dialog = self._dialog("Open book — isodesk", save=False)
        dialog.fileSelected.connect(lambda path: self.open_requested.emit(path, False))
        dialog.open()
        return dialog


class BookSession(QObject):
    """The app's one main window and the book it shows; switches book by replacing the window.

    Signals:
        switched(object): the new main window, shown, its desk running on the new book.
        refused(str): a book could not be opened; the message shown (the current book stays).
    """

    switched = Signal(object)
    refused = Signal(str)

    def __init__(self, settings: QSettings, *, theme: str | None = None):
        super().__init__()
        self.settings = settings
        self.theme = theme
        self.recent = RecentBooks(settings)
        self.window = None  # the MainWindow shown
        self._pending = None  # a MainWindow starting on a new book, hidden until its desk publishes
        self.last_message: QMessageBox | None = None

    def start(self, config: DeskConfig):
        """Show the first window on ``config``'s book and start its desk; the window."""
        window = self._make(config)
        self.window = window
        window.show()
        window.start()
        self.recent.add(config.db_path)
        window.book_menu.fill_recent()
        return window

    def _make(self, config: DeskConfig):
        from isodesk.ui.mainwindow import MainWindow  # the window imports this module

        window = MainWindow(config, settings=self.settings, theme=self.theme)
        window.book_menu.open_requested.connect(self.open_book)
        return window

    @Slot(str, bool)
    def open_book(self, path_text: str, new: bool = False) -> bool:
        """Switch to the book at ``path_text`` (``new``: make it, empty); False when refused at once
        (the message is shown and ``refused`` emitted), True when its desk is starting."""
        current = self.window
        if current is None:
            return False
        path = Path(path_text).expanduser().resolve()
        if self._pending is not None:
            return self._refuse(f"{self._pending.config.db_path.name} is still opening; try again in a moment")
        if path == current.config.db_path.resolve():
            current.statusBar().showMessage(f"{path.name} is the book already open", 5000)
            return False
        problem = new_book_problem(path) if new else probe_book(path)
        if problem:
            return self._refuse(f"{problem}.\n\n{current.config.db_path.name} stays open.")
        current.save_settings()  # the new window restores the layout as it is now
        config = replace(current.config, db=str(path), demo=False)  # a new book is empty, never the demo
        pending = self._make(config)
        self._pending = pending
        pending.snapshot_applied.connect(self._ready)
        # until it publishes, a failure is this session's to report (the window's own handler is a modal box)
        pending.controller.failed.disconnect(pending.on_failed)
        pending.controller.failed.connect(self._failed)
        log.info("opening book %s%s", path, " (new)" if new else "")
        pending.start()
        return True

    @Slot(int)
    def _ready(self, _version: int) -> None:
        pending, old = self._pending, self.window
        if pending is None:
            return
        pending.snapshot_applied.disconnect(self._ready)
        pending.controller.failed.disconnect(self._failed)
        pending.controller.failed.connect(pending.on_failed)
        self._pending = None
        self.window = pending
        self.recent.add(pending.config.db_path)
        pending.book_menu.fill_recent()
        pending.show()
        if old is not None and shiboken6.isValid(old):
            old.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            old.close()  # saves its layout, stops its feed and joins its desk thread
        self.switched.emit(pending)

    @Slot(str)
    def _failed(self, message: str) -> None:
        pending = self._pending
        if pending is None or pending.model.snapshot() is not None:
            return
        self._pending = None
        _discard(pending)
        self._refuse(f"{pending.config.db_path} could not be opened: {message}.\n\n"
                     f"{self.window.config.db_path.name if self.window else 'The current book'} stays open.")

    def _refuse(self, text: str) -> bool:
        log.warning("book not opened: %s", text.replace("\n\n", " "))
        if self.window is not None:
            self.last_message = show_message(self.window, text)
        self.refused.emit(text)
        return False


def _discard(window) -> None:
    """Stop a main window that was never shown: join its desk thread, drop its notifier and tray
    icon, delete it; its layout is not saved (it never had one of its own)."""
    window.controller.shutdown()
    window.notifier.close()
    tray = getattr(window, "_tray", None)
    if tray is not None:
        tray.hide()
    window.deleteLater()
