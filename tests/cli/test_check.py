"""`isodesk check`: OK and exit 0, every problem and exit 1, one line and exit 2 when it cannot check."""

from __future__ import annotations

import json
import sqlite3

from tests.cli.conftest import run


def test_a_sound_book_prints_ok(demo_db, capsys):
    before = demo_db.read_bytes()
    code, out, err = run(capsys, "check", "--db", str(demo_db))
    assert (code, err) == (0, "")
    assert out.startswith(f"{demo_db}: OK (")
    assert "ledger entries" in out and out.count("\n") == 1
    assert demo_db.read_bytes() == before


def test_json(demo_db, capsys):
    code, out, _ = run(capsys, "check", "--db", str(demo_db), "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["problems"] == []
    assert report["counts"]["positions"] > 0 and report["pending_migrations"] == []


def test_every_problem_is_printed_and_the_status_is_1(demo_db, capsys):
    conn = sqlite3.connect(demo_db)
    conn.execute("UPDATE positions SET status = 'liquidated', closed_at = 1 WHERE id = 1")  # margin left inside
    conn.execute("INSERT INTO ledger (ts, kind, amount, source, dest, account_id) "
                 "VALUES (9, 'raw', '1000000000', 'free:1', 'external', 1)")  # free below 0
    conn.commit()
    conn.close()
    code, out, err = run(capsys, "check", "--db", str(demo_db))
    lines = out.splitlines()
    assert (code, err) == (1, "")
    assert lines[0].startswith(f"{demo_db}: 2 problems (")
    assert lines[1].startswith("  ledger: free:1 is -") and lines[1].endswith("a free balance never goes below 0")
    assert lines[2].startswith("  ledger: position:1 (") and " is liquidated but still holds " in lines[2]
    code, out, _ = run(capsys, "check", "--db", str(demo_db), "--json")
    assert code == 1 and [p["check"] for p in json.loads(out)["problems"]] == ["ledger", "ledger"]


def test_a_file_that_cannot_be_checked_is_one_line_and_status_2(tmp_path, capsys):
    missing = tmp_path / "missing.db"
    code, out, err = run(capsys, "check", "--db", str(missing))
    assert (code, out) == (2, "")
    assert err == f"isodesk check: --db {missing}: {missing}: no such file\n"
    assert not missing.exists()
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    code, _, err = run(capsys, "check", "--db", str(empty))
    assert code == 2 and err.count("\n") == 1 and "is empty (0 bytes)" in err


def test_a_damaged_book_is_reported_not_refused(demo_db, capsys):
    conn = sqlite3.connect(demo_db)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'ledger'").fetchone()[0]
    conn.close()
    with open(demo_db, "r+b") as handle:  # an invalid b-tree page type: every read of the ledger fails
        handle.seek((root - 1) * 4096)
        handle.write(b"\xff")
    code, out, err = run(capsys, "status", "--db", str(demo_db))  # the other commands refuse it in one line
    assert code == 2 and out == "" and err.count("\n") == 1 and f"run `isodesk check --db {demo_db}`" in err
    code, out, err = run(capsys, "check", "--db", str(demo_db))
    assert code == 1 and err == ""
    assert "  integrity: " in out and "  ledger: could not be read: the file is damaged" in out
