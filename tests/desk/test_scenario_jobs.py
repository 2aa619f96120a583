"""Scenario requests through the desk: evaluate and sweep without touching the book; saved scenarios."""

from __future__ import annotations

import math

import numpy as np
import pytest

from isodesk.desk import Desk
from isodesk.desk.scenario_jobs import (
    DeleteScenario,
    GetScenarioBook,
    ListScenarios,
    LoadScenario,
    RenameScenario,
    RunScenario,
    SaveScenario,
    scenario_from_dict,
    scenario_to_dict,
)
from isodesk.margin.scenario import Move, Scenario, Shock


@pytest.fixture
def demo_desk(demo_store, catalog, clock):
    clock.now = 1_700_000_001.0
    desk = Desk(demo_store, None, catalog=catalog, clock=clock)
    yield desk


def test_running_a_scenario_never_changes_the_book(demo_desk, demo_store):
    balances = demo_store.balances()
    positions = demo_store.positions(None)
    result = demo_desk.apply(RunScenario(Scenario(market_shock=("BTCUSDT", -20.0)), grid=(-30.0, 0.0, 30.0)))
    assert result.accepted, result.reason
    outcome, grid = result.payload
    book = demo_desk.apply(GetScenarioBook()).payload.book
    lost = {book.labels[i] for i, x in enumerate(outcome.isolated.liquidated) if x}
    # BTC −20 % with every market following at beta 1: every long whose liquidation price is within 20 % dies,
    # btc-core-long (liq 49,799 = −17 %) among them; the shorts profit
    assert {"btc-core-long", "sol-degen-long", "btc-bybit-long"} <= lost
    assert not any("short" in label for label in lost)
    assert grid.shocks.tolist() == [-30.0, 0.0, 30.0]
    assert demo_store.balances() == balances and demo_store.positions(None) == positions


def test_scenario_book_lists_the_open_positions(demo_desk):
    result = demo_desk.apply(GetScenarioBook())
    assert result.accepted and len(result.payload.book.labels) == 13
    assert "BTCUSDT" in result.payload.book.markets
    assert result.payload.taken_at == 1_700_000_001.0  # the desk's clock when the marks were read


def test_a_run_at_pinned_marks_uses_them_and_keeps_the_stored_ones_elsewhere(demo_desk):
    taken = demo_desk.apply(GetScenarioBook()).payload
    btc = taken.book.markets.index("BTCUSDT")
    pinned = tuple((m, p * 0.9 if m == "BTCUSDT" else p) for m, p in taken.marks())
    result = demo_desk.apply(RunScenario(Scenario(), marks=pinned))
    assert result.accepted, result.reason
    marks = result.payload.book.marks
    assert marks[btc] == pytest.approx(taken.book.marks[btc] * 0.9, rel=1e-15)
    others = [j for j in range(len(marks)) if j != btc]
    assert list(marks[others]) == list(taken.book.marks[others])
    # no pinned marks: the stored ones
    plain = demo_desk.apply(RunScenario(Scenario())).payload
    assert list(plain.book.marks) == list(taken.book.marks)
    # a market the book no longer holds is ignored, not an error
    assert demo_desk.apply(RunScenario(Scenario(), marks=(("FOOUSDT", 1.0),))).accepted


def test_the_grid_leaves_out_shocks_a_beta_would_push_below_minus_100(demo_desk):
    result = demo_desk.apply(RunScenario(Scenario(betas={"SOLUSDT": 2.5}), grid=(-50.0, -40.0, -39.0, 0.0, 50.0)))
    assert result.accepted, result.reason
    _, grid = result.payload
    assert grid.shocks.tolist() == [-39.0, 0.0, 50.0]  # −40 × 2.5 = −100 %: out


def test_saved_scenarios_round_trip(demo_desk):
    scenario = Scenario(shocks={"BTCUSDT": Shock.pct(-15), "ETHUSDT": Shock.price(2500.0)}, betas={"SOLUSDT": 1.4},
                        margin_edits={3: 250.0}, leverage_edits={4: 5.0})
    assert demo_desk.apply(SaveScenario("btc dump", scenario)).accepted
    loaded = demo_desk.apply(LoadScenario("btc dump")).payload
    assert scenario_to_dict(loaded) == scenario_to_dict(scenario)
    assert demo_desk.apply(ListScenarios()).payload == ("btc dump",)
    assert demo_desk.apply(RenameScenario("btc dump", "crash")).accepted
    assert demo_desk.apply(ListScenarios()).payload == ("crash",)
    bad = demo_desk.apply(LoadScenario("btc dump"))
    assert not bad.accepted and bad.reason == "name: no saved scenario named 'btc dump'"
    assert demo_desk.apply(DeleteScenario("crash")).accepted
    assert demo_desk.apply(ListScenarios()).payload == ()


def test_paths_serialize(demo_desk):
    scenario = Scenario(path=(Move({"BTCUSDT": Shock.pct(-10)}), Move(market_shock=("BTCUSDT", -25.0))))
    assert scenario_to_dict(scenario_from_dict(scenario_to_dict(scenario))) == scenario_to_dict(scenario)


# -- the odds and funding after the scenario carry the desk's volatility and quotes ----------------

SERIES_END = 1_700_020_000.0  # after the demo's own price at 1,700,000,000 has left the seeding window (4 h)


