"""Start-up checks that run before Qt can abort the process."""

import subprocess
import sys

from isodesk.ui import app


def test_no_display_is_a_message_not_an_abort(monkeypatch):
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    if not sys.platform.startswith("linux"):
        assert app.display_problem() is None
        return
    assert app.display_problem() == app.NO_DISPLAY
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    proc = subprocess.run([sys.executable, "-m", "isodesk", "--db", "unused.db"], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2
    assert "no display found" in proc.stderr and "isodesk screenshot OUT.png" in proc.stderr


def test_missing_x11_libraries_are_named(monkeypatch):
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.setattr("ctypes.util.find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so")
    if sys.platform.startswith("linux"):
        message = app.display_problem()
        assert message is not None
        assert message.splitlines()[0].endswith("missing: libxcb-cursor.")
