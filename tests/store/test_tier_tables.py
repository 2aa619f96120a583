"""The venues' tier tables in the book: exact storage, what changed per symbol, one transaction, the
positions' own rates, and the catalog that puts the book's tables before the shipped ones."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from decimal import Decimal

import pytest

from isodesk.store import StoreError
from isodesk.store.tier_tables import (
    book_tables,
    catalog_for,
    position_rates,
    save_tier_tables,
    set_position_rate,
    shipped_catalog,
    tier_version,
)
from isodesk.venues.tier_bodies import parse_tier_body
from tests.venues.tier_envelopes import bybit_body, bybit_records

T0 = 1_767_000_000.0


def bybit_tables(*symbols):
    records = bybit_records()
    return parse_tier_body("bybit", bybit_body([r for s in symbols for r in records[s]]))


def edited(table, row, rate):
    """``table`` with one row's maintenance rate replaced (the venue changed its tiers)."""
    rows = list(table.rows)
    rows[row] = (rows[row][0], rows[row][1], rate, rows[row][3], rows[row][4])
    return replace(table, rows=tuple(rows))


def test_the_migration_makes_strict_tables(store):
    sql = dict(store.db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    for name in ("tier_tables", "position_rates", "tier_clock"):
        assert sql[name].rstrip().endswith("STRICT"), name
    with pytest.raises(sqlite3.IntegrityError):  # source is one of refresh, import, shipped
        store.db.execute("INSERT INTO tier_tables VALUES ('bybit', 'linear', 'X', 'notional', '[[\"0\"]]', 'USDT', "
                         "'1', NULL, 0, 'guess', 0, 0, NULL)")


def test_tables_are_stored_as_exact_text(store):
    report = save_tier_tables(store, bybit_tables("ETHUSDT", "BTCPERP"), "refresh", T0)
    assert [(c.symbol, c.kind, c.rows_changed) for c in report.changes] == [("ETHUSDT", "added", 35),
                                                                            ("BTCPERP", "added", 30)]
    row = store.db.execute("SELECT rows, typeof(rows), contract_value, typeof(contract_value), settlement, source, "
                           "fetched_at, changed_at FROM tier_tables WHERE symbol = 'ETHUSDT'").fetchone()
    rows = json.loads(row[0])
    assert rows[1] == ["900000", "1200000", "0.0056", "540", "90"]  # the venue's own digits, as text
    assert row[1:] == ("text", "1", "text", "USDT", "refresh", T0, T0)
    stored = {t.symbol: t for t in book_tables(store)}
    assert stored["BTCPERP"].settlement == "USDC" and stored["ETHUSDT"].rows[0] == ("0", "900000", "0.005", "0", "100")


def test_saving_again_reports_per_symbol_what_changed(store):
    eth, sol = bybit_tables("ETHUSDT", "SOLUSDT")
    save_tier_tables(store, [eth, sol], "refresh", T0)
    report = save_tier_tables(store, [edited(eth, 0, "0.01"), sol], "import", T0 + 60)
    assert [(c.symbol, c.kind, c.rows_changed) for c in report.changes] == [("ETHUSDT", "changed", 1),
                                                                            ("SOLUSDT", "unchanged", 0)]
    assert report.of("changed")[0].before[0][2] == "0.005" and report.of("changed")[0].after[0][2] == "0.01"
    times = dict((s, (src, f, c)) for s, src, f, c in store.db.execute(
        "SELECT symbol, source, fetched_at, changed_at FROM tier_tables"))
    assert times["ETHUSDT"] == ("import", T0 + 60, T0 + 60)
    assert times["SOLUSDT"] == ("import", T0 + 60, T0)  # confirmed now, unchanged since T0
    assert report.summary() == "2 symbols stored (1 changed: ETHUSDT (1 row); 1 unchanged)"


def test_a_full_refresh_reports_a_symbol_it_no_longer_lists_and_keeps_it(store):
    eth, sol, xrp = bybit_tables("ETHUSDT", "SOLUSDT", "XRPUSDT")
    save_tier_tables(store, [eth, sol, xrp], "refresh", T0)
    report = save_tier_tables(store, [eth, sol], "refresh", T0 + 3600, complete_venue="bybit")
    assert [(c.symbol, c.kind) for c in report.of("removed")] == [("XRPUSDT", "removed")]
    kept = {t.symbol: t for t in book_tables(store)}
    assert kept["XRPUSDT"].removed_at == T0 + 3600 and len(kept["XRPUSDT"].rows) == 30
    assert "1 no longer listed, kept: XRPUSDT" in report.summary()
    # an import (not a full listing) never removes anything
    assert save_tier_tables(store, [eth], "import", T0 + 7200).of("removed") == []


def test_saving_is_one_transaction(store):
    store.db.execute("CREATE TRIGGER boom BEFORE INSERT ON tier_tables WHEN NEW.symbol = 'SOLUSDT' "
                     "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        save_tier_tables(store, bybit_tables("ETHUSDT", "SOLUSDT"), "refresh", T0)
    assert store.db.execute("SELECT count(*) FROM tier_tables").fetchone()[0] == 0


def test_bad_arguments_are_refused_before_anything_is_written(store):
    eth, = bybit_tables("ETHUSDT")
    with pytest.raises(ValueError, match="source: 'venue' is not one of refresh, import, shipped"):
        save_tier_tables(store, [eth], "venue", T0)
    with pytest.raises(ValueError, match="given twice"):
        save_tier_tables(store, [eth, eth], "refresh", T0)
    with pytest.raises(ValueError, match="every table must be of okx"):
        save_tier_tables(store, [eth], "refresh", T0, complete_venue="okx")
    assert book_tables(store) == []


def test_every_change_moves_the_tier_clock_and_the_book_clock(store):
    book_clock = store.db.execute("SELECT version FROM book_clock").fetchone()[0]
    before = tier_version(store)
    save_tier_tables(store, bybit_tables("ETHUSDT"), "refresh", T0)
    assert tier_version(store) > before
    assert store.db.execute("SELECT version FROM book_clock").fetchone()[0] > book_clock


def test_a_position_keeps_its_own_rate(book):
    store, _, pid = book
    set_position_rate(store, pid, Decimal("0.0125"), at=T0)
    assert position_rates(store) == {pid: Decimal("0.0125")}
    assert store.db.execute("SELECT mmr, typeof(mmr) FROM position_rates").fetchone() == ("0.0125", "text")
    for bad in (Decimal("0"), Decimal("1"), Decimal("NaN"), 0.01):
        with pytest.raises(ValueError, match="mmr"):
            set_position_rate(store, pid, bad, at=T0)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="no position with id 999"):
        set_position_rate(store, 999, Decimal("0.01"), at=T0)


def test_the_catalog_puts_the_book_first_then_the_shipped_snapshot(book):
    store, _, pid = book
    shipped = shipped_catalog()
    catalog = catalog_for(store)
    assert catalog.source("bybit", "linear", "ETHUSDT").kind == "shipped"
    assert catalog_for(store, catalog) is catalog  # nothing changed: the same catalog
    eth, = bybit_tables("ETHUSDT")
    save_tier_tables(store, [edited(eth, 0, "0.01")], "refresh", T0)
    fresh = catalog_for(store, catalog)
    assert fresh is not catalog
    assert float(fresh.table("bybit", "linear", "ETHUSDT").mmr[0]) == 0.01
    assert float(shipped.table("bybit", "linear", "ETHUSDT").mmr[0]) == 0.005  # the snapshot is untouched
    source = fresh.source("bybit", "linear", "ETHUSDT")
    assert (source.kind, source.at, source.as_of) == ("refresh", T0, "2025-12-29")
    assert fresh.source("bybit", "linear", "SOLUSDT").kind == "shipped"
    # a position's own rate wins over every table, for that position only
    set_position_rate(store, pid, Decimal("0.02"), at=T0)
    own = catalog_for(store, fresh)
    assert float(own.table("bybit", "linear", "BTCUSDT", position_id=pid).mmr[0]) == 0.02
    assert float(own.table("bybit", "linear", "BTCUSDT").mmr[0]) == 0.005
    assert own.source("bybit", "linear", "BTCUSDT", position_id=pid).kind == "position"


def test_the_catalog_of_another_book_is_not_reused(tmp_path):
    from isodesk.store import Store

    with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
        eth, = bybit_tables("ETHUSDT")
        save_tier_tables(a, [edited(eth, 0, "0.02")], "refresh", T0)
        of_a = catalog_for(a)
        of_b = catalog_for(b, of_a)
        assert float(of_a.table("bybit", "linear", "ETHUSDT").mmr[0]) == 0.02
        assert float(of_b.table("bybit", "linear", "ETHUSDT").mmr[0]) == 0.005
