"""The engine's buffered path (:class:`isodesk.margin.engine.RiskBuffers`): the same figures as a
straightforward computation, buffers reused across calls and sizes, and published figures never
written again.

The reference below is the engine as it was before the buffers (fresh arrays per call, one numpy
expression per figure, the tier walks of :func:`_walk` on whole arrays): the buffered path must give
the same bits, whatever the block size, the order of calls or the tiers the marks wander through.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.margin import Position, PositionBatch, TierTable
from isodesk.margin.engine import (
    PriceLevels,
    RiskArrays,
    RiskBuffers,
    _walk,
    compute,
    maintenance_requirement,
    mark_figures,
    price_levels,
)
from isodesk.margin.venues import RemovableRule
from tests.margin.strategies import positions

# -- the reference: fresh arrays, one expression per figure -------------------------------------------


def _ref_price(batch: PositionBatch, x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        price: np.ndarray = x * batch.inv_linear_size + batch.inverse_size / x
        price[~((x > 0) & (price < np.inf))] = np.nan
    return price


def ref_levels(batch: PositionBatch) -> PriceLevels:
    """Liquidation prices by walking every position's tier from its entry tier on whole arrays."""
    c0, c1, base = batch.c0, batch.c1, batch.look_base

    def root_past(edge, upward):
        def test(rows, k):
            x = edge[base[rows] + k]
            line = maintenance_requirement(batch, x, k, rows)
            g = c0[rows] + line.offset + (c1[rows] - line.slope) * x
            return (c1[rows] * g <= 0) & (x < np.inf) if upward else (k > 0) & (c1[rows] * g > 0)
        return test

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        k = _walk(batch.entry_tier, root_past(batch.look_floors, False), root_past(batch.look_caps, True))
        line = maintenance_requirement(batch, math.nan, k)
        x_liq = (c0 + line.offset) / (line.slope - c1)
    return PriceLevels(liquidation_price=_ref_price(batch, x_liq),
                       bankruptcy_price=_ref_price(batch, batch.bankrupt_notional), liquidation_tier=line.tier)


def ref_figures(batch: PositionBatch, mark: np.ndarray, levels: PriceLevels) -> RiskArrays:
    """Every figure at ``mark``, written out as one expression each (the rule per venue by index)."""
    mark = np.asarray(mark, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        recip = 1.0 / mark
        notional = batch.linear_size * mark + batch.inverse_size * recip
        balance = batch.c0 + batch.c1 * notional
        upnl = balance - batch.margin
        mm = maintenance_requirement(batch, notional)
        positive = balance > 0
        ratio = mm.requirement / balance
        ratio[~positive] = np.nan
        distance_price = batch.side * (mark - levels.liquidation_price)
        eff = notional / balance
        eff[~positive] = np.nan
        removable = np.full(len(batch), np.nan)
        initial = notional / batch.leverage
        b = np.flatnonzero(batch.removable == RemovableRule.BINANCE)
        removable[b] = np.maximum(0.0, np.minimum(batch.margin[b] - mm.margin[b], balance[b] - initial[b]))
        h = np.flatnonzero(batch.removable == RemovableRule.HYPERLIQUID)
        removable[h] = np.maximum(0.0, balance[h] - np.maximum(initial[h], 0.1 * notional[h]))
        removable[~np.isfinite(removable)] = np.nan
    return RiskArrays(mark=mark, notional=notional, unrealized_pnl=upnl, margin_balance=balance,
                      maintenance_margin=mm.margin, margin_ratio=ratio, liquidation_price=levels.liquidation_price,
                      bankruptcy_price=levels.bankruptcy_price, distance_price=distance_price,
                      distance_frac=distance_price * recip, roe=upnl / batch.margin, effective_leverage=eff,
                      max_removable=removable, max_loss=batch.margin, tier=mm.tier, close_fee=mm.close_fee)


def assert_same(got, want) -> None:
    """Every array field of two results holds the same values (NaN where NaN; 0.0 == −0.0)."""
    for f in fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        assert a.shape == b.shape, f.name
        np.testing.assert_array_equal(a, b, err_msg=f.name, strict=False)


def snapshot_of(result) -> dict[str, np.ndarray]:
    return {f.name: np.array(getattr(result, f.name), copy=True) for f in fields(result)}


# -- books ----------------------------------------------------------------------------------------------

books = st.lists(positions(), min_size=1, max_size=24)
moves = st.lists(st.floats(0.5, 2.0), min_size=1, max_size=24)


def marks_for(book: list[Position], factors: list[float], none_every: int = 0) -> np.ndarray:
    """Each position's entry price times a factor (cycled); NaN (no mark) every ``none_every``-th."""
    mark = np.array([p.entry_price * factors[i % len(factors)] for i, p in enumerate(book)])
    if none_every:
        mark[::none_every] = np.nan
    return mark


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books, walks=st.lists(moves, min_size=1, max_size=4), chunk=st.sampled_from([1, 3, 7, 4096]),
       none_every=st.sampled_from([0, 2, 5]))
