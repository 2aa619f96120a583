"""The layer rules of DESIGN.md, checked on the running interpreter (import-linter checks the source)."""

import subprocess
import sys


def test_core_imports_no_qt():
    code = ("import sys, isodesk.margin, isodesk.store, isodesk.feeds, isodesk.desk; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_margin_core_needs_only_numpy_and_the_standard_library():
    code = ("import sys; import isodesk.margin, isodesk.margin.catalog; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlite3', 'sqlite_utils', 'platformdirs') "
            "or m.startswith(('isodesk.store', 'isodesk.feeds', 'isodesk.desk', 'isodesk.ui'))); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
