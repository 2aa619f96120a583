"""The engine's shortcuts for books of one contract kind, its one-allocation buffers and the
liquidation walk of the positions whose root leaves their entry tier: the same bits as the
straightforward reference of ``test_engine_buffers.py`` (one numpy expression per figure, tier walks
on whole arrays), compared bit for bit here (NaN equals NaN, −0.0 equals 0.0).

- A book all linear or all inverse skips the notional term that is zero for every position, and a
  linear book reads ``c1`` for the side: the shortcut must not change a figure, even for marks
  that are not prices (0, negative, ±∞), where the skipped term was not zero.
- Buffers the caller keeps are carved from one allocation: no two figures share memory.
- The liquidation solve keeps per book the root's line on the entry tier (``root_num``,
  ``root_den``) and walks only the positions whose root lies beyond that tier, with the book's
  columns gathered once (:func:`~isodesk.margin.engine._root_tests`): the same tiers as the tests
  on the whole book through :func:`maintenance_requirement` (:func:`_whole_book_root_tests`, below).
"""

from __future__ import annotations

from dataclasses import fields
from itertools import combinations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.margin import PositionBatch
from isodesk.margin.engine import (
    _MARK_COLUMNS,
    RiskArrays,
    RiskBuffers,
    Rows,
    Test,
    _root_tests,
    _walk_rows,
    compute,
    maintenance_requirement,
    mark_figures,
    price_levels,
)
from tests.margin.strategies import VENUE_VARIANTS, positions
from tests.margin.test_engine_buffers import marks_for, ref_figures, ref_levels

LINEAR = [v for v in VENUE_VARIANTS if v[1] == "linear"]
INVERSE = [v for v in VENUE_VARIANTS if v[1] == "inverse"]
KINDS = {"linear": LINEAR, "inverse": INVERSE, "mixed": VENUE_VARIANTS}

# marks that are not prices, where a skipped term 0·∞ or ∞·0 made the sum NaN. (Left out: the marks
# whose notional is +∞, ∞ for a linear and 0 for an inverse contract, which the reference cannot
# value; the last test below holds the engine to staying in the last tier there.)
ODD_MARKS = {"linear": [0.0, -0.0, -1.0, -np.inf, np.nan], "inverse": [-0.0, -1.0, np.inf, -np.inf, np.nan]}


def bits(a: np.ndarray) -> np.ndarray:
    """The bit pattern of each float (int64), every NaN as one pattern and −0.0 as 0.0: equal
    bits, equal floats; NaN equals NaN whatever its payload. (The sign of a zero is not compared:
    the engine leaves −0.0 where the reference adds a fee of +0.0, at a negative mark.)"""
    a = np.array(a, dtype=np.float64, copy=True)
    a[np.isnan(a)] = np.nan
    a[a == 0] = 0.0
    return a.view(np.int64)


def assert_bits(got: object, want: object) -> None:
    """Every array field of two results holds the same bits (:func:`bits`)."""
    for f in fields(want):  # type: ignore[arg-type]
        a, b = getattr(got, f.name), getattr(want, f.name)
        assert a.shape == b.shape, f.name
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(bits(a), bits(b), err_msg=f.name)
        else:
            np.testing.assert_array_equal(a, b, err_msg=f.name)


def book_of(kind: str, max_size: int = 24) -> st.SearchStrategy:
    return st.lists(positions(venues=KINDS[kind]), min_size=1, max_size=max_size)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["linear", "inverse"]), data=st.data(),
       factors=st.lists(st.floats(0.5, 2.0), min_size=1, max_size=24), chunk=st.sampled_from([1, 3, 4096]),
       odd=st.lists(st.tuples(st.integers(0, 23), st.integers(0, 5)), max_size=4))
def test_a_book_of_one_kind_gives_the_reference_bits(kind, data, factors, chunk, odd):
    """All-linear and all-inverse books, marks across tiers with marks that are not prices mixed in
    (0, −0, negative, ±∞ for inverse contracts, NaN): the buffered and fresh paths give the
    reference's bits."""
    book = data.draw(book_of(kind))
    batch = PositionBatch.from_positions(book, validate=False)
    mark = marks_for(book, factors)
    for i, j in odd:
        mark[i % len(book)] = ODD_MARKS[kind][j % len(ODD_MARKS[kind])]
    want_levels = ref_levels(batch)
    buffers = RiskBuffers(chunk=chunk)
    assert_bits(price_levels(batch, into=buffers), want_levels)
    levels = price_levels(batch)
    assert_bits(levels, want_levels)
    with np.errstate(invalid="ignore"):  # the reference's last products (∞·0 at these marks) are outside its own
        want = ref_figures(batch, mark, want_levels)
    assert_bits(mark_figures(batch, mark, levels, into=buffers), want)
    assert_bits(mark_figures(batch, mark, levels), want)
    assert_bits(compute(batch, mark), want)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["linear", "inverse", "mixed"]), data=st.data(),
       walks=st.lists(st.lists(st.floats(0.5, 2.0), min_size=1, max_size=24), min_size=1, max_size=3))
