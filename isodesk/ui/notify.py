"""Desktop notifications that reach the trader, tray or not.

- **Linux (and other freedesktop desktops)**: the session's notification server,
  ``org.freedesktop.Notifications.Notify`` on the D-Bus session bus (Desktop Notifications
  Specification 1.2, specifications.freedesktop.org/notification-spec, read 2026-06). GNOME has no
  system tray by default, so a tray balloon would never be seen there; every desktop (GNOME Shell,
  KDE Plasma, dunst, mako, XFCE) runs this server. The call is
  ``Notify(s app_name, u replaces_id, s app_icon, s summary, s body, as actions, a{sv} hints,
  i expire_timeout) → u id``; hints used: ``urgency`` (byte: 0 low, 1 normal, 2 critical),
  ``desktop-entry`` (``isodesk``, so the server shows the entry's name and icon), ``category``
  (``x-isodesk.risk``, the spec's form for vendor categories), ``sound-name`` / ``suppress-sound``.
  A newer notification of the same position replaces the older one (``replaces_id``).
- **macOS, Windows**: ``QSystemTrayIcon.showMessage``, which Qt delivers to the native notification
  centre there; also the fallback on Linux when no notification server answers.
- Nowhere to show it: the status bar only (the main window always writes it there too).

Why jeepney and not ``PySide6.QtDBus`` for the call: QtDBus is in PySide6-Essentials, but its Python
binding cannot produce the D-Bus types ``Notify`` requires — a Python ``int`` goes out as ``i``
(or, through ``QDBusArgument <<``, as ``q``), never as ``u`` (``replaces_id``) or ``y``
(``urgency``), and an empty list as ``av`` instead of ``as``; servers built on GDBus (GNOME Shell)
reject a call whose signature is not ``susssasa{sv}i`` (probed with PySide6 6.11.3 against a
private dbus-daemon). jeepney (pure Python, maintained, already what ``keyring`` uses on Linux)
takes the signature explicitly. The call runs in a one-thread pool so a slow or absent server never
blocks the GUI; its answer comes back through a queued signal.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from isodesk.ui.identity import APP_ID, DISPLAY_NAME, icon_file

log = logging.getLogger("isodesk.ui")

BUS_NAME = "org.freedesktop.Notifications"
OBJECT_PATH = "/org/freedesktop/Notifications"
INTERFACE = "org.freedesktop.Notifications"
NOTIFY_SIGNATURE = "susssasa{sv}i"
CATEGORY = "x-isodesk.risk"
URGENCY = {"liquidated": 2, "danger": 2, "warning": 1}  # anything else: 0 (low)
#: freedesktop sound theme names (Sound Naming Specification) played with the notification
SOUNDS = {"danger": "dialog-warning", "liquidated": "dialog-error"}
TRAY_TIMEOUT_MS = 8000
FAILURES_BEFORE_TRAY = 3

ReplyCallback = Callable[[int | None, str], None]


class Sender(Protocol):
    """How a notification reaches the freedesktop server (the real one, or a test's fake)."""

    capabilities: frozenset[str]

    def available(self) -> bool:
        """True if a notification server owns (or can be started for) ``org.freedesktop.Notifications``."""
        ...

    def send(self, member: str, signature: str, body: tuple[Any, ...], on_reply: ReplyCallback) -> None:
        """Call ``member`` with ``body`` of D-Bus ``signature``; later ``on_reply(id, "")`` or
        ``on_reply(None, error)``, from any thread."""
        ...

    def close(self) -> None:
        """Let go of the connection."""
        ...


@dataclass(frozen=True, slots=True)
class Notice:
    """One notification: a one-line ``summary``, a ``body``, the risk ``level`` it is about
    (``warning``, ``danger``, ``liquidated``…), the position it is about (``key``, so a newer one
    replaces it) and whether to play a sound."""

    summary: str
    body: str
    level: str = ""
    key: int | None = None
    sound: bool = False

    @property
    def urgency(self) -> int:
        """The spec's urgency byte: 2 critical (danger, liquidation), 1 normal (warning), 0 low."""
        return URGENCY.get(self.level, 0)


def notify_body(notice: Notice, *, replaces_id: int = 0, app_icon: str = "",
                sound_supported: bool = True) -> tuple[Any, ...]:
    """The arguments of ``Notify`` for ``notice``, in the order and types of :data:`NOTIFY_SIGNATURE`
    (variants in jeepney's ``(signature, value)`` form). Critical notices never expire on their own
    (``expire_timeout`` 0); others use the server's default (-1)."""
    hints: dict[str, tuple[str, Any]] = {
        "urgency": ("y", notice.urgency),
        "desktop-entry": ("s", APP_ID),
        "category": ("s", CATEGORY),
    }
    sound = SOUNDS.get(notice.level) if notice.sound else None
    if sound and sound_supported:
        hints["sound-name"] = ("s", sound)
    else:
        hints["suppress-sound"] = ("b", True)
    timeout = 0 if notice.urgency == 2 else -1
    return (DISPLAY_NAME, int(replaces_id), app_icon, notice.summary, notice.body, [], hints, timeout)


class FreedesktopSender:
    """``org.freedesktop.Notifications`` over the session bus with jeepney, in a one-thread pool.

    ``bus``: ``"SESSION"`` (``$DBUS_SESSION_BUS_ADDRESS``) or a D-Bus address (tests run a private
    dbus-daemon). The connection is made and used only in the pool's thread.
    """

    def __init__(self, bus: str = "SESSION", timeout_s: float = 2.0):
        self.bus = bus
        self.timeout_s = timeout_s
        self.capabilities: frozenset[str] = frozenset()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            from jeepney.io.blocking import open_dbus_connection

            self._conn = open_dbus_connection(bus=self.bus, auth_timeout=self.timeout_s)
        return self._conn

    def _call(self, member: str, signature: str | None = None, body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress(OBJECT_PATH, bus_name=BUS_NAME, interface=INTERFACE)
        reply = self._connection().send_and_get_reply(new_method_call(address, member, signature, body),
                                                      timeout=self.timeout_s)
        return tuple(unwrap_msg(reply))

    def _probe(self) -> bool:
        from jeepney.bus_messages import message_bus
        from jeepney.wrappers import unwrap_msg

        conn = self._connection()
        owned = bool(unwrap_msg(conn.send_and_get_reply(message_bus.NameHasOwner(BUS_NAME), timeout=self.timeout_s))[0])
        if not owned:
            names = unwrap_msg(conn.send_and_get_reply(message_bus.ListActivatableNames(), timeout=self.timeout_s))[0]
            if BUS_NAME not in names:
                return False
        self.capabilities = frozenset(self._call("GetCapabilities")[0])
        return True

    def available(self) -> bool:
        """True if a notification server answers on this bus (checked once, in the pool's thread)."""
        try:
            return bool(self._pool.submit(self._probe).result(timeout=self.timeout_s * 3))
        except Exception as exc:  # no session bus, no jeepney, a server that does not answer
            log.info("no freedesktop notification server: %s: %s", type(exc).__name__, exc)
            self._pool.submit(self._drop)
            return False

    def send(self, member: str, signature: str, body: tuple[Any, ...], on_reply: ReplyCallback) -> None:
        """Queue the call; ``on_reply`` runs in the pool's thread."""
        self._pool.submit(self._send, member, signature, body, on_reply)

    def _send(self, member: str, signature: str, body: tuple[Any, ...], on_reply: ReplyCallback) -> None:
        try:
            answer = self._call(member, signature, body)
        except Exception as exc:
            self._drop()
            on_reply(None, f"{type(exc).__name__}: {exc}")
            return
        on_reply(int(answer[0]) if answer else 0, "")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        """Close the connection and stop the thread (waits for a call under way)."""
        try:
            self._pool.submit(self._drop)
        except RuntimeError:  # already shut down
            return
        self._pool.shutdown(wait=True)


def uses_freedesktop(platform: str = sys.platform) -> bool:
    """True where notifications go through the freedesktop server (not macOS, not Windows)."""
    return not (platform == "darwin" or platform.startswith("win") or platform == "cygwin")


def installed_icon_name(data_dirs: list[Path] | None = None) -> bool:
    """True if ``isodesk install-desktop`` put the icon in an XDG icon theme (then the icon name serves)."""
    import os

    if data_dirs is None:
        home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        data_dirs = [Path(home)] + [Path(p) for p in (os.environ.get("XDG_DATA_DIRS")
                                                     or "/usr/local/share:/usr/share").split(":") if p]
    return any((d / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg").is_file() for d in data_dirs)


class Notifier(QObject):
    """Sends each notice to the platform's notification service, the tray as a fallback.

    ``backend`` says where notices go: ``freedesktop``, ``tray`` or ``none`` (status bar only).

    Signals:
        delivered(str, str): (backend, summary) of a notice just handed over (a fallback to the tray
            after a failed D-Bus call is delivered again as ``tray``).
        _replied(object): (internal) the D-Bus answer, queued from the sender's thread.
    """

    delivered = Signal(str, str)
    _replied = Signal(object)

    def __init__(self, tray: QSystemTrayIcon | None, parent: QObject | None = None, *,
                 sender: Sender | None = None, platform: str = sys.platform):
        super().__init__(parent)
        self.tray = tray
        self.sender: Sender | None = None
        self._ids: dict[int | None, int] = {}
        self._failures = 0
        self._replied.connect(self._on_replied)
        headless = sender is None and QGuiApplication.platformName() == "offscreen"  # tests, screenshots
        if uses_freedesktop(platform) and not headless:
            candidate = sender if sender is not None else FreedesktopSender()
            if candidate.available():
                self.sender = candidate
            else:
                candidate.close()
        self.app_icon = APP_ID if installed_icon_name() else Path(icon_file()).as_uri()

    @property
    def backend(self) -> str:
        """``freedesktop``, ``tray`` or ``none``."""
        if self.sender is not None:
            return "freedesktop"
        return "tray" if self.tray is not None else "none"

    def notify(self, notice: Notice) -> str:
        """Send ``notice``; returns the backend it went to."""
        sender = self.sender
        if sender is None:
            return self._fallback(notice)
        body = notify_body(notice, replaces_id=self._ids.get(notice.key, 0), app_icon=self.app_icon,
                           sound_supported="sound" in sender.capabilities)
        if notice.sound and "sound" not in sender.capabilities:
            QApplication.beep()  # the server plays no sounds: the system bell instead
        sender.send("Notify", NOTIFY_SIGNATURE, body, lambda nid, error: self._replied.emit((notice, nid, error)))
        self.delivered.emit("freedesktop", notice.summary)
        return "freedesktop"

    def _fallback(self, notice: Notice) -> str:
        if notice.sound:
            QApplication.beep()
        if self.tray is None:
            return "none"
        icon = (QSystemTrayIcon.MessageIcon.Critical if notice.urgency == 2
                else QSystemTrayIcon.MessageIcon.Warning if notice.urgency == 1
                else QSystemTrayIcon.MessageIcon.Information)
        self.tray.showMessage(notice.summary, notice.body, icon, TRAY_TIMEOUT_MS)
        self.delivered.emit("tray", notice.summary)
        return "tray"

    @Slot(object)
    def _on_replied(self, answer: tuple[Notice, int | None, str]) -> None:
        notice, nid, error = answer
        if nid is not None:
            self._failures = 0
            self._ids[notice.key] = nid
            return
        self._failures += 1
        log.warning("the notification server did not take %r (%s); using the tray", notice.summary, error)
        if self._failures >= FAILURES_BEFORE_TRAY and self.sender is not None:
            log.warning("%d notifications failed in a row: notifications go to the tray from now on", self._failures)
            self.sender.close()
            self.sender = None
        self._fallback(notice)

    def close(self) -> None:
        """Let go of the D-Bus connection (at shutdown)."""
        if self.sender is not None:
            self.sender.close()
            self.sender = None
