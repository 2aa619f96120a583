"""``isodesk replay --top-up POLICY`` / ``--auto-add`` on a crash path: what the policy saved and cost,
the real book untouched, refusals in one line."""

from __future__ import annotations

import json
from decimal import Decimal

import numpy as np
import pytest

from isodesk.desk.book import engine_position
from isodesk.desk.setup import shipped_catalog
from isodesk.margin import PositionBatch
from isodesk.margin.engine import compute
from isodesk.store import Store
from tests.cli.conftest import run

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z
BOOK = ("label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
        "btc-long,binance-usdm,BTCUSDT,linear,long,0.1,60000,5,1200\n"  # liquidation price 48,192.77
        "eth-long,binance-usdm,ETHUSDT,linear,long,1,3000,5,600\n")  # liquidation price 2,409.64
ACCOUNT = "binance-usdm:USDT"
POLICY = "below=3%,to=8%,cap=400,reserve=2000"
# ETH falls to 2,450 first (1.6 % from its liquidation price: the policy lifts it to 8 %), then to 2,400
# (below 2,409.64: dies as held); BTC falls to 49,000 (the policy has only what is left of the day's
# 400 for it), then to 45,000: it dies either way
CRASH = [(0, 60_000, 3_000), (60, 60_000, 2_700), (120, 60_000, 2_450), (180, 55_000, 2_420),
         (240, 49_000, 2_400), (300, 47_000, 2_405), (360, 45_000, 2_410), (420, 45_100, 2_412)]


@pytest.fixture
def book_db(tmp_path, capsys):
    db = tmp_path / "book.db"
    book = tmp_path / "book.csv"
    book.write_text(BOOK)
    code, _, err = run(capsys, "import", str(book), "--db", str(db))
    assert code == 0, err
    code, _, err = run(capsys, "deposit", "5000", "--db", str(db))
    assert code == 0, err
    return db


@pytest.fixture
def crash(tmp_path):
    path = tmp_path / "crash.csv"
    path.write_text("ts,symbol,price\n" + "".join(f"{T0 + t},BTCUSDT,{btc}\n{T0 + t},ETHUSDT,{eth}\n"
                                                  for t, btc, eth in CRASH))
    return path


def _state(db):
    store = Store.open(db)
    try:
        return ([(p.label, p.status, p.isolated_margin) for p in store.positions(statuses=None)],
                [(e.kind, e.amount, e.source, e.dest) for e in store.ledger()],
                [(a.name, store.free_balance(a.id)) for a in store.accounts()])
    finally:
        store.close()


def _summary(out):
    [doc] = [json.loads(line)["summary"] for line in out.splitlines() if line.startswith('{"summary"')]
    return doc


def test_the_policy_saves_eth_and_not_btc_and_the_real_book_is_untouched(book_db, crash, capsys):
    before = _state(book_db)
    code, out, err = run(capsys, "replay", str(crash), "--db", str(book_db), "--top-up", POLICY, "--json")
    assert code == 0, err
    doc = _summary(out)
    top = doc["top_ups"]
    assert top["saved"] == ["eth-long"] and top["lost_anyway"] == ["btc-long"]
    assert top["policy"] == POLICY and top["auto_add"] is False
    assert Decimal(top["spent"]["policy"][ACCOUNT]) == Decimal(400)  # the day's cap, all of it
    assert top["cap_bound_days"] == [{"account": ACCOUNT, "day": "2024-06-01"}]
    assert {p["label"]: p["status"] for p in doc["positions"]} == {"btc-long": "liquidated", "eth-long": "open"}
    events = [json.loads(line) for line in out.splitlines() if '"event": "top_up"' in line]
    assert [(e["label"], e["ts"]) for e in events] == [("eth-long", T0 + 120), ("btc-long", T0 + 240)]
    eth_add = Decimal(events[0]["amount"])
    assert eth_add + Decimal(events[1]["amount"]) == Decimal(400)
    # the ETH top-up put its liquidation price 8 % below the 2,450 it was made at (the engine, on its own)
    store = Store.open(book_db)
    try:
        record = store.position_by_label("eth-long")
        batch = PositionBatch.from_positions([engine_position(record, shipped_catalog(), Decimal(600) + eth_add)])
    finally:
        store.close()
    assert compute(batch, np.array([2450.0])).distance_frac[0] == pytest.approx(0.08, abs=1e-9)
    # the trader's own book never received a top-up: same positions, ledger and balances as before
    assert _state(book_db) == before


def test_text_output_says_what_was_saved(book_db, crash, capsys):
    code, out, err = run(capsys, "replay", str(crash), "--db", str(book_db), "--top-up", POLICY)
    assert code == 0, err
    assert "top-ups saved 1 position (eth-long); lost anyway: btc-long" in out
    assert "the daily cap bound on 2024-06-01 (binance-usdm:USDT)" in out


def test_auto_add_without_flags_saves_nothing(book_db, crash, capsys):
    # no venue report flags either position (imported from a file): the venue adds nothing
    code, out, err = run(capsys, "replay", str(crash), "--db", str(book_db), "--auto-add", "--json")
    assert code == 0, err
    top = _summary(out)["top_ups"]
    assert top["saved"] == [] and sorted(top["lost_anyway"]) == ["btc-long", "eth-long"]
    assert top["spent"] == {"policy": {}, "auto_add": {}}


@pytest.mark.parametrize("flags, says", [
    (("--top-up", POLICY, "--commit"), "--commit: a replay with --auto-add or --top-up never writes the real book"),
    (("--auto-add", "--commit"), "never writes the real book"),
    (("--top-up", "below=8%,to=3%,cap=1,reserve=1"), "--top-up: policy to: 3 % must be above the trigger"),
    (("--top-up", "below=3%"), "--top-up: policy: to, cap, reserve missing"),
])
def test_refusals_are_one_line_and_change_nothing(book_db, crash, capsys, flags, says):
    before = _state(book_db)
    code, _, err = run(capsys, "replay", str(crash), "--db", str(book_db), *flags)
    assert code == 2 and says in err and len(err.strip().splitlines()) == 1
    assert _state(book_db) == before