def test_buffers_kept_across_books_of_each_kind_give_the_reference_bits(kind, data, walks):
    """One set of buffers serves books of different kinds in turn (the kind is the book's, derived
    again with each new batch), marks moving across tiers: the reference's bits every time."""
    buffers = RiskBuffers(chunk=5)
    for k in (kind, "mixed", kind):
        book = data.draw(book_of(k))
        batch = PositionBatch.from_positions(book, validate=False)
        want_levels = ref_levels(batch)
        levels = price_levels(batch, into=buffers)
        assert_bits(levels, want_levels)
        for factors in walks:
            mark = marks_for(book, factors)
            assert_bits(mark_figures(batch, mark, levels, into=buffers), ref_figures(batch, mark, want_levels))


def _whole_book_root_tests(batch: PositionBatch) -> tuple[Test, Test]:
    """The reference for the engine's gathered tier tests: the root's tests on the whole book's
    arrays, each step through :func:`maintenance_requirement` (the engine's code before the columns
    were gathered)."""
    c0, c1, base = batch.c0, batch.c1, batch.look_base

    def root_past(edge: np.ndarray, upward: bool) -> Test:
        def test(rows: Rows, k: np.ndarray) -> np.ndarray:
            x = edge[base[rows] + k]
            line = maintenance_requirement(batch, x, k, rows)
            g = c0[rows] + line.offset + (c1[rows] - line.slope) * x
            past: np.ndarray = (c1[rows] * g <= 0) & (x < np.inf) if upward else (k > 0) & (c1[rows] * g > 0)
            return past
        return test

    return root_past(batch.look_floors, False), root_past(batch.look_caps, True)

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(book=book_of("mixed", max_size=40), data=st.data())
def test_the_walk_from_gathered_columns_steps_as_the_whole_book_walk(book, data):
    """:func:`~isodesk.margin.engine._root_tests` (the rows' columns gathered once, tests on indices
    into the rows) walks every position to the same tier as :func:`_whole_book_root_tests`, from any
    starting tier and first answers."""
    batch = PositionBatch.from_positions(book, validate=False)
    n = len(batch)
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1))), dtype=np.intp)
    widths = np.array([len(p.tiers) for p in book])[rows]
    start = np.array([data.draw(st.integers(0, w - 1)) for w in widths], dtype=np.intp)
    below = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))))
    above = np.array(data.draw(st.lists(st.booleans(), min_size=len(rows), max_size=len(rows))))
    below &= start > 0
    above &= start < widths - 1
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        want = _walk_rows(rows, start, *_whole_book_root_tests(batch), below, above)
        got = _walk_rows(np.arange(len(rows)), start, *_root_tests(batch, rows), below, above)
    np.testing.assert_array_equal(got, want)


def test_kept_buffers_are_one_allocation_and_no_two_figures_share_memory():
    """The figures a caller keeps come from one allocation (its columns on 64-byte lines); fresh
    figures are arrays of their own; in both, no two figures overlap, and a smaller book after a
    larger one reads its own figures only."""
    book = [p for p in _two_kinds()]
    batch = PositionBatch.from_positions(book, validate=False)
    mark = np.array([p.entry_price * 1.01 for p in book])
    kept = RiskBuffers()
    figures = compute(batch, mark, into=kept)
    columns = [getattr(figures, name) for name in _MARK_COLUMNS] + [figures.liquidation_price]
    bases = {id(c.base) for c in columns}
    assert len(bases) == 1  # views of one slab
    for a, b in combinations(columns, 2):
        assert not np.shares_memory(a, b)
    assert all(c.ctypes.data % 64 == 0 for c in columns)
    fresh = compute(batch, mark)
    fresh_columns = [getattr(fresh, name) for name in _MARK_COLUMNS] + [fresh.liquidation_price]
    for i, a in enumerate(fresh_columns):
        assert a.flags.writeable
        for b in fresh_columns[i + 1:] + columns:
            assert not np.shares_memory(a, b)
    assert_bits(RiskArrays(**{f.name: np.array(getattr(figures, f.name)) for f in fields(figures)}), fresh)
    small = PositionBatch.from_positions(book[:3], validate=False)
    assert_bits(compute(small, mark[:3], into=kept), compute(small, mark[:3]))


