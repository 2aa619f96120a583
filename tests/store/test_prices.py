"""Prices: batched inserts, the latest mark per symbol, polling by id, history."""

from __future__ import annotations


def test_insert_latest_after_and_history(store):
    assert store.max_price_id() == 0
    assert store.latest_prices() == {}
    count = store.insert_prices(
        [
            (100.0, "BTCUSDT", 50000.5),
            (100.0, "ETHUSDT", 3000.25),
            (101.0, "BTCUSDT", 50010.0),
            (99.0, "ETHUSDT", 2999.0),
        ],
        source="sim",
    )
    assert count == 4
    assert store.latest_prices() == {"BTCUSDT": (101.0, 50010.0), "ETHUSDT": (100.0, 3000.25)}
    assert store.max_price_id() == 4
    assert store.prices_after(0) == [
        (1, 100.0, "BTCUSDT", 50000.5),
        (2, 100.0, "ETHUSDT", 3000.25),
        (3, 101.0, "BTCUSDT", 50010.0),
        (4, 99.0, "ETHUSDT", 2999.0),
    ]
    assert store.prices_after(2, limit=1) == [(3, 101.0, "BTCUSDT", 50010.0)]
    assert store.prices_after(4) == []
    assert store.price_history("ETHUSDT") == [(99.0, 2999.0), (100.0, 3000.25)]
    assert store.price_history("BTCUSDT", since_ts=100.5) == [(101.0, 50010.0)]
    assert store.price_history("BTCUSDT", limit=1) == [(101.0, 50010.0)]
    assert {r["source"] for r in store.db["prices"].rows} == {"sim"}


def test_many_prices_in_one_call(store):
    rows = [(float(i), f"S{i % 7}", 1.0 + i / 1000) for i in range(2500)]
    assert store.insert_prices(rows) == 2500
    assert store.max_price_id() == 2500
    assert store.latest_prices()["S0"] == (2499.0 - 2499 % 7, 1.0 + (2499 - 2499 % 7) / 1000)
    assert len(store.prices_after(0)) == 2500
    assert store.insert_prices([]) == 0
