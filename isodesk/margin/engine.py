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

    def __post_init__(self) -> None:
        s = self.side.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_entry = 1.0 / self.entry
        entry_notional = np.where(self.inverse, self.size * inv_entry, self.size * self.entry)
        c1 = np.where(self.inverse, -s, s)
        c0 = self.margin - c1 * entry_notional
        # W − Q·E cancels for a fully collateralised long; what is left is rounding noise, not a price.
        c0[np.abs(c0) <= 1e-12 * (self.margin + entry_notional)] = 0.0
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
        derived = {"c0": c0, "c1": c1, "entry_notional": entry_notional, "inv_entry": inv_entry, "base": base,
                   "linear_size": np.where(self.inverse, 0.0, self.size),
                   "inv_linear_size": np.where(self.inverse, 0.0, 1.0 / self.size),
                   "inverse_size": np.where(self.inverse, self.size, 0.0),
                   "entry_tier": entry_tier, "look_base": look_base,
                   "look_floors": np.concatenate([floors, blank]), "look_caps": np.concatenate([caps, blank]),
                   "bankrupt_notional": bankrupt, "fixed_fee": fixed_fee,
                   "at_entry": at_entry, "entry_rows": np.flatnonzero(at_entry),
                   "fixed_maintenance": np.where(at_entry, entry_notional * rates[ie] - amounts[ie], 0.0),
                   "mm_rates": np.concatenate([rates, zeros]), "mm_amounts": np.concatenate([amounts, zeros]),
                   "mm_base": np.where(at_entry, rates.size, base)}
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


def _price_from_notional(batch: PositionBatch, x: np.ndarray) -> np.ndarray:
    """Price at which the position's notional is ``x``; NaN where no price > 0 gives it."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # linear P = x / Q, inverse P = N / x: one of the two terms is zero for each position
        price: np.ndarray = x * batch.inv_linear_size + batch.inverse_size / x
        price[~((x > 0) & (price < np.inf))] = np.nan
    return price


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
    NaN (contracts-basis tables, see :class:`PositionBatch`) stay at ``start``."""
    return _walk(start,
                 lambda rows, k: (k > 0) & (notional[rows] < floors[base[rows] + k]),
                 lambda rows, k: notional[rows] >= caps[base[rows] + k])


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


def price_levels(batch: PositionBatch) -> PriceLevels:
    """Liquidation and bankruptcy prices of every position (independent of the mark; quote per
    coin, NaN where none), and the tier row of the requirement at the liquidation price.

    The bankruptcy price is where the margin balance is gone, ``B = 0``; for a formula that counts
    the fee to close at the bankruptcy price (Bybit ``uta``) it is Bybit's fee-inclusive one, where
    the balance left just pays that fee (``x_b`` of :class:`PositionBatch`)."""
    c0, c1, base = batch.c0, batch.c1, batch.look_base
    floors, caps = batch.look_floors, batch.look_caps

    # G(x) = B(x) − R(x) = c0 + offset + (c1 − slope)·x on the requirement's line of tier k is
    # monotone with the sign of c1 (R is continuous and increasing on the notional basis): the
    # root lies past a tier's cap when c1·G(cap) ≤ 0, below its floor when c1·G(floor) > 0. NaN
    # edges (the contracts basis) are never past.
    def root_past(edge: np.ndarray, upward: bool) -> Test:
        def test(rows: Rows, k: np.ndarray) -> np.ndarray:
            x = edge[base[rows] + k]
            line = maintenance_requirement(batch, x, k, rows)
            g = c0[rows] + line.offset + (c1[rows] - line.slope) * x
            past: np.ndarray = (c1[rows] * g <= 0) & (x < np.inf) if upward else (k > 0) & (c1[rows] * g > 0)
            return past
        return test

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        k = _walk(batch.entry_tier, root_past(floors, False), root_past(caps, True))
        # the root of G on tier k (only the line is used: no notional to value it at)
        line = maintenance_requirement(batch, math.nan, k)
        x_liq = (c0 + line.offset) / (line.slope - c1)
    return PriceLevels(
        liquidation_price=_price_from_notional(batch, x_liq),
        bankruptcy_price=_price_from_notional(batch, batch.bankrupt_notional),
        liquidation_tier=line.tier,
    )


def mark_figures(batch: PositionBatch, mark: np.ndarray, levels: PriceLevels) -> RiskArrays:
    """Every mark-dependent figure, reusing the liquidation/bankruptcy prices of ``levels``.

    ``mark``: one price per position (quote per coin; NaN = no mark). Units as in :class:`RiskArrays`.
    """
    mark = np.asarray(mark, dtype=np.float64)
    s = batch.side
    with np.errstate(divide="ignore", invalid="ignore"):
        recip = 1.0 / mark
        notional = batch.linear_size * mark + batch.inverse_size * recip
        balance = batch.c0 + batch.c1 * notional
        upnl = balance - batch.margin
        mm = maintenance_requirement(batch, notional)  # a NaN notional (no mark) stays in the entry tier
        maintenance = mm.margin
        positive = balance > 0
        ratio = mm.requirement / balance
        ratio[~positive] = np.nan
        liq = levels.liquidation_price
        distance_price = s * (mark - liq)
        distance_frac = distance_price * recip
        roe = upnl / batch.margin
        eff_lev = notional / balance
        eff_lev[~positive] = np.nan
        removable = np.full(len(batch), np.nan)
        initial = notional / batch.leverage
        rule = batch.removable
        binance = np.flatnonzero(rule == RemovableRule.BINANCE)
        if binance.size:
            removable[binance] = np.maximum(0.0, np.minimum(batch.margin[binance] - maintenance[binance],
                                                            balance[binance] - initial[binance]))
        hyper = np.flatnonzero(rule == RemovableRule.HYPERLIQUID)
        if hyper.size:
            removable[hyper] = np.maximum(0.0, balance[hyper] - np.maximum(initial[hyper], 0.1 * notional[hyper]))
        removable[~np.isfinite(removable)] = np.nan
    return RiskArrays(
        mark=mark, notional=notional, unrealized_pnl=upnl, margin_balance=balance,
        maintenance_margin=maintenance, margin_ratio=ratio, liquidation_price=liq,
        bankruptcy_price=levels.bankruptcy_price, distance_price=distance_price,
        distance_frac=distance_frac, roe=roe, effective_leverage=eff_lev, max_removable=removable,
        max_loss=batch.margin, tier=mm.tier, close_fee=mm.close_fee,
    )


def compute(batch: PositionBatch, mark: np.ndarray) -> RiskArrays:
    """All figures for all positions of ``batch`` at marks ``mark`` (one price per position)."""
    return mark_figures(batch, mark, price_levels(batch))


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