def _two_kinds():
    from isodesk.margin import Position, TierTable

    tiers = TierTable.from_rows([[0, 50_000, 0.004, None, 125], [50_000, None, 0.01, None, 50]])
    coin = TierTable.from_rows([[0, 5, 0.005, None, 125], [5, None, 0.02, None, 50]])
    for i in range(40):
        entry = 100.0 + i
        if i % 3:
            yield Position(venue="binance-usdm", side="long" if i % 2 else "short", contract="linear",
                           entry_price=entry, quantity=5.0 * (i + 1), isolated_margin=50.0 * (i + 1) / 10 * entry / 100,
                           leverage=10.0, tiers=tiers)
        else:
            yield Position(venue="binance-coinm", side="short" if i % 2 else "long", contract="inverse",
                           entry_price=entry, quantity=float(i + 1), contract_size=100.0,
                           isolated_margin=(i + 1) * 100.0 / entry / 10, leverage=10.0, tiers=coin)


@settings(max_examples=40, deadline=None)
@given(book=st.lists(positions(), min_size=1, max_size=8))
def test_a_mark_that_makes_a_notional_infinite_stays_in_the_last_tier(book):
    """A mark of +∞ (linear) or 0 (inverse) makes the notional infinite; the tier walk used to step
    past the last row (IndexError). It stays there: the notional is +∞, and the liquidation price,
    which depends on the book alone, is the one a finite mark gives."""
    batch = PositionBatch.from_positions(book)
    entry = np.array([p.entry_price for p in book])
    infinite = np.where(batch.inverse, 0.0, np.inf)
    with np.errstate(all="ignore"):
        at_infinity = compute(batch, infinite)
        at_entry = compute(batch, entry)
    assert np.all(at_infinity.notional == np.inf)
    np.testing.assert_array_equal(bits(at_infinity.liquidation_price), bits(at_entry.liquidation_price))


def _inverse_short(margin: float, variant: str, rows: list[list[float]]):
    from isodesk.margin import Position, TierTable

    return Position(venue="bybit", side="short", contract="inverse", entry_price=1.0, quantity=1.0, contract_size=1.0,
                    isolated_margin=margin, tiers=TierTable.from_rows(rows, name="test tiers"),
                    formula_variant=variant, symbol="BTCUSD")


ONE_TIER = [[0.0, 150.0, 0.005, 0.0, 100.0]]
TWO_TIERS = [[0.0, 0.5, 0.005, 0.0, 100.0], [0.5, 150.0, 0.02, 0.0075, 50.0]]  # entry (1 coin) on the second


@pytest.mark.parametrize("variant", ["uta_entry", "entry_mm"])
@pytest.mark.parametrize(("rows", "line"), [(ONE_TIER, 1.005), (TWO_TIERS, 1.0125)])
def test_an_inverse_short_on_its_never_liquidated_line_has_no_liquidation_price(variant, rows, line):
    """1 contract of 1 USD short at 1.0: the most it can lose is its entry notional, 1 coin; with
    the maintenance at entry (5 ‰ on one tier; 2 % less a deduction of 0.0075 on the second tier
    of two, where the entry sits: a root at a notional of 0 lies below it, so the engine walks it)
    a margin of ``line`` leaves a balance above the requirement at every price. Float arithmetic
    leaves 1e-16 of the cancelled terms, which put the liquidation at 9.4e15; a real deficit of one
    ledger unit (1e-8 coin) still gives the price where it runs out."""
    on_line = compute(PositionBatch.from_positions([_inverse_short(line, variant, rows)]), np.array([1.0]))
    assert np.isnan(on_line.liquidation_price[0])
    short_by_a_unit = compute(PositionBatch.from_positions([_inverse_short(line - 1e-8, variant, rows)]),
                              np.array([1.0]))
    # the balance W − 1 + 1/L falls to the requirement MM_E at 1/L = 1e-8: L = 1e8 (to the rounding of 1e-8)
    assert short_by_a_unit.liquidation_price[0] == pytest.approx(1e8, rel=1e-6)