def test_buffered_path_gives_the_reference_bits(book, walks, chunk, none_every):
    """Random books of every venue and basis, marks wandering across tiers (and NaN marks) call
    after call on one set of buffers, in blocks of any size: the same bits as the reference."""
    batch = PositionBatch.from_positions(book, validate=False)
    buffers = RiskBuffers(chunk=chunk)
    want_levels = ref_levels(batch)
    assert_same(price_levels(batch, into=buffers), want_levels)
    levels = price_levels(batch)
    for factors in walks:
        for nan_every in (0, none_every):
            mark = marks_for(book, factors, nan_every)
            want = ref_figures(batch, mark, want_levels)
            assert_same(mark_figures(batch, mark, levels, into=buffers), want)
            assert_same(compute(batch, mark), want)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=books, factors=moves)
def test_mark_only_equals_full_recompute(book, factors):
    """The per-tick path (levels kept) equals the full recompute, into buffers or fresh arrays."""
    batch = PositionBatch.from_positions(book, validate=False)
    mark = marks_for(book, factors)
    buffers = RiskBuffers(chunk=2)
    full = snapshot_of(compute(batch, mark))
    assert_same(RiskArrays(**snapshot_of(buffers.compute(batch, mark))), RiskArrays(**full))
    levels = price_levels(batch)
    assert_same(mark_figures(batch, mark, levels, into=buffers), RiskArrays(**full))


def _linear_book(n: int, seed: int = 3) -> tuple[PositionBatch, np.ndarray]:
    """``n`` Binance-rule linear positions over three tiers, longs and shorts, marks near entry."""
    rng = np.random.default_rng(seed)
    tiers = TierTable.from_rows([[0, 50_000, 0.004, None, 125], [50_000, 250_000, 0.005, None, 100],
                                 [250_000, None, 0.01, None, 50]])
    book = []
    for i in range(n):
        entry = float(rng.uniform(50, 150))
        qty = float(10 ** rng.uniform(1, 3.5))
        book.append(Position(venue="binance-usdm", side="long" if i % 2 else "short", contract="linear",
                             entry_price=entry, quantity=qty, isolated_margin=qty * entry / 10, leverage=10.0,
                             tiers=tiers))
    return PositionBatch.from_positions(book, validate=False), np.array([p.entry_price for p in book])


def test_buffers_are_reused_across_calls_and_smaller_books():
    """No new memory per call; a smaller book reuses the same memory; a larger one grows it once."""
    big, big_mark = _linear_book(50)
    small, small_mark = _linear_book(20, seed=4)
    buffers = RiskBuffers(chunk=8)
    levels_big, levels_small = price_levels(big), price_levels(small)
    first = buffers.mark_figures(big, big_mark, levels_big)
    second = buffers.mark_figures(big, big_mark * 1.01, levels_big)
    assert np.shares_memory(first.notional, second.notional)
    assert np.shares_memory(first.margin_ratio, second.margin_ratio)
    shrunk = buffers.mark_figures(small, small_mark, levels_small)
    assert len(shrunk.notional) == 20 and buffers.capacity == 50
    assert np.shares_memory(first.notional, shrunk.notional)
    assert_same(shrunk, ref_figures(small, small_mark, ref_levels(small)))
    bigger, bigger_mark = _linear_book(80, seed=5)
    grown = buffers.mark_figures(bigger, bigger_mark, price_levels(bigger))
    assert buffers.capacity == 80 and not np.shares_memory(first.notional, grown.notional)
    assert_same(grown, ref_figures(bigger, bigger_mark, ref_levels(bigger)))
    again = buffers.mark_figures(big, big_mark, levels_big)  # back to 50: the grown memory serves
    assert np.shares_memory(grown.notional, again.notional)
    assert_same(again, ref_figures(big, big_mark, ref_levels(big)))


