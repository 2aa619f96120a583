"""The vectorized isolated-margin engine: N positions in, arrays of risk figures out.

Notation (``../shared/reference/margin-cases.md``): ``s`` = +1 long / −1 short, ``W`` isolated
margin, ``E`` entry price, ``Q`` linear size (base units), ``N`` inverse face value (USD).
Notional ``x`` is ``Q·P`` (quote) for linear and ``N/P`` (coin) for inverse contracts. In both
cases the margin balance is affine in the notional, ``B = c0 + c1·x`` with
linear ``c0 = W − s·Q·E, c1 = s`` and inverse ``c0 = W + s·N/E, c1 = −s``. Liquidation is
``B = MM(x) + f·x`` (``f`` the close fee where the venue counts it), which on tier ``k``
(``MM = r_k·x − a_k``) solves to ``x = (c0 + a_k) / (r_k + f − c1)``. The tier is the one
holding the root; because ``MM`` is continuous and increasing, it is found by walking up the
tiers while the root lies beyond the current cap.

Margin ratio everywhere: (maintenance + close fee) ÷ margin balance; 1.0 = liquidation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from isodesk.margin.position import SIDES, Position, check
from isodesk.margin.tiers import TierSet, TierTable
from isodesk.margin.venues import VENUES, RemovableRule, Requirement


@dataclass(frozen=True, slots=True)
class PositionBatch:
    """A book as a struct of arrays (all length N, read-only).

    ``size``: linear Q in base units, inverse N in USD. ``requirement`` holds
    :class:`Requirement` codes, ``removable`` :class:`RemovableRule` codes, ``table`` the row of
    each position's tier table in ``tiers``.
    """

    side: np.ndarray          # int8, +1 / −1
    inverse: np.ndarray       # bool
    size: np.ndarray          # float64
    entry: np.ndarray         # float64, price
    margin: np.ndarray        # float64, settlement currency
    leverage: np.ndarray      # float64, NaN = unknown
    fee_rate: np.ndarray      # float64, fraction; 0 where the venue does not count the close fee
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
        derived = {"c0": c0, "c1": c1, "entry_notional": entry_notional, "inv_entry": inv_entry, "base": base,
                   "linear_size": np.where(self.inverse, 0.0, self.size),
                   "inv_linear_size": np.where(self.inverse, 0.0, 1.0 / self.size),
                   "inverse_size": np.where(self.inverse, self.size, 0.0),
                   "entry_tier": _bracket(self.tiers, base, np.zeros(len(base), dtype=np.intp), entry_notional)}
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
        return cls.from_arrays(
            side=np.array([SIDES[p.side] for p in positions], dtype=np.int8),
            inverse=np.array([p.contract == "inverse" for p in positions], dtype=bool),
            size=np.array([p.size for p in positions], dtype=np.float64),
            entry=np.array([p.entry_price for p in positions], dtype=np.float64),
            margin=np.array([p.isolated_margin for p in positions], dtype=np.float64),
            leverage=np.array([p.leverage for p in positions], dtype=np.float64),
            fee_rate=np.array([p.taker_fee_rate if VENUES[p.venue].fee_in_requirement else 0.0
                               for p in positions], dtype=np.float64),
            requirement=np.array([p.requirement for p in positions], dtype=np.int8),
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
    ``distance_frac``/``roe`` as fractions. ``distance_price = s·(mark − liq)`` is the price room
    left before liquidation (quote per coin) and ``distance_frac = distance_price / mark`` the same
    relative to the mark: both positive while safe, ≤ 0 once crossed, for longs and shorts alike.
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


def _price_from_notional(batch: PositionBatch, x: np.ndarray) -> np.ndarray:
    """Price at which the position's notional is ``x``; NaN where no price > 0 gives it."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # linear P = x / Q, inverse P = N / x: one of the two terms is zero for each position
        price = x * batch.inv_linear_size + batch.inverse_size / x
        price[~((x > 0) & (price < np.inf))] = np.nan
    return price


Test = Callable[[slice | np.ndarray, np.ndarray], np.ndarray]


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


