"""Where to put the next dollar: split a budget of free collateral over an account's isolated positions.

Pure: numpy and the standard library. Two goals:

- ``distance``: make the smallest distance to liquidation (fraction of the mark) as large as
  possible. For a target distance ``d`` each position's liquidation price is ``L = S·(1 − s·d)``
  (``S`` its mark, ``s`` = +1 long / −1 short) and the isolated margin that puts it there is a
  closed form (:func:`margin_for_distance`); the cost of ``d``, the sum of the top-ups it needs,
  is continuous and non-decreasing in ``d``, so the best ``d`` is found by bisection on ``d``
  alone: no general-purpose optimiser.
- ``survive``: let the most positions survive a scenario (:mod:`isodesk.margin.scenario`) with the
  least collateral. A position survives every step when its liquidation price lies beyond the
  worst price of the path (on the notional basis the margin balance minus the requirement is
  monotone in the notional; on the contracts basis the tier is fixed), so its price of survival is
  the same closed form at that worst price; the most survivors for the least money are the
  cheapest ones, taken in order while the budget lasts.

Top-ups are exact amounts in the settlement currency, rounded **up** to 0.00000001 (the ledger's
step, :data:`isodesk.margin.bounds.AMOUNT_DECIMALS`) so a position reaches at least its target,
and their sum never exceeds the budget. Only collateral is added, never removed: adding is allowed
on every venue (Hyperliquid's strict-isolated assets refuse removals only, see
:func:`isodesk.desk.rules.remove_problem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

import numpy as np

from isodesk.margin.bounds import AMOUNT_DECIMALS, BoundsError, check_amount, plain
from isodesk.margin.engine import PositionBatch, compute, maintenance_requirement
from isodesk.margin.scenario import Scenario, ScenarioBook, market_prices

GOALS = ("distance", "survive")
UNITS = 10 ** AMOUNT_DECIMALS          # ledger units per currency unit
STEP = Decimal(1).scaleb(-AMOUNT_DECIMALS)
SURVIVE_MARGIN = 1e-9                 # the survival target sits this much (fraction of the mark) beyond the worst price
BISECTION_STEPS = 200


class AllocationError(ValueError):
    """A budget or a goal the allocation cannot take; the message names what and where."""


def margin_for_distance(batch: PositionBatch, mark: np.ndarray, distance: np.ndarray | float) -> np.ndarray:
    """The isolated margin (settlement currency) at which each position's liquidation price sits at
    ``distance`` (fraction of ``mark``, quote per coin) from its mark: ``L = mark·(1 − s·d)``; a
    long asked for more than 1 gets the margin for 1 (no liquidation price: infinitely far).

    With ``x_L`` the notional at ``L``, the requirement there is ``MM(x_L) + f·x_L + F``
    (:func:`~isodesk.margin.engine.maintenance_requirement`: tier of ``x_L``, or of the size on the
    contracts basis, or MM at entry for Bybit ``entry_mm``) and the margin balance is
    ``c0 + c1·x_L`` with ``c0 = W − c1·x_E``, affine in the margin ``W``. Where the venue counts
    the fee to close at the bankruptcy price (Bybit ``uta``), ``F = f_b·x_b`` with
    ``x_b = c0/(f_b − c1)`` depends on ``c0`` too; solving ``c0 + c1·x_L = MM + f·x_L + f_b·c0/(f_b − c1)``
    gives ``c0 = (MM + (f − c1)·x_L)·(c1 − f_b)/c1`` (with ``F = 0`` where that ``x_b ≤ 0``, as the
    engine counts it). Then ``W = c0 + c1·x_E``; +inf where no margin reaches the distance (an
    inverse long at ``L = 0``).
    """
    mark = np.asarray(mark, dtype=np.float64)
    s = batch.side.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a long cannot be further than 1 (a price of 0): beyond, it needs what makes it unliquidatable
        d = np.where(s > 0, np.minimum(np.asarray(distance, dtype=np.float64), 1.0), distance)
        liq = mark * (1.0 - s * d)
        x = np.where(batch.inverse, batch.inverse_size / liq, batch.linear_size * liq)
        x = np.where(liq >= 0, x, np.nan)
        unreachable = np.isposinf(x)  # an inverse long at L = 0: no tier holds an infinite notional
        x = np.where(unreachable, np.nan, x)
        line = maintenance_requirement(batch, x)
        fee = np.where(batch.fee_rate > 0, batch.fee_rate * x, 0.0)  # 0·inf would be NaN
        base = line.margin + fee - batch.c1 * x                            # MM + (f − c1)·x_L
        fb, c1 = batch.bust_fee_rate, batch.c1
        c0_fee = base * (c1 - fb) / c1
        x_b = c0_fee / (fb - c1)
        c0 = np.where((fb > 0) & (x_b > 0), c0_fee, base)
        margin: np.ndarray = c0 + c1 * batch.entry_notional
    margin[np.isnan(margin) | (margin == -np.inf)] = np.nan
    margin[unreachable] = np.inf
    return margin


def subset(batch: PositionBatch, rows: np.ndarray) -> PositionBatch:
    """The positions ``rows`` of ``batch`` as a batch of their own (same tier tables)."""
    arrays: dict[str, Any] = {}
    for f in fields(batch):
        if not f.init:
            continue
        value = getattr(batch, f.name)
        arrays[f.name] = value[rows] if isinstance(value, np.ndarray) else value
    return PositionBatch.from_arrays(**arrays)


def _units_up(amount: np.ndarray) -> list[int]:
    """Amounts (settlement currency, float) as whole ledger units, rounded up; ≤ 0 → 0; +inf and
    NaN (no margin reaches the target) a number so large that any budget check fails."""
    out = []
    for a in amount.tolist():
        if a <= 0:
            out.append(0)
        elif not math.isfinite(a):
            out.append(10 ** 40)
        else:
            out.append(math.ceil(a * UNITS))
    return out


@dataclass(frozen=True, slots=True)
class Holdings:
    """One account's open positions as the allocation takes them.

    ``marks``: the current mark per position (quote per coin; the latest stored price, else the
    entry price); ``free``: the account's free balance, exact, settlement ``currency``.
    """

    account: str
    currency: str
    batch: PositionBatch
    marks: np.ndarray
    position_ids: tuple[int, ...]
    labels: tuple[str, ...]
    free: Decimal


def holdings_of(book: ScenarioBook, account: str, free: Decimal) -> Holdings:
    """The open positions of ``account`` in a scenario book, with the exact free balance ``free``."""
    try:
        a = book.accounts.index(account)
    except ValueError:
        raise AllocationError(f"account: no account named {account!r} "
                              f"(accounts: {', '.join(book.accounts) or 'none'})") from None
    rows = np.flatnonzero(book.account_index == a)
    return Holdings(account=account, currency=book.currencies[a], batch=subset(book.batch, rows),
                    marks=book.marks[book.market_index[rows]].astype(np.float64),
                    position_ids=tuple(int(i) for i in book.position_ids[rows]),
                    labels=tuple(book.labels[r] for r in rows), free=free)


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One position of a plan: ``add`` (exact, settlement currency, 0 where none), and before and
    after it the liquidation price (quote per coin, None where none) and the distance to
    liquidation (fraction of the mark, None where none). ``survives``: for the ``survive`` goal,
    whether it survives the scenario after the plan (None for ``distance``)."""

    position_id: int
    label: str
    add: Decimal
    mark: float
    liquidation_price_before: float | None
    distance_frac_before: float | None
    liquidation_price: float | None
    distance_frac: float | None
    survives: bool | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A split of ``budget`` over an account's positions. ``total`` (exact) is what it spends,
    never more than ``budget`` nor the free balance; ``min_distance_frac`` the smallest distance
    to liquidation after it (fraction, None when no position has a liquidation price);
    ``survivors``/``scenario`` for the ``survive`` goal."""

    account: str
    currency: str
    goal: str
    budget: Decimal
    total: Decimal
    rows: tuple[PlanRow, ...]
    min_distance_frac: float | None
    min_distance_frac_before: float | None
    scenario: str | None = None
    survivors: int | None = None
    survivors_before: int | None = None

    @property
    def top_ups(self) -> tuple[tuple[int, Decimal], ...]:
        """``(position id, amount)`` of every position that gets collateral, in plan order."""
        return tuple((r.position_id, r.add) for r in self.rows if r.add > 0)

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-ready data: amounts as decimal strings (exact), prices and fractions as
        numbers, None where a figure does not exist."""
        plan = []
        for r in self.rows:
            row: dict[str, Any] = {"id": r.position_id, "label": r.label, "add": str(r.add), "mark": r.mark,
                                   "liquidation_price": r.liquidation_price, "distance_frac": r.distance_frac,
                                   "liquidation_price_before": r.liquidation_price_before,
                                   "distance_frac_before": r.distance_frac_before}
            if r.survives is not None:
                row["survives"] = r.survives
            plan.append(row)
        out: dict[str, Any] = {"account": self.account, "currency": self.currency, "goal": self.goal,
                               "budget": str(self.budget), "total": str(self.total), "plan": plan,
                               "min_distance_frac": self.min_distance_frac,
                               "min_distance_frac_before": self.min_distance_frac_before}
        if self.goal == "survive":
            out.update({"scenario": self.scenario, "survivors": self.survivors,
                        "survivors_before": self.survivors_before})
        return out


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _min_distance(distance: np.ndarray, side: np.ndarray) -> float | None:
    """The smallest distance (fraction of the mark) of the positions that can be liquidated; None
    where none can. A long whose liquidation price is at or below 0 (distance ≥ 1) cannot be: the
    price never gets there, as for a position with no liquidation price."""
    reachable = np.isfinite(distance) & ~((side > 0) & (distance >= 1.0))
    finite = distance[reachable]
    return float(finite.min()) if finite.size else None


