"""The tier catalog: the book's tables before the shipped files, positions' own rates, where a table
came from, contract values and sizes, strict-isolated assets, the way out for an unknown symbol."""

from __future__ import annotations

import json

import pytest

from isodesk.margin.catalog import BookTable, TableSource, TierCatalog, UnknownSymbol, utc_text

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC


def book_table(symbol="ETHUSDT", venue="bybit", contract="linear", rows=(("0", None, "0.02", "0", "50"),), **kw):
    values = dict(venue=venue, contract=contract, symbol=symbol, rows=rows, basis="notional", settlement="USDT",
                  contract_value="1", contract_size=None, strict_isolated=False, source="refresh", fetched_at=T0,
                  changed_at=T0)
    values.update(kw)
    return BookTable(**values)


@pytest.fixture
def folder(tmp_path):
    """A shipped folder with one Bybit linear file (ETHUSDT, SOLUSDT) and one OKX linear file in contracts."""
    (tmp_path / "bybit-linear.json").write_text(json.dumps({
        "venue": "bybit", "contract": "linear", "source": "test snapshot", "as_of": "2025-12-29",
        "symbols": {"ETHUSDT": [[0, 900000, 0.005, 0, 100], [900000, None, 0.0056, 540, 90]],
                    "SOLUSDT": [[0, None, 0.005, 0, 100]]},
        "symbol_sources": {"SOLUSDT": "SOL page"}}), encoding="utf-8")
    (tmp_path / "okx-linear.json").write_text(json.dumps({
        "venue": "okx", "contract": "linear", "basis": "contracts", "source": "okx test", "as_of": "2025-12-29",
        "symbols": {"BTC-USDT-SWAP": [[0, 1000, 0.004, 0, 100], [1000, 5000, 0.005, 0, 66.66]]},
        "contract_value": {"BTC-USDT-SWAP": 0.01}}), encoding="utf-8")
    (tmp_path / "hyperliquid.json").write_text(json.dumps({
        "venue": "hyperliquid", "contract": "linear", "source": "docs", "as_of": "undated",
        "symbols": {"HPOS": [[0, None, 0.1666, None, 3]]}, "strict_isolated": ["HPOS"],
        "settlement_default": "USDC"}), encoding="utf-8")
    return tmp_path


def test_shipped_tables_keep_their_basis_and_contract_value(folder):
    catalog = TierCatalog(folder)
    okx = catalog.table("okx", "linear", "BTC-USDT-SWAP")
    assert (okx.basis, okx.contract_value) == ("contracts", 0.01)
    assert catalog.contract_value("okx", "linear", "BTC-USDT-SWAP") == 0.01
    assert catalog.table("bybit", "linear", "ETHUSDT").basis == "notional"
    assert catalog.settlement("okx", "linear", "BTC-USDT-SWAP") == "USDT"
    assert catalog.strict_isolated("hyperliquid", "HPOS") and not catalog.strict_isolated("bybit", "ETHUSDT")


def test_the_book_comes_first_and_the_shipped_file_second(folder):
    shipped = TierCatalog(folder)
    catalog = shipped.with_book([book_table(), book_table("XRPUSDT", strict_isolated=True)], key="k1")
    assert catalog.book_key == "k1" and catalog.shipped.book_key is None
    assert [float(r) for r in catalog.table("bybit", "linear", "ETHUSDT").mmr] == [0.02]
    assert [float(r) for r in shipped.table("bybit", "linear", "ETHUSDT").mmr] == [0.005, 0.0056]
    assert catalog.symbols("bybit", "linear") == ["ETHUSDT", "SOLUSDT", "XRPUSDT"]
    assert catalog.contract_of("bybit", "XRPUSDT") == "linear"  # in the book only
    assert catalog.strict_isolated("bybit", "XRPUSDT")
    assert catalog.source("bybit", "linear", "ETHUSDT") == TableSource("refresh", T0, "2026-01-01", changed_at=T0)
    assert catalog.source("bybit", "linear", "SOLUSDT") == TableSource("shipped", None, "2025-12-29", "SOL page")
    assert catalog.book_table("bybit", "linear", "ETHUSDT").rows == (("0", None, "0.02", "0", "50"),)