def _bracket(tiers: TierSet, base: np.ndarray, start: np.ndarray, notional: np.ndarray) -> np.ndarray:
    """Bracket index holding each notional (settlement currency), starting the search at ``start``."""
    floors, caps = tiers.flat("floors"), tiers.flat("caps")
    return _walk(start,
                 lambda rows, k: (k > 0) & (notional[rows] < floors[base[rows] + k]),
                 lambda rows, k: notional[rows] >= caps[base[rows] + k])


def tier_of(batch: PositionBatch, notional: np.ndarray) -> np.ndarray:
    """Bracket index holding each notional (settlement currency), in each position's own table."""
    return _bracket(batch.tiers, batch.base, batch.entry_tier, notional)


def price_levels(batch: PositionBatch) -> PriceLevels:
    """Liquidation and bankruptcy prices of every position (independent of the mark)."""
    tiers = batch.tiers
    c0, c1, base = batch.c0, batch.c1, batch.base
    slope = c1 - batch.fee_rate
    caps, rates, amounts = tiers.flat("caps"), tiers.flat("mmr"), tiers.flat("amounts")

    floors = tiers.flat("floors")

    # G(x) = c0 + (c1 − f)·x − MM(x) is monotone with the sign of c1 (MM is continuous and
    # increasing); the root lies past a tier's cap when c1·G(cap) ≤ 0, below its floor when
    # c1·G(floor) > 0.
    def root_past(edge: np.ndarray) -> Test:
        def test(rows: slice | np.ndarray, k: np.ndarray) -> np.ndarray:
            i = base[rows] + k
            x = edge[i]
            g = c0[rows] + amounts[i] + (slope[rows] - rates[i]) * x
            return (c1[rows] * g <= 0) & (x < np.inf) if edge is caps else (k > 0) & (c1[rows] * g > 0)
        return test

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        k = _walk(batch.entry_tier, root_past(floors), root_past(caps))
        i = base + k
        x_liq = (c0 + amounts[i]) / (rates[i] - slope)
        at_entry = np.flatnonzero(batch.requirement == Requirement.MM_AT_ENTRY)
        if at_entry.size:
            ke = batch.entry_tier[at_entry]
            ie = base[at_entry] + ke
            mm_entry = batch.entry_notional[at_entry] * rates[ie] - amounts[ie]
            x_liq[at_entry] = (mm_entry - c0[at_entry]) / slope[at_entry]
            k[at_entry] = ke
        x_bank = -c0 / c1
    return PriceLevels(
        liquidation_price=_price_from_notional(batch, x_liq),
        bankruptcy_price=_price_from_notional(batch, x_bank),
        liquidation_tier=k,
    )


def mark_figures(batch: PositionBatch, mark: np.ndarray, levels: PriceLevels) -> RiskArrays:
    """Every mark-dependent figure, reusing the liquidation/bankruptcy prices of ``levels``."""
    tiers = batch.tiers
    mark = np.asarray(mark, dtype=np.float64)
    s = batch.side
    with np.errstate(divide="ignore", invalid="ignore"):
        recip = 1.0 / mark
        notional = batch.linear_size * mark + batch.inverse_size * recip
        balance = batch.c0 + batch.c1 * notional
        upnl = balance - batch.margin
        k = tier_of(batch, notional)  # a NaN notional (no mark) stays in the entry tier
        i = batch.base + k
        maintenance = notional * tiers.flat("mmr")[i] - tiers.flat("amounts")[i]
        positive = balance > 0
        ratio = (maintenance + batch.fee_rate * notional) / balance
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
        max_loss=batch.margin, tier=k,
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


def compute_one(position: Position, mark: float | None = None) -> Risk:
    """All figures of one position (the batch path with N = 1); mark-dependent ones need ``mark``."""
    batch = PositionBatch.from_positions([position])
    arrays = compute(batch, np.array([math.nan if mark is None else mark]))
    values = {}
    for f in fields(RiskArrays):
        v = getattr(arrays, f.name)[0]
        values[f.name] = int(v) if f.name == "tier" else (float(v) if math.isfinite(v) else None)
    return Risk(**values)