def check_budget(budget: object, free: Decimal, account: str, currency: str) -> Decimal:
    """The budget as an exact amount within the bounds and at most the free balance ``free``;
    :class:`AllocationError` naming the amount and the rule otherwise."""
    try:
        amount = check_amount(budget, "AMOUNT", currency)
    except BoundsError as exc:
        raise AllocationError(str(exc)) from None
    if amount > free:
        raise AllocationError(f"AMOUNT: {plain(amount)} {currency} is more than the free balance {plain(free)} of "
                              f"{account}")
    return amount


def _unliquidatable(batch: PositionBatch, marks: np.ndarray) -> np.ndarray:
    """Which positions the engine gives no liquidation price the mark can reach: none at all (a
    short whose loss is bounded, an inverse short), or one at or below 0 for a long."""
    liq = compute(batch, marks).liquidation_price
    out: np.ndarray = np.isnan(liq) | np.isposinf(liq) | ((batch.side > 0) & (liq <= 0))
    return out


def _beyond_reach(batch: PositionBatch, marks: np.ndarray, budget_units: int) -> list[int] | None:
    """The top-ups (ledger units) that leave every position with no liquidation price the mark can
    reach, where the budget (ledger units) buys that; None where it does not.

    The margin at an infinite distance (:func:`margin_for_distance`: a long at ``d = 1``, an inverse
    short at a liquidation price of +inf, where its notional in coin is 0) sits exactly on the line;
    the engine's float arithmetic puts a few ulps on either side of it (a liquidation price of 1e16
    where exact arithmetic has none). So that margin is tried, then that margin plus 1e-12 of
    itself, and the engine, not the closed form, says whether it is reached.
    """
    line = margin_for_distance(batch, marks, math.inf)
    if not np.isfinite(line).all():
        return None  # a linear short, or an inverse long: no margin takes away its liquidation price
    for target in (line, line + 1e-12 * np.abs(line)):
        units = _units_up(target - batch.margin)
        if sum(units) > budget_units:
            return None
        if _unliquidatable(batch.replace(margin=batch.margin + np.array(units, dtype=np.float64) / UNITS), marks).all():
            return units
    return None


