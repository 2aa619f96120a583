"""The rows of a step's whole liquidations are taken into the desk's book as the desk wrote them
(:func:`isodesk.desk.desk._liquidated_record`), not read back: they must be the records and margins
the store gives when read back, down to each Decimal's digits and exponent (a margin shows as
written), on random books with whole and partial liquidations."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from isodesk.desk import Desk, EventKind
from isodesk.desk.book import liquidated_margins, read_book
from isodesk.desk.book_rows import refreshed_book
from isodesk.store import Store
from isodesk.store.db import copy_database
from tests.desk.fakes import ManualClock, ScriptedFeed
from tests.desk.test_liquidate_batch import CATALOG, START, _random_book


def _exact(value: object) -> object:
    """A field as it shows: a Decimal by its digits and exponent (``Decimal('0.00') != '0'`` here)."""
    return ("D", str(value)) if isinstance(value, Decimal) else value


def _shown(record: object) -> tuple[object, ...]:
    return tuple(_exact(getattr(record, f.name)) for f in fields(record))  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(6))
def test_known_rows_are_the_rows_read_back(tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    origin = tmp_path / "origin.db"
    _random_book(origin, rng)
    path = tmp_path / "book.db"
    copy_database(origin, path)
    desk = Desk(Store.open(path), ScriptedFeed(), catalog=CATALOG, clock=ManualClock(1_700_000_100.0))
    try:
        prices = dict(START)
        liquidated = 0
        for _ in range(6):
            prices = {symbol: price * (1 + rng.uniform(-0.12, 0.12)) for symbol, price in prices.items()}
            before = desk.book
            desk._clock.advance(1.0)  # type: ignore[attr-defined]
            for symbol, price in prices.items():
                desk.feed.push(symbol, price, desk._clock.now)  # type: ignore[union-attr,attr-defined]
            desk.step()
            events = desk.drain_events()
            gone = [e.position_id for e in events if e.kind is EventKind.LIQUIDATION]
            liquidated += len(gone)
            store = desk.store
            # every row of the book, as the store reads it back now (the path without ``known``)
            read_back = refreshed_book(before, store, CATALOG, before.info.position_ids.tolist())
            assert read_back is not None
            assert [_shown(r) for r in desk.book.records] == [_shown(r) for r in read_back.records]
            assert [_exact(m) for m in desk.book.margins] == [_exact(m) for m in read_back.margins]
            # and each liquidated one against the ledger itself (read_book's rule for its margin)
            if gone:
                ledger = liquidated_margins(store.position_ledgers(gone), set(gone))
                fresh = store.positions_by_id(gone)
                for position_id in gone:
                    row = desk.book.row_of(position_id)
                    assert row is not None
                    assert _shown(desk.book.records[row]) == _shown(fresh[position_id])
                    want = ledger.get(position_id, fresh[position_id].isolated_margin)
                    assert _exact(desk.book.margins[row]) == _exact(want)
            whole = read_book(store, CATALOG)
            assert (desk.book.records, desk.book.margins) == (whole.records, whole.margins)
            assert desk.book.positions == whole.positions  # the engine's view of each row
            for name in ("side", "size", "entry", "margin", "leverage", "fee_rate", "requirement", "removable"):
                assert np.array_equal(getattr(desk.book.batch, name), getattr(whole.batch, name)), name
            assert np.array_equal(desk.book.info.position_ids, whole.info.position_ids)
            assert desk.book.info.statuses == whole.info.statuses
            assert {k: v.tolist() for k, v in desk.book.account_rows.items()} == \
                {k: v.tolist() for k, v in whole.account_rows.items()}
            for name in ("frozen_mark", "frozen_ts", "quantities"):
                assert np.array_equal(getattr(desk.book, name), getattr(whole, name), equal_nan=True), name
            assert np.array_equal(desk.book.margin_values, whole.margin_values)
            assert np.array_equal(desk.book.open_rows, whole.open_rows)
        assert liquidated > 0
    finally:
        desk.close()


def test_a_failed_step_keeps_no_known_row(tmp_path: Path) -> None:
    """A step whose write fails refreshes no row: the book still holds every position open, as stored."""
    rng = random.Random(7)
    path = tmp_path / "book.db"
    _random_book(path, rng)
    desk = Desk(Store.open(path), ScriptedFeed(), catalog=CATALOG, clock=ManualClock(1_700_000_100.0))
    try:
        desk.store.db.conn.execute("CREATE TEMP TRIGGER fail BEFORE UPDATE ON positions "
                                   "BEGIN SELECT RAISE(ABORT, 'injected'); END")
        desk._clock.advance(1.0)  # type: ignore[attr-defined]
        for symbol, price in START.items():  # every long and every short far through its price
            desk.feed.push(symbol, price * 0.5, desk._clock.now)  # type: ignore[union-attr,attr-defined]
        with pytest.raises(sqlite3.IntegrityError, match="injected"):
            desk.step()
        desk.recover("IntegrityError: injected")
        whole = read_book(desk.store, CATALOG)
        assert [_shown(r) for r in desk.book.records] == [_shown(r) for r in whole.records]
        assert set(desk.book.info.statuses) == {"open"}
    finally:
        desk.close()
