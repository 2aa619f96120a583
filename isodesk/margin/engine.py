"""The vectorized isolated-margin engine: N positions in, arrays of risk figures out.

Notation (``../shared/reference/margin-cases.md``): ``s`` = +1 long / −1 short, ``W`` isolated
margin, ``E`` entry price, ``Q`` linear size (base units), ``N`` inverse face value (USD).
Notional ``x`` is ``Q·P`` (quote) for linear and ``N/P`` (coin) for inverse contracts. In both
cases the margin balance is affine in the notional, ``B = c0 + c1·x`` with
linear ``c0 = W − s·Q·E, c1 = s`` and inverse ``c0 = W + s·N/E, c1 = −s``. Liquidation is
``B = R(x)``, the requirement ``R(x) = MM(x) + f·x + F`` (:mod:`isodesk.margin.venues`):

- ``MM = r_k·x − a_k`` on tier ``k`` (for a formula valuing MM at entry, Bybit ``entry_mm`` and
  ``uta_entry``, ``r = 0, a = −MM(n(E))``);
- ``f·x`` the fee to close at the price, where the venue counts it (OKX, Gate; else ``f = 0``);
- ``F = f_b·x_b`` the fee to close at the bankruptcy price (Bybit unified account), a constant for
  a given margin: ``x_b`` is the notional where the margin balance just pays that fee,
  ``c0 + c1·x_b = f_b·x_b``, so ``x_b = c0 / (f_b − c1)`` (Bybit's fee-inclusive bankruptcy price;
  with ``f_b = 0`` it is the plain one, ``−c0/c1``).

On tier ``k`` the root is ``x = (c0 + a_k − F) / (r_k + f − c1)``. The tier is the one holding the
root: on the notional basis ``R`` is continuous and increasing, so it is found by walking from
the entry tier while the root lies beyond the current floor or cap; on the contracts basis (OKX)
the tier is the one of the position's size and stays so at every price (no walk).

The requirement has one definition, :func:`maintenance_requirement`: the figures at a mark, the
liquidation-price solver and the scenarios (:mod:`isodesk.margin.scenario`) all call it, so the
margin ratio, requirement ÷ margin balance, is exactly 1.0 at the liquidation price for every
venue and variant.

The figures are computed by :class:`RiskBuffers`, into arrays it owns and reuses (the desk keeps
one: no new array of N per tick), in blocks of positions whose dozen passes run in cache; each
position is valued on the tier row its notional sits in, from a per-batch line of its entry tier
(``entry_rate``, ``entry_amount``), and only positions whose notional (or liquidation root) left
that row are looked up through :func:`maintenance_requirement`. The same code serves the functions
:func:`price_levels`, :func:`mark_figures` and :func:`compute`, into new arrays when no buffers are
given, so the figures are the same bits either way (``tests/margin/test_engine_buffers.py`` and
``test_engine_kinds.py`` hold them to a straightforward one-expression-per-figure computation).

What the per-tick path costs at 100,000 positions is memory traffic, not arithmetic: it streams
about 16 columns of the book and writes 11 figures (8.8 MB) per call, and numpy makes one pass per
operation. Measured on the 2-core machine of the 2026-12-02 sessions (benchmarks/engine.py and the
scratch measurements quoted in the team's notes): writing the 11 figures and reading the mark and
the liquidation price alone, in one compiled loop, takes 1.5 ms there; the whole per-tick path in
one compiled loop (numba, not a dependency) 2.7–2.9 ms; this numpy path 3.4–3.9 ms. So the passes
are few and fused in cache (blocks of :data:`CHUNK`), a book of one contract kind skips the zero
term of the notional, and what depends on the book alone is derived once per batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np

from isodesk.margin.position import SIDES, Position, check
from isodesk.margin.tiers import TierSet, TierTable
from isodesk.margin.venues import VENUES, CloseFee, RemovableRule, Requirement


@dataclass(frozen=True, slots=True)
class PositionBatch:
    """A book as a struct of arrays (all length N, read-only).

    ``size``: linear Q in base units, inverse N in USD. ``contracts``: the size in contracts (linear
    Q ÷ the table's contract value, inverse the contract count), read only for tables on the
    contracts basis. ``fee_rate``: the close fee counted at the price (OKX, Gate),
    ``bust_fee_rate``: the close fee counted at the bankruptcy price (Bybit ``uta``/``uta_entry``);
    each 0 where the formula does not count it. ``requirement`` holds :class:`Requirement` codes,
    ``removable`` :class:`RemovableRule` codes, ``table`` the row of each position's tier table in
    ``tiers``.

    Derived once per batch for :func:`maintenance_requirement`: ``entry_tier`` (the tier row
    holding the entry notional, or on the contracts basis the row of the size, which every lookup
    keeps: ``look_floors``/``look_caps`` are the flat floors and caps followed by a block of NaN
    that ``look_base`` points those positions to, so no walk ever moves them);
    ``bankrupt_notional`` (``x_b``) and ``fixed_fee`` (``F``, settlement currency; 0 where not
    counted); ``at_entry`` (mask) and ``entry_rows`` (indices) of the positions
    whose maintenance is valued at entry, Bybit ``entry_mm``, and ``fixed_maintenance``, theirs at
    the entry notional (settlement currency; 0.0 for the others); ``mm_rates``/``mm_amounts``,
    the flat tier rates and amounts followed by one block of zeros, and ``mm_base``, each
    position's offset into them: its table's, or the zero block for an ``entry_mm`` position. So
    every position's line ``MM(x) = rate·x − amount`` is one lookup and one subtraction,
    ``mm_rates[mm_base + k]·x − (mm_amounts[mm_base + k] − fixed_maintenance)``, without
    branching or scattering per call (numpy's fancy indexing costs ~10 ns an element).
    ``entry_rate``/``entry_amount`` are that line on the entry tier and ``entry_floor``/``entry_cap``
    the entry tier's edges (NaN on the contracts basis), so a position whose notional stays in its
    entry tier needs no lookup at all; ``bankruptcy_price`` (quote per coin, NaN where none) is the
    price of ``x_b``, which depends on the book alone.
    """

    side: np.ndarray          # int8, +1 / −1
    inverse: np.ndarray       # bool
    size: np.ndarray          # float64
    entry: np.ndarray         # float64, price
    margin: np.ndarray        # float64, settlement currency
    leverage: np.ndarray      # float64, NaN = unknown
    fee_rate: np.ndarray      # float64, fraction of the notional at the price; 0 where not counted
    bust_fee_rate: np.ndarray  # float64, fraction of the notional at the bankruptcy price; 0 where not counted
    contracts: np.ndarray     # float64, size in contracts (contracts-basis tables only)
    requirement: np.ndarray   # int8
    removable: np.ndarray     # int8
    table: np.ndarray         # intp
    tiers: TierSet
    # Derived once per batch (not per mark): B = c0 + c1·notional, flat tier offsets, 1/E.
    c0: np.ndarray = field(init=False, repr=False)
    c1: np.ndarray = field(init=False, repr=False)
    entry_notional: np.ndarray = field(init=False, repr=False)
    inv_entry: np.ndarray = field(init=False, repr=False)
    base: np.ndarray = field(init=False, repr=False)
    linear_size: np.ndarray = field(init=False, repr=False)
    inv_linear_size: np.ndarray = field(init=False, repr=False)
    inverse_size: np.ndarray = field(init=False, repr=False)
    entry_tier: np.ndarray = field(init=False, repr=False)
    look_base: np.ndarray = field(init=False, repr=False)
    look_floors: np.ndarray = field(init=False, repr=False)
    look_caps: np.ndarray = field(init=False, repr=False)
    bankrupt_notional: np.ndarray = field(init=False, repr=False)
    fixed_fee: np.ndarray = field(init=False, repr=False)
    at_entry: np.ndarray = field(init=False, repr=False)
    entry_rows: np.ndarray = field(init=False, repr=False)
    fixed_maintenance: np.ndarray = field(init=False, repr=False)
    mm_rates: np.ndarray = field(init=False, repr=False)
    mm_amounts: np.ndarray = field(init=False, repr=False)
    mm_base: np.ndarray = field(init=False, repr=False)
    entry_rate: np.ndarray = field(init=False, repr=False)
    entry_amount: np.ndarray = field(init=False, repr=False)
    entry_floor: np.ndarray = field(init=False, repr=False)
    entry_cap: np.ndarray = field(init=False, repr=False)
    bankruptcy_price: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.side.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_entry = 1.0 / self.entry
        entry_notional = np.where(self.inverse, self.size * inv_entry, self.size * self.entry)
        c1 = np.where(self.inverse, -s, s)
        c0 = self.margin - c1 * entry_notional
        # W − Q·E cancels for a fully collateralised long; what is left is rounding noise, not a price.
        _snap_cancelled(c0, self.margin, entry_notional)
        base = self.table * self.tiers.width
        floors, caps = self.tiers.flat("floors"), self.tiers.flat("caps")
        entry_tier = _bracket(floors, caps, base, np.zeros(len(base), dtype=np.intp), entry_notional)
        sized = self.tiers.sized[self.table]
        if sized.any():
            entry_tier[sized] = _size_tier(caps, base[sized], self.contracts[sized])
        blank = np.full(self.tiers.width, np.nan)
        look_base = np.where(sized, floors.size, base)
        with np.errstate(divide="ignore", invalid="ignore"):
            bankrupt = c0 / (self.bust_fee_rate - c1)
            fixed_fee = self.bust_fee_rate * np.where(bankrupt > 0, bankrupt, 0.0)
        ie = base + entry_tier
        rates, amounts = self.tiers.flat("mmr"), self.tiers.flat("amounts")
        at_entry = self.requirement == Requirement.MM_AT_ENTRY
        zeros = np.zeros(self.tiers.width)
        mm_rates, mm_amounts = np.concatenate([rates, zeros]), np.concatenate([amounts, zeros])
        mm_base = np.where(at_entry, rates.size, base)
        fixed_maintenance = np.where(at_entry, entry_notional * rates[ie] - amounts[ie], 0.0)
        look_floors, look_caps = np.concatenate([floors, blank]), np.concatenate([caps, blank])
        je, le = mm_base + entry_tier, look_base + entry_tier
        derived = {"c0": c0, "c1": c1, "entry_notional": entry_notional, "inv_entry": inv_entry, "base": base,
                   "linear_size": np.where(self.inverse, 0.0, self.size),
                   "inv_linear_size": np.where(self.inverse, 0.0, 1.0 / self.size),
                   "inverse_size": np.where(self.inverse, self.size, 0.0),
                   "entry_tier": entry_tier, "look_base": look_base,
                   "look_floors": look_floors, "look_caps": look_caps,
                   "bankrupt_notional": bankrupt, "fixed_fee": fixed_fee,
                   "at_entry": at_entry, "entry_rows": np.flatnonzero(at_entry),
                   "fixed_maintenance": fixed_maintenance,
                   "mm_rates": mm_rates, "mm_amounts": mm_amounts, "mm_base": mm_base,
                   "entry_rate": mm_rates[je], "entry_amount": mm_amounts[je] - fixed_maintenance,
                   "entry_floor": look_floors[le], "entry_cap": look_caps[le]}
        n = len(base)
        derived["bankruptcy_price"] = bust = np.empty(n)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            _price_into(bankrupt, derived["inv_linear_size"], derived["inverse_size"], bust, np.empty(n),
                        np.empty(n, dtype=bool), np.empty(n, dtype=bool))
        for name, arr in derived.items():
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return len(self.size)

    @classmethod
    def from_positions(cls, positions: Sequence[Position], *, validate: bool = True) -> PositionBatch:
        """Build a batch from scalar positions (validated unless ``validate`` is False)."""
        if validate:
            for p in positions:
                check(p)
        tables: dict[int, int] = {}
        table_list: list[TierTable] = []
        idx = []
        for p in positions:
            key = id(p.tiers)
            if key not in tables:
                tables[key] = len(table_list)
                table_list.append(p.tiers)
            idx.append(tables[key])
        if not table_list:
            table_list.append(TierTable.single(0.0))
        formulas = [VENUES[p.venue].formula(p.formula_variant) for p in positions]
        return cls.from_arrays(
            side=np.array([SIDES[p.side] for p in positions], dtype=np.int8),
            inverse=np.array([p.contract == "inverse" for p in positions], dtype=bool),
            size=np.array([p.size for p in positions], dtype=np.float64),
            entry=np.array([p.entry_price for p in positions], dtype=np.float64),
            margin=np.array([p.isolated_margin for p in positions], dtype=np.float64),
            leverage=np.array([p.leverage for p in positions], dtype=np.float64),
            fee_rate=np.array([p.taker_fee_rate if f.close_fee == CloseFee.AT_PRICE else 0.0
                               for p, f in zip(positions, formulas, strict=True)], dtype=np.float64),
            bust_fee_rate=np.array([p.taker_fee_rate if f.close_fee == CloseFee.AT_BANKRUPTCY else 0.0
                                    for p, f in zip(positions, formulas, strict=True)], dtype=np.float64),
            contracts=np.array([p.contracts for p in positions], dtype=np.float64),
            requirement=np.array([f.maintenance for f in formulas], dtype=np.int8),
            removable=np.array([VENUES[p.venue].removable for p in positions], dtype=np.int8),
            table=np.array(idx, dtype=np.intp),
            tiers=TierSet.from_tables(table_list),
        )

    @classmethod
    def from_arrays(cls, **arrays: object) -> PositionBatch:
        """Build a batch from ready arrays (copied and frozen)."""
        out = {}
        for f in fields(cls):
            if not f.init:
                continue
            value = arrays[f.name]
            if isinstance(value, np.ndarray):
                value = np.array(value, copy=True)
                value.flags.writeable = False
            out[f.name] = value
        return cls(**out)  # type: ignore[arg-type]

    def replace(self, **arrays: np.ndarray) -> PositionBatch:
        """A copy with some arrays replaced (what-if edits: margin, leverage…)."""
        current = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        current.update(arrays)
        return PositionBatch.from_arrays(**current)


@dataclass(frozen=True, slots=True)
class PriceLevels:
    """Figures that do not depend on the mark: liquidation and bankruptcy prices (NaN = none)."""

    liquidation_price: np.ndarray
    bankruptcy_price: np.ndarray
    liquidation_tier: np.ndarray


@dataclass(frozen=True, slots=True)
class RiskArrays:
    """Every figure for every position at the given marks; NaN where a figure does not exist.

    Money in the settlement currency, prices in quote per coin, ``margin_ratio`` and
    ``distance_frac``/``roe`` as fractions. ``maintenance_margin`` (MM, without any fee),
    ``close_fee`` (the fee to close the formula counts; 0 where none) and ``margin_ratio`` (the
    requirement, ``maintenance_margin + close_fee``, ÷ margin balance; NaN once the balance is
    ≤ 0) come from :func:`maintenance_requirement`, as the liquidation price does, so the ratio is
    1.0 at the liquidation price; ``tier`` is the tier row that requirement used.
    ``distance_price = s·(mark − liq)`` is the price room left before liquidation (quote per coin)
    and ``distance_frac = distance_price / mark`` the same relative to the mark: both positive
    while safe, ≤ 0 once crossed, for longs and shorts alike.
    """

    mark: np.ndarray
    notional: np.ndarray
    unrealized_pnl: np.ndarray
    margin_balance: np.ndarray
    maintenance_margin: np.ndarray
    margin_ratio: np.ndarray
    liquidation_price: np.ndarray
    bankruptcy_price: np.ndarray
    distance_price: np.ndarray
    distance_frac: np.ndarray
    roe: np.ndarray
    effective_leverage: np.ndarray
    max_removable: np.ndarray
    max_loss: np.ndarray
    tier: np.ndarray
    close_fee: np.ndarray


def _snap_cancelled(value: np.ndarray, margin: np.ndarray, entry_notional: np.ndarray) -> np.ndarray:
    """``value`` (settlement currency: ``c0``, or ``c0 + offset``, the margin balance less the
    requirement at a notional of 0) with what is within 1e-12 of each position's ``margin`` plus
    ``entry_notional`` set to exactly 0, in place; returned.

    Terms that cancel there leave rounding noise, not a price: ``W − Q·E`` of a fully collateralised
    linear long, and ``c0 + offset`` of an inverse short whose margin covers its whole possible loss
    and the maintenance (Bybit's ``uta_entry``: W = N/E + MM at entry, 1.005 − 1 − 0.005 = −1e-16),
    which put its liquidation at 1e16 times the entry price where it has none."""
    value[np.abs(value) <= 1e-12 * (margin + entry_notional)] = 0.0
    return value


def _price_into(x: np.ndarray, inv_linear_size: np.ndarray, inverse_size: np.ndarray, out: np.ndarray,
                scratch: np.ndarray, ok: np.ndarray, finite: np.ndarray, kind: int = 0) -> None:
    """``out`` = the price (quote per coin) at which each position's notional is ``x``; NaN where
    no price > 0 gives it. Linear ``P = x / Q``, inverse ``P = N / x``: one of the two terms is zero
    for each position (``inv_linear_size`` = 1/Q or 0, ``inverse_size`` = N or 0). ``scratch``,
    ``ok`` and ``finite`` are work arrays of the same length (float64, bool, bool). ``kind``
    (:data:`_LINEAR`, :data:`_INVERSE`; by default both) skips the term that is zero for every
    position: it adds 0 for a finite ``x > 0``, and every other ``x`` gives NaN either way (an
    inverse ``x = +∞``, whose term ``∞·0`` made the sum NaN, is tested here)."""
    if kind == _LINEAR:
        np.multiply(x, inv_linear_size, out=out)
    elif kind == _INVERSE:
        np.divide(inverse_size, x, out=out)
    else:
        np.multiply(x, inv_linear_size, out=out)
        np.divide(inverse_size, x, out=scratch)
        np.add(out, scratch, out=out)
    # NaN fails every test (min and max propagate it)
    if x.size and x.min() > 0 and out.max() < np.inf and (kind != _INVERSE or x.max() < np.inf):
        return
    np.greater(x, 0.0, out=ok)
    np.less(out, np.inf, out=finite)
    np.logical_and(ok, finite, out=ok)
    if kind == _INVERSE:
        np.less(x, np.inf, out=finite)
        np.logical_and(ok, finite, out=ok)
    out[~ok] = np.nan


Rows = slice | np.ndarray
"""Which positions of a batch an array belongs to: the full slice ``slice(None)`` or an index array."""

Test = Callable[[Rows, np.ndarray], np.ndarray]


def _walk(start: np.ndarray, below: Test, above: Test) -> np.ndarray:
    """Tier indices: from ``start``, step each position down while ``below(rows, k)`` and up while
    ``above(rows, k)``. The first test runs on whole arrays (``rows`` a full slice); after that only
    the positions still moving are evaluated, so the cost follows how far each one is from its
    starting tier (usually zero or one step from the entry tier).
    """
    k = start.copy()
    full = slice(None)
    for step, test in ((-1, below), (1, above)):
        rows = np.flatnonzero(test(full, k))
        while rows.size:
            k[rows] += step
            rows = rows[test(rows, k[rows])]
    return k


def _bracket(floors: np.ndarray, caps: np.ndarray, base: np.ndarray, start: np.ndarray,
             notional: np.ndarray) -> np.ndarray:
    """Bracket index holding each notional (settlement currency; ``floor <= x < cap``) in flat
    ``floors``/``caps`` at offsets ``base``, starting the search at ``start``. Rows whose edges are
    NaN (contracts-basis tables, see :class:`PositionBatch`) stay at ``start``, and an infinite
    notional (a mark of +∞ on a linear contract, 0 on an inverse one) stays in the last row: its
    cap is +∞ too, and no row lies beyond it."""
    def above(rows: Rows, k: np.ndarray) -> np.ndarray:
        cap = caps[base[rows] + k]
        past: np.ndarray = (notional[rows] >= cap) & (cap < np.inf)
        return past

    return _walk(start, lambda rows, k: (k > 0) & (notional[rows] < floors[base[rows] + k]), above)


def _size_tier(caps: np.ndarray, base: np.ndarray, contracts: np.ndarray) -> np.ndarray:
    """Row of each size in contracts on the contracts basis, ``floor < n <= cap`` (OKX ``maxSz`` is
    the largest size of its tier); a size beyond the last cap stays in the last row."""
    return _walk(np.zeros(len(base), dtype=np.intp),
                 lambda rows, k: np.zeros(k.shape, dtype=bool),
                 lambda rows, k: contracts[rows] > caps[base[rows] + k])


def tier_of(batch: PositionBatch, notional: np.ndarray) -> np.ndarray:
    """The tier row each position uses at a notional (settlement currency), in its own table:
    the row holding the notional, or on the contracts basis the row of the position's size."""
    return _bracket(batch.look_floors, batch.look_caps, batch.look_base, batch.entry_tier, notional)


@dataclass(frozen=True)
class Maintenance:
    """What :func:`maintenance_requirement` answers, one value per position (of its ``rows``).

    On the tier row used the maintenance margin is the line ``MM(x) = rate·x − amount``
    (``rate`` a fraction, 0 where MM is valued at entry; ``amount`` in the settlement currency),
    and the requirement is ``R(x) = MM(x) + f·x + F = slope·x − offset``, ``f`` the close-fee rate
    counted at the price and ``F`` the close fee counted at the bankruptcy price (each 0 where the
    formula does not count it). The figures at the notional asked are computed on first access:
    :attr:`margin` (MM), :attr:`close_fee`, :attr:`requirement` (R) and :attr:`tier`.
    """

    rate: np.ndarray
    amount: np.ndarray
    fee_rate: np.ndarray = field(repr=False)
    fixed_fee: np.ndarray = field(repr=False)
    notional: np.ndarray | float = field(repr=False)
    looked_up: np.ndarray = field(repr=False)         # tier rows of the lookup
    at_entry: np.ndarray | None = field(repr=False)   # entry_mm mask of the rows (None: none there)
    entry_tier: np.ndarray = field(repr=False)        # entry tiers of the rows

    @cached_property
    def margin(self) -> np.ndarray:
        """The maintenance margin MM at the notional asked (settlement currency, no fee in it):
        the ``maintenance_margin`` figure."""
        margin: np.ndarray = self.notional * self.rate
        margin -= self.amount
        return margin

    @cached_property
    def close_fee(self) -> np.ndarray:
        """The close fee the formula counts, at the notional asked (settlement currency):
        ``f·x + F``; 0 where none is counted."""
        fee: np.ndarray = self.fee_rate * self.notional
        fee += self.fixed_fee
        return fee

    @cached_property
    def requirement(self) -> np.ndarray:
        """MM plus the close fee the formula counts, at the notional asked (settlement currency):
        what the margin balance meets at liquidation, the numerator of the margin ratio."""
        requirement: np.ndarray = self.margin + self.close_fee
        return requirement

    @cached_property
    def slope(self) -> np.ndarray:
        """d requirement / d notional on the tier used (fraction): ``rate + f``."""
        slope: np.ndarray = self.rate + self.fee_rate
        return slope

    @cached_property
    def offset(self) -> np.ndarray:
        """The requirement's line is ``slope·x − offset`` (settlement currency): ``amount − F``."""
        offset: np.ndarray = self.amount - self.fixed_fee
        return offset

    @cached_property
    def tier(self) -> np.ndarray:
        """The tier row each position's maintenance was valued on (intp): the entry tier for
        Bybit ``entry_mm``, else the row looked up."""
        if self.at_entry is None:
            return self.looked_up
        tier: np.ndarray = np.where(self.at_entry, self.entry_tier, self.looked_up)
        return tier


def maintenance_requirement(batch: PositionBatch, notional: np.ndarray | float, tier: np.ndarray | None = None,
                            rows: Rows = slice(None)) -> Maintenance:
    """The maintenance requirement of positions at a notional: the one definition of the rule.

    ``notional``: settlement currency (quote for linear, coin for inverse contracts), one per
    position of ``rows`` or one number for all. ``tier``: the tier row to value it on (the
    liquidation solver tries rows); by default the row holding each notional. ``rows``: the
    positions of ``batch`` the arrays belong to, all (the full slice) or an index array.

    On tier row ``k`` the maintenance margin is ``MM(x) = x·r_k − a_k`` (the venue's bracket
    rate and maintenance amount; on the notional basis the amounts make MM continuous in ``x``),
    and the requirement the margin balance meets at liquidation is ``MM(x) + f·x + F``: ``f`` the
    close (taker) fee counted at the price (OKX, Gate), ``F`` the fee counted at the bankruptcy
    price (Bybit ``uta``/``uta_entry``, see :class:`PositionBatch`), each 0 elsewhere. On the
    contracts basis (OKX) row ``k`` is the row of the position's size whatever ``x`` and ``tier``.

    The margin ratio is this requirement ÷ the margin balance, for every formula: the liquidation
    price is where the balance meets it, so the ratio reads exactly 1.0 there. ``maintenance_margin``
    shown beside it is ``MM`` alone; the close fee is its own figure (:attr:`Maintenance.close_fee`).

    Bybit ``entry_mm`` (:attr:`~isodesk.margin.venues.Requirement.MM_AT_ENTRY`) values MM at the
    entry notional on the entry tier, whatever ``x`` and ``tier``: ``MM = n(E)·r_e − a_e``, a
    constant. That is how Bybit's help pages "Liquidation Price (USDT Contract)" and "How to
    calculate Liquidation Price (Inverse Contract)" (360039261334) define the liquidation price
    (maintenance margin = position value at entry × MMR − deduction; their worked example, 1 BTC
    long at 20,000, 50x, MMR 0.5 % → 19,700, is reference case ``bybit-linear-help-ex1-long-50x``).
    Since that liquidation price is where the margin balance meets this constant, the maintenance
    margin and the margin ratio shown at every mark use the same constant: the ratio reaches
    exactly 100 % at the liquidation price the card shows, where the desk liquidates and where the
    scenarios' ``B ≤ R`` turns. (Valued at the mark instead, a 10x long would read a ratio of
    0.905 at its own liquidation price and a short 1.095.) ``exact_mm`` values MM at the notional
    itself, as Binance does; ``uta`` (Bybit's default, its unified account since 2025-09-02) values
    MM at the notional and adds the fee to close at the bankruptcy price; ``uta_entry`` (the unified
    account before) values MM at entry and adds the same fee.
    """
    if isinstance(rows, slice) and rows != slice(None):
        rows = np.arange(len(batch))[rows]
    if tier is None:
        base = batch.look_base[rows]
        tier = _bracket(batch.look_floors, batch.look_caps, base, batch.entry_tier[rows],
                        np.broadcast_to(notional, base.shape))
    j = batch.mm_base[rows] + tier  # entry_mm positions read the zero block (PositionBatch)
    rate: np.ndarray = batch.mm_rates[j]
    amount: np.ndarray = batch.mm_amounts[j]
    at_entry = None
    if batch.entry_rows.size:
        amount -= batch.fixed_maintenance[rows]
        at_entry = batch.at_entry[rows]
    return Maintenance(rate=rate, amount=amount, fee_rate=batch.fee_rate[rows], fixed_fee=batch.fixed_fee[rows],
                       notional=notional, looked_up=tier, at_entry=at_entry, entry_tier=batch.entry_tier[rows])


def _root_tests(batch: PositionBatch, rows: np.ndarray) -> tuple[Test, Test]:
    """The liquidation solver's tier tests ``(below, above)`` for :func:`_walk_rows`, for the
    positions ``rows`` (an index array; the tests take indices into ``rows``).

    ``G(x) = B(x) − R(x) = c0 + offset + (c1 − slope)·x`` on the requirement's line of tier ``k``
    is monotone with the sign of ``c1`` (``R`` is continuous and increasing on the notional basis):
    the root lies past a tier's cap when ``c1·G(cap) ≤ 0``, below its floor when ``c1·G(floor) > 0``.
    NaN edges (the contracts basis) are never past. What the tests read of the book is gathered
    once for ``rows``, and each step reads only the flat tier tables (the arithmetic of
    :func:`maintenance_requirement`, in its order, so the same bits)."""
    c0, c1, base, mm_base = batch.c0[rows], batch.c1[rows], batch.look_base[rows], batch.mm_base[rows]
    fee_rate, fixed_fee = batch.fee_rate[rows], batch.fixed_fee[rows]
    fixed = batch.fixed_maintenance[rows] if batch.entry_rows.size else None

    def root_past(edge: np.ndarray, upward: bool) -> Test:
        def test(sub: Rows, k: np.ndarray) -> np.ndarray:
            x = edge[base[sub] + k]
            j = mm_base[sub] + k
            amount: np.ndarray = batch.mm_amounts[j]
            if fixed is not None:
                amount -= fixed[sub]
            offset, slope = amount - fixed_fee[sub], batch.mm_rates[j] + fee_rate[sub]
            g = c0[sub] + offset + (c1[sub] - slope) * x
            past: np.ndarray = (c1[sub] * g <= 0) & (x < np.inf) if upward else (k > 0) & (c1[sub] * g > 0)
            return past
        return test

    return root_past(batch.look_floors, False), root_past(batch.look_caps, True)


def _walk_rows(rows: np.ndarray, start: np.ndarray, below: Test, above: Test, first_below: np.ndarray,
               first_above: np.ndarray) -> np.ndarray:
    """:func:`_walk` for the positions ``rows`` only (an index array): their tier indices, given
    the first tests' answers at ``start`` (``first_below``, ``first_above``: bool per row)."""
    k = start.copy()
    moving = np.flatnonzero(first_below)
    while moving.size:
        k[moving] -= 1
        moving = moving[below(rows[moving], k[moving])]
    moved = k != start
    up = first_above & ~moved
    if moved.any():  # a position that stepped down is tested upward at its new tier
        lower = np.flatnonzero(moved)
        up[lower] = above(rows[lower], k[lower])
    moving = np.flatnonzero(up)
    while moving.size:
        k[moving] += 1
        moving = moving[above(rows[moving], k[moving])]
    return k


def price_levels(batch: PositionBatch, *, into: RiskBuffers | None = None) -> PriceLevels:
    """Liquidation and bankruptcy prices of every position (independent of the mark; quote per
    coin, NaN where none), and the tier row of the requirement at the liquidation price.

    The bankruptcy price is where the margin balance is gone, ``B = 0``; for a formula that counts
    the fee to close at the bankruptcy price (Bybit ``uta``) it is Bybit's fee-inclusive one, where
    the balance left just pays that fee (``x_b`` of :class:`PositionBatch`).

    ``into``: compute into these buffers (the arrays are theirs, read-only, and valid until their
    next ``price_levels``); by default into new arrays the caller owns."""
    return (RiskBuffers(slab=False) if into is None else into).price_levels(batch, _owned=into is None)


def mark_figures(batch: PositionBatch, mark: np.ndarray, levels: PriceLevels, *,
                 into: RiskBuffers | None = None) -> RiskArrays:
    """Every mark-dependent figure, reusing the liquidation/bankruptcy prices of ``levels``.

    ``mark``: one price per position (quote per coin; NaN = no mark). Units as in :class:`RiskArrays`.
    ``into``: compute into these buffers (the desk's per-tick path: no new array per call; the
    figures are theirs, read-only, and valid until their next ``mark_figures``); by default into
    new arrays the caller owns.
    """
    return (RiskBuffers(slab=False) if into is None else into).mark_figures(batch, mark, levels, _owned=into is None)


def compute(batch: PositionBatch, mark: np.ndarray, *, into: RiskBuffers | None = None) -> RiskArrays:
    """All figures for all positions of ``batch`` at marks ``mark`` (one price per position).

    ``into`` as for :func:`mark_figures` (the liquidation prices go into the same buffers)."""
    buffers = RiskBuffers(slab=False) if into is None else into
    owned = into is None
    return buffers.mark_figures(batch, mark, buffers.price_levels(batch, _owned=owned), _owned=owned)


CHUNK = 16384
"""Positions per block of the fused passes (128 KiB an array of float64): a block's temporaries are
read back from the core's cache while each input and output array is streamed through once.
Measured at 100,000 positions (benchmarks/engine.py): 2,048 or 4,096 lose more to numpy's cost
per call than they gain in cache; 16,384 and larger blocks are alike."""

_MIXED, _LINEAR, _INVERSE = 0, 1, 2
"""The contract kinds of a book (:meth:`RiskBuffers._book`): both, all linear or all inverse."""

_LEVEL_COLUMNS = ("liquidation_price",)
_MARK_COLUMNS = ("notional", "unrealized_pnl", "margin_balance", "maintenance_margin", "margin_ratio",
                 "distance_price", "distance_frac", "roe", "effective_leverage", "max_removable", "close_fee")
_BOOK_COLUMNS = ("side", "removable_cap", "hyper_rate", "rate", "amount", "floor", "cap", "root_num", "root_den")
_SCRATCH = ("recip", "t1", "t2", "t3")
_FLAGS = ("f1", "f2")
# The removable-collateral rules of RemovableRule (venues.py: Binance FAQ 360038447311, Hyperliquid docs
# "Margining") as two constants per rule code, so one formula serves every rule (RiskBuffers._book): what is
# added to the margin W for the cap W − MM, and the rate of the notional in the floor max(n/L, rate·n).
_RULES = {RemovableRule.NONE: (math.nan, -math.inf), RemovableRule.BINANCE: (0.0, -math.inf),
          RemovableRule.HYPERLIQUID: (math.inf, 0.1)}
_RULE_CAP = np.array([_RULES[RemovableRule(code)][0] for code in range(len(RemovableRule))])
_RULE_RATE = np.array([_RULES[RemovableRule(code)][1] for code in range(len(RemovableRule))])


def _uniform(column: np.ndarray) -> np.ndarray | float:
    """``column``, or its one value as a float when every position has the same (not NaN)."""
    if column.size and column.min() == column.max():
        return float(column[0])
    return column


def _zero(column: np.ndarray | float) -> bool:
    """True for a uniform column of zeros (:func:`_uniform`): adding it changes nothing."""
    return isinstance(column, float) and column == 0.0


def _part(column: np.ndarray | float, sl: slice) -> np.ndarray | float:
    """The block ``sl`` of a book column, or the column's one value (:func:`_uniform`)."""
    return column[sl] if isinstance(column, np.ndarray) else column


class RiskBuffers:
    """Arrays the engine computes into, owned by one caller and reused call after call.

    The desk holds one: at every tick :meth:`mark_figures` writes the figures into the same memory
    (no new array of N per call), in blocks of :data:`CHUNK` positions so that the dozen passes of
    one block run in cache (numpy's ``out=`` arguments; no fancy-indexing temporaries). Buffers are
    sized to the largest N seen and reused for any smaller N (a new N beyond it grows them once).
    What depends on the book alone (float sides, the removable-collateral rule's constants, the
    tier row each position was last valued on, the book's contract kinds, and for
    :meth:`price_levels` the liquidation root's line on the entry tier, :meth:`_root_line`) is
    derived once per batch (:meth:`_book`) and kept while the same batch comes back; a new batch
    (a change of book) derives it again. The buffers are one allocation (:meth:`_reserve`).

    Figures returned are read-only views of the buffers, valid until the next call of the same
    method: a caller that keeps them (the desk's :class:`~isodesk.desk.snapshot.Snapshot`) copies
    them first. The functions :func:`price_levels`, :func:`mark_figures` and :func:`compute` run the
    same code into fresh buffers when no ``into`` is given, so there is one implementation.
    """

    def __init__(self, chunk: int = CHUNK, *, slab: bool = True) -> None:
        self.chunk = int(chunk)
        self.slab = slab  # one allocation for every column (buffers kept and reused); False: one array each
        self.capacity = 0
        self._f: dict[str, np.ndarray] = {}       # float64 per position
        self._tier = np.zeros(0, dtype=np.intp)
        self._liq_tier = np.zeros(0, dtype=np.intp)
        self._s: dict[str, np.ndarray] = {}       # float64 scratch per block
        self._b: dict[str, np.ndarray] = {}       # bool scratch per block
        self._row_tier = np.zeros(0, dtype=np.intp)
        self._c: dict[str, np.ndarray | float] = {}  # book columns, or one number where the column is uniform
        self._displaced = np.zeros(0, dtype=np.intp)
        self._kind = _MIXED  # the contract kinds of the book: all linear, all inverse or both
        self._root_batch: PositionBatch | None = None  # the batch of the root's line (_root_line)
        self._batch: PositionBatch | None = None  # the batch the book columns were derived for

    def _reserve(self, n: int) -> None:
        """Room for ``n`` positions: grown (new memory) only when ``n`` exceeds the capacity.

        Buffers the caller does not own (``slab``) are carved from one allocation: numpy asks the
        kernel for transparent huge pages on allocations of 4 MiB and more (its ``madvise``), which
        the dozen float columns of a large book reach together and not one by one (fewer TLB
        misses while streaming them; measured at 100,000 positions, CPU time, interleaved with
        separate arrays: the per-tick path 3.67 against 3.99 ms, the full recompute 6.75 against
        7.00 ms)."""
        if n <= self.capacity and self._f:
            return
        names = (*_LEVEL_COLUMNS, *_MARK_COLUMNS, *_BOOK_COLUMNS)
        if self.slab:
            stride = -(-n // 8) * 8  # each column starts on a 64-byte line
            slab = np.empty(stride * len(names) + 8)
            start = (-slab.ctypes.data // 8) % 8
            self._f = {name: slab[start + i * stride:start + i * stride + n] for i, name in enumerate(names)}
        else:
            self._f = {name: np.empty(n) for name in names}
        self._tier, self._liq_tier = np.empty(n, dtype=np.intp), np.empty(n, dtype=np.intp)
        self._row_tier = np.empty(n, dtype=np.intp)
        block = min(n, self.chunk)
        if block > len(self._s.get("t1", ())):
            self._s = {name: np.empty(block) for name in _SCRATCH}
            self._b = {name: np.empty(block, dtype=bool) for name in _FLAGS}
        self.capacity = n
        self._batch = None

    def _view(self, arr: np.ndarray, n: int, owned: bool) -> np.ndarray:
        out = arr[:n]
        if not owned:
            out.flags.writeable = False
        return out

    def price_levels(self, batch: PositionBatch, *, _owned: bool = False) -> PriceLevels:
        """Liquidation and bankruptcy prices into the buffers (see :func:`price_levels`).

        The root is first sought on each position's entry tier, where the requirement's line was
        derived with the batch (``entry_rate``, ``entry_amount``); only positions whose root lies
        beyond that tier's floor or cap (:func:`_root_tests`, the same arithmetic) are walked."""
        n = len(batch)
        self._reserve(n)
        self._book(batch)
        liq, tier = self._f["liquidation_price"], self._liq_tier
        s, fl = self._s, self._b
        line_num, line_den = self._root_line(batch)
        moving: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            for a in range(0, n, self.chunk):
                b = min(a + self.chunk, n)
                sl, m = slice(a, b), b - a
                t1, x = s["t2"][:m], s["t3"][:m]
                f1, f2 = fl["f1"][:m], fl["f2"][:m]
                # the requirement's line on the entry tier, R = slope·x − offset, and the balance's
                # B = c0 + c1·x meet where G = c0 + offset + (c1 − slope)·x is 0. Per book (_root_line):
                # num = c1·(c0 + offset), den = c1·(slope − c1) (signs flipped: exact), so that
                # c1·G(edge) = num − den·edge and the root (c0 + offset) / (slope − c1) = num / den.
                num, den = line_num[sl], line_den[sl]
                # is the root beyond the entry tier's floor or cap (_root_tests)? A false alarm (the
                # first tier's floor, a last cap) is walked.
                np.multiply(den, batch.entry_floor[sl], out=t1)
                np.subtract(num, t1, out=t1)
                np.greater(t1, 0.0, out=f1)
                np.multiply(den, batch.entry_cap[sl], out=t1)
                np.subtract(num, t1, out=t1)
                np.less_equal(t1, 0.0, out=f2)
                if f1.any() or f2.any():  # the walk's own first tests, with their edge conditions
                    rows = np.flatnonzero(f1 | f2) + a
                    moving.append((rows, f1[rows - a] & (batch.entry_tier[rows] > 0),
                                   f2[rows - a] & (batch.entry_cap[rows] < np.inf)))
                # the root on the entry tier, x = (c0 + offset) / (slope − c1), and its price
                np.divide(num, den, out=x)
                _price_into(x, batch.inv_linear_size[sl], batch.inverse_size[sl], liq[sl], t1, f1, f2, self._kind)
                np.copyto(tier[sl], batch.entry_tier[sl])
            if moving:
                rows, below, above = (np.concatenate(part) for part in zip(*moving, strict=True))
                k = _walk_rows(np.arange(len(rows)), batch.entry_tier[rows], *_root_tests(batch, rows),
                               below, above)
                line = maintenance_requirement(batch, math.nan, k, rows)
                x = _snap_cancelled(batch.c0[rows] + line.offset, batch.margin[rows], batch.entry_notional[rows]) \
                    / (line.slope - batch.c1[rows])
                price = np.empty(len(rows))
                _price_into(x, batch.inv_linear_size[rows], batch.inverse_size[rows], price,
                            np.empty(len(rows)), np.empty(len(rows), dtype=bool), np.empty(len(rows), dtype=bool))
                liq[rows] = price
                tier[rows] = line.tier
        # the bankruptcy price depends on the book alone: derived with the batch (a copy for a caller who owns it)
        bust = batch.bankruptcy_price.copy() if _owned else batch.bankruptcy_price
        return PriceLevels(liquidation_price=self._view(liq, n, _owned), bankruptcy_price=bust,
                           liquidation_tier=self._view(tier, n, _owned))

    def _book(self, batch: PositionBatch) -> None:
        """Derive the columns that depend on the book alone, once per batch.

        - the sides as float64;
        - the removable-collateral rule as two constants per position, so one formula serves every
          rule: ``max(0, min(cap − MM, B − max(n/L, rate·n)))`` with ``cap = W`` and ``rate = −∞``
          for Binance (``max(0, min(W − MM, B − n/L))``), ``cap = +∞`` and ``rate = 0.1`` for
          Hyperliquid (``max(0, B − max(n/L, 0.1·n))``, see :class:`~isodesk.margin.venues.RemovableRule`),
          ``cap = NaN`` where there is no rule;
        - the tier row each position was last valued on (at first its entry tier), with that row's
          maintenance line (``rate``, ``amount`` as :func:`maintenance_requirement` reads them) and
          its edges (``floor``, ``cap``; NaN on the contracts basis, which never moves). A notional
          inside the edges is on that row: the bracket holding a notional is unique, so the walk
          from the entry tier would end there too (:func:`tier_of`). Only positions whose notional
          left their row are looked up again (:meth:`_retier`).
        """
        if batch is self._batch:
            return
        n = len(batch)
        f = self._f
        np.copyto(f["side"][:n], batch.side)
        c: dict[str, np.ndarray | float] = {"fee_rate": _uniform(batch.fee_rate),
                                            "fixed_fee": _uniform(batch.fixed_fee)}
        rules = _uniform(batch.removable)
        if isinstance(rules, float):  # one rule for the whole book: no column to stream
            c["hyper_rate"] = float(_RULE_RATE[int(rules)])
            add = float(_RULE_CAP[int(rules)])
            c["removable_cap"] = batch.margin if add == 0.0 else add  # W + 0 is W
        else:
            rule = batch.removable.astype(np.intp)
            np.take(_RULE_CAP, rule, out=f["removable_cap"][:n], mode="clip")
            np.add(f["removable_cap"][:n], batch.margin, out=f["removable_cap"][:n])
            np.take(_RULE_RATE, rule, out=f["hyper_rate"][:n], mode="clip")
            c["hyper_rate"], c["removable_cap"] = f["hyper_rate"], f["removable_cap"]
        self._c = c
        self._kind = _MIXED if not len(batch) or batch.inverse.min() != batch.inverse.max() else (
            _INVERSE if batch.inverse[0] else _LINEAR)
        for name, column in (("rate", batch.entry_rate), ("amount", batch.entry_amount),
                             ("floor", batch.entry_floor), ("cap", batch.entry_cap)):
            np.copyto(f[name][:n], column)
        np.copyto(self._row_tier[:n], batch.entry_tier)
        self._displaced = np.zeros(0, dtype=np.intp)
        self._root_batch = None
        self._batch = batch

    def _root_line(self, batch: PositionBatch) -> tuple[np.ndarray, np.ndarray]:
        """The liquidation root's line on each position's entry tier, once per batch (the first
        :meth:`price_levels` of a book; the per-tick path never needs it): ``num = c1·(c0 + offset)``
        and ``den = c1·(slope − c1)``, with the requirement ``R = slope·x − offset`` on the entry
        tier (``slope = entry_rate + f``, ``offset = entry_amount − F``, settlement currency). The
        root ``(c0 + offset) / (slope − c1)`` is ``num / den`` and ``c1·G(edge) = num − den·edge``
        exactly: ``c1`` is ±1, and a flipped sign rounds the same."""
        n, f, c = len(batch), self._f, self._c
        num, den = f["root_num"][:n], f["root_den"][:n]
        if self._root_batch is not batch:
            with np.errstate(invalid="ignore", over="ignore"):
                offset = (batch.entry_amount if _zero(c["fixed_fee"])
                          else np.subtract(batch.entry_amount, batch.fixed_fee, out=num))
                np.add(batch.c0, offset, out=num)
                _snap_cancelled(num, batch.margin, batch.entry_notional)
                slope = batch.entry_rate if _zero(c["fee_rate"]) else np.add(batch.entry_rate, batch.fee_rate, out=den)
                np.subtract(slope, batch.c1, out=den)
                np.multiply(batch.c1, num, out=num)
                np.multiply(batch.c1, den, out=den)
            self._root_batch = batch
        return num, den

    def _retier(self, batch: PositionBatch, rows: np.ndarray, notional: np.ndarray) -> None:
        """Look up again the tier row of the positions ``rows`` at their ``notional`` (walked from
        the entry tier, :func:`maintenance_requirement`) and keep the row, its line and edges."""
        f = self._f
        line = maintenance_requirement(batch, notional, rows=rows)
        f["rate"][rows], f["amount"][rows] = line.rate, line.amount
        edge = batch.look_base[rows] + line.looked_up
        f["floor"][rows], f["cap"][rows] = batch.look_floors[edge], batch.look_caps[edge]
        self._row_tier[rows] = line.tier
        n = len(batch)
        self._displaced = np.flatnonzero(self._row_tier[:n] != batch.entry_tier)

    def _left(self, a: int, b: int) -> np.ndarray:
        """Positions of ``a:b`` whose notional left the tier row they were last valued on."""
        f = self._f
        x = f["notional"][a:b]
        return np.flatnonzero((x < f["floor"][a:b]) | (x >= f["cap"][a:b])) + a

    def _mark_block(self, batch: PositionBatch, mark: np.ndarray, liq: np.ndarray, a: int, b: int,
                    check: bool = True) -> bool:
        """Every figure of positions ``a:b`` into the buffers, fused in cache. With ``check``, stops
        and answers True when a notional left its tier row (the block is computed again, without
        the check, once the rows are looked up: :meth:`_retier`)."""
        f, s, fl, c = self._f, self._s, self._b, self._c
        sl, m = slice(a, b), b - a
        recip, t1, t2 = s["recip"][:m], s["t1"][:m], s["t2"][:m]
        f1, f2 = fl["f1"][:m], fl["f2"][:m]
        p, x, bal, upnl = mark[sl], f["notional"][sl], f["margin_balance"][sl], f["unrealized_pnl"][sl]
        mm, ratio, eff = f["maintenance_margin"][sl], f["margin_ratio"][sl], f["effective_leverage"][sl]
        fee, r, dprice = f["close_fee"][sl], f["max_removable"][sl], f["distance_price"][sl]
        np.divide(1.0, p, out=recip)
        kind = self._kind
        # linear Q·P, inverse N/P: one term is zero. A book of one kind skips the other term, which
        # adds nothing to a mark > 0: a mark of 0 (0·∞ in N·(1/P)) or ±∞ (0·∞ in Q·P) keeps the sum.
        if kind == _LINEAR and np.fmin.reduce(p) > 0:
            np.multiply(batch.linear_size[sl], p, out=x)
        elif kind == _INVERSE and np.fmin.reduce(p) > 0 and np.fmax.reduce(p) < np.inf:
            np.multiply(batch.inverse_size[sl], recip, out=x)
        else:
            np.multiply(batch.linear_size[sl], p, out=x)
            np.multiply(batch.inverse_size[sl], recip, out=t1)
            np.add(x, t1, out=x)
        # left the tier row? (a NaN notional stays)
        if check and (np.less(x, f["floor"][sl], out=f1).any() or np.greater_equal(x, f["cap"][sl], out=f2).any()):
            return True
        np.multiply(batch.c1[sl], x, out=bal)             # B = c0 + c1·x
        np.add(batch.c0[sl], bal, out=bal)
        np.subtract(bal, batch.margin[sl], out=upnl)
        # maintenance_requirement on the row: MM = x·rate − amount, close fee f·x + F, R = MM + fee
        np.multiply(x, f["rate"][sl], out=mm)
        np.subtract(mm, f["amount"][sl], out=mm)
        np.multiply(_part(c["fee_rate"], sl), x, out=fee)
        requirement = mm
        if not _zero(c["fixed_fee"]):  # adding zeros changes nothing
            np.add(fee, _part(c["fixed_fee"], sl), out=fee)
        if not (_zero(c["fixed_fee"]) and _zero(c["fee_rate"])):
            requirement = np.add(mm, fee, out=t1)
        np.divide(requirement, bal, out=ratio)
        np.divide(x, bal, out=eff)
        # no ratio nor leverage where the balance is gone (a NaN balance gave NaN already); set by
        # index: a boolean mask costs ~3x more
        if np.less_equal(bal, 0.0, out=f1).any():
            gone = np.flatnonzero(f1)
            ratio[gone] = np.nan
            eff[gone] = np.nan
        # s·(mark − liq), then ÷ mark; s is c1 for linear contracts (a linear book reads c1, in cache since B)
        np.subtract(p, liq[sl], out=dprice)
        np.multiply(batch.c1[sl] if kind == _LINEAR else f["side"][sl], dprice, out=dprice)
        np.multiply(dprice, recip, out=f["distance_frac"][sl])
        np.divide(upnl, batch.margin[sl], out=f["roe"][sl])
        # removable collateral, one formula for every rule (_book)
        np.divide(x, batch.leverage[sl], out=t1)          # initial margin n/L
        if not (isinstance(c["hyper_rate"], float) and c["hyper_rate"] == -math.inf):  # max(n/L, −∞) is n/L
            np.multiply(_part(c["hyper_rate"], sl), x, out=t2)
            np.maximum(t1, t2, out=t1)
        np.subtract(bal, t1, out=t1)
        np.subtract(_part(c["removable_cap"], sl), mm, out=t2)
        np.minimum(t2, t1, out=r)
        np.maximum(r, 0.0, out=r)
        if not np.fmax.reduce(r) < np.inf:  # an infinite amount is not a figure (NaN); fmax skips NaN
            np.subtract(r, r, out=t1)                     # 0, or NaN where not finite
            np.add(r, t1, out=r)
        return False

    def mark_figures(self, batch: PositionBatch, mark: np.ndarray, levels: PriceLevels, *,
                     _owned: bool = False) -> RiskArrays:
        """Every mark-dependent figure into the buffers (see :func:`mark_figures`)."""
        mark = np.asarray(mark, dtype=np.float64)
        n = len(batch)
        self._reserve(n)
        self._book(batch)
        f = self._f
        liq = levels.liquidation_price
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            blocks = [(a, min(a + self.chunk, n)) for a in range(0, n, self.chunk)]
            again = [(a, b) for a, b in blocks if self._mark_block(batch, mark, liq, a, b)]
            if again:
                moved = np.concatenate([self._left(a, b) for a, b in again])
                self._retier(batch, moved, f["notional"][moved])
            for a, b in again:
                self._mark_block(batch, mark, liq, a, b, check=False)
            tier = self._row_tier
            if self._displaced.size:  # a NaN notional is valued on the entry tier (it never walks)
                lost = self._displaced[np.isnan(f["notional"][self._displaced])]
                if lost.size:
                    tier = self._tier
                    np.copyto(tier[:n], self._row_tier[:n])
                    tier[lost] = batch.entry_tier[lost]
        own = _owned
        views = {name: self._view(f[name], n, own) for name in _MARK_COLUMNS}
        return RiskArrays(mark=mark, liquidation_price=liq, bankruptcy_price=levels.bankruptcy_price,
                          max_loss=batch.margin, tier=self._view(tier, n, own), **views)

    def compute(self, batch: PositionBatch, mark: np.ndarray) -> RiskArrays:
        """A full recompute into the buffers: the price levels and every figure at ``mark`` (see
        :func:`compute`); the figures' liquidation prices are the buffers' own."""
        return self.mark_figures(batch, mark, self.price_levels(batch))


@dataclass(frozen=True, slots=True)
class Risk:
    """The figures of one position as plain floats, ``None`` where a figure does not exist."""

    mark: float | None
    notional: float | None
    unrealized_pnl: float | None
    margin_balance: float | None
    maintenance_margin: float | None
    margin_ratio: float | None
    liquidation_price: float | None
    bankruptcy_price: float | None
    distance_price: float | None
    distance_frac: float | None
    roe: float | None
    effective_leverage: float | None
    max_removable: float | None
    max_loss: float | None
    tier: int
    close_fee: float | None


def compute_one(position: Position, mark: float | None = None) -> Risk:
    """All figures of one position (the batch path with N = 1); mark-dependent ones need ``mark``."""
    batch = PositionBatch.from_positions([position])
    arrays = compute(batch, np.array([math.nan if mark is None else mark]))

    def one(values: np.ndarray) -> float | None:
        v = float(values[0])
        return v if math.isfinite(v) else None

    a = arrays
    return Risk(mark=one(a.mark), notional=one(a.notional), unrealized_pnl=one(a.unrealized_pnl),
                margin_balance=one(a.margin_balance), maintenance_margin=one(a.maintenance_margin),
                margin_ratio=one(a.margin_ratio), liquidation_price=one(a.liquidation_price),
                bankruptcy_price=one(a.bankruptcy_price), distance_price=one(a.distance_price),
                distance_frac=one(a.distance_frac), roe=one(a.roe), effective_leverage=one(a.effective_leverage),
                max_removable=one(a.max_removable), max_loss=one(a.max_loss), tier=int(a.tier[0]),
                close_fee=one(a.close_fee))
