"""The built wheel carries resources/ and finds them through isodesk.paths when installed."""

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_installed_wheel_finds_the_shipped_resources(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheel = next(dist.glob("isodesk-*.whl"))
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