def best_distance(batch: PositionBatch, marks: np.ndarray, budget_units: int) -> tuple[float, list[int]]:
    """The largest common distance ``d`` (fraction of the mark) the budget (whole ledger units)
    can lift every position to, and the top-up of each position for it (ledger units, rounded up;
    the few units the bisection's last step leaves over go to the closest position it lifts).

    ``cost(d) = Σ ceil(max(0, W(d) − W))`` is non-decreasing in ``d`` (the margin of
    :func:`margin_for_distance` grows with the distance on every tier), so bisection finds the
    largest ``d`` with ``cost(d) ≤ budget`` to 1e-12. A long cannot be further than 1 (a
    liquidation price of 0); at ``d = 1`` a linear long is fully collateralised. Where the budget
    takes every position out of reach of liquidation (:func:`_beyond_reach`), ``d`` is +inf.
    """
    margin = batch.margin

    def cost(d: float) -> list[int]:
        return _units_up(margin_for_distance(batch, marks, d) - margin)

    beyond = _beyond_reach(batch, marks, budget_units)
    if beyond is not None:
        return math.inf, beyond
    current = compute(batch, marks).distance_frac
    lo = min(float(np.nanmin(current)), 1.0) if np.isfinite(current).any() else 0.0
    for _ in range(64):  # at the smallest distance held the cost is 0 up to the rounding of one unit
        if sum(cost(lo)) <= budget_units:
            break
        lo -= max(1e-9, abs(lo))
    cap = 1.0 if (batch.side > 0).all() else math.inf
    hi = min(max(2.0 * lo, lo + 0.01), cap)
    while sum(cost(hi)) <= budget_units:
        if hi >= cap:
            return hi, cost(hi)
        lo, hi = hi, min(2.0 * hi + 0.01, cap)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if sum(cost(mid)) <= budget_units:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12:
            break
    units = cost(lo)
    spare = budget_units - sum(units)
    lifted = [i for i, u in enumerate(units) if u > 0]
    if spare > 0 and lifted:
        # what the bisection's last 1e-12 leaves goes to the closest lifted position: it can only help
        after = compute(batch.replace(margin=margin + np.array(units, dtype=np.float64) / UNITS), marks).distance_frac
        units[min(lifted, key=lambda i: (after[i], i))] += spare
    return lo, units


