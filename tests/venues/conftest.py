"""Fixtures for the venue tests: an in-memory keyring, a recorded Binance USDⓈ-M and Hyperliquid on
127.0.0.1, a store.

No test here reaches the internet: every ccxt client is pointed at the local server.
"""

from __future__ import annotations

import copy
import json
import logging

import keyring
import keyring.backends.fail
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from isodesk.desk.setup import shipped_catalog
from isodesk.store import Store
from tests.venues.server import VenueServer, recorded

API_KEY = "ak-LIVE-7f3c9e2b1d4a8f6e0c5b3a7d9e1f2c4b"
API_SECRET = "sk-SECRET-a1b2c3d4e5f60718293a4b5c6d7e8f90"
WALLET = "0x5e9ee1089755c3435139848e47e6635505d5a13a"


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in a dict (tests only)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise PasswordDeleteError(username)
        del self.entries[(service, username)]


@pytest.fixture(autouse=True)
def memory_keyring():
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(keyring.backends.fail.Keyring())


BINANCE_ROUTES = {"/fapi/v1/exchangeInfo": "exchangeInfo", "/fapi/v1/premiumIndex": "premiumIndex",
                  "/fapi/v1/leverageBracket": "leverageBracket", "/fapi/v2/positionRisk": "positionRisk",
                  "/fapi/v1/adlQuantile": "adlQuantile"}


@pytest.fixture
def binance():
    """A recorded Binance USDⓈ-M: markets, mark prices, leverage brackets, positions (v2 positionRisk)."""
    server = VenueServer()
    for path, name in BINANCE_ROUTES.items():
        server.route("GET", path, recorded("binance-usdm", name))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hyperliquid():
    """A recorded Hyperliquid /info: markets and marks, and the account of :data:`WALLET`
    (``server.state["clearinghouseState"]`` may be edited by a test)."""
    state = {"clearinghouseState": recorded("hyperliquid", "clearinghouseState")}
    server = VenueServer()

    def info(query, body):
        request = json.loads(body or b"{}")
        kind = request.get("type")
        if kind == "metaAndAssetCtxs":
            return 200, recorded("hyperliquid", "metaAndAssetCtxs")
        if kind == "clearinghouseState" and request.get("user") == WALLET:
            return 200, state["clearinghouseState"]
        return 422, {"error": f"unexpected {kind}"}

    server.route("POST", "/info", info)
    server.state = state
    server.start()
    yield server
    server.stop()


@pytest.fixture
def binance_keys(memory_keyring):
    from isodesk.venues.keys import save_credentials
    from isodesk.venues.registry import venue_spec

    save_credentials(venue_spec("binance-usdm"), {"apiKey": API_KEY, "secret": API_SECRET})
    return memory_keyring


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "book.db")
    yield s
    s.close()


@pytest.fixture
def catalog():
    return shipped_catalog()


@pytest.fixture
def positions_body():
    return copy.deepcopy(recorded("binance-usdm", "positionRisk"))


@pytest.fixture
def debug_logs(caplog):
    """Every log record at DEBUG, ccxt's request log (``isodesk.venues.http``) included, whatever
    level an earlier CLI run (the log file) left on the ``isodesk`` logger."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="isodesk")
    return caplog
