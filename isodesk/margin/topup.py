"""Top-ups that keep a position alive: the venues' own auto-add margin, and the trader's own policy.

Pure: numpy and the standard library. One definition serves the replay (:mod:`isodesk.desk.topup`)
and the What-if (:func:`rescue`). Amounts are whole ledger units (10⁻⁸ of the settlement currency,
:data:`isodesk.margin.bounds.AMOUNT_DECIMALS`), so what the desk moves is exact.

**Venue auto-add margin** (a position's flag comes from its latest venue report: Bybit
``autoAddMargin``, Binance ``isAutoAddMargin``; a position with no report has none):

- Bybit, "Auto-Margin Replenishment (USDT Contracts)", bybit.com/en/help-center/article/Auto-Margin-Replenishment
  (dated 2023-12-04, read 2026-12-02): only in isolated margin mode; "every time your margin level
  is about to reach the maintenance margin level, Bybit will replenish the margin from your
  available balance. The amount drawn would be equivalent to the initial margin that is currently
  used for this position. If there is insufficient available balance, Bybit will utilize all of
  the remaining balance"; "the lowest leverage the position will go is limited to 1x". The API
  switch is ``POST /v5/position/set-auto-add-margin`` (bybit-exchange.github.io/docs/v5/position/auto-add-margin).
  Coded as: at a mark where the position would be liquidated (margin balance ≤ maintenance
  margin: the liquidation trigger, isodesk's discrete stand-in for "about to reach"), add its
  initial margin, ``entry notional / leverage`` (the current isolated margin where the leverage is
  unknown), at most the free balance, and at most what keeps the leverage at 1× (margin ≤ entry
  notional). One top-up per instant: still crossing after it, the position is liquidated.
- Binance (USDⓈ-M and COIN-M): ``GET /fapi/v2/positionRisk`` carries ``isAutoAddMargin``
  (developers.binance.com, "Position Information V2", read 2026-12-02), but Binance publishes
  neither when nor how much it adds: no amount rule was found in its API documentation or FAQ.
  Chosen (stated, conservative: never more than the rule Bybit publishes, so a saved position is
  not promised by an assumption more generous than a venue's documented one): the same rule as
  Bybit's above.

**Order of service** when a free balance cannot pay every top-up of an instant: the positions
closest to liquidation at that instant first (smallest distance to liquidation, fraction of the
mark; NaN last), ties by row order; each gets what is left (a partial top-up) and the rest nothing.
Neither venue documents an order; this one spends first where the need is most urgent.

**The trader's policy** (:class:`TopUpPolicy`, e.g. ``below=3%,to=8%,cap=500,reserve=2000``): at a
mark where a position's distance to liquidation is below ``below``, add what brings it back to
``to`` (closed form, :func:`isodesk.margin.allocate.margin_for_distance`), from a reserve of
``reserve`` per account (settlement currency) that the policy may spend in all, at most ``cap``
per account per UTC day, never more than the free balance; served in the order above.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from isodesk.margin.allocate import UNITS, margin_for_distance
from isodesk.margin.bounds import AMOUNT_DECIMALS, BoundsError, check_amount, check_distance_pct, check_text, plain
from isodesk.margin.engine import PositionBatch, compute
from isodesk.margin.scenario import Outcome, edited_batch

DAY_S = 86_400.0


class PolicyError(ValueError):
    """A top-up policy that cannot be read; the message names the part and the rule."""


def to_units(amount: Decimal) -> int:
    """An exact amount (settlement currency) as whole ledger units."""
    return int(amount.scaleb(AMOUNT_DECIMALS))


def from_units(units: int) -> Decimal:
    """Whole ledger units as the exact amount (settlement currency)."""
    return Decimal(units).scaleb(-AMOUNT_DECIMALS) if units else Decimal(0)


def _up(amount: np.ndarray) -> np.ndarray:
    """Float amounts (settlement currency) as whole ledger units rounded up; ≤ 0 or NaN → 0,
    +inf → a number larger than any balance (int64)."""
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.ceil(np.where(np.isfinite(amount), amount, 0.0) * UNITS)
    units = np.where(units > 0, units, 0.0)
    units = np.minimum(units, 4e18)
    out = units.astype(np.int64)
    out[np.isposinf(amount)] = 4 * 10 ** 18
    return out


def service_order(distance_frac: np.ndarray) -> np.ndarray:
    """Row indices in order of service: smallest distance to liquidation (fraction) first, NaN
    last, ties by row (a stable sort)."""
    key = np.where(np.isnan(distance_frac), np.inf, distance_frac)
    return np.argsort(key, kind="stable")


def serve(needs: np.ndarray, distance_frac: np.ndarray, account_index: np.ndarray,
          left: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pay ``needs`` (ledger units per row) from ``left`` (units still payable per account index),
    in :func:`service_order`; each row gets ``min(need, left of its account)`` and that is taken
    from ``left`` (changed in place). Returns the units given per row and a mask of the rows whose
    need was cut short."""
    given = np.zeros(len(needs), dtype=np.int64)
    short = np.zeros(len(needs), dtype=bool)
    order = service_order(distance_frac)
    for r in order[np.asarray(needs)[order] > 0]:  # Python ints: a need of "no margin reaches it" cannot overflow
        need = int(needs[r])
        a = int(account_index[r])
        pay = min(need, max(left.get(a, 0), 0))
        given[r] = pay
        short[r] = pay < need
        left[a] = left.get(a, 0) - pay
    return given, short


