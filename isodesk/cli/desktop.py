"""``isodesk install-desktop``: put isodesk in the applications menu of a Linux desktop.

Writes a desktop entry (freedesktop Desktop Entry Specification 1.5,
specifications.freedesktop.org/desktop-entry-spec/latest, read 2026-06) to
``$XDG_DATA_HOME/applications/isodesk.desktop`` and the application icon to the hicolor theme,
``$XDG_DATA_HOME/icons/hicolor/{scalable,NxN}/apps/isodesk.{svg,png}`` (Icon Theme Specification:
user icons under ``$XDG_DATA_HOME/icons``), ``$XDG_DATA_HOME`` defaulting to ``~/.local/share``
(XDG Base Directory Specification). The entry's ``Exec`` is the ``isodesk-gui`` launcher of the
Python environment running this command (so a virtual environment works without being on
``PATH``); its file name ``isodesk.desktop`` matches ``QGuiApplication.desktopFileName`` and its
``StartupWMClass`` the X11 class Qt sets from the application name, so the task bar groups the
window under the entry's name and icon. ``--prefix DIR`` writes under ``DIR`` instead of
``$XDG_DATA_HOME`` (packaging, tests); ``--remove`` deletes what it wrote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from isodesk.cli.errors import UserError
from isodesk.paths import resource_path

APP_ID = "isodesk"
ICON_SIZES = (16, 32, 48, 64, 128, 256)
#: Characters that make an Exec argument need double quotes (Desktop Entry spec, "The Exec key").
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def add_parser(sub: Any) -> None:
    """Register ``install-desktop``."""
    p = sub.add_parser("install-desktop", help="add isodesk to the applications menu (Linux desktop entry + icon)",
                       description="Write isodesk.desktop and the isodesk icon into your XDG data folder "
                                   "(~/.local/share/applications and ~/.local/share/icons/hicolor), launching "
                                   "this environment's isodesk-gui.")
    p.add_argument("--prefix", metavar="DIR", help="write under DIR instead of $XDG_DATA_HOME (~/.local/share)")
    p.add_argument("--remove", action="store_true", help="remove the desktop entry and icons written before")
    p.set_defaults(handler=run)


def data_home(prefix: str | None = None) -> Path:
    """Where user applications and icons go: ``prefix``, else ``$XDG_DATA_HOME``, else ``~/.local/share``
    (an unset, empty or relative ``$XDG_DATA_HOME`` is ignored, as the XDG spec says)."""
    if prefix:
        return Path(prefix).expanduser()
    env = os.environ.get("XDG_DATA_HOME", "")
    if env and Path(env).is_absolute():
        return Path(env)
    return Path.home() / ".local" / "share"


def launcher() -> list[str]:
    """The command that starts the app from this environment: its ``isodesk-gui`` script (beside the
    interpreter, else on PATH), else ``python -m isodesk``; in the bundle (PyInstaller sets
    ``sys.frozen``) the bundle's own executable, which opens the app when given no subcommand."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    script_dir = Path(sys.executable).parent
    for name in ("isodesk-gui", "isodesk-gui.exe"):
        candidate = script_dir / name
        if candidate.is_file():
            return [str(candidate)]
    found = shutil.which("isodesk-gui")
    if found:
        return [found]
    return [sys.executable, "-m", "isodesk"]


def exec_value(argv: list[str]) -> str:
    """``argv`` as the value of an ``Exec`` key: arguments with reserved characters in double quotes
    (``"``, `````, ``$`` and ``\\`` backslash-escaped inside them), ``%`` doubled (no field codes), and
    then every backslash doubled, because Exec is a string value whose own escapes apply first."""
    parts = []
    for arg in argv:
        text = arg.replace("%", "%%")
        if any(c in _RESERVED for c in text):
            quoted = "".join("\\" + c if c in '"`$\\' else c for c in text)
            text = f'"{quoted}"'
        parts.append(text)
    return " ".join(parts).replace("\\", "\\\\")


def desktop_entry(argv: list[str]) -> str:
    """The text of ``isodesk.desktop`` (the shipped template with ``Exec``/``TryExec`` set to ``argv``)."""
    template = resource_path("desktop", f"{APP_ID}.desktop").read_text(encoding="utf-8")
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = f"Exec={exec_value(argv)}"
        elif line.startswith("TryExec="):
            line = f"TryExec={argv[0].replace(chr(92), chr(92) * 2)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def targets(base: Path) -> dict[str, Path]:
    """Every file this command writes, by what it is."""
    out = {"entry": base / "applications" / f"{APP_ID}.desktop",
           "svg": base / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"}
    for size in ICON_SIZES:
        out[f"png{size}"] = base / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
    return out


def install(base: Path, argv: list[str] | None = None) -> dict[str, Path]:
    """Write the desktop entry and icons under ``base``; the files written."""
    files = targets(base)
    sources = {"svg": resource_path("icons", f"{APP_ID}.svg"),
               **{f"png{s}": resource_path("icons", f"{APP_ID}-{s}.png") for s in ICON_SIZES}}
    for key, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if key == "entry":
            tmp = path.with_suffix(".desktop.tmp")
            tmp.write_text(desktop_entry(argv or launcher()), encoding="utf-8")
            os.replace(tmp, path)  # a menu never sees a half-written entry
        else:
            shutil.copyfile(sources[key], path)
    return files


def remove(base: Path) -> list[Path]:
    """Delete what :func:`install` wrote under ``base``; the files removed."""
    gone = []
    for path in targets(base).values():
        if path.exists():
            path.unlink()
            gone.append(path)
    return gone


def run(args: argparse.Namespace) -> int:
    """Install (or remove) the desktop entry and icons; one line per file."""
    if args.prefix is None and sys.platform in ("darwin", "win32"):
        raise UserError("a desktop entry is for Linux desktops (freedesktop); on macOS and Windows start isodesk "
                        "with `isodesk-gui` or pin the running app to the Dock / task bar")
    base = data_home(args.prefix)
    try:
        if args.remove:
            gone = remove(base)
            print("\n".join(f"removed {p}" for p in gone) if gone else f"nothing to remove under {base}")
            return 0
        files = install(base)
    except OSError as exc:
        raise UserError(f"{base}: {exc.strerror or exc}; nothing more was written") from None
    print(f"wrote {files['entry']} (starts: {' '.join(launcher())})")
    print(f"wrote the isodesk icon to {base / 'icons' / 'hicolor'} ({len(files) - 1} files)")
    print("isodesk now appears in the applications menu (log out and in if your desktop does not pick it up)")
    return 0
