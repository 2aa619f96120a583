"""Venue API keys entered in the app: into the keyring, or — where there is none — what to install."""

from __future__ import annotations

import json
import sys

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from isodesk.ui.keys_dialog import KeysDialog
from isodesk.venues.keys import allow_terminal_prompts
from tests.venues.conftest import API_KEY, API_SECRET, MemoryKeyring


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's unencrypted file keyring (same class name)."""


@pytest.fixture
def ring():
    """A keyring of this test's own; keyring's failing backend again afterwards."""
    def use(backend):
        keyring.set_keyring(backend)
        return backend
    allow_terminal_prompts(False)  # as in the app
    yield use
    keyring.set_keyring(keyring.backends.fail.Keyring())
    allow_terminal_prompts(True)


def _dialog(qtbot, **kw) -> KeysDialog:
    d = KeysDialog(**kw)
    qtbot.addWidget(d)
    d.show()
    return d


def test_keys_typed_in_the_app_go_to_the_keyring(qtbot, ring):
    memory = ring(MemoryKeyring())
    d = _dialog(qtbot, venue="okx")
    assert "system keyring" in d.keyring_label.text() and not d.consent.isVisible()
    visible = [name for name, edit in d.inputs.items() if edit.isVisible()]
    assert visible == ["apiKey", "secret", "password"]  # OKX needs its passphrase
    assert d.inputs["secret"].echoMode() == QLineEdit.EchoMode.Password
    assert d.inputs["password"].echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(d.inputs["apiKey"], API_KEY)
    qtbot.keyClicks(d.inputs["secret"], API_SECRET)
    assert not d.save_button.isEnabled()  # the passphrase is still missing
    qtbot.keyClicks(d.inputs["password"], "pass-phrase-1")
    assert d.save_button.isEnabled()
    with qtbot.waitSignal(d.stored) as stored:
        qtbot.mouseClick(d.save_button, Qt.MouseButton.LeftButton)
    assert stored.args == ["okx"]
    assert json.loads(memory.entries[("isodesk", "okx")]) == {"apiKey": API_KEY, "secret": API_SECRET,
                                                               "password": "pass-phrase-1"}
    assert all(edit.text() == "" for edit in d.inputs.values())  # nothing left on screen
    assert API_SECRET not in d.status.text()
    assert d.delete() is True and ("isodesk", "okx") not in memory.entries


def test_hyperliquid_needs_only_the_wallet_address(qtbot, ring):
    ring(MemoryKeyring())
    d = _dialog(qtbot, venue="hyperliquid")
    assert [name for name, edit in d.inputs.items() if edit.isVisible()] == ["walletAddress"]


def test_without_a_keyring_the_dialog_says_what_to_install_and_offers_nothing_else(qtbot, ring):
    ring(keyring.backends.fail.Keyring())
    d = _dialog(qtbot, venue="bybit")
    text = d.keyring_label.text()
    assert text.startswith("Keys cannot be stored here: no system keyring was found; install")
    if sys.platform.startswith("linux"):
        assert "gnome-keyring" in text and "KWallet" in text
    assert "isodesk keys set" not in text
    qtbot.keyClicks(d.inputs["apiKey"], API_KEY)
    qtbot.keyClicks(d.inputs["secret"], API_SECRET)
    assert not d.save_button.isEnabled() and not d.delete_button.isEnabled()
    assert not d.consent.isVisible()  # no less safe way in


def test_an_unencrypted_keyring_needs_the_box_ticked(qtbot, ring):
    plain = ring(PlaintextKeyring())
    d = _dialog(qtbot, venue="binance-usdm")
    assert d.keyring_label.text().startswith("Warning: the keyring in use stores the keys unencrypted")
    assert d.consent.isVisible() and not d.consent.isChecked()
    qtbot.keyClicks(d.inputs["apiKey"], API_KEY)
    qtbot.keyClicks(d.inputs["secret"], API_SECRET)
    assert not d.save_button.isEnabled()
    d.consent.setChecked(True)
    assert d.save_button.isEnabled()
    assert d.save() is True
    assert json.loads(plain.entries[("isodesk", "binance-usdm")]) == {"apiKey": API_KEY, "secret": API_SECRET}


def test_the_main_window_opens_it_from_the_menu(qtbot, ring, tmp_path):
    from isodesk.desk.session import DeskConfig
    from isodesk.ui.mainwindow import MainWindow, ui_settings
    from tests.desk.fakes import ScriptedFeed

    ring(MemoryKeyring())
    config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20,
                        feed_factory=lambda store: ScriptedFeed())
    window = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme="light")
    qtbot.addWidget(window)
    try:
        action = window.findChild(type(window.act_pause), "venue-keys")
        assert action.shortcut().toString() == "Ctrl+Alt+K"
        with qtbot.waitSignal(window.forms_opened, timeout=2000) as opened:
            action.trigger()
        assert isinstance(opened.args[0], KeysDialog)
        assert window.windowTitle() == "book.db — isodesk" and not window.windowIcon().isNull()
    finally:
        window.close()