def test_an_empty_book_has_empty_figures():
    batch = PositionBatch.from_positions([])
    buffers = RiskBuffers()
    for result in (compute(batch, np.zeros(0)), buffers.compute(batch, np.zeros(0))):
        assert all(len(getattr(result, f.name)) == 0 for f in fields(result))
    small, mark = _linear_book(3)
    assert_same(buffers.compute(small, mark), ref_figures(small, mark, ref_levels(small)))


def test_figures_from_buffers_are_read_only_and_fresh_ones_are_the_callers():
    batch, mark = _linear_book(10)
    levels = price_levels(batch)
    buffered = mark_figures(batch, mark, levels, into=RiskBuffers())
    with pytest.raises(ValueError):
        buffered.notional[0] = 1.0
    a, b = mark_figures(batch, mark, levels), mark_figures(batch, mark, levels)
    assert not np.shares_memory(a.notional, b.notional)
    a.notional[0] = -1.0  # the caller's own array
    assert b.notional[0] > 0


def test_a_published_result_is_never_written_again_once_copied():
    """What a caller keeps is its copy: later calls rewrite the buffers, not the copy."""
    batch, mark = _linear_book(30)
    buffers = RiskBuffers(chunk=7)
    levels = price_levels(batch)
    kept = snapshot_of(buffers.mark_figures(batch, mark, levels))
    live = buffers.mark_figures(batch, mark * 0.97, levels)
    assert not np.array_equal(live.notional, kept["notional"])  # the buffers did move on
    buffers.mark_figures(batch, mark * 1.03, levels)
    assert_same(RiskArrays(**kept), ref_figures(batch, mark, ref_levels(batch)))


def test_a_notional_leaving_its_tier_and_losing_its_mark_is_valued_on_the_entry_tier():
    """A position walked to another tier by one mark, then left without a mark, reads its entry
    tier (as the walk from the entry tier gives for a NaN notional), and back again."""
    batch, mark = _linear_book(12)
    levels = price_levels(batch)
    buffers = RiskBuffers(chunk=5)
    far = mark * 3.0  # every notional three times its entry: most leave their entry tier
    moved = buffers.mark_figures(batch, far, levels)
    assert (np.asarray(moved.tier) != batch.entry_tier).any()
    assert_same(moved, ref_figures(batch, far, levels))
    none = np.full(len(batch), np.nan)
    assert_same(buffers.mark_figures(batch, none, levels), ref_figures(batch, none, levels))
    np.testing.assert_array_equal(buffers.mark_figures(batch, none, levels).tier, batch.entry_tier)
    assert_same(buffers.mark_figures(batch, far, levels), ref_figures(batch, far, levels))


def test_desk_snapshot_is_unchanged_by_later_recomputes(tmp_path):
    """The desk recomputes into its buffers; a snapshot published earlier keeps its figures."""
    from isodesk.desk import Desk
    from isodesk.desk.setup import open_book, shipped_catalog
    from tests.desk.fakes import ManualClock, ScriptedFeed

    store = open_book(tmp_path / "demo.db", demo=True, ts=1_700_000_000.0)
    clock, feed = ManualClock(), ScriptedFeed()
    desk = Desk(store, feed, catalog=shipped_catalog(), clock=clock)
    try:
        first = desk.snapshot
        kept = {name: np.array(col, copy=True) for name, col in first.cols.items()}
        symbols = sorted(set(first.book.symbols))
        marks = first.cols["mark"]
        for factor in (0.995, 1.004):
            for sym in symbols:
                rows = [i for i, s in enumerate(first.book.symbols) if s == sym and np.isfinite(marks[i])]
                if rows:
                    feed.push(sym, float(marks[rows[0]]) * factor, clock.advance(1))
            desk.step()
        assert desk.snapshot.version > first.version
        assert not np.array_equal(desk.snapshot.cols["mark"], kept["mark"], equal_nan=True)
        for name, col in first.cols.items():
            np.testing.assert_array_equal(col, kept[name], err_msg=name)
        figures = [f.name for f in fields(RiskArrays) if f.name in first.cols]
        assert "notional" in figures and "margin_ratio" in figures
        for name in figures:  # the engine's figures: each snapshot has its own
            assert not np.shares_memory(first.cols[name], desk.snapshot.cols[name]), name
    finally:
        desk.close()
        store.close()
