"""API keys in the operating system's keyring (service ``isodesk``, user name = the venue).

A venue's credentials are stored as one JSON object under its name, e.g. ``{"apiKey": …,
"secret": …}`` (OKX adds ``password``, Hyperliquid needs only ``walletAddress``). They never go to
the database, a file or a log: :class:`Credentials` prints as ``***``.

Which keyring is in use is :func:`keyring_status`'s answer, and every way in (``isodesk keys set``,
the app's *Venue API keys* dialog, an import from a venue, a tier refresh) says the same thing:

- no backend (keyring's ``fail.Keyring``: a Linux box without a Secret Service, the case that used
  to answer "NoKeyringError … set them with `isodesk keys set`", which failed the same way) or
  the ``null`` backend: :class:`KeyringUnavailable` saying what to install, never a loop back to a
  command that fails the same way;
- a ``keyrings.alt`` file backend (keyring picks one on its own once that package is installed):
  ``PlaintextKeyring`` keeps the keys unencrypted in a file, so storing there needs the trader's
  explicit consent (``allow_insecure``); ``EncryptedKeyring`` asks its password on the terminal,
  which the app cannot show (:func:`allow_terminal_prompts`).
Sources: keyring 25 ``keyring/core.py`` (the highest-priority viable backend is chosen, else
``fail.Keyring``), ``keyring/backends/fail.py``, ``null.py``; jaraco/keyrings.alt ``keyrings/alt/file.py``
(``PlaintextKeyring`` "Simple File Keyring with no encryption"; ``EncryptedKeyring`` prompts with
``getpass``), read 2026-06.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from isodesk.paths import live_install_hint
from isodesk.venues.errors import LiveUnavailable, MissingKeys, VenueError
from isodesk.venues.registry import VenueSpec
from isodesk.venues.scrub import Scrubber

SERVICE = "isodesk"

class KeyringUnavailable(VenueError):
    """There is no keyring isodesk may keep keys in; the message says what to install or change."""


#: What to install where keyring finds no backend, per platform (one line each).
INSTALL_ADVICE = {
    "linux": "install and unlock a Secret Service keyring in your desktop session: GNOME Keyring "
             "(package gnome-keyring) or KWallet (packages kwalletmanager, kwallet); without a desktop, "
             "`pip install keyrings.alt pycryptodome` adds an encrypted file keyring that asks its password on "
             "the terminal (command line only)",
    "darwin": "keyring should find the macOS Keychain: check `python -m keyring diagnose` and that no "
              "keyringrc.cfg or PYTHON_KEYRING_BACKEND disables it",
    "win32": "keyring should find the Windows Credential Locker: check `python -m keyring diagnose` and that no "
             "keyringrc.cfg or PYTHON_KEYRING_BACKEND disables it",
}
PLAINTEXT_RISK = ("stores the keys unencrypted in a file (keyrings.alt PlaintextKeyring): anyone or anything that "
                  "can read your home folder can read them")
TERMINAL_RISK = "asks its own password on a terminal (keyrings.alt EncryptedKeyring), which the app cannot show"

_terminal_prompts = True


def allow_terminal_prompts(allowed: bool) -> None:
    """Whether a keyring backend may prompt on the terminal (False in the app, which has none)."""
    global _terminal_prompts
    _terminal_prompts = bool(allowed)


@dataclass(frozen=True, slots=True)
class KeyringStatus:
    """The keyring isodesk would use here.

    ``usable``: keys can be stored and read; ``name``: the backend as keyring names it;
    ``problem``: why it is not usable, or why storing there is less safe than an OS keyring ("" when
    neither); ``needs_consent``: usable, but only with the trader's explicit consent; ``advice``:
    what to install or change (one line, "" when nothing is wrong).
    """

    usable: bool
    name: str
    problem: str = ""
    advice: str = ""
    needs_consent: bool = False

    def message(self) -> str:
        """``problem; advice`` as one line (empty when nothing is wrong)."""
        return "; ".join(part for part in (self.problem, self.advice) if part)


def _install_advice() -> str:
    key = "linux" if sys.platform.startswith("linux") else sys.platform
    return INSTALL_ADVICE.get(key, "install a keyring backend for your system (`python -m keyring diagnose` "
                                   "shows what keyring finds)")


def keyring_status() -> KeyringStatus:
    """Which keyring backend is in use and whether isodesk may keep keys in it (see the module doc)."""
    try:
        keyring = _keyring()
    except LiveUnavailable as exc:
        return KeyringStatus(False, "none", "keyring is not installed", str(exc).split(": ", 1)[-1])
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken keyringrc.cfg or backend module
        return KeyringStatus(False, "none", f"keyring could not load its backend ({type(exc).__name__}: {exc})",
                             _install_advice())
    chained = getattr(backend, "backends", None)
    first = chained[0] if isinstance(chained, list | tuple) and chained else backend
    kind = f"{type(first).__module__}.{type(first).__name__}"
    name = _backend_name(first)
    if kind in ("keyring.backends.fail.Keyring", "keyring.backends.chainer.ChainerBackend"):
        return KeyringStatus(False, "none", "no system keyring was found", _install_advice())
    if kind == "keyring.backends.null.Keyring":
        return KeyringStatus(False, name, "the keyring is switched off (keyring.backends.null.Keyring, chosen by "
                                          "PYTHON_KEYRING_BACKEND or keyringrc.cfg)",
                             "remove that setting to use your system keyring")
    if type(first).__name__ == "PlaintextKeyring":
        return KeyringStatus(True, name, f"the keyring in use {PLAINTEXT_RISK}",
                             f"a safer choice: {_install_advice()}", needs_consent=True)
    if type(first).__name__ == "EncryptedKeyring" and type(first).__module__.startswith("keyrings."):
        if not _terminal_prompts:
            return KeyringStatus(False, name, f"the keyring in use {TERMINAL_RISK}",
                                 "use a desktop keyring (GNOME Keyring or KWallet), or set and use the keys from the "
                                 "command line (`isodesk keys set VENUE`, `isodesk import --venue VENUE`)")
        return KeyringStatus(True, name)
    return KeyringStatus(True, name)


def _backend_name(backend: Any) -> str:
    try:
        return str(backend.name)
    except Exception:
        return type(backend).__name__


def _unavailable(spec: VenueSpec, status: KeyringStatus, doing: str) -> KeyringUnavailable:
    return KeyringUnavailable(f"{spec.venue}: cannot {doing} API keys: {status.message()}")


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
        raise LiveUnavailable(f"venue keys need the optional extra: {live_install_hint('keyring')}") from None
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
    status = keyring_status()
    if not status.usable:
        raise _unavailable(spec, status, "read")
    hint = (f"set them with `isodesk keys set {spec.venue}` or in the app (Settings → Venue API keys…)")
    error: VenueError | None = None
    try:
        stored = keyring.get_password(SERVICE, spec.venue)
    except Exception as exc:  # keyring backends raise their own errors (locked, refused)
        error = _failure(spec, "read", exc, hint="; unlock the keyring (or check `python -m keyring diagnose`) "
                                                 "and try again")
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


def save_credentials(spec: VenueSpec, values: Mapping[str, str], *, allow_insecure: bool = False) -> None:
    """Store the credentials of ``spec``'s venue (every field the venue needs must be given).

    No keyring here: :class:`KeyringUnavailable` saying what to install. A backend that stores the
    keys unencrypted (``keyrings.alt`` PlaintextKeyring) is used only with ``allow_insecure`` (the
    trader's explicit consent), else refused with the risk named. Any failure of the keyring
    (locked, refused, a backend's own exception) is one :class:`VenueError` line; nothing is stored
    then.
    """
    missing = [name for name in spec.credentials if not values.get(name)]
    if missing:
        raise MissingKeys(f"{spec.venue}: {', '.join(missing)} must not be empty")
    payload = json.dumps({k: values[k] for k in spec.credentials})
    keyring = _keyring()
    status = keyring_status()
    if not status.usable:
        raise _unavailable(spec, status, "store")
    if status.needs_consent and not allow_insecure:
        raise KeyringUnavailable(f"{spec.venue}: nothing saved: {status.problem}. To store them there anyway run "
                                 f"`isodesk keys set {spec.venue} --allow-insecure-keyring` (in the app: tick \"Store "
                                 f"unencrypted\"); {status.advice}")
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
    status = keyring_status()
    if not status.usable:
        raise _unavailable(spec, status, "delete")
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
