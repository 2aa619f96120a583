"""Notifications: the freedesktop notification server on Linux, the tray elsewhere and as a fallback.

No session bus is needed: the sender is injected (a fake recording the D-Bus call), and where
``dbus-daemon`` exists a private bus with a fake ``org.freedesktop.Notifications`` server (jeepney)
checks the real wire format. The expected arguments follow the Desktop Notifications Specification
1.2: ``Notify(s app_name, u replaces_id, s app_icon, s summary, s body, as actions, a{sv} hints,
i expire_timeout) → u``; urgency is a byte, 2 = critical.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from isodesk.desk.settings import SetSettings
from isodesk.ui.notify import FreedesktopSender, Notice, Notifier


class FakeSender:
    """Records every D-Bus call; answers with increasing ids (or an error), now or from a thread."""

    def __init__(self, *, available: bool = True, capabilities=("body", "sound"), error: str = "",
                 threaded: bool = False):
        self._available = available
        self.capabilities = frozenset(capabilities)
        self.error = error
        self.threaded = threaded
        self.calls: list[tuple[str, str, tuple]] = []
        self.closed = False
        self.threads: list[threading.Thread] = []

    def available(self) -> bool:
        return self._available

    def send(self, member, signature, body, on_reply):
        self.calls.append((member, signature, body))
        nid = None if self.error else 40 + len(self.calls)

        def reply():
            on_reply(nid, self.error)
        if self.threaded:
            t = threading.Thread(target=reply)
            self.threads.append(t)
            t.start()
        else:
            reply()

    def close(self) -> None:
        self.closed = True


class FakeTray:
    def __init__(self):
        self.messages: list[tuple] = []

    def showMessage(self, title, body, icon, ms):
        self.messages.append((title, body, icon, ms))


class NoSender:
    capabilities = frozenset()

    def available(self) -> bool:
        raise AssertionError("the freedesktop service must not be asked on this platform")

    def send(self, *args):
        raise AssertionError("nothing goes over D-Bus on this platform")

    def close(self) -> None:
        pass


def _hints(body) -> dict:
    return body[6]


def test_linux_danger_goes_to_the_freedesktop_server_with_the_spec_arguments(qtbot):
    sender, tray = FakeSender(), FakeTray()
    notifier = Notifier(tray, sender=sender, platform="linux")
    assert notifier.backend == "freedesktop"
    with qtbot.waitSignal(notifier.delivered) as delivered:
        notifier.notify(Notice("btc-core-long: DANGER", "btc-core-long rose to DANGER: 2.10 % from liquidation",
                               level="danger", key=7, sound=True))
    assert delivered.args == ["freedesktop", "btc-core-long: DANGER"]
    member, signature, body = sender.calls[0]
    assert (member, signature) == ("Notify", "susssasa{sv}i")
    app_name, replaces_id, app_icon, summary, text, actions, hints, timeout = body
    assert app_name == "isodesk" and replaces_id == 0 and actions == []
    assert app_icon == "isodesk" or (app_icon.startswith("file:///") and app_icon.endswith(".png"))
    assert summary == "btc-core-long: DANGER" and text.endswith("2.10 % from liquidation")
    assert hints["urgency"] == ("y", 2)  # critical
    assert hints["desktop-entry"] == ("s", "isodesk")
    assert hints["category"] == ("s", "x-isodesk.risk")
    assert hints["sound-name"] == ("s", "dialog-warning") and "suppress-sound" not in hints
    assert timeout == 0  # a critical notification stays until dismissed
    assert tray.messages == []  # not twice


def test_a_newer_notice_of_the_same_position_replaces_the_older(qtbot):
    sender = FakeSender()
    notifier = Notifier(None, sender=sender, platform="linux")
    notifier.notify(Notice("eth: WARNING", "w", level="warning", key=3))
    notifier.notify(Notice("btc: WARNING", "w", level="warning", key=9))
    notifier.notify(Notice("eth: DANGER", "d", level="danger", key=3))
    ids = [call[2][1] for call in sender.calls]
    assert ids == [0, 0, 41]  # the server called the first eth notification 41
    warning = sender.calls[0][2]
    assert _hints(warning)["urgency"] == ("y", 1) and warning[7] == -1  # normal, the server's own timeout
    assert _hints(warning)["suppress-sound"] == ("b", True) and "sound-name" not in _hints(warning)


def test_the_answer_from_the_senders_thread_is_taken_in_the_gui_thread(qtbot):
    sender = FakeSender(threaded=True)
    notifier = Notifier(None, sender=sender, platform="linux")
    notifier.notify(Notice("sol: DANGER", "d", level="danger", key=5))
    qtbot.waitUntil(lambda: notifier._ids.get(5) == 41, timeout=3000)
    for t in sender.threads:
        t.join()


def test_a_failed_call_falls_back_to_the_tray_and_three_in_a_row_switch_to_it(qtbot):
    sender, tray = FakeSender(error="org.freedesktop.DBus.Error.ServiceUnknown: gone"), FakeTray()
    notifier = Notifier(tray, sender=sender, platform="linux")
    notifier.notify(Notice("xrp: LIQUIDATED", "liquidated at 0.71", level="liquidated", key=1))
    assert tray.messages == [("xrp: LIQUIDATED", "liquidated at 0.71", QSystemTrayIcon.MessageIcon.Critical, 8000)]
    notifier.notify(Notice("a", "b", level="warning", key=2))
    notifier.notify(Notice("c", "d", level="warning", key=2))
    assert notifier.backend == "tray" and sender.closed
    notifier.notify(Notice("e", "f", level="warning", key=2))
    assert len(sender.calls) == 3 and len(tray.messages) == 4
    assert tray.messages[-1][2] == QSystemTrayIcon.MessageIcon.Warning


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_use_the_trays_native_centre(qtbot, platform):
    tray = FakeTray()
    notifier = Notifier(tray, sender=NoSender(), platform=platform)
    assert notifier.backend == "tray"
    assert notifier.notify(Notice("btc: DANGER", "close", level="danger", key=1)) == "tray"
    assert tray.messages == [("btc: DANGER", "close", QSystemTrayIcon.MessageIcon.Critical, 8000)]


def test_no_server_no_tray_means_the_status_bar_only(qtbot):
    sender = FakeSender(available=False)
    notifier = Notifier(None, sender=sender, platform="linux")
    assert notifier.backend == "none" and sender.closed
    assert notifier.notify(Notice("a", "b", level="danger")) == "none"
    assert sender.calls == []
    tray = FakeTray()
    assert Notifier(tray, sender=FakeSender(available=False), platform="linux").backend == "tray"


def test_a_server_without_sounds_gets_no_sound_hint(qtbot, monkeypatch):
    beeps = []
    monkeypatch.setattr("PySide6.QtWidgets.QApplication.beep", lambda: beeps.append(1))
    sender = FakeSender(capabilities=("body",))
    notifier = Notifier(None, sender=sender, platform="linux")
    notifier.notify(Notice("a: DANGER", "b", level="danger", key=1, sound=True))
    hints = _hints(sender.calls[0][2])
    assert "sound-name" not in hints and hints["suppress-sound"] == ("b", True)
    assert beeps == [1]  # the system bell instead


def test_without_a_session_bus_the_real_sender_says_unavailable_quickly(monkeypatch):
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    sender = FreedesktopSender(timeout_s=1.0)
    started = time.monotonic()
    assert sender.available() is False
    sender.close()
    assert time.monotonic() - started < 3


def test_the_window_notifies_on_danger_with_the_sound_setting(qtbot, tmp_path):
    """End to end: the desk's level event reaches the notifier, with the sound the trader set."""
    from isodesk.desk.session import DeskConfig
    from isodesk.ui.mainwindow import MainWindow, ui_settings
    from tests.desk.fakes import ScriptedFeed

    feed = ScriptedFeed()
    config = DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20, feed_factory=lambda store: feed)
    window = MainWindow(config, settings=ui_settings(tmp_path / "ui.ini"), theme="light")
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.snapshot_applied, timeout=5000):
            window.start()
        sender = FakeSender()
        window.notifier = Notifier(None, window, sender=sender, platform="linux")
        with qtbot.waitSignal(window.controller.result, timeout=5000):
            window.controller.send(SetSettings((("alerts.sound", "on"),)))
        qtbot.waitUntil(lambda: window.model.snapshot().settings.sound, timeout=5000)
        # btc-core-long: 0.5 BTC long at 62,000 with 6,200 margin, liquidation ≈ 49,799: 51,000 is 2.4 % away
        feed.push("BTCUSDT", 51_000.0, time.time())
        qtbot.waitUntil(lambda: any(c[2][3] == "btc-core-long: DANGER" for c in sender.calls), timeout=5000)
        call = next(c for c in sender.calls if c[2][3] == "btc-core-long: DANGER")
        assert _hints(call[2])["urgency"] == ("y", 2) and _hints(call[2])["sound-name"] == ("s", "dialog-warning")
    finally:
        window.close()
    assert window.controller.thread.isFinished()