def worst_distance(holdings: Holdings, scenario: Scenario, book: ScenarioBook) -> np.ndarray:
    """For each position of ``holdings`` the distance (fraction of its mark) of the worst price of
    the scenario's path: the lowest for a long, the highest for a short (as a fraction above the
    mark). The scenario's own margin and leverage edits are not applied: the plan is what is added
    to the book as held."""
    prices = market_prices(book, scenario)                         # (steps, markets)
    a = book.accounts.index(holdings.account)
    rows = np.flatnonzero(book.account_index == a)
    path = prices[:, book.market_index[rows]]                     # (steps, positions)
    s = holdings.batch.side.astype(np.float64)
    moves = s * (holdings.marks - path) / holdings.marks           # positive = towards liquidation
    out: np.ndarray = moves.max(axis=0, initial=-np.inf)
    return out


def allocate(budget: Decimal, holdings: Holdings, goal: str = "distance", *, scenario: Scenario | None = None,
             scenario_name: str | None = None, book: ScenarioBook | None = None) -> Plan:
    """Split ``budget`` (exact, settlement currency) of the account's free balance over its open
    positions for ``goal``: ``distance`` (maximise the smallest distance to liquidation) or
    ``survive`` (the most positions surviving ``scenario``, evaluated on ``book``, the scenario
    book ``holdings`` came from, for the least collateral). See the module docstring.
    :class:`AllocationError` for a budget above the free balance or outside the bounds, an
    unknown goal, or an account with no open position."""
    if goal not in GOALS:
        raise AllocationError(f"goal: {goal!r} is not one of {', '.join(GOALS)}")
    amount = check_budget(budget, holdings.free, holdings.account, holdings.currency)
    batch, marks = holdings.batch, holdings.marks
    if len(batch) == 0:
        raise AllocationError(f"account: {holdings.account} has no open position to allocate to")
    budget_units = int(amount.scaleb(AMOUNT_DECIMALS))
    survives_before: np.ndarray | None = None
    survives_after: np.ndarray | None = None
    if goal == "distance":
        _, units = best_distance(batch, marks, budget_units)
    else:
        if scenario is None or book is None:
            raise AllocationError("goal survive: name a saved scenario")
        worst = worst_distance(holdings, scenario, book)
        target = worst + SURVIVE_MARGIN
        need = _units_up(margin_for_distance(batch, marks, target) - batch.margin)
        held = compute(batch, marks)
        survives_before = (held.distance_frac > worst) | ~np.isfinite(held.liquidation_price)
        units = [0] * len(batch)
        spent = 0
        for i in sorted(range(len(batch)), key=lambda j: (need[j], j)):
            if need[i] == 0 or survives_before[i]:
                continue
            if spent + need[i] > budget_units:
                break
            units[i] = need[i]
            spent += need[i]
        survives_after = survives_before | np.array([u > 0 or n == 0 for u, n in zip(units, need, strict=True)])
    adds = [Decimal(u).scaleb(-AMOUNT_DECIMALS) if u else Decimal(0) for u in units]
    before = compute(batch, marks)
    after_margin = batch.margin + np.array([float(a) for a in adds])
    after = compute(batch.replace(margin=after_margin), marks)
    rows = tuple(PlanRow(position_id=holdings.position_ids[i], label=holdings.labels[i], add=adds[i],
                         mark=float(marks[i]),
                         liquidation_price_before=_finite(before.liquidation_price[i]),
                         distance_frac_before=_finite(before.distance_frac[i]),
                         liquidation_price=_finite(after.liquidation_price[i]),
                         distance_frac=_finite(after.distance_frac[i]),
                         survives=None if survives_after is None else bool(survives_after[i]))
                 for i in range(len(batch)))
    total = sum(adds, Decimal(0))
    assert total <= amount  # bisection and the greedy pick both keep Σ units ≤ budget units
    return Plan(account=holdings.account, currency=holdings.currency, goal=goal, budget=amount, total=total,
                rows=rows, min_distance_frac=_min_distance(after.distance_frac, batch.side),
                min_distance_frac_before=_min_distance(before.distance_frac, batch.side),
                scenario=scenario_name if goal == "survive" else None,
                survivors=None if survives_after is None else int(survives_after.sum()),
                survivors_before=None if survives_before is None else int(survives_before.sum()))


def plan_labels(plan: Plan) -> Sequence[str]:
    """The labels of the positions that get collateral, in plan order (for messages)."""
    return [r.label for r in plan.rows if r.add > 0]
