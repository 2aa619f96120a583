"""Books: a new book is empty, switching restarts the desk cleanly, a bad book is refused, recent books."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtWidgets import QMessageBox

from isodesk.cli.app import last_book
from isodesk.desk.session import DeskConfig
from isodesk.store import Store
from isodesk.store.migrations import MIGRATION_SET
from isodesk.ui.books import MAX_RECENT, BookSession, RecentBooks
from isodesk.ui.mainwindow import ui_settings
from tests.desk.fakes import ScriptedFeed

pytestmark = pytest.mark.gui


@pytest.fixture
def settings(tmp_path):
    return ui_settings(tmp_path / "ui.ini")


@pytest.fixture
def session(qtbot, tmp_path, settings):
    """A session started on a demo book (scripted feed); every window it made is closed after."""
    s = BookSession(settings, theme="light")
    config = DeskConfig(db=str(tmp_path / "demo.db"), demo=True, step_ms=20,
                        feed_factory=lambda store: ScriptedFeed())
    window = s.start(config)
    window.resize(1200, 800)
    qtbot.waitUntil(lambda: window.model.snapshot() is not None, timeout=10000)
    yield s
    for w in (s.window, s._pending):
        if w is not None:
            thread = w.controller.thread
            w.close()
            assert thread.isFinished()


def _demo_count(path) -> int:
    store = Store.open(path)
    try:
        return len(store.positions(statuses=None))
    finally:
        store.close()


def test_a_new_book_is_empty_and_replaces_the_window_and_its_desk(qtbot, session, tmp_path, settings):
    first = session.window
    assert first.model.population() > 0  # the demo
    old_thread = first.controller.thread
    mine = tmp_path / "mine.db"
    with qtbot.waitSignal(session.switched, timeout=15000) as blocker:
        assert session.open_book(str(mine), new=True)
    new = blocker.args[0]
    assert session.window is new and new is not first
    assert new.isVisible()
    assert new.windowTitle().startswith("mine.db")
    assert new.model.population() == 0
    assert not new.config.demo
    assert old_thread.isFinished()  # the old desk stopped and its thread was joined
    assert mine.is_file()
    assert _demo_count(mine) == 0
    assert RecentBooks(settings).paths()[:2] == [mine.resolve(), (tmp_path / "demo.db").resolve()]
    assert RecentBooks(settings).last() == mine.resolve()


def test_switching_back_through_recent_books(qtbot, session, tmp_path):
    demo = (tmp_path / "demo.db").resolve()
    with qtbot.waitSignal(session.switched, timeout=15000):
        session.open_book(str(tmp_path / "mine.db"), new=True)
    menu = session.window.book_menu
    listed = menu.fill_recent()
    assert listed[1] == demo
    action = next(a for a in menu.recent_menu.actions() if a.data() == str(demo))
    assert action.shortcut().toString() == "Ctrl+Alt+2"  # the book before this one
    with qtbot.waitSignal(session.switched, timeout=15000) as blocker:
        action.trigger()
    back = blocker.args[0]
    assert back.config.db_path == demo
    assert back.model.population() == _demo_count(demo) > 0


@pytest.mark.parametrize("kind", ["not sqlite", "newer isodesk", "missing", "empty"])
def test_a_book_that_cannot_open_is_refused_and_the_current_book_stays(qtbot, session, tmp_path, kind):
    first = session.window
    path = tmp_path / "other.db"
    if kind == "not sqlite":
        path.write_text("my notes, not a book\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "newer isodesk":
        Store.open(path).close()
        conn = sqlite3.connect(path)
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) VALUES (?, '0099_future', 'x')",
                     [MIGRATION_SET])
        conn.commit()
        conn.close()
    before = path.read_bytes() if path.exists() else None
    with qtbot.waitSignal(session.refused, timeout=5000) as blocker:
        assert not session.open_book(str(path))
    text = blocker.args[0]
    assert "other.db" in text and "demo.db stays open" in text
    if kind == "newer isodesk":
        assert "newer isodesk" in text
    assert session.window is first and first.controller.thread.isRunning()
    assert session.last_message is not None and session.last_message.text() == text
    assert (path.read_bytes() if path.exists() else None) == before  # never touched
    session.last_message.close()


def test_a_new_book_never_replaces_an_existing_file(qtbot, session, tmp_path):
    existing = tmp_path / "taken.db"
    Store.open(existing).close()
    before = existing.read_bytes()
    with qtbot.waitSignal(session.refused, timeout=5000) as blocker:
        assert not session.open_book(str(existing), new=True)
    assert "already exists" in blocker.args[0]
    assert existing.read_bytes() == before
    session.last_message.close()


def test_a_desk_that_fails_on_the_new_book_leaves_the_current_one(qtbot, session, tmp_path, monkeypatch):
    import isodesk.ui.worker as worker

    real = worker.open_desk

    def failing(config):
        if config.db_path.name == "broken.db":
            raise OSError("disk on fire")
        return real(config)

    monkeypatch.setattr(worker, "open_desk", failing)
    first = session.window
    with qtbot.waitSignal(session.refused, timeout=15000) as blocker:
        assert session.open_book(str(tmp_path / "broken.db"), new=True)
    assert "disk on fire" in blocker.args[0]
    assert session.window is first and session._pending is None
    assert first.controller.thread.isRunning()
    session.last_message.close()


def test_the_open_dialog_opens_the_chosen_book(qtbot, session, tmp_path):
    other = tmp_path / "other.db"
    Store.open(other).close()
    dialog = session.window.book_menu.open_book_dialog()
    dialog.selectFile(str(other))
    with qtbot.waitSignal(session.switched, timeout=15000) as blocker:
        dialog.accept()
    assert blocker.args[0].config.db_path == other.resolve()


def test_recent_books_prunes_missing_files_with_a_message(qtbot, session, tmp_path, settings):
    kept = tmp_path / "kept.db"
    Store.open(kept).close()
    gone = tmp_path / "gone.db"
    recent = RecentBooks(settings)
    recent.add(gone)  # recorded, then the file went away (it never existed)
    recent.add(kept)
    menu = session.window.book_menu
    with qtbot.waitSignal(menu.pruned, timeout=2000) as blocker:
        listed = menu.fill_recent()
    assert blocker.args[0] == [gone.resolve()]
    assert gone.resolve() not in listed and kept.resolve() in listed
    assert "gone.db" in session.window.statusBar().currentMessage()
    assert gone.resolve() not in RecentBooks(settings).paths()


def test_recent_books_keep_the_newest_first_without_duplicates(settings, tmp_path):
    recent = RecentBooks(settings)
    paths = [tmp_path / f"b{i}.db" for i in range(MAX_RECENT + 3)]
    for p in paths:
        recent.add(p)
    recent.add(paths[-5])
    got = recent.paths()
    assert got[0] == paths[-5].resolve()
    assert len(got) == MAX_RECENT == len(set(got))
    assert got[1:4] == [p.resolve() for p in reversed(paths[-3:])]


def test_the_app_reopens_the_last_book_only_when_it_still_opens(settings, tmp_path, monkeypatch):
    monkeypatch.setattr("isodesk.paths.default_db_path", lambda: tmp_path / "default.db")
    assert last_book(settings) is None  # first start: the per-user default book
    mine = tmp_path / "mine.db"
    Store.open(mine).close()
    RecentBooks(settings).add(mine)
    assert last_book(settings) == str(mine.resolve())
    mine.write_text("no longer a book")
    assert last_book(settings) is None
    mine.unlink()
    assert last_book(settings) is None


POSITIONS = ("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
             "my-btc,binance-usdm,BTCUSDT,linear,long,0.5,60000,10,3000\n"
             "my-eth,binance-usdm,ETHUSDT,linear,short,2,3000,5,1200\n")


def test_a_new_book_takes_the_traders_positions_from_a_file(qtbot, session, tmp_path):
    with qtbot.waitSignal(session.switched, timeout=15000) as blocker:
        session.open_book(str(tmp_path / "mine.db"), new=True)
    window = blocker.args[0]
    source = tmp_path / "positions.csv"
    source.write_text(POSITIONS)
    with qtbot.waitSignal(window.book_menu.imported, timeout=10000) as answer:
        window.book_menu.import_file(str(source))
    assert answer.args[0].accepted, answer.args[0].reason
    qtbot.waitUntil(lambda: window.model.population() == 2, timeout=10000)
    snap = window.model.snapshot()
    assert sorted(snap.book.labels) == ["my-btc", "my-eth"]  # the trader's two, no demo position
    assert "imported 2 positions" in window.statusBar().currentMessage()


def test_a_bad_file_imports_nothing_and_says_why(qtbot, session, tmp_path):
    window = session.window
    before = window.model.population()
    source = tmp_path / "bad.csv"
    source.write_text(POSITIONS.replace("0.5,60000", "-0.5,60000"))
    with qtbot.waitSignal(window.book_menu.imported, timeout=10000) as answer:
        window.book_menu.import_file(str(source))
    result = answer.args[0]
    assert not result.accepted and "nothing imported" in result.reason
    boxes = [w for w in window.findChildren(QMessageBox) if w.objectName() == "book-message" and w.isVisible()]
    assert len(boxes) == 1 and "bad.csv" in boxes[0].text() and "quantity" in boxes[0].text()
    assert window.model.population() == before
    boxes[0].close()
