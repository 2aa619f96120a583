"""API keys in the operating system's keyring (service ``isodesk``, user name = the venue).

A venue's credentials are stored as one JSON object under its name, e.g. ``{"apiKey": …,
"secret": …}`` (OKX adds ``password``, Hyperliquid needs only ``walletAddress``). They never go to
the database, a file or a log: :class:`Credentials` prints as ``***``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from isodesk.venues.errors import LiveUnavailable, MissingKeys, VenueError
from isodesk.venues.registry import VenueSpec

SERVICE = "isodesk"

PROMPTS = {"apiKey": "API key", "secret": "API secret", "password": "API passphrase",
           "walletAddress": "wallet address (0x…, read-only: no private key needed)"}


class Credentials(Mapping[str, str]):
    """A read-only mapping of credential name → value whose ``repr``/``str`` never shows a value."""

    def __init__(self, values: Mapping[str, str]):
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({', '.join(f'{k}=***' for k in self._values)})"

    __str__ = __repr__


def _keyring() -> Any:
    try:
        import keyring
    except ImportError:
        raise LiveUnavailable("venue keys need the optional extra: pip install 'isodesk[live]' (keyring)") from None
    return keyring


def load_credentials(spec: VenueSpec) -> Credentials:
    """The credentials of ``spec``'s venue; :class:`MissingKeys` (saying how to set them) when absent."""
    keyring = _keyring()
    hint = f"set them with `isodesk keys set {spec.venue}`"
    try:
        stored = keyring.get_password(SERVICE, spec.venue)
    except Exception as exc:  # keyring backends raise their own errors (locked, no backend)
        raise VenueError(f"{spec.venue}: cannot read the keyring ({type(exc).__name__}); {hint}") from None
    if not stored:
        raise MissingKeys(f"{spec.venue}: no API keys in the keyring; {hint}")
    try:
        values = json.loads(stored)
    except ValueError:
        values = None
    if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
        raise MissingKeys(f"{spec.venue}: the keyring entry is not readable; {hint}")
    missing = [name for name in spec.credentials if not values.get(name)]
    if missing:
        raise MissingKeys(f"{spec.venue}: the keyring entry lacks {', '.join(missing)}; {hint}")
    return Credentials({k: values[k] for k in spec.credentials})


def save_credentials(spec: VenueSpec, values: Mapping[str, str]) -> None:
    """Store the credentials of ``spec``'s venue (every field the venue needs must be given)."""
    missing = [name for name in spec.credentials if not values.get(name)]
    if missing:
        raise MissingKeys(f"{spec.venue}: {', '.join(missing)} must not be empty")
    payload = json.dumps({k: values[k] for k in spec.credentials})
    try:
        _keyring().set_password(SERVICE, spec.venue, payload)
    except LiveUnavailable:
        raise
    except Exception as exc:
        raise VenueError(f"{spec.venue}: cannot write the keyring ({type(exc).__name__})") from None


def delete_credentials(spec: VenueSpec) -> bool:
    """Remove the venue's credentials; True if there were any."""
    keyring = _keyring()
    if keyring.get_password(SERVICE, spec.venue) is None:
        return False
    keyring.delete_password(SERVICE, spec.venue)
    return True
