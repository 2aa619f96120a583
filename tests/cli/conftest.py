"""Shared helpers for command-line tests: run a command in-process, a demo database."""

from __future__ import annotations

import pytest

from isodesk.cli import main


def run(capsys, *argv):
    """Run ``isodesk ARGV`` in this process; returns (exit status, stdout, stderr)."""
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def demo_db(tmp_path, capsys):
    """A new database seeded with the demo book (through `isodesk status --demo`)."""
    db = tmp_path / "demo.db"
    code, _, err = run(capsys, "status", "--db", str(db), "--demo")
    assert code == 0, err
    return db
