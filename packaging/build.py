"""Build the isodesk bundle and its archive: ``dist/isodesk-<version>-<platform>.tar.gz``.

Run by ``make dist`` and ``make dist-check`` with the Python of the environment to freeze (it must
have isodesk and the ``dist`` extra installed). PyInstaller builds the one-folder bundle of
``packaging/isodesk.spec`` under ``build/pyinstaller``; the folder is archived as
``isodesk-<version>/`` (the executable ``isodesk`` and its ``_internal`` folder, with the licence
and the changelog beside them). Prints the build and archive times (s) and the archive size (MB).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "isodesk.spec"
EXTRA_FILES = ("LICENSE", "CHANGELOG.md")


def version() -> str:
    """isodesk's one version number, read from ``isodesk/__init__.py`` (as hatch reads it)."""
    text = (ROOT / "isodesk" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise SystemExit("packaging/build.py: no __version__ in isodesk/__init__.py")
    return match.group(1)


def platform_tag(platform: str | None = None) -> str:
    """The platform part of the archive's name: ``sysconfig.get_platform()`` (``linux-x86_64``,
    ``macosx-11.0-arm64``, ``win-amd64``) with anything but letters, digits, ``.`` and ``-`` made ``_``."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", platform or sysconfig.get_platform())


def archive_name(version_text: str, platform: str) -> str:
    """``isodesk-<version>-<platform>.tar.gz``: the file name of the bundle's archive."""
    return f"isodesk-{version_text}-{platform}.tar.gz"


def freeze(build_dir: Path) -> Path:
    """Run PyInstaller on the spec with this interpreter; the bundle folder it made."""
    dist = build_dir / "dist"
    subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(dist), "--workpath", str(build_dir / "work"), str(SPEC)],
                   check=True, cwd=ROOT)
    folder = dist / "isodesk"
    if not (folder / "isodesk").is_file() and not (folder / "isodesk.exe").is_file():
        raise SystemExit(f"packaging/build.py: PyInstaller made no executable in {folder}")
    return folder


def make_archive(folder: Path, out: Path, top: str) -> Path:
    """Write ``folder`` (and the licence and changelog) into the gzip tar ``out`` under ``top/``;
    written beside and renamed, so ``out`` is never half-written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=top)
        for name in EXTRA_FILES:
            if (ROOT / name).is_file():
                tar.add(ROOT / name, arcname=f"{top}/{name}")
    os.replace(partial, out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Freeze, archive, report; exit status 0 when the archive was written."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--dist-dir", type=Path, default=ROOT / "dist")
    parser.add_argument("--archive-path", action="store_true", help="print the archive's path and stop")
    args = parser.parse_args(argv)
    text = version()
    if args.archive_path:
        print(args.dist_dir / archive_name(text, platform_tag()))
        return 0
    started = time.monotonic()
    folder = freeze(args.build_dir)
    frozen_s = time.monotonic() - started
    out = args.dist_dir / archive_name(text, platform_tag())
    started = time.monotonic()
    make_archive(folder, out, f"isodesk-{text}")
    archived_s = time.monotonic() - started
    size_mb = out.stat().st_size / 1e6
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out} ({size_mb:.1f} MB); "
          f"PyInstaller {frozen_s:.0f} s, archive {archived_s:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
