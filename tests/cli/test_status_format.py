"""`isodesk status` writes its figures as the cards and the table do: one distance convention
(unsigned, "away" or "past"), money and prices in the same precision; closed positions are not listed."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from isodesk.desk import Desk
from isodesk.desk.commands import ClosePosition
from isodesk.desk.setup import shipped_catalog
from isodesk.store import Store
from tests.cli.conftest import run


def _positions(capsys, db):
    code, out, err = run(capsys, "status", "--db", str(db), "--json")
    assert code == 0, err
    return {p["label"]: p for p in json.loads(out)["positions"]}


def test_the_distance_is_unsigned_away_or_past_in_text_and_json(demo_db, capsys):
    positions = _positions(capsys, demo_db)
    sol = positions["sol-degen-long"]
    # by hand: SOLUSDT long, liquidation 147.236… at mark 150: (150 − 147.236…)/150 = 1.84 %
    assert round(sol["distance_frac"] * 100, 2) == sol["distance_pct"] == 1.84
    assert sol["distance_past"] is False
    code, out, _ = run(capsys, "status", "--db", str(demo_db))
    assert code == 0
    line = next(x for x in out.splitlines() if x.startswith("sol-degen-long"))
    assert "1.84 % away" in line
    assert "1.84 %  " not in line.replace("1.84 % away", "")
    # the same money and price precision as the cards: 2 decimals for USDT, 8 for BTC, price by magnitude
    inverse = next(x for x in out.splitlines() if x.startswith("btc-inverse-long"))
    assert "0.10000000" in inverse
    doge = next(x for x in out.splitlines() if x.startswith("doge-long"))
    assert "0.144942" in doge  # six decimals under 1, as on the card


def test_a_position_past_its_liquidation_price_reads_past_and_a_closed_one_is_not_listed(demo_db, capsys):
    store = Store.open(demo_db)
    try:
        # a stored mark beyond sol-degen-long's liquidation price (147.24), read by an observing desk
        store.insert_prices([(time.time(), "SOLUSDT", 146.0)])
    finally:
        store.close()
    positions = _positions(capsys, demo_db)
    sol = positions["sol-degen-long"]
    assert sol["distance_frac"] < 0 and sol["distance_past"] is True
    assert sol["distance_pct"] == round(-sol["distance_frac"] * 100, 2)
    code, out, _ = run(capsys, "status", "--db", str(demo_db))
    line = next(x for x in out.splitlines() if x.startswith("sol-degen-long"))
    assert f"{sol['distance_pct']:.2f} % past" in line and "-" not in line.split("SOLUSDT")[1].split("%")[0]
    # a closed position is not listed (the desk keeps recent ones for the app's "closed" filter)
    store = Store.open(demo_db)
    desk = Desk(store, None, catalog=shipped_catalog())
    try:
        pid = store.position_by_label("xrp-short").id
        assert desk.apply(ClosePosition(pid, price=Decimal("0.59"))).accepted
    finally:
        desk.close()
    positions = _positions(capsys, demo_db)
    assert "xrp-short" not in positions and len(positions) == 12
    code, out, _ = run(capsys, "status", "--db", str(demo_db))
    assert code == 0 and "xrp-short" not in out
