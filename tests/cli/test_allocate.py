"""``isodesk allocate``: the plan as text and JSON, checked against ``whatif``; ``--apply`` here and
through a running desk; refusals in one line."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest

from isodesk.desk import Desk
from isodesk.desk.setup import open_book, shipped_catalog
from tests.cli.conftest import run
from tests.desk.fakes import ScriptedFeed

USDC = "hyperliquid:USDC"


def _plan(capsys, db, *extra):
    code, out, err = run(capsys, "allocate", *extra, "--db", str(db), "--json")
    assert code == 0, err
    return json.loads(out)


def _open_labels(db, account):
    store = open_book(str(db))
    try:
        acct = store.account(account)
        return {p.label for p in store.positions(("open",)) if p.account_id == acct.id}, store.free_balance(acct.id)
    finally:
        store.close()


def test_json_lists_every_open_position_and_matches_whatif(demo_db, capsys):
    doc = _plan(capsys, demo_db, "1500", "--account", USDC)
    labels, free = _open_labels(demo_db, USDC)
    assert {r["label"] for r in doc["plan"]} == labels
    adds = {r["label"]: Decimal(r["add"]) for r in doc["plan"]}
    assert sum(adds.values()) <= Decimal("1500") <= free
    assert any(a == 0 for a in adds.values()) and any(a > 0 for a in adds.values())
    assert doc["min_distance_frac"] == pytest.approx(min(r["distance_frac"] for r in doc["plan"]))
    assert doc["applied"] is None
    # what-if, computed on its own path, agrees on the liquidation prices after the top-ups
    edits = [a for label, add in adds.items() if add > 0 for a in ("--margin", f"{label}=+{add}")]
    code, out, err = run(capsys, "whatif", *edits, "--db", str(demo_db), "--json")
    assert code == 0, err
    after = {p["label"]: p for p in json.loads(out)["isolated"]["positions"]}
    for r in doc["plan"]:
        assert r["liquidation_price"] == pytest.approx(after[r["label"]]["liquidation_price"], rel=1e-9)


def test_text_preview_then_apply(demo_db, capsys):
    code, out, err = run(capsys, "allocate", "1000", "--account", USDC, "--db", str(demo_db))
    assert code == 0, err
    assert "preview only" in out and "smallest distance to liquidation" in out
    _, free = _open_labels(demo_db, USDC)
    doc = _plan(capsys, demo_db, "1000", "--account", USDC, "--apply")
    assert doc["applied"]["accepted"] and "allocated" in doc["applied"]["message"]
    _, free_after = _open_labels(demo_db, USDC)
    assert free_after == free - Decimal(doc["total"])
    # applied: the same budget now starts from the plan's smallest distance
    again = _plan(capsys, demo_db, "1", "--account", USDC)
    assert again["min_distance_frac_before"] == pytest.approx(doc["min_distance_frac"], rel=1e-9)


def test_apply_reaches_a_running_desk(demo_db, capsys):
    store = open_book(str(demo_db))
    desk = Desk(store, ScriptedFeed(), catalog=shipped_catalog())
    try:
        desk.step()
        result: list = []
        done = threading.Event()

        def go() -> None:
            try:
                result.append(run(capsys, "allocate", "700", "--account", USDC, "--apply", "--json",
                                  "--db", str(demo_db)))
            finally:
                done.set()

        threading.Thread(target=go, daemon=True).start()
        deadline = time.monotonic() + 20
        while not done.is_set() and time.monotonic() < deadline:
            desk.step()
            time.sleep(0.005)
        assert result, "the command got no answer"
        code, out, err = result[0]
        assert code == 0, err
        doc = json.loads(out)
        assert doc["applied"]["accepted"]
        acct = store.account(USDC)
        assert desk.snapshot.accounts  # the running desk reloaded the book it changed
        assert store.free_balance(acct.id) == Decimal("5000") - Decimal(doc["total"])
    finally:
        desk.close()
        store.close()


@pytest.mark.parametrize(("argv", "says"), [
    (["99999", "--account", USDC], "AMOUNT: 99999 USDC is more than the free balance"),
    (["1e9", "--account", USDC], "AMOUNT: 1000000000 USDC is more than the free balance 5000 of"),
    (["10"], "account: name one with --account"),
    (["10", "--account", USDC, "--goal", "hope"], "--goal hope: the goal is one of distance, survive"),
    (["10", "--account", USDC, "--goal", "survive"], "write --goal survive SCENARIO"),
    (["10", "--account", USDC, "--goal", "survive", "crash"], "no saved scenario named 'crash'"),
])
def test_refusals_are_one_line(demo_db, capsys, argv, says):
    code, out, err = run(capsys, "allocate", *argv, "--db", str(demo_db))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [err.strip()] and says in err, err


def test_status_json_carries_the_odds(demo_db, capsys):
    import math

    import numpy as np

    from isodesk.margin.odds import ewma_variance

    code, out, err = run(capsys, "status", "--db", str(demo_db), "--json")
    assert code == 0, err
    core = {p["label"]: p for p in json.loads(out)["positions"]}["btc-core-long"]
    assert core["liq_prob_24h"] is None and core["sigma_distance"] is None  # no price history yet
    now = time.time()
    ts = now - 3000 + np.arange(0, 2900, 50.0)
    prices = 60_000 * np.exp(np.cumsum(np.where(np.arange(ts.size) % 2, 0.004, -0.0035)))
    store = open_book(str(demo_db))
    try:
        store.insert_prices([(float(t), "BTCUSDT", float(p), None) for t, p in zip(ts, prices, strict=True)])
        series = np.array(store.price_history("BTCUSDT"))  # ours, then the demo's own 60,000 at its start
    finally:
        store.close()
    assert len(series) == ts.size + 1 and series[-1, 1] == 60_000.0
    code, out, err = run(capsys, "status", "--db", str(demo_db), "--json")
    assert code == 0, err
    core = {p["label"]: p for p in json.loads(out)["positions"]}["btc-core-long"]
    assert core["mark"] == 60_000.0
    var = ewma_variance(series[:, 0], series[:, 1], 3600.0)  # the default odds.half_life_s
    d = math.log(core["mark"] / core["liquidation_price"])
    assert core["liq_prob_24h"] == pytest.approx(math.erfc(d / math.sqrt(2 * var * 86400)), rel=1e-6)
    assert core["liq_prob_1h"] == pytest.approx(math.erfc(d / math.sqrt(2 * var * 3600)), rel=1e-6)
    assert core["sigma_distance"] == pytest.approx(d / math.sqrt(var * 86400), rel=1e-6)


def test_status_json_carries_the_venues_adl_rank(demo_db, capsys):
    """ADL: what the venue's position answer said at the last import (Bybit adlRankIndicator, OKX adl)."""
    store = open_book(str(demo_db))
    try:
        pid = store.position_by_label("btc-bybit-long").id
        store.add_venue_report(ts=1.0, position_id=pid, venue="bybit", venue_liquidation_price=None,
                               venue_margin=None, changes={}, adl_rank=2)
        store.add_venue_report(ts=2.0, position_id=pid, venue="bybit", venue_liquidation_price=None,
                               venue_margin=None, changes={}, adl_rank=4)  # the latest import counts
    finally:
        store.close()
    code, out, err = run(capsys, "status", "--db", str(demo_db), "--json")
    assert code == 0, err
    positions = {p["label"]: p for p in json.loads(out)["positions"]}
    assert positions["btc-bybit-long"]["adl_rank"] == 4
    assert positions["btc-core-long"]["adl_rank"] is None
