"""``Store.positions`` reads rows as tuples in a named column order (issue 13: a desk reads thousands
at start): every record must be the one the row-as-dict reading gives, field by field and digit by
digit, for open, liquidated and closed positions, with and without close prices."""

from __future__ import annotations

import random
from dataclasses import fields
from decimal import Decimal
from pathlib import Path

import pytest

from isodesk.desk.book import engine_position, engine_positions
from isodesk.store import Store
from isodesk.store.ledger import position_ref
from isodesk.store.store import _position
from tests.desk.test_liquidate_batch import CATALOG, _random_book
from tests.desk.test_liquidated_rows_known import _shown


def _by_dicts(store: Store, statuses: tuple[str, ...] | None) -> list[object]:
    """The records as the reading before issue 13's change made them: ``SELECT *`` as dicts, each
    with its own ledger balance (:meth:`Store.balance`)."""
    where = "" if statuses is None else f" WHERE status IN ({', '.join('?' * len(statuses))})"
    rows = store._rows(f"SELECT * FROM positions{where} ORDER BY id", list(statuses or ()))
    return [_position(row, store.balance(position_ref(row["id"]))) for row in rows]


@pytest.mark.parametrize("seed", range(3))
def test_records_are_the_dict_reading(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "book.db"
    _random_book(path, random.Random(seed))
    with Store.open(path) as store:
        ids = [p.id for p in store.positions()]
        rng = random.Random(seed)
        with store.transaction():  # some rows liquidated and some closed
            for n, position_id in enumerate(rng.sample(ids, 6)):
                record = store.position(position_id)
                assert record is not None
                store.transfer(record.isolated_margin, position_ref(position_id), f"pnl:{record.account_id}",
                               kind="liquidation" if n % 2 else "release", ts=1.0, account_id=record.account_id)
                store.set_position_status(position_id, "liquidated" if n % 2 else "closed", ts=2.5 + n,
                                          close_price=Decimal("123.4500"))
        for statuses in (("open",), ("open", "liquidated"), ("closed",), None):
            fast = store.positions(statuses=statuses)
            slow = _by_dicts(store, statuses)
            assert [_shown(r) for r in fast] == [_shown(r) for r in slow]
            assert [type(getattr(r, f.name)) for r in fast for f in fields(r)] == \
                [type(getattr(r, f.name)) for r in slow for f in fields(r)]
        assert {r.status for r in store.positions(None)} == {"open", "liquidated", "closed"}


@pytest.mark.parametrize("seed", range(2))
def test_engine_positions_are_each_rows_engine_position(tmp_path: Path, seed: int) -> None:
    """The book's engine positions built at once (tables and fees looked up once per market) are
    :func:`engine_position` of each row, the same tier table objects included, with positions of
    their own maintenance rate among them."""
    path = tmp_path / "book.db"
    _random_book(path, random.Random(10 + seed))
    with Store.open(path) as store:
        records = store.positions(None)
    rng = random.Random(seed)
    own = {r.id: rng.choice((0.004, 0.01)) for r in rng.sample(records, 5)}
    for catalog in (CATALOG, CATALOG.with_book([], position_rates=own)):
        margins = [Decimal(rng.choice(("1e-12", "100.5", "2500"))) for _ in records]
        fast = engine_positions(records, catalog, margins)
        slow = [engine_position(r, catalog, m) for r, m in zip(records, margins, strict=True)]
        assert list(fast) == slow
        assert all(a.tiers is b.tiers for a, b in zip(fast, slow, strict=True))
        if catalog is not CATALOG:  # a position of its own rate has its own one-tier table
            for a, r in zip(fast, records, strict=True):
                if r.id in own:
                    assert a.tiers is not CATALOG.table(r.venue, r.contract, r.symbol)
