"""Which keyring isodesk may keep keys in, and that every way in says the same (issue 12: "Import from
venue without a keyring backend says NoKeyringError … set them with `isodesk keys set`, which fails
the same way").

Backends are keyring's own (``fail``, ``null``) or stand-ins named like the ``keyrings.alt`` ones;
no test touches the user's real keyring.
"""

from __future__ import annotations

import io
import json
import sys

import keyring
import keyring.backends.fail
import keyring.backends.null
import pytest
from keyring.backend import KeyringBackend

from isodesk.cli import main
from isodesk.desk import Desk
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.desk.venue_jobs import ImportFromVenue
from isodesk.venues.errors import MissingKeys
from isodesk.venues.keys import (
    KeyringUnavailable,
    allow_terminal_prompts,
    keyring_status,
    load_credentials,
    save_credentials,
)
from isodesk.venues.registry import venue_spec
from tests.venues.conftest import API_KEY, API_SECRET, MemoryKeyring


class PlaintextKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's unencrypted file keyring (same class name)."""


class EncryptedKeyring(MemoryKeyring):
    """Stands in for keyrings.alt's encrypted file keyring, which prompts on the terminal."""


EncryptedKeyring.__module__ = "keyrings.alt.file"


@pytest.fixture(autouse=True)
def _prompts_allowed():
    allow_terminal_prompts(True)
    yield
    allow_terminal_prompts(True)


def _no_loop(text: str) -> None:
    """The message names what to install, never a command that fails the same way."""
    assert "isodesk keys set" not in text
    if sys.platform.startswith("linux"):
        assert "gnome-keyring" in text and "KWallet" in text


def test_no_backend_says_what_to_install_everywhere(capsys, monkeypatch):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    status = keyring_status()
    assert not status.usable and status.problem == "no system keyring was found"
    _no_loop(status.advice)
    spec = venue_spec("bybit")
    with pytest.raises(KeyringUnavailable) as read:
        load_credentials(spec)
    assert not isinstance(read.value, MissingKeys)  # callers that skip on missing keys do not hide it
    assert str(read.value).startswith("bybit: cannot read API keys: no system keyring was found; install")
    _no_loop(str(read.value))
    with pytest.raises(KeyringUnavailable) as write:
        save_credentials(spec, {"apiKey": API_KEY, "secret": API_SECRET})
    assert str(write.value).startswith("bybit: cannot store API keys: no system keyring was found")
    # the command line says it before asking for a key
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{API_KEY}\n{API_SECRET}\n"))
    assert main(["keys", "set", "bybit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isodesk keys: bybit: nothing saved: no system keyring was found; install")
    assert "API key:" not in err
    _no_loop(err)


def test_import_from_a_venue_without_a_keyring_says_the_same(tmp_path):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    store = open_book(tmp_path / "b.db", demo=True)
    desk = Desk(store, None, catalog=shipped_catalog())
    try:
        result = desk.apply(ImportFromVenue("binance-usdm"))
    finally:
        desk.close()
        store.close()
    assert not result.accepted
    assert result.reason.startswith("binance-usdm: cannot read API keys: no system keyring was found; install")
    _no_loop(result.reason)


def test_the_null_backend_is_named_as_switched_off():
    keyring.set_keyring(keyring.backends.null.Keyring())
    status = keyring_status()
    assert not status.usable and "switched off" in status.problem and "PYTHON_KEYRING_BACKEND" in status.problem
    with pytest.raises(KeyringUnavailable, match="cannot read API keys: the keyring is switched off"):
        load_credentials(venue_spec("okx"))


def test_a_plaintext_keyring_needs_explicit_consent(capsys, monkeypatch):
    ring = PlaintextKeyring()
    keyring.set_keyring(ring)
    status = keyring_status()
    assert status.usable and status.needs_consent and "unencrypted" in status.problem
    spec = venue_spec("binance-usdm")
    with pytest.raises(KeyringUnavailable) as refused:
        save_credentials(spec, {"apiKey": API_KEY, "secret": API_SECRET})
    assert "nothing saved" in str(refused.value) and "--allow-insecure-keyring" in str(refused.value)
    assert ring.entries == {}
    # the command line: refused without the flag (before any prompt), saved with it
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{API_KEY}\n{API_SECRET}\n"))
    assert main(["keys", "set", "binance-usdm"]) == 2
    err = capsys.readouterr().err
    assert "unencrypted" in err and "--allow-insecure-keyring" in err and ring.entries == {}
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{API_KEY}\n{API_SECRET}\n"))
    assert main(["keys", "set", "binance-usdm", "--allow-insecure-keyring"]) == 0
    assert json.loads(ring.entries[("isodesk", "binance-usdm")]) == {"apiKey": API_KEY, "secret": API_SECRET}
    assert load_credentials(spec)["apiKey"] == API_KEY  # reading needs no consent


def test_a_keyring_that_prompts_on_the_terminal_is_refused_in_the_app_only():
    ring = EncryptedKeyring()
    keyring.set_keyring(ring)
    assert keyring_status().usable  # the command line can answer its prompt
    allow_terminal_prompts(False)  # the app (isodesk.ui.identity.apply_identity)
    status = keyring_status()
    assert not status.usable and "terminal" in status.problem
    with pytest.raises(KeyringUnavailable, match="asks its own password on a terminal"):
        load_credentials(venue_spec("bybit"))


def test_a_usable_keyring_with_no_entry_points_to_both_ways_of_setting_keys():
    keyring.set_keyring(MemoryKeyring())
    assert keyring_status().usable and keyring_status().problem == ""
    with pytest.raises(MissingKeys) as missing:
        load_credentials(venue_spec("okx"))
    assert "isodesk keys set okx" in str(missing.value) and "Venue API keys" in str(missing.value)


class _Chained(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self, backends):
        super().__init__()
        self.backends = backends

    def get_password(self, service, username):
        return None

    def set_password(self, service, username, password):
        raise NotImplementedError

    def delete_password(self, service, username):
        raise NotImplementedError


def test_a_chain_is_judged_by_the_backend_that_stores():
    keyring.set_keyring(_Chained([MemoryKeyring(), PlaintextKeyring()]))
    assert keyring_status().usable and not keyring_status().needs_consent
    keyring.set_keyring(_Chained([PlaintextKeyring()]))
    assert keyring_status().needs_consent
