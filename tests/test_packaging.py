"""The built wheel carries resources/ and finds them through isodesk.paths when installed; its
metadata is what a package index and pipx expect; one version number everywhere; the bundle's
name and launcher (the bundle itself is proved by ``make dist-check``, packaging/test_bundle.py)."""

import email
import importlib.util
import os
import re
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from isodesk import __version__

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this checkout (offline: no build isolation)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True)
    return next(dist.glob("isodesk-*.whl"))


@pytest.mark.slow
def test_installed_wheel_finds_the_shipped_resources(tmp_path, wheel):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", site, str(wheel)],
                   check=True, capture_output=True, text=True)
    # dependencies come from this environment's site-packages; isodesk itself only from the wheel
    deps = subprocess.run([sys.executable, "-c", "import numpy, os; print(os.path.dirname(os.path.dirname("
                           "numpy.__file__)))"], check=True, capture_output=True, text=True).stdout.strip()
    code = ("import isodesk, isodesk.paths as p; from isodesk.margin.catalog import TierCatalog; "
            "print(isodesk.__file__); print(p.resource_root()); "
            "print(len(TierCatalog(p.resource_path('tiers')).symbols('binance-usdm', 'linear')))")
    proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": deps})
    assert proc.returncode == 0, proc.stderr
    module_file, root, count = proc.stdout.split()
    assert module_file.startswith(site)
    assert root == str(Path(site) / "isodesk" / "_resources")
    assert int(count) > 800


@pytest.mark.slow
def test_wheel_metadata_is_what_an_index_and_pipx_expect(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        info = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = email.message_from_bytes(zf.read(info))
        entry_points = zf.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert meta["Name"] == "isodesk"
    assert meta["Version"] == __version__
    assert wheel.name == f"isodesk-{__version__}-py3-none-any.whl"
    assert meta["Summary"] and "isolated-margin" in meta["Summary"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT"
    assert any(n.endswith("licenses/LICENSE") for n in names)
    classifiers = meta.get_all("Classifier")
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert any(c.startswith("Topic :: Office/Business :: Financial") for c in classifiers)
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Changelog", "Issues"} <= set(urls)
    assert set(meta.get_all("Provides-Extra")) >= {"live", "dist", "test"}
    requires = meta.get_all("Requires-Dist")
    extra = re.compile(r"extra == ['\"](\w+)['\"]")

    def extras_of(name):
        return {m.group(1) for r in requires if r.lower().startswith(name) for m in [extra.search(r)] if m}

    assert extras_of("ccxt") == {"live", "test"}
    assert extras_of("keyring") == {"live", "test"}
    assert extras_of("pyinstaller>") == {"dist"}
    assert not any(r.startswith("pyinstaller") and "extra" not in r for r in requires)  # never for traders
    # pipx exposes these two: the command (console) and the launcher (no console on Windows)
    sections = dict(re.findall(r"\[(\w+)\]\n([^\[]*)", entry_points))
    assert "isodesk = isodesk.cli:main" in sections["console_scripts"]
    assert "isodesk-gui = isodesk.cli:gui_main" in sections["gui_scripts"]
    assert meta.get_payload().startswith("# isodesk")  # the README, For traders first
    assert meta.get_payload().index("## For traders") < meta.get_payload().index("## Set-up")


def test_one_version_number_with_its_changelog_section():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.MULTILINE)
    assert versions[0] == __version__  # the newest section is the version being shipped
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))), reverse=True)
    proc = subprocess.run([sys.executable, "-m", "isodesk", "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == f"isodesk {__version__}"


def test_the_bundle_archive_is_named_with_the_version_and_platform():
    build = _packaging_build()
    assert build.version() == __version__
    assert build.archive_name("0.2.0", "linux-x86_64") == "isodesk-0.2.0-linux-x86_64.tar.gz"
    assert build.platform_tag("macosx-11.0-arm64") == "macosx-11.0-arm64"
    assert build.platform_tag("weird platform/1") == "weird_platform_1"
    assert build.platform_tag() == sysconfig.get_platform()  # this machine's, as the wheel tags name it


def test_nothing_built_is_committed():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "dist/" in ignored and "build/" in ignored
    tracked = subprocess.run(["git", "ls-files", "dist", "build"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""


def test_the_bundle_launches_itself_from_the_applications_menu(monkeypatch, tmp_path):
    from isodesk.cli import desktop

    exe = tmp_path / "isodesk-0.2.0" / "isodesk"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert desktop.launcher() == [str(exe)]
    assert f"Exec={exe}\n" in desktop.desktop_entry(desktop.launcher())


def _packaging_build():
    """``packaging/build.py`` as a module (loaded by path: ``build`` is also PyPA's package)."""
    spec = importlib.util.spec_from_file_location("isodesk_packaging_build", ROOT / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
