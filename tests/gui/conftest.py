"""Shared GUI fixtures: a real desk over the demo book in a temp store, driven by hand."""

from __future__ import annotations

import pytest

from isodesk.desk import Desk
from isodesk.desk.setup import open_book, shipped_catalog
from tests.desk.fakes import ManualClock, ScriptedFeed


class DemoDesk:
    """A desk over the demo book with a scripted feed and a manual clock."""

    def __init__(self, path):
        self.clock = ManualClock()
        self.store = open_book(path, demo=True, ts=self.clock.now)
        self.feed = ScriptedFeed()
        self.desk = Desk(self.store, self.feed, catalog=shipped_catalog(), clock=self.clock)

    def tick(self, prices: dict[str, float] | None = None, advance: float = 1.0):
        """Advance the clock, push ``prices`` (market → price) and step; returns the snapshot."""
        self.clock.advance(advance)
        for symbol, price in (prices or {}).items():
            self.feed.push(symbol, price, self.clock.now)
        return self.desk.step()

    def row(self, snapshot, label: str) -> int:
        """The snapshot row of a position label."""
        return snapshot.book.labels.index(label)

    def pid(self, label: str) -> int:
        """The position id of a label."""
        snap = self.desk.snapshot
        return int(snap.book.position_ids[snap.book.labels.index(label)])


@pytest.fixture
def demo_desk(tmp_path):
    """The demo book (13 positions) on a real desk; closed at teardown."""
    d = DemoDesk(tmp_path / "book.db")
    yield d
    d.desk.close()


@pytest.fixture
def light():
    """The light theme (explicit: tests never follow the system scheme)."""
    from isodesk.ui.theme import light_theme

    return light_theme()


@pytest.fixture(autouse=True)
def _qt_application(qapp):
    """Every GUI test runs with the QApplication (models start timers; fonts need it)."""
    return qapp
