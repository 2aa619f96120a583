"""`isodesk install-desktop`: a desktop entry and icons in the user's XDG data folder.

``desktop-file-validate`` is not available here, so :func:`validate` checks the entry against the
freedesktop Desktop Entry Specification 1.5 itself (specifications.freedesktop.org/desktop-entry-spec,
"Basic format of the file", "Possible value types", "Recognized desktop entry keys", "The Exec key")
and the Desktop Menu Specification's registered categories.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from isodesk.cli.desktop import exec_value, launcher
from tests.cli.conftest import run

ROOT = Path(__file__).resolve().parents[2]

# Desktop Entry Specification 1.5, "Recognized desktop entry keys": key → value type
KEYS = {
    "Type": "string", "Version": "string", "Name": "localestring", "GenericName": "localestring",
    "NoDisplay": "boolean", "Comment": "localestring", "Icon": "iconstring", "Hidden": "boolean",
    "OnlyShowIn": "strings", "NotShowIn": "strings", "DBusActivatable": "boolean", "TryExec": "string",
    "Exec": "string", "Path": "string", "Terminal": "boolean", "Actions": "strings", "MimeType": "strings",
    "Categories": "strings", "Implements": "strings", "Keywords": "localestrings", "StartupNotify": "boolean",
    "StartupWMClass": "string", "URL": "string", "PrefersNonDefaultGPU": "boolean", "SingleMainWindow": "boolean",
}
# Desktop Menu Specification, "Main Categories"
MAIN_CATEGORIES = {"AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network",
                   "Office", "Science", "Settings", "System", "Utility"}
# Exec: "Reserved characters are space, tab, newline, double quote, single quote, backslash, greater-than,
# less-than, tilde, vertical bar, ampersand, semicolon, dollar sign, asterisk, question mark, hash mark,
# parenthesis, and backtick"
RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def unescape_string(value: str) -> str:
    r"""Undo the escapes of a string value: \s \n \t \r \\ ("Possible value types")."""
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            out.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], "\\" + value[i + 1]))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def exec_argv(value: str) -> list[str]:
    """The argument vector of an Exec value: string escapes first, then the quoting rule (inside double
    quotes a backslash escapes ", `, $ and \\; an unquoted argument holds no reserved character)."""
    text = unescape_string(value)
    args, i = [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        if text[i] == '"':
            i += 1
            arg = []
            while text[i] != '"':
                if text[i] == "\\":
                    assert text[i + 1] in '"`$\\', f"bad escape in {value!r}"
                    i += 1
                arg.append(text[i])
                i += 1
            i += 1
            args.append("".join(arg))
        else:
            j = i
            while j < len(text) and text[j] != " ":
                assert text[j] not in RESERVED, f"unquoted reserved character {text[j]!r} in {value!r}"
                j += 1
            args.append(text[i:j])
            i = j
    for arg in args:
        assert re.search(r"%[^%]", arg.replace("%%", "")) is None, f"field code in {arg!r}"
    return [a.replace("%%", "%") for a in args]


def validate(text: str) -> dict[str, str]:
    """The [Desktop Entry] group of a desktop file, checked against the spec; its keys."""
    lines = text.split("\n")
    assert text.endswith("\n")
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in lines[:-1]:
        assert line.encode("utf-8").decode("utf-8") == line
        assert not any(ord(c) < 32 for c in line), f"control character in {line!r}"
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            assert line.endswith("]") and "[" not in line[1:-1] and "]" not in line[1:-1]
            name = line[1:-1]
            assert name not in groups, f"group {name} twice"
            if not groups:
                assert name == "Desktop Entry", "the first group must be [Desktop Entry]"
            current = groups.setdefault(name, {})
            continue
        assert current is not None, f"{line!r} before any group"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        key = key.strip()
        assert re.fullmatch(r"[A-Za-z0-9-]+(\[[A-Za-z_@.]+\])?", key), f"bad key {key!r}"
        assert key not in current, f"{key} twice"
        current[key] = value.strip()
    entry = groups["Desktop Entry"]
    for key, value in entry.items():
        base = key.split("[")[0]
        assert base in KEYS or base.startswith("X-"), f"{key} is not a key of the spec"
        kind = KEYS.get(base, "string")
        if kind == "boolean":
            assert value in ("true", "false"), f"{key}={value} is not a boolean"
        if kind in ("string", "strings", "iconstring"):
            assert value.isascii(), f"{key} must be ASCII"
        if kind in ("strings", "localestrings"):
            assert value.endswith(";"), f"{key}: a list ends with ';'"
    assert entry["Type"] in ("Application", "Link", "Directory")
    assert entry["Type"] == "Application" and entry.get("Name")
    assert "Exec" in entry or entry.get("DBusActivatable") == "true"
    assert entry.get("Version") == "1.5"
    categories = [c for c in entry["Categories"].split(";") if c]
    assert MAIN_CATEGORIES & set(categories), f"no main category in {categories}"
    if "Finance" in categories:  # "Finance": additional category related to Office (Desktop Menu Spec)
        assert "Office" in categories
    return entry


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_install_writes_a_valid_entry_and_icons_under_the_prefix(tmp_path, capsys):
    prefix = tmp_path / "share"
    code, out, err = run(capsys, "install-desktop", "--prefix", str(prefix))
    assert code == 0, err
    entry_file = prefix / "applications" / "isodesk.desktop"
    entry = validate(entry_file.read_text(encoding="utf-8"))
    assert entry["Name"] == "isodesk" and entry["Terminal"] == "false"
    # it launches isodesk-gui of the environment running the command
    argv = exec_argv(entry["Exec"])
    assert argv == launcher()
    assert Path(argv[0]).is_absolute() and os.access(argv[0], os.X_OK)
    if (Path(sys.executable).parent / "isodesk-gui").is_file():
        assert argv == [str(Path(sys.executable).parent / "isodesk-gui")]
    assert unescape_string(entry["TryExec"]) == argv[0]
    # the window matches the entry: desktop file name = desktopFileName, WM_CLASS class = application name
    assert entry["StartupWMClass"] == "isodesk" and entry_file.stem == "isodesk"
    # Icon names an icon of the hicolor theme, installed per the Icon Theme Specification
    assert entry["Icon"] == "isodesk"
    svg = prefix / "icons" / "hicolor" / "scalable" / "apps" / "isodesk.svg"
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    for size in (16, 32, 48, 64, 128, 256):
        png = prefix / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "isodesk.png"
        assert _png_size(png) == (size, size)
    assert str(entry_file) in out


def test_remove_deletes_what_install_wrote(tmp_path, capsys):
    prefix = tmp_path / "share"
    run(capsys, "install-desktop", "--prefix", str(prefix))
    written = sorted(p for p in prefix.rglob("*") if p.is_file())
    assert len(written) == 8
    code, out, _ = run(capsys, "install-desktop", "--prefix", str(prefix), "--remove")
    assert code == 0 and out.count("removed ") == 8
    assert not [p for p in prefix.rglob("*") if p.is_file()]
    code, out, _ = run(capsys, "install-desktop", "--prefix", str(prefix), "--remove")
    assert code == 0 and "nothing to remove" in out


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="a desktop entry is for freedesktop desktops")
def test_without_prefix_it_follows_xdg_data_home(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    code, _, err = run(capsys, "install-desktop")
    assert code == 0, err
    validate((tmp_path / "xdg" / "applications" / "isodesk.desktop").read_text(encoding="utf-8"))
    # a relative XDG_DATA_HOME is invalid and ignored (XDG Base Directory Specification): ~/.local/share
    monkeypatch.setenv("XDG_DATA_HOME", "relative/dir")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, _, err = run(capsys, "install-desktop")
    assert code == 0, err
    assert (tmp_path / "home" / ".local" / "share" / "applications" / "isodesk.desktop").is_file()


@pytest.mark.parametrize("argv", [
    ["/opt/isodesk/bin/isodesk-gui"],
    ["/home/a trader/venv/bin/isodesk-gui"],
    ["/tmp/we$ird `dir`/py\"thon", "-m", "isodesk"],
    ["C:\\Program Files\\isodesk\\isodesk-gui.exe", "--db", "100%.db"],
])
def test_exec_quoting_round_trips_per_the_spec(argv):
    value = exec_value(argv)
    assert exec_argv(value) == argv


def test_the_shipped_entry_is_valid_too():
    entry = validate((ROOT / "resources" / "desktop" / "isodesk.desktop").read_text(encoding="utf-8"))
    assert exec_argv(entry["Exec"]) == ["isodesk-gui"]


def test_an_unwritable_prefix_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, out, err = run(capsys, "install-desktop", "--prefix", str(blocker))
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"isodesk install-desktop: {blocker}:")