# ---- the real wire format, on a private bus -------------------------------------------------------

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture
def private_bus(tmp_path):
    """A dbus-daemon of this test's own (never the user's session bus); its address."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed")
    pytest.importorskip("jeepney")
    conf = tmp_path / "bus.conf"
    conf.write_text(BUS_CONFIG.format(socket=tmp_path / "bus"))
    proc = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork", "--print-address"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = proc.stdout.readline().strip()
        assert address.startswith("unix:"), address
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class FakeServer:
    """``org.freedesktop.Notifications`` on the private bus (jeepney): records each call's signature
    and arguments, answers Notify with 1, 2, 3…"""

    def __init__(self, address: str):
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.conn = open_dbus_connection(bus=address)
        self.conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.Notifications"), timeout=5)
        self.calls: list[tuple[str, str, tuple]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return

        served = 0
        while not self.stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            if msg.header.message_type != MessageType.method_call:
                continue
            member = msg.header.fields[HeaderFields.member]
            self.calls.append((member, msg.header.fields.get(HeaderFields.signature, ""), msg.body))
            if member == "GetCapabilities":
                self.conn.send(new_method_return(msg, "as", (["body", "sound"],)))
            elif member == "Notify":
                served += 1
                self.conn.send(new_method_return(msg, "u", (served,)))
            else:
                self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.conn.close()


def test_on_a_real_bus_the_call_has_the_spec_signature_and_replaces_by_id(qtbot, private_bus):
    server = FakeServer(private_bus)
    sender = FreedesktopSender(bus=private_bus)
    try:
        notifier = Notifier(None, sender=sender, platform="linux")
        assert notifier.backend == "freedesktop" and sender.capabilities == {"body", "sound"}
        notifier.notify(Notice("btc: DANGER", "2.1 % from liquidation", level="danger", key=7, sound=True))
        qtbot.waitUntil(lambda: notifier._ids.get(7) == 1, timeout=5000)
        notifier.notify(Notice("btc: LIQUIDATED", "liquidated", level="liquidated", key=7))
        qtbot.waitUntil(lambda: notifier._ids.get(7) == 2, timeout=5000)
    finally:
        sender.close()
        server.close()
    notify = [c for c in server.calls if c[0] == "Notify"]
    assert [c[1] for c in notify] == ["susssasa{sv}i", "susssasa{sv}i"]
    first, second = notify[0][2], notify[1][2]
    assert first[:2] == ("isodesk", 0) and first[3:6] == ("btc: DANGER", "2.1 % from liquidation", [])
    assert first[6]["urgency"] == ("y", 2) and first[6]["desktop-entry"] == ("s", "isodesk")
    assert first[6]["sound-name"] == ("s", "dialog-warning") and first[7] == 0
    assert second[1] == 1  # replaces the first
    assert second[6]["suppress-sound"] == ("b", True)


def test_the_application_has_its_name_icon_and_desktop_id(qapp):
    """The same name and icon in the window, the task bar and the notifications (isodesk.ui.identity)."""
    from PySide6.QtGui import QGuiApplication

    from isodesk.ui.identity import apply_identity
    from isodesk.venues.keys import allow_terminal_prompts

    try:
        apply_identity(qapp)
        assert QGuiApplication.applicationDisplayName() == "isodesk"
        assert QGuiApplication.desktopFileName() == "isodesk"  # matches isodesk.desktop (install-desktop)
        icon = qapp.windowIcon()
        assert not icon.isNull()
        for size in (16, 32, 48, 256):
            assert icon.pixmap(size, size).width() == size
    finally:
        allow_terminal_prompts(True)
