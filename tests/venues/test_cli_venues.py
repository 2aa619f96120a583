"""`isodesk keys set`, `isodesk import --venue` and the reconciliation in `isodesk status`."""

from __future__ import annotations

import io
import json

import pytest

from isodesk.cli import main
from tests.venues.conftest import API_KEY, API_SECRET


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_keys_set_prompts_and_stores_in_the_keyring(memory_keyring, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{API_KEY}\r\n{API_SECRET}\n"))  # a pipe: one value a line
    code, out, err = run(capsys, "keys", "set", "binance-usdm")
    assert code == 0 and "saved in the system keyring" in out and API_KEY not in out
    assert err.splitlines() == ["binance-usdm API key:", "binance-usdm API secret:"]  # prompts on stderr
    assert json.loads(memory_keyring.entries[("isodesk", "binance-usdm")]) == {"apiKey": API_KEY,
                                                                               "secret": API_SECRET}
    code, out, _ = run(capsys, "keys", "delete", "binance-usdm")
    assert code == 0 and memory_keyring.entries == {}
    code, _, err = run(capsys, "keys", "set", "nowhere")
    assert code == 2 and "binance-usdm, bybit, okx, hyperliquid" in err


def test_import_venue_then_status_shows_the_reconciliation(binance, binance_keys, tmp_path, capsys):
    db = str(tmp_path / "book.db")
    code, out, err = run(capsys, "import", "--venue", "binance-usdm", "--base-url", binance.url, "--db", db)
    assert code == 0, err
    assert "imported 2 positions from binance-usdm (2 new, 0 updated, 1 flagged)" in out
    assert "skipped SOLUSDT: cross margin" in out
    assert "binance-usdm:ETHUSDT:short: new; liq isodesk 3,615.54 vs venue 3,566.71 (+1.37 %)  MISMATCH" in out
    assert API_KEY not in out + err and API_SECRET not in out + err

    code, out, _ = run(capsys, "status", "--db", db, "--json")
    positions = {p["label"]: p for p in json.loads(out)["positions"]}
    eth, btc = positions["binance-usdm:ETHUSDT:short"], positions["binance-usdm:BTCUSDT:long"]
    assert eth["venue_liquidation_price"] == pytest.approx(3566.71394422)
    assert eth["reconcile_diff_pct"] == pytest.approx(1.369, abs=1e-3) and eth["reconcile_flag"] is True
    assert btc["reconcile_flag"] is False and abs(btc["reconcile_diff_pct"]) < 0.5

    code, out, _ = run(capsys, "status", "--db", db)
    assert "venue liq (Δ)" in out and "3,566.71 +1.37 % !" in out and "85,901.50 -0.07 %" in out

    code, out, _ = run(capsys, "import", "--venue", "binance-usdm", "--base-url", binance.url, "--db", db)
    assert code == 0 and "(0 new, 0 updated, 1 flagged)" in out and "unchanged" in out


def test_status_of_a_book_without_venue_imports_keeps_its_table(tmp_path, capsys):
    db = str(tmp_path / "demo.db")
    code, out, _ = run(capsys, "status", "--db", db, "--demo")
    assert code == 0 and "venue liq" not in out
    code, out, _ = run(capsys, "status", "--db", db, "--json")
    first = json.loads(out)["positions"][0]
    assert first["venue_liquidation_price"] is None and first["reconcile_flag"] is None


def test_import_needs_exactly_one_source(tmp_path, capsys, binance):
    db = str(tmp_path / "book.db")
    code, _, err = run(capsys, "import", "--db", db)
    assert code == 2 and "exactly one of FILE or --venue" in err
    code, _, err = run(capsys, "import", "x.csv", "--venue", "okx", "--db", db)
    assert code == 2 and "exactly one of FILE or --venue" in err
    code, _, err = run(capsys, "import", "--venue", "binance-usdm", "--base-url", binance.url, "--db", db)
    assert code == 2 and "nothing imported" in err and "isodesk keys set binance-usdm" in err


def test_import_from_a_failing_venue_is_a_clear_error(binance, binance_keys, tmp_path, capsys):
    binance.mode = "error"
    code, _, err = run(capsys, "import", "--venue", "binance-usdm", "--base-url", binance.url,
                       "--db", str(tmp_path / "b.db"))
    assert code == 2 and "--venue binance-usdm: nothing imported: binance-usdm: loading markets failed" in err
    assert API_KEY not in err and API_SECRET not in err