def hand_sigma(ts, prices, half_life_s):
    """The time-aware EWMA of squared log returns per second, worked out here step by step."""
    weighted = weight = 0.0
    for k in range(1, len(ts)):
        dt = ts[k] - ts[k - 1]
        r = math.log(prices[k] / prices[k - 1])
        keep = 2.0 ** (-dt / half_life_s)
        weighted = keep * weighted + (1.0 - keep) * r * r / dt
        weight = keep * weight + (1.0 - keep)
    return math.sqrt(weighted / weight)


@pytest.fixture
def vol_desk(demo_store, catalog, clock):
    """The demo desk after 20 minutes of BTC reference prices swinging 0.2 % a minute (ending at 60,000) and a
    BTC funding quote of 0.01 % per 8 h."""
    ts = [SERIES_END - 60.0 * (20 - k) for k in range(21)]
    prices = [60_000.0 * (1.002 if k % 2 else 1.0) for k in range(21)]
    demo_store.insert_prices([(t, "BTCUSDT", p) for t, p in zip(ts, prices, strict=True)])
    with demo_store.db.conn:
        demo_store.db.conn.execute(
            "INSERT INTO funding_quotes (venue, market, rate, next_ts, interval_s, ts) VALUES (?, ?, ?, ?, ?, ?)",
            ["", "BTCUSDT", "0.0001", 1_700_035_200.0, 28_800.0, SERIES_END])
    clock.now = SERIES_END + 1.0
    desk = Desk(demo_store, None, catalog=catalog, clock=clock)
    return desk, hand_sigma(ts, prices, desk.settings.odds_half_life_s)


def test_a_run_carries_the_desks_volatility_and_its_odds(vol_desk):
    desk, sigma = vol_desk
    outcome = desk.apply(RunScenario(Scenario())).payload
    book, iso = outcome.book, outcome.isolated
    snap = desk.snapshot
    btc = [r for r in range(len(book)) if book.markets[int(book.market_index[r])] == "BTCUSDT"]
    assert {book.labels[r] for r in btc} >= {"btc-core-long", "btc-scalp-short", "btc-bybit-long"}
    for r in range(len(book)):
        if r in btc:
            assert book.sigma[r] == pytest.approx(sigma, rel=1e-9), book.labels[r]
        else:  # no stored prices of the other markets in the window: no volatility, no odds
            assert math.isnan(book.sigma[r]) and math.isnan(iso.liq_prob_24h[r]), book.labels[r]
    # no shock: the odds after it are the live table's, row for row
    for r in btc:
        row = int(np.flatnonzero(snap.book.position_ids == int(book.position_ids[r]))[0])
        for name in ("sigma_distance", "liq_prob_1h", "liq_prob_24h"):
            assert getattr(iso, name)[r] == pytest.approx(float(snap.cols[name][row]), rel=1e-9, abs=1e-12), name
    # and from the formula: btc-core-long, mark 60,000, its liquidation price L
    r = book.labels.index("btc-core-long")
    d = math.log(60_000.0 / float(iso.liquidation_price[r]))
    assert iso.liq_prob_24h[r] == pytest.approx(math.erfc(d / (sigma * math.sqrt(2 * 86_400.0))), rel=1e-9)
    # a 10 % fall brings the longs closer: higher odds for the same volatility
    shocked = desk.apply(RunScenario(Scenario(shocks={"BTCUSDT": Shock.pct(-10.0)}))).payload
    assert shocked.book.sigma[r] == book.sigma[r]
    assert shocked.isolated.liq_prob_24h[r] > iso.liq_prob_24h[r]
    # the book the page asks for carries it as well
    assert desk.apply(GetScenarioBook()).payload.book.sigma[r] == pytest.approx(sigma, rel=1e-9)


def test_a_run_carries_the_latest_funding_quote(vol_desk):
    desk, _ = vol_desk
    outcome = desk.apply(RunScenario(Scenario(shocks={"BTCUSDT": Shock.price(54_000.0)}))).payload
    book, iso = outcome.book, outcome.isolated
    r = book.labels.index("btc-core-long")  # 0.5 BTC long: pays 0.5 · 54,000 · 0.0001 = 2.70 at the shocked mark
    assert iso.next_funding_amount[r] == pytest.approx(-2.70, rel=1e-12)
    assert iso.liq_drift_pct_day[r] > 0  # paid from the isolated margin (Binance: conservative rule)
    s = book.labels.index("btc-scalp-short")
    assert iso.next_funding_amount[s] > 0
    # no shock: the live table's funding figures, row for row (a desk without a feed reads the stored quotes
    # at its first step)
    plain = desk.apply(RunScenario(Scenario())).payload
    snap = desk.step()
    for r in range(len(plain.book)):
        row = int(np.flatnonzero(snap.book.position_ids == int(plain.book.position_ids[r]))[0])
        for name in ("next_funding_amount", "liq_drift_pct_day"):
            want = float(snap.cols[name][row])
            got = float(getattr(plain.isolated, name)[r])
            assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, rel=1e-9, abs=1e-12), (
                plain.book.labels[r], name)
    assert np.isfinite(plain.isolated.next_funding_amount).sum() >= 3


def test_the_scenario_book_takes_a_volatility_or_a_time_to_seed_one_not_both(demo_store):
    from isodesk.desk.volatility import Volatility
    from isodesk.desk.whatif import scenario_book

    with pytest.raises(ValueError, match="not both"):
        scenario_book(demo_store, volatility=Volatility(3600.0), seed_now=1_700_000_001.0)
    # seeded from the demo's one stored price per market: one price is no volatility
    assert np.isnan(scenario_book(demo_store, seed_now=1_700_000_001.0).sigma).all()