def test_an_inverse_book_table_gives_its_contract_size_and_settlement(folder):
    coin = book_table("BTCUSD_PERP", venue="binance-coinm", contract="inverse", settlement="BTC", contract_size="100",
                      rows=(("0", "50", "0.004", "0", "125"), ("50", None, "0.005", "0.05", "100")))
    catalog = TierCatalog(folder).with_book([coin])
    assert catalog.contract_of("binance-coinm", "BTCUSD_PERP") == "inverse"
    assert catalog.contract_size("binance-coinm", "inverse", "BTCUSD_PERP") == 100.0
    assert catalog.settlement("binance-coinm", "inverse", "BTCUSD_PERP") == "BTC"
    assert list(catalog.table("binance-coinm", "inverse", "BTCUSD_PERP").amounts) == [0.0, 0.05]


def test_a_position_rate_is_one_tier_for_that_position_only(folder):
    catalog = TierCatalog(folder).with_book([], {7: 0.015})
    own = catalog.table("bybit", "linear", "ETHUSDT", position_id=7)
    assert len(own) == 1 and float(own.mmr[0]) == 0.015 and float(own.amounts[0]) == 0.0
    assert len(catalog.table("bybit", "linear", "ETHUSDT", position_id=8)) == 2
    assert catalog.position_rate(7) == 0.015 and catalog.position_rate(8) is None
    # even a symbol no table knows is computed for a position with its own rate
    assert float(catalog.table("okx", "inverse", "BTC-USD-SWAP", position_id=7).mmr[0]) == 0.015
    assert catalog.source("okx", "inverse", "BTC-USD-SWAP", position_id=7).kind == "position"


def test_an_unknown_symbol_names_the_way_out(folder):
    catalog = TierCatalog(folder)
    with pytest.raises(UnknownSymbol, match=r"^symbol: 'ETHUSDX' is not a bybit linear symbol \(did you mean "
                                            r"ETHUSDT\?\); if the venue lists it, `isodesk tiers refresh bybit`"):
        catalog.table("bybit", "linear", "ETHUSDX")
    with pytest.raises(UnknownSymbol, match=r"binance-coinm inverse has no tier table in this book or shipped; "
                                            r"`isodesk tiers refresh binance-coinm` \(or `isodesk tiers import"):
        catalog.contract_of("binance-coinm", "BTCUSD_PERP")


def test_removed_tables_still_compute_and_say_so(folder):
    catalog = TierCatalog(folder).with_book([book_table(removed_at=T0 + 86400)])
    assert float(catalog.table("bybit", "linear", "ETHUSDT").mmr[0]) == 0.02
    text = catalog.source("bybit", "linear", "ETHUSDT").describe()
    assert text == "refresh of 2026-01-01 00:00 UTC; no longer listed by the venue since 2026-01-02 00:00 UTC"
    assert catalog.venue_ages() == {}  # a removed table does not count for the venue's age


def test_venue_ages_are_the_oldest_listed_table(folder):
    catalog = TierCatalog(folder).with_book([book_table(fetched_at=T0 + 10), book_table("SOLUSDT", fetched_at=T0),
                                             book_table("BTC", venue="hyperliquid", fetched_at=T0 + 99)])
    assert catalog.venue_ages() == {"bybit": T0, "hyperliquid": T0 + 99}
    assert utc_text(T0) == "2026-01-01 00:00 UTC" and utc_text(None) == "—"


def test_a_broken_book_table_is_refused_when_used(folder):
    broken = book_table(rows=(("0", "100", "0.01", "0", "10"), ("200", None, "0.02", "1", "5")))
    catalog = TierCatalog(folder).with_book([broken])
    with pytest.raises(ValueError, match="not contiguous"):
        catalog.table("bybit", "linear", "ETHUSDT")
