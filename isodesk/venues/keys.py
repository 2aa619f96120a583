"""API keys in the operating system's keyring (service ``isodesk``, user name = the venue).

A venue's credentials are stored as one JSON object under its name, e.g. ``{"apiKey": …,
"secret": …}`` (OKX adds ``password``, Hyperliquid needs only ``walletAddress``). They never go to
the database, a file or a log: :class:`Credentials` prints as ``***``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from isodesk.venues.errors import LiveUnavailable, MissingKeys, VenueError
from isodesk.venues.registry import VenueSpec
from isodesk.venues.scrub import Scrubber

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


def _failure(spec: VenueSpec, doing: str, exc: BaseException, values: Iterable[str] = (), hint: str = "") -> VenueError:
    """One line saying which keyring operation failed and why (the backend's own first line, scrubbed
    of the values being stored: a backend may quote what it was given)."""
    detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    detail = Scrubber(values)(detail)
    if len(detail) > 300:
        detail = detail[:300] + "…"
    reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return VenueError(f"{spec.venue}: cannot {doing} the system keyring ({reason}){hint}")


def load_credentials(spec: VenueSpec) -> Credentials:
    """The credentials of ``spec``'s venue; :class:`MissingKeys` (saying how to set them) when absent."""
    keyring = _keyring()
    hint = f"set them with `isodesk keys set {spec.venue}`"
    error: VenueError | None = None
    try:
        stored = keyring.get_password(SERVICE, spec.venue)
    except Exception as exc:  # keyring backends raise their own errors (locked, no backend)
        error = _failure(spec, "read", exc, hint=f"; {hint}")
    if error is not None:
        raise error  # outside the handler: no __context__ to carry the backend's exception
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
    """Store the credentials of ``spec``'s venue (every field the venue needs must be given).

    Any failure of the keyring (no backend, locked, refused, a backend's own exception) is one
    :class:`VenueError` line; nothing is stored then.
    """
    missing = [name for name in spec.credentials if not values.get(name)]
    if missing:
        raise MissingKeys(f"{spec.venue}: {', '.join(missing)} must not be empty")
    payload = json.dumps({k: values[k] for k in spec.credentials})
    keyring = _keyring()
    try:
        keyring.set_password(SERVICE, spec.venue, payload)
    except Exception as exc:
        error = _failure(spec, "write the keys to", exc, [*values.values(), payload])
    else:
        return
    raise error


def delete_credentials(spec: VenueSpec) -> bool:
    """Remove the venue's credentials; True if there were any.

    Any failure of the keyring (no backend, locked, ``PasswordDeleteError``, a backend's own
    exception) is one :class:`VenueError` line.
    """
    keyring = _keyring()
    try:
        stored = keyring.get_password(SERVICE, spec.venue)
    except Exception as exc:
        error = _failure(spec, "read", exc)
    else:
        if stored is None:
            return False
        try:
            keyring.delete_password(SERVICE, spec.venue)
        except Exception as exc:
            error = _failure(spec, "delete the keys from", exc, [stored])
        else:
            return True
    raise error