# -- the venues' auto-add ---------------------------------------------------------------------------


def crossing(batch: PositionBatch, marks: np.ndarray) -> np.ndarray:
    """True per position whose margin balance is at or below its maintenance requirement at
    ``marks`` (quote per coin): the mark reached its liquidation price (distance ≤ 0)."""
    risk = compute(batch, np.asarray(marks, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        out: np.ndarray = (risk.distance_frac <= 0) & np.isfinite(risk.liquidation_price)
    return out


def auto_add_amount(batch: PositionBatch) -> np.ndarray:
    """What one venue auto-add gives each position (ledger units, before the free balance): its
    initial margin ``entry notional / leverage`` (settlement currency; the current isolated margin
    where the leverage is unknown), at most ``entry notional − margin`` (the 1× floor: nothing at
    or below 1× leverage). See the module docstring for the sources."""
    notional = batch.entry_notional
    with np.errstate(divide="ignore", invalid="ignore"):
        initial = np.where(np.isfinite(batch.leverage) & (batch.leverage > 0), notional / batch.leverage, batch.margin)
    room = np.maximum(notional - batch.margin, 0.0)
    units: np.ndarray = np.minimum(_up(np.minimum(initial, room)), _floor_units(room))
    return units


def _floor_units(amount: np.ndarray) -> np.ndarray:
    """Float amounts (settlement currency) as whole ledger units rounded down; ≤ 0 or not finite → 0."""
    with np.errstate(invalid="ignore", over="ignore"):
        units = np.floor(np.where(np.isfinite(amount), amount, 0.0) * UNITS)
    out: np.ndarray = np.minimum(np.maximum(units, 0.0), 4e18).astype(np.int64)
    return out


def venue_auto_add(batch: PositionBatch, marks: np.ndarray, flags: np.ndarray, account_index: np.ndarray,
                   free: dict[int, int]) -> np.ndarray:
    """The venue auto-add each position receives at ``marks`` (ledger units per position): flagged
    positions (``flags``, bool per position) that cross their liquidation price there
    (:func:`crossing`) get :func:`auto_add_amount`, paid from ``free`` (units per account index,
    taken in place) in :func:`service_order`."""
    flags = np.asarray(flags, dtype=bool)
    risk = compute(batch, np.asarray(marks, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        hit = flags & (risk.distance_frac <= 0) & np.isfinite(risk.liquidation_price)
    needs = np.where(hit, auto_add_amount(batch), 0)
    given, _ = serve(needs, risk.distance_frac, account_index, free)
    return given


# -- the trader's policy ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopUpPolicy:
    """Top up to ``target_frac`` when below ``trigger_frac`` (distances to liquidation, fractions of
    the mark), at most ``daily_cap`` per account per UTC day and ``reserve`` per account in all
    (exact, each account's settlement currency); ``currency``: only accounts settling in it (None:
    every account, each in its own currency)."""

    trigger_frac: float
    target_frac: float
    daily_cap: Decimal
    reserve: Decimal
    currency: str | None = None

    def describe(self) -> str:
        """The policy in words (for summaries and the What-if)."""
        unit = f" {self.currency}" if self.currency else ""
        return (f"top up to {self.target_frac * 100:g} % when below {self.trigger_frac * 100:g} %, at most "
                f"{plain(self.daily_cap)}{unit} a day from a reserve of {plain(self.reserve)}{unit}")

    def as_text(self) -> str:
        """The policy as the string :func:`parse_policy` reads."""
        text = (f"below={self.trigger_frac * 100:g}%,to={self.target_frac * 100:g}%,cap={plain(self.daily_cap)},"
                f"reserve={plain(self.reserve)}")
        return text + (f",currency={self.currency}" if self.currency else "")


_KEYS = {"below": "below", "trigger": "below", "to": "to", "target": "to", "cap": "cap", "reserve": "reserve",
         "currency": "currency"}
_PART = re.compile(r"\s*([A-Za-z]+)\s*=\s*(.*?)\s*")


def parse_policy(text: str) -> TopUpPolicy:
    """The policy written as ``below=3%,to=8%,cap=500,reserve=2000[,currency=USDT]``: distances in
    percent of the mark (the ``%`` optional), amounts in each account's settlement currency.
    :class:`PolicyError` naming the part for anything else: an unknown or repeated key, a missing
    one, a distance outside (0, 100) %, a target not above the trigger, an amount outside the bounds."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError("policy: is empty; write it as below=3%,to=8%,cap=500,reserve=2000")
    if len(text) > 200:
        raise PolicyError(f"policy: is {len(text)} characters long; at most 200")
    values: dict[str, str] = {}
    for part in text.split(","):
        m = _PART.fullmatch(part)
        if not m:
            raise PolicyError(f"policy: {part.strip()!r} is not KEY=VALUE (keys: below, to, cap, reserve, currency)")
        key = _KEYS.get(m.group(1).lower())
        if key is None:
            raise PolicyError(f"policy: unknown key {m.group(1)!r} (keys: below, to, cap, reserve, currency)")
        if key in values:
            raise PolicyError(f"policy: {key} is given twice")
        values[key] = m.group(2)
    missing = [k for k in ("below", "to", "cap", "reserve") if k not in values]
    if missing:
        raise PolicyError(f"policy: {', '.join(missing)} missing; write it as below=3%,to=8%,cap=500,reserve=2000")
    try:
        trigger = check_distance_pct(values["below"].removesuffix("%"), "policy below")
        target = check_distance_pct(values["to"].removesuffix("%"), "policy to")
        cap = check_amount(values["cap"], "policy cap")
        reserve = check_amount(values["reserve"], "policy reserve")
        currency = check_text(values["currency"], "policy currency", max_length=16) if "currency" in values else None
    except BoundsError as exc:
        raise PolicyError(str(exc)) from None
    if target <= trigger:
        raise PolicyError(f"policy to: {plain(target)} % must be above the trigger below={plain(trigger)} %")
    return TopUpPolicy(trigger_frac=float(trigger) / 100, target_frac=float(target) / 100, daily_cap=cap,
                       reserve=reserve, currency=currency.upper() if currency else None)


def policy_needs(batch: PositionBatch, marks: np.ndarray, policy: TopUpPolicy,
                 applies: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """What the policy wants to add at ``marks`` (ledger units per position, rounded up) and each
    position's distance there (fraction): to positions (of ``applies``, bool, default all) whose
    distance to liquidation is below the trigger, the margin that puts their liquidation price at
    the target distance minus the margin held (:func:`~isodesk.margin.allocate.margin_for_distance`)."""
    marks = np.asarray(marks, dtype=np.float64)
    risk = compute(batch, marks)
    with np.errstate(invalid="ignore"):
        below = (risk.distance_frac < policy.trigger_frac) & np.isfinite(risk.liquidation_price)
    if applies is not None:
        below &= np.asarray(applies, dtype=bool)
    needs = np.zeros(len(batch), dtype=np.int64)
    if below.any():
        want = margin_for_distance(batch, marks, policy.target_frac) - batch.margin
        needs = np.where(below, _up(want), 0)
    return needs, risk.distance_frac


@dataclass
class PolicyBudget:
    """What a policy has spent per account (ledger units): in all, and per UTC day; the days (per
    account) on which the daily cap stopped a top-up. Pure bookkeeping, no I/O."""

    policy: TopUpPolicy
    spent: dict[int, int] = field(default_factory=dict)
    spent_day: dict[tuple[int, int], int] = field(default_factory=dict)
    cap_days: set[tuple[int, int]] = field(default_factory=set)

    def left(self, account: int, day: int, free_units: int) -> int:
        """Units the policy may still pay to ``account`` on ``day``: the smallest of the day's cap
        left, the reserve left and the free balance."""
        cap_left = to_units(self.policy.daily_cap) - self.spent_day.get((account, day), 0)
        reserve_left = to_units(self.policy.reserve) - self.spent.get(account, 0)
        return max(0, min(cap_left, reserve_left, free_units))

    def pay(self, needs: np.ndarray, distance_frac: np.ndarray, account_index: np.ndarray, day: int,
            free: dict[int, int]) -> np.ndarray:
        """Pay ``needs`` within the budget on ``day`` (days since the epoch, UTC) and the free
        balances ``free`` (units per account index, taken in place); returns the units given per
        position, records them, and notes the account-days where the cap bound."""
        accounts = {int(a) for a in np.asarray(account_index)[needs > 0]}
        left = {a: self.left(a, day, free.get(a, 0)) for a in accounts}
        given, short = serve(needs, distance_frac, account_index, left)
        for a in accounts:
            rows = np.asarray(account_index) == a
            paid = int(given[rows].sum())
            if paid:
                self.spent[a] = self.spent.get(a, 0) + paid
                self.spent_day[(a, day)] = self.spent_day.get((a, day), 0) + paid
                free[a] = free.get(a, 0) - paid
            cap_left = to_units(self.policy.daily_cap) - self.spent_day.get((a, day), 0)
            if short[rows].any() and cap_left <= 0 < min(to_units(self.policy.reserve) - self.spent.get(a, 0),
                                                         free.get(a, 0)):
                self.cap_days.add((a, day))
        return given


def day_of(ts: float) -> int:
    """The UTC day (days since 1970-01-01) of a Unix time in seconds."""
    return math.floor(ts / DAY_S)


# -- What-if: who a top-up would save ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rescue:
    """Per position (settlement currency): ``lost_without`` (liquidated on the path with no top-up),
    ``lost_with`` (liquidated even with them), ``saved`` (lost without, alive with), ``auto_add`` and
    ``policy_add`` (what the venue's auto-add and the policy paid it); per account index
    ``auto_add_total``/``policy_total`` and ``cap_bound`` (the daily cap stopped a top-up)."""

    lost_without: np.ndarray
    lost_with: np.ndarray
    saved: np.ndarray
    auto_add: np.ndarray
    policy_add: np.ndarray
    auto_add_total: np.ndarray
    policy_total: np.ndarray
    cap_bound: np.ndarray


def rescue(batch: PositionBatch, marks: np.ndarray, account_index: np.ndarray, free: np.ndarray,
           flags: np.ndarray, *, auto_add: bool, policy: TopUpPolicy | None,
           currencies: Sequence[str] = ()) -> Rescue:
    """Play a scenario's steps ``marks`` (S × N, quote per coin) twice: as held, and with the top-ups
    (the policy first at each step, then the venue's auto-add for flagged positions still crossing),
    a position being liquidated at the first step it crosses its liquidation price. ``free``: free
    balance per account index (settlement currency, float; floored to ledger units). The steps are
    one day for the policy's cap. ``currencies`` per account: a policy with a currency applies to
    those accounts only. Ladders (partial liquidations) are not played: a crossing is a loss."""
    marks = np.atleast_2d(np.asarray(marks, dtype=np.float64))
    account_index = np.asarray(account_index)
    n, n_acc = len(batch), len(free)
    lost_without = np.zeros(n, dtype=bool)
    for row in marks:
        lost_without |= crossing(batch, row)
    free_units = {a: math.floor(float(free[a]) * UNITS) if math.isfinite(float(free[a])) else 0
                  for a in range(n_acc)}
    applies = np.ones(n, dtype=bool)
    if policy is not None and policy.currency:
        applies = np.array([currencies[int(a)].upper() == policy.currency if currencies else True
                            for a in account_index], dtype=bool)
    budget = PolicyBudget(policy) if policy is not None else None
    flags = np.asarray(flags, dtype=bool) & auto_add
    margin = batch.margin.copy()
    alive = np.ones(n, dtype=bool)
    paid_auto = np.zeros(n, dtype=np.int64)
    paid_policy = np.zeros(n, dtype=np.int64)
    for row in marks:
        current = batch.replace(margin=margin)
        if budget is not None and policy is not None:
            needs, distance = policy_needs(current, row, policy, applies & alive)
            given = budget.pay(needs, distance, account_index, 0, free_units)
            paid_policy += given
            margin = margin + given / UNITS
            current = batch.replace(margin=margin)
        if flags.any():
            given = venue_auto_add(current, row, flags & alive, account_index, free_units)
            paid_auto += given
            margin = margin + given / UNITS
            current = batch.replace(margin=margin)
        alive &= ~crossing(current, row)
    lost_with = ~alive
    cap_bound = np.zeros(n_acc, dtype=bool)
    if budget is not None:
        for a, _day in budget.cap_days:
            cap_bound[a] = True
    auto_f, policy_f = paid_auto / UNITS, paid_policy / UNITS
    return Rescue(lost_without=lost_without, lost_with=lost_with, saved=lost_without & ~lost_with,
                  auto_add=auto_f, policy_add=policy_f,
                  auto_add_total=np.bincount(account_index, weights=auto_f, minlength=n_acc).astype(np.float64),
                  policy_total=np.bincount(account_index, weights=policy_f, minlength=n_acc).astype(np.float64),
                  cap_bound=cap_bound)


def with_top_ups(outcome: Outcome, *, auto_add: bool, policy: TopUpPolicy | None) -> Outcome:
    """``outcome`` (:func:`isodesk.margin.scenario.evaluate`) with :attr:`~isodesk.margin.scenario.Outcome.rescue`:
    the same steps played with the top-ups (:func:`rescue`) on the edited book (the scenario's
    margin and leverage edits, its free balances after them), the venue's auto-add for the
    positions the book flags (``ScenarioBook.auto_add``) when ``auto_add``. Amounts in each
    account's settlement currency."""
    book = outcome.book
    batch, free = edited_batch(book, outcome.scenario)
    assert book.auto_add is not None
    marks = outcome.prices[:, book.market_index]
    result = rescue(batch, marks, book.account_index, np.maximum(free, 0.0), book.auto_add, auto_add=auto_add,
                    policy=policy, currencies=book.currencies)
    return replace(outcome, rescue=result, rescue_options=(auto_add, policy.as_text() if policy else None))


__all__ = ["PolicyBudget", "PolicyError", "Rescue", "TopUpPolicy",
           "auto_add_amount", "crossing", "day_of", "from_units", "parse_policy", "policy_needs", "rescue", "serve",
           "service_order", "to_units", "venue_auto_add", "with_top_ups"]
