"""Crash safety and the external price writer, with real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from decimal import Decimal

import pytest

from isodesk.desk import Deposit, Desk
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.sqlite_feed import SqlitePricesFeed
from isodesk.store import Store

COMMANDS = textwrap.dedent("""
    import sys
    from decimal import Decimal
    from isodesk.desk import Deposit, Desk, Withdraw
    from isodesk.desk.setup import shipped_catalog
    from isodesk.store import Store

    desk = Desk(Store.open(sys.argv[1]), None, catalog=shipped_catalog())
    i = 0
    while True:
        i += 1
        amount = Decimal(i) / 1000 + Decimal("0.001")
        cmd = Deposit(amount, account="binance-usdm:USDT") if i % 3 else Withdraw(Decimal("0.001"),
                                                                                  account="binance-usdm:USDT")
        result = desk.apply(cmd)
        if result.accepted:
            print(result.ledger_entry_id, cmd.request_id, flush=True)
""")

WRITER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], timeout=10.0)
    n, hz = int(sys.argv[2]), float(sys.argv[3])
    start = time.monotonic()
    for i in range(n):
        with conn:
            conn.execute("INSERT INTO prices (ts, symbol, price, source) VALUES (?, 'BTCUSDT', ?, 'ext')",
                         (time.time(), 60000.0 + (i % 50)))
        delay = start + (i + 1) / hz - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print("wrote", n, flush=True)
""")


@pytest.mark.slow
def test_sigkill_mid_stream_keeps_every_acknowledged_command(tmp_path):
    db = tmp_path / "crash.db"
    Store.open(db).close()
    script = tmp_path / "commands.py"
    script.write_text(COMMANDS)
    proc = subprocess.Popen([sys.executable, str(script), str(db)], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    assert proc.stdout is not None
    for line in proc.stdout:
        acknowledged.append(line.split())
        if len(acknowledged) == 150:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    store = Store.open(db)
    try:
        entries = {str(e.id): e for e in store.ledger()}
        for entry_id, request_id in acknowledged:
            assert entry_id in entries, f"acknowledged entry {entry_id} lost"
            assert entries[entry_id].request_id == request_id
        assert sum(store.balances().values(), Decimal(0)) == 0
    finally:
        store.close()


@pytest.mark.slow
def test_external_writer_at_200_per_second_loses_nothing(tmp_path):
    db = tmp_path / "shared.db"
    store = Store.open(db)
    feed = SqlitePricesFeed(db, start_after_id=0)
    desk = Desk(store, feed, catalog=shipped_catalog())
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    n = 600
    writer = subprocess.Popen([sys.executable, str(script), str(db), str(n), "200"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    seen = 0
    errors = []
    deadline = time.monotonic() + 60
    try:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            snap = desk.step()
            seen = snap.feed.accepted + snap.feed.rejected
            if i % 5 == 0:  # commands write while the external process writes
                result = desk.apply(Deposit(Decimal("1.5"), account="binance-usdm:USDT"))
                if not result.accepted:
                    errors.append(result.reason)
            if writer.poll() is not None and seen >= n:
                break
            time.sleep(0.01)
        _, err = writer.communicate(timeout=30)
    finally:
        desk.close()
    assert writer.returncode == 0, err
    assert "locked" not in err
    assert errors == []
    assert seen == n
    health = feed.health(time.time())
    assert health.last_error is None or "locked" not in health.last_error
