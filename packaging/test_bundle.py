"""The application bundle works on its own: unpacked from its archive, run with a fresh home.

``make dist-check`` builds the archive in a clean environment and runs this file with
``ISODESK_BUNDLE_ARCHIVE`` naming it. It lives outside ``tests/`` because ``make test`` never builds
a bundle: it is not part of that suite, rather than a part of it that skips. Each test runs the
bundled executable as a trader would: no virtual environment, no ``PYTHONPATH``, a new ``HOME`` and new XDG folders.
"""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest

from isodesk import __version__

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = os.environ.get("ISODESK_BUNDLE_ARCHIVE", "")
CALC = ["calc", "--json", "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--entry", "60000",
        "--qty", "0.5", "--margin", "3000", "--mark", "55000"]

pytestmark = pytest.mark.slow

if not ARCHIVE:
    raise pytest.UsageError("packaging/test_bundle.py needs ISODESK_BUNDLE_ARCHIVE: run it through make dist-check")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The bundle's executable, unpacked from the archive into an empty folder."""
    archive = Path(ARCHIVE)
    assert archive.name == f"isodesk-{__version__}-{_platform()}.tar.gz"
    where = tmp_path_factory.mktemp("unpacked")
    with tarfile.open(archive) as tar:
        tops = {member.name.split("/", 1)[0] for member in tar.getmembers()}
        assert tops == {f"isodesk-{__version__}"}
        tar.extractall(where, filter="tar")
    exe = where / f"isodesk-{__version__}" / "isodesk"
    assert exe.is_file() and os.access(exe, os.X_OK)
    return exe


def _platform() -> str:
    """The platform tag packaging/build.py names archives with (loaded by path: ``build`` is also PyPA's)."""
    spec = importlib.util.spec_from_file_location("isodesk_packaging_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.platform_tag()


def _trader_env(home: Path, **extra: str) -> dict[str, str]:
    """A trader's environment: a fresh home, no Python variables, no display unless given."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    home.mkdir(parents=True, exist_ok=True)
    return {**keep, "HOME": str(home), **extra}


def _run(exe: Path, args: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_archive_carries_the_resources_where_the_wheel_has_them(bundle):
    internal = bundle.parent / "_internal" / "isodesk" / "_resources"
    for part in (("demo", "book.json"), ("tiers", "binance-usdm.json"), ("icons", "isodesk.svg"),
                 ("desktop", "isodesk.desktop")):
        assert internal.joinpath(*part).is_file(), part
    assert (bundle.parent / "LICENSE").is_file()
    assert f"## {__version__}" in (bundle.parent / "CHANGELOG.md").read_text(encoding="utf-8")


def test_version(bundle, tmp_path):
    proc = _run(bundle, ["--version"], _trader_env(tmp_path / "home"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"isodesk {__version__}"


def test_calc_gives_the_figures_of_the_installed_package(bundle, tmp_path):
    proc = _run(bundle, CALC, _trader_env(tmp_path / "home"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    # Binance USDⓈ-M, BTCUSDT bracket 1 (maintenance rate 0.4 %, amount 0), long 0.5 from 60,000:
    # notional at 55,000 = 27,500; balance = 3,000 − 2,500 = 500; maintenance = 0.004 × 27,500 = 110;
    # liquidation = (60,000 × 0.5 − 3,000) / (0.5 × (1 − 0.004)); bankruptcy = (30,000 − 3,000) / 0.5
    assert got["notional"] == pytest.approx(27_500)
    assert got["margin_balance"] == pytest.approx(500)
    assert got["maintenance_margin"] == pytest.approx(110)
    assert got["liquidation_price"] == pytest.approx(27_000 / 0.498, rel=1e-12)
    assert got["bankruptcy_price"] == pytest.approx(54_000)
    wheel = subprocess.run([sys.executable, "-m", "isodesk", *CALC], capture_output=True, text=True, check=True)
    assert got == json.loads(wheel.stdout)


def test_status_demo_on_a_new_database(bundle, tmp_path):
    env = _trader_env(tmp_path / "home")
    book = tmp_path / "new-book.db"
    proc = _run(bundle, ["status", "--db", str(book), "--demo", "--json"], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    demo = json.loads((ROOT / "resources" / "demo" / "book.json").read_text(encoding="utf-8"))
    assert sorted(p["label"] for p in status["positions"]) == sorted(p["label"] for p in demo["positions"])
    assert book.is_file()


def test_screenshot_offscreen_is_a_real_picture(bundle, tmp_path):
    env = _trader_env(tmp_path / "home")  # no display: screenshot chooses offscreen itself
    out = tmp_path / "shot.png"
    proc = _run(bundle, ["screenshot", str(out), "--size", "1280x720", "--after", "1"], env, tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    width, height, pixels = _decode_png(out.read_bytes())
    assert (width, height) == (1280, 720)
    assert out.stat().st_size > 20_000
    assert len(set(pixels[: 4 * width * 200])) > 50  # text and cards, not one flat colour


def test_install_desktop_points_the_menu_entry_at_the_bundle(bundle, tmp_path):
    prefix = tmp_path / "share"
    proc = _run(bundle, ["install-desktop", "--prefix", str(prefix)], _trader_env(tmp_path / "home"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    entry = (prefix / "applications" / "isodesk.desktop").read_text(encoding="utf-8")
    assert f"Exec={bundle}\n" in entry  # the bundle's executable opens the app; no Python involved
    shipped = bundle.parent / "_internal" / "isodesk" / "_resources" / "icons" / "isodesk-256.png"
    assert (prefix / "icons" / "hicolor" / "256x256" / "apps" / "isodesk.png").read_bytes() == shipped.read_bytes()


def test_the_gui_is_the_default_and_seeds_the_default_book_once(bundle, tmp_path):
    home = tmp_path / "home"
    bare = _run(bundle, [], _trader_env(home), tmp_path)  # no display at all: a clear refusal, no crash
    assert bare.returncode == 2
    assert "no display found" in bare.stderr
    env = _trader_env(home, QT_QPA_PLATFORM="offscreen")
    default_db = home / ".local" / "share" / "isodesk" / "isodesk.db"
    app = subprocess.Popen([str(bundle)], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 60
        while not default_db.exists() and app.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert app.poll() is None, app.communicate()[1]
        assert default_db.exists()
    finally:
        app.terminate()
        app.communicate(timeout=30)
    status = _run(bundle, ["status", "--json"], _trader_env(home), tmp_path)
    assert status.returncode == 0, status.stderr
    demo = json.loads((ROOT / "resources" / "demo" / "book.json").read_text(encoding="utf-8"))
    assert len(json.loads(status.stdout)["positions"]) == len(demo["positions"])


def _decode_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the raw (filtered) scanlines of an 8-bit RGB/RGBA PNG: enough to prove it decodes."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6)
    raw = zlib.decompress(idat)
    channels = 3 if colour == 2 else 4
    assert len(raw) == height * (1 + width * channels)
    return width, height, raw
