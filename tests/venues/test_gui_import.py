"""The import form drives a real desk thread against a recorded venue on 127.0.0.1."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from isodesk.desk.session import DeskConfig
from isodesk.store import Store
from isodesk.ui.dialogs import VenueImportDialog
from isodesk.ui.worker import DeskController


@pytest.fixture
def controller(qtbot, tmp_path):
    c = DeskController(DeskConfig(db=str(tmp_path / "gui.db"), feed_factory=lambda store: None, step_ms=20))
    with qtbot.waitSignal(c.snapshot, timeout=5000):
        c.start()
    yield c
    assert c.shutdown()
    assert c.thread.isFinished()


def test_import_form_shows_what_the_venue_import_did(qtbot, controller, binance, binance_keys, tmp_path):
    dialog = VenueImportDialog(controller, base_url=binance.url)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.venue.setCurrentText("binance-usdm")
    with qtbot.waitSignal(dialog.finished_import, timeout=20000) as done:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    result = done.args[0]
    assert result.accepted, result.reason
    text = dialog.details.toPlainText()
    assert all(f"new      {s.label}" in text for s in result.payload.created)
    assert "isodesk liq" in text and "vs venue" in text
    qtbot.waitUntil(lambda: controller.latest is not None and len(controller.latest) == len(result.payload.created),
                    timeout=5000)
    store = Store.open(tmp_path / "gui.db")
    try:
        assert {p.label for p in store.positions()} == {s.label for s in result.payload.created}
    finally:
        store.close()
