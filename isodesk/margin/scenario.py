"""What-if scenarios: price shocks, collateral and leverage edits, under isolated and cross margin.

Pure maths (numpy + the standard library). A :class:`ScenarioBook` is the open book as plain
arrays (built from a store by :mod:`isodesk.desk.whatif`, or from engine positions by
:meth:`ScenarioBook.build`); a :class:`Scenario` says how prices move and which edits to make;
:func:`evaluate` answers with an :class:`Outcome` holding both margin modes side by side.

Units and conventions
---------------------
* Relative shocks are in **percent** of the current mark everywhere (``-15`` = −15 %); absolute
  shocks are prices (quote per coin). The current mark of a market is the latest stored price,
  else the entry price (chosen by whoever builds the book).
* Money (margins, PnL, losses, equity) is in each account's **settlement currency**; positions of
  one account share it. Nothing is ever summed across currencies.
* Losses are positive numbers. Per position: its whole isolated margin when liquidated,
  otherwise ``max(0, −uPnL)`` at the final shocked mark (unrealized, against the entry price).
  An account's ``loss`` is the sum of its positions' losses (gross: a gain elsewhere does not
  offset it; ``equity_after`` shows the net effect).
* Liquidation follows the engine: margin balance ``B = c0 + c1·x`` at or below the requirement
  ``R = MM + close fee`` of :func:`~isodesk.margin.engine.maintenance_requirement` (``MM`` valued
  at the entry notional for Bybit ``entry_mm``), the one that gives the liquidation price and the
  margin ratio (``R ÷ B``, 1.0 at the liquidation price). ``B ≤ R`` is the same test as "the mark
  reached the liquidation price" that the desk applies.

Modelling choices
-----------------
* **Edits** happen before the prices move. A leverage edit does what a venue's "adjust
  leverage" does to an isolated position: the isolated margin becomes ``entry notional ÷ new
  leverage``; a margin edit (``+`` adds, ``−`` removes, settlement currency) then applies on top.
  The money moves between the position and the account's free balance, so an account's
  collateral is unchanged; a free balance driven below zero is not refused but reported
  (``overdrawn``: the trader would have to deposit the difference).
* **Cross margin** pools collateral per venue account, never across accounts: ``pool = free +
  Σ isolated margins``; ``balance = pool + Σ uPnL``; ``requirement = Σ R``. Edits move money
  inside the pool, so they do not change the cross outcome. When ``balance ≤ requirement`` every
  position of the account is liquidated and the account **loses the whole pool** (what is left
  at liquidation goes to the venue with the positions): ``loss = pool``, ``equity_after = 0``.
  Otherwise ``loss`` is the sum of ``max(0, −uPnL)`` and ``equity_after = pool + Σ uPnL``.
* **Paths**: a scenario may be a sequence of states (:class:`Move`), each taken from the current
  marks (not compounded). A position (isolated) or an account (cross) is liquidated at the
  first step that crosses, and stays liquidated; the survivors are valued at the last step.
  Steps are numbered from 1; 0 means "not liquidated". A single jump is a path of one step.
* **The ladder** (isolated): a position whose venue liquidates in steps
  (:mod:`isodesk.margin.ladder`: Bybit above its lowest tier, OKX from tier 3, Hyperliquid above
  100,000) loses at a crossing only the part the venue removes; the rest stays open with the
  margin left and a new liquidation price, and the next rung is crossed when the path reaches it.
  Several rungs crossed at one step are taken one after the other (a gap), except on Hyperliquid,
  where a second crossing at the same instant falls in its 30 s cooldown and takes the whole rest.
  ``liquidated`` means the whole position went; ``partial_liquidations`` counts the rungs taken
  before that (or by the end) and ``ladder_loss`` what they realized. A rest that survives is valued
  at the last step on its own size and margin. Which procedure each row follows is the book's
  ``procedure`` (all at once when not given). Cross margin is unchanged (no ladder there).
* **Top-ups** (:func:`isodesk.margin.topup.with_top_ups`): an outcome may carry, per position,
  whether the venue's auto-add (for positions the book's ``auto_add`` flags) or the trader's
  policy would have saved it on the same steps, and what they cost (:attr:`Outcome.rescue`).
* **Odds and funding after the scenario** (isolated): for each position that survives (its rest, after
  partial liquidations), at the last step's mark and its liquidation price then, the odds of
  :func:`isodesk.margin.odds.book_odds` (distance in daily σ, the probability of touching the
  liquidation price within 1 h and 24 h) at the book's ``sigma`` (the desk's current realized
  volatility per market; the shock does not change it), and funding (:mod:`isodesk.margin.funding`):
  the next payment (:func:`~isodesk.margin.funding.funding_flow` of the rest's value at that mark) and
  the liquidation price's drift per day (:func:`~isodesk.margin.funding.liq_drift_pct_day`) at the
  book's latest funding quote. NaN where the book has no volatility or no quote for the row, and for
  a position liquidated whole.
* **Capital efficiency**: ``margin_needed`` is the smallest isolated margin with which a position
  survives every step, ``max over steps of (R − uPnL)`` (closed form: ``B`` is affine in the
  margin), and ``pool_needed`` the smallest cross pool with which the account survives,
  ``max over steps of (Σ R − Σ uPnL)``. Both are rounded up by ``1e-9 × notional`` so that the
  figure itself survives in floating point; 0 means any collateral survives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from isodesk.margin.engine import PositionBatch, maintenance_requirement, mark_figures, price_levels
from isodesk.margin.funding import MAX_FUNDING_RATE, Settles, funding_flow, liq_drift_pct_day, position_value
from isodesk.margin.ladder import Ladder, Procedure, ladder, procedure_codes
from isodesk.margin.markets import market_of
from isodesk.margin.odds import book_odds
from isodesk.margin.position import Position

PCT = "pct"
PRICE = "price"
SAFETY = 1e-9  # relative rounding-up of the capital-efficiency figures (of the notional)


class ScenarioError(ValueError):
    """A scenario that cannot be evaluated on this book; the message says what and where."""


@dataclass(frozen=True, slots=True)
class Shock:
    """One market's move: ``kind`` ``"pct"`` (``value`` in percent of the current mark, > −100)
    or ``"price"`` (``value`` the new price, quote per coin, > 0)."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in (PCT, PRICE):
            raise ScenarioError(f"shock kind {self.kind!r} is neither {PCT!r} nor {PRICE!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ScenarioError(f"shock value {self.value!r} is not a finite number")
        if self.kind == PCT and self.value <= -100:
            raise ScenarioError(f"shock {self.value:g} % is at or below −100 % (a price must stay above 0)")
        if self.kind == PRICE and self.value <= 0:
            raise ScenarioError(f"shock price {self.value:g} must be above 0")

    @classmethod
    def pct(cls, value: float) -> Shock:
        """A move of ``value`` percent of the current mark."""
        return cls(PCT, float(value))

    @classmethod
    def price(cls, value: float) -> Shock:
        """A jump to the price ``value`` (quote per coin)."""
        return cls(PRICE, float(value))

    def apply(self, mark: float) -> float:
        """The shocked price of a market whose current mark is ``mark``."""
        return mark * (1.0 + self.value / 100.0) if self.kind == PCT else self.value

    def __str__(self) -> str:
        return f"{self.value:+g} %" if self.kind == PCT else f"{self.value:g}"


def _as_shock(value: Shock | float) -> Shock:
    return value if isinstance(value, Shock) else Shock.pct(value)


@dataclass(frozen=True, slots=True)
class Move:
    """One state of the market. ``shocks``: market → :class:`Shock` (a bare number is a percent
    move); ``market_shock``: ``(reference market, percent)`` propagated to the markets without a
    shock of their own by the scenario's betas (market ``m`` moves ``beta_m × percent``)."""

    shocks: Mapping[str, Shock | float] = field(default_factory=dict)
    market_shock: tuple[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    """A what-if: a single jump (``shocks`` + ``market_shock``) or a ``path`` of :class:`Move`
    states (then ``shocks`` and ``market_shock`` stay empty), plus edits made before any move.

    ``betas``: market → beta for the market shock (default 1.0). ``margin_edits``: position id →
    collateral added (+) or removed (−), settlement currency. ``leverage_edits``: position id →
    new leverage (×), which resets the isolated margin to entry notional ÷ leverage. A path step
    may also be given as a plain mapping of shocks.
    """

    shocks: Mapping[str, Shock | float] = field(default_factory=dict)
    market_shock: tuple[str, float] | None = None
    betas: Mapping[str, float] = field(default_factory=dict)
    margin_edits: Mapping[int, float] = field(default_factory=dict)
    leverage_edits: Mapping[int, float] = field(default_factory=dict)
    path: tuple[Move | Mapping[str, Shock | float], ...] | None = None

    def moves(self) -> tuple[Move, ...]:
        """The states in order (one for a single jump)."""
        if self.path is None:
            return (Move(self.shocks, self.market_shock),)
        if self.shocks or self.market_shock is not None:
            raise ScenarioError("a scenario is either a single jump (shocks) or a path, not both")
        if not self.path:
            raise ScenarioError("a path needs at least one step")
        return tuple(m if isinstance(m, Move) else Move(m) for m in self.path)


@dataclass(frozen=True, slots=True)
class ScenarioBook:
    """The open book as the scenarios take it; one row per open position, arrays read-only.

    ``marks``: current price per market (quote per coin); ``free``: free balance per account
    (settlement currency). ``market_index`` and ``account_index`` map rows into ``markets`` and
    ``accounts``. ``no_removal`` (bool per row, default all False) marks positions the venue lets
    no margin be removed from (Hyperliquid isolated-only assets): an edit that lowers their margin
    is refused. ``procedure`` (int8 per row, :class:`~isodesk.margin.ladder.Procedure` codes,
    default all at once) says how each position's venue liquidates it: at once or in steps.
    ``auto_add`` (bool per row, default all False): the venue tops the margin up by itself at its
    liquidation trigger (the position's latest venue report said so).

    For the odds and funding after the scenario (module docstring), per row: ``sigma``, the realized
    volatility of the log price of the position's market per √second (NaN = not known yet; default
    all NaN); ``funding_rate`` (fraction per funding interval, + = longs pay; NaN = no quote),
    ``funding_interval_s`` (seconds, > 0 where a rate is given) and ``funding_settles``
    (:class:`~isodesk.margin.funding.Settles` codes; default the conservative ``ISOLATED_PAY``).
    """

    batch: PositionBatch
    position_ids: np.ndarray   # int64 per row
    labels: tuple[str, ...]
    markets: tuple[str, ...]
    market_index: np.ndarray   # intp per row
    marks: np.ndarray          # float64 per market
    accounts: tuple[str, ...]
    currencies: tuple[str, ...]  # per account
    account_index: np.ndarray  # intp per row
    free: np.ndarray           # float64 per account
    no_removal: np.ndarray | None = None  # bool per row
    procedure: np.ndarray | None = None   # int8 per row (isodesk.margin.ladder.Procedure)
    auto_add: np.ndarray | None = None    # bool per row
    sigma: np.ndarray | None = None       # float64 per row, per √second (NaN: unknown)
    funding_rate: np.ndarray | None = None        # float64 per row, fraction per interval (NaN: no quote)
    funding_interval_s: np.ndarray | None = None  # float64 per row, seconds (NaN: no quote)
    funding_settles: np.ndarray | None = None     # int8 per row (isodesk.margin.funding.Settles)

    def __post_init__(self) -> None:
        n = len(self.batch)
        self._check_odds_and_funding(n)
        if self.auto_add is None:
            object.__setattr__(self, "auto_add", np.zeros(n, dtype=bool))
        if len(self.auto_add) != n:  # type: ignore[arg-type]
            raise ScenarioError("scenario book: auto_add needs one entry per position")
        if self.no_removal is None:
            object.__setattr__(self, "no_removal", np.zeros(n, dtype=bool))
        if self.procedure is None:
            object.__setattr__(self, "procedure", np.full(n, Procedure.AT_ONCE, dtype=np.int8))
        if len(self.procedure) != n:  # type: ignore[arg-type]
            raise ScenarioError("scenario book: procedure needs one entry per position")
        if not (len(self.position_ids) == len(self.labels) == len(self.market_index) == len(self.account_index) == n):
            raise ScenarioError("scenario book: every per-row array needs one entry per position")
        if not (len(self.marks) == len(self.markets) and len(self.free) == len(self.accounts) == len(self.currencies)):
            raise ScenarioError("scenario book: marks per market and free balances per account do not line up")
        if not np.all(np.isfinite(self.marks) & (self.marks > 0)):
            bad = [m for m, p in zip(self.markets, self.marks, strict=True) if not (math.isfinite(p) and p > 0)]
            raise ScenarioError(f"scenario book: no usable current mark for {', '.join(bad)}")
        if len(self.no_removal) != n:  # type: ignore[arg-type]
            raise ScenarioError("scenario book: no_removal needs one entry per position")
        for name in ("position_ids", "market_index", "marks", "account_index", "free", "no_removal", "procedure",
                     "auto_add", "sigma", "funding_rate", "funding_interval_s", "funding_settles"):
            arr = np.array(getattr(self, name), copy=True)
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def _check_odds_and_funding(self, n: int) -> None:
        """Fill the defaults of ``sigma`` and the funding arrays and refuse values that make no sense."""
        for name, default in (("sigma", np.nan), ("funding_rate", np.nan), ("funding_interval_s", np.nan)):
            value = getattr(self, name)
            arr = np.full(n, default) if value is None else np.asarray(value, dtype=np.float64)
            if arr.shape != (n,):
                raise ScenarioError(f"scenario book: {name} needs one entry per position")
            object.__setattr__(self, name, arr)
        settles = self.funding_settles
        codes = np.full(n, Settles.ISOLATED_PAY, dtype=np.int8) if settles is None else np.asarray(settles,
                                                                                                  dtype=np.int8)
        if codes.shape != (n,) or not np.isin(codes, [int(s) for s in Settles]).all():
            raise ScenarioError("scenario book: funding_settles needs one Settles code per position")
        object.__setattr__(self, "funding_settles", codes)
        sigma, rate, interval = self.sigma, self.funding_rate, self.funding_interval_s
        assert sigma is not None and rate is not None and interval is not None
        bad = np.flatnonzero(~(np.isnan(sigma) | (np.isfinite(sigma) & (sigma >= 0))))
        if bad.size:
            raise ScenarioError(f"scenario book: volatility {sigma[bad[0]]!r} of row {bad[0]} is not a number ≥ 0")
        bad = np.flatnonzero(~(np.isnan(rate) | (np.abs(rate) <= MAX_FUNDING_RATE)))
        if bad.size:
            raise ScenarioError(f"scenario book: funding rate {rate[bad[0]]!r} of row {bad[0]} is not within "
                                f"±{MAX_FUNDING_RATE:g}")
        bad = np.flatnonzero(np.isfinite(rate) & ~(np.isfinite(interval) & (interval > 0)))
        if bad.size:
            raise ScenarioError(f"scenario book: funding interval {interval[bad[0]]!r} of row {bad[0]} is not a "
                                "number of seconds above 0")

    def __len__(self) -> int:
        return len(self.batch)

    @classmethod
    def build(cls, positions: Sequence[Position], *, marks: Mapping[str, float], accounts: Sequence[str],
              free: Mapping[str, float], currencies: Mapping[str, str] | None = None,
              position_ids: Sequence[int] | None = None) -> ScenarioBook:
        """A book from engine positions: ``accounts[i]`` is the account of ``positions[i]``;
        ``marks`` the current price per market (``BASEUSDT``, see :func:`market_of`; a market
        without one is marked at the entry price of its first position); ``free`` the free balance
        per account (an account without one has 0). Ids default to 1…N."""
        names = tuple(dict.fromkeys([*accounts, *free]))
        rows_markets = [market_of(p.venue, p.symbol) for p in positions]
        markets = tuple(sorted(set(rows_markets)))
        price = {m.upper(): float(v) for m, v in marks.items()}
        for p, m in zip(positions, rows_markets, strict=True):
            price.setdefault(m, p.entry_price)
        ids = list(range(1, len(positions) + 1)) if position_ids is None else list(position_ids)
        return cls(
            batch=PositionBatch.from_positions(positions), position_ids=np.array(ids, dtype=np.int64),
            labels=tuple(p.label or p.symbol or f"#{i}" for p, i in zip(positions, ids, strict=True)),
            markets=markets, market_index=np.array([markets.index(m) for m in rows_markets], dtype=np.intp),
            marks=np.array([price[m] for m in markets], dtype=np.float64), accounts=names,
            currencies=tuple((currencies or {}).get(a, "USDT") for a in names),
            account_index=np.array([names.index(a) for a in accounts], dtype=np.intp),
            free=np.array([float(free.get(a, 0.0)) for a in names], dtype=np.float64),
            procedure=procedure_codes([p.venue for p in positions]))

    def with_free(self, free: Mapping[str, float]) -> ScenarioBook:
        """A copy with some accounts' free balances replaced (settlement currency)."""
        values = self.free.copy()
        for name, amount in free.items():
            values[self.account(name)] = float(amount)
        return replace(self, free=values)

    def with_marks(self, marks: Mapping[str, float]) -> ScenarioBook:
        """A copy whose current marks are ``marks`` (market → price, quote per coin) for the markets
        it names; the others keep theirs. Markets the book does not hold are ignored (a position of
        that market has closed since the marks were taken). :class:`ScenarioError` for a price that
        is not finite and above 0."""
        values = self.marks.copy()
        for name, price in marks.items():
            if name not in self.markets:
                continue
            if isinstance(price, bool) or not isinstance(price, (int, float)) or not (
                    math.isfinite(price) and price > 0):
                raise ScenarioError(f"mark of {name}: {price!r} is not a price above 0")
            values[self.markets.index(name)] = float(price)
        return replace(self, marks=values)

    def with_sigma(self, sigma: np.ndarray | Sequence[float]) -> ScenarioBook:
        """A copy whose per-row volatility is ``sigma`` (log price per √second, NaN = unknown)."""
        return replace(self, sigma=np.asarray(sigma, dtype=np.float64))

    def with_funding(self, rate: np.ndarray | Sequence[float], interval_s: np.ndarray | Sequence[float],
                     settles: np.ndarray | Sequence[int]) -> ScenarioBook:
        """A copy with per-row funding quotes: ``rate`` (fraction per interval, NaN = no quote),
        ``interval_s`` (seconds) and ``settles`` (:class:`~isodesk.margin.funding.Settles` codes)."""
        return replace(self, funding_rate=np.asarray(rate, dtype=np.float64),
                       funding_interval_s=np.asarray(interval_s, dtype=np.float64),
                       funding_settles=np.asarray(settles, dtype=np.int8))

    def account(self, name: str) -> int:
        """Index of an account name; :class:`ScenarioError` if unknown."""
        try:
            return self.accounts.index(name)
        except ValueError:
            raise ScenarioError(f"unknown account {name!r} (accounts: {', '.join(self.accounts) or 'none'})") from None

    def market(self, name: str) -> int:
        """Index of a market given as a market name (``BTCUSDT``) or a venue symbol (``BTC``,
        ``BTCUSD``, ``BTC-USDT-SWAP``); :class:`ScenarioError` if the book has no such market."""
        key = name.strip().upper()
        for candidate in (key, market_of("", key)):
            if candidate in self.markets:
                return self.markets.index(candidate)
        raise ScenarioError(f"unknown symbol {name!r}: no open position follows it "
                            f"(markets: {', '.join(self.markets) or 'none'})")

    def row(self, position_id: int) -> int:
        """Row of a position id; :class:`ScenarioError` if it is not an open position of the book."""
        hits = np.flatnonzero(self.position_ids == position_id)
        if not hits.size:
            raise ScenarioError(f"position {position_id}: not an open position of the book")
        return int(hits[0])


# -- the maths ----------------------------------------------------------------------------------


def _state(batch: PositionBatch, marks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notional, uPnL and requirement of every position at per-row ``marks`` (shape (S, N)); the
    requirement (settlement currency) is the engine's :func:`maintenance_requirement`, maintenance
    plus the close fee where the venue counts it, the same that gives the liquidation price."""
    notional = batch.linear_size * marks + batch.inverse_size / marks
    upnl = batch.c1 * (notional - batch.entry_notional)
    req = np.empty_like(notional)
    for s in range(marks.shape[0]):
        req[s] = maintenance_requirement(batch, notional[s]).requirement
    return notional, upnl, req


def _account_sum(values: np.ndarray, index: np.ndarray, accounts: int) -> np.ndarray:
    """Sum of per-row ``values`` (shape (S, N)) per account → shape (S, A)."""
    onehot = np.zeros((values.shape[-1], accounts))
    onehot[np.arange(values.shape[-1]), index] = 1.0
    return values @ onehot


def _first_step(crossed: np.ndarray) -> np.ndarray:
    """1-based index of the first True along axis 0, 0 where none."""
    any_ = crossed.any(axis=0)
    return np.where(any_, np.argmax(crossed, axis=0) + 1, 0)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)
    arr.flags.writeable = False
    return arr


def market_prices(book: ScenarioBook, scenario: Scenario) -> np.ndarray:
    """Shocked price per market for every step (shape (S, markets), quote per coin)."""
    betas = np.ones(len(book.markets))
    for name, beta in scenario.betas.items():
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not math.isfinite(beta):
            raise ScenarioError(f"beta of {name}: {beta!r} is not a finite number")
        betas[book.market(name)] = float(beta)
    rows = []
    for step, move in enumerate(scenario.moves(), start=1):
        prices = book.marks.copy()
        where = f" (step {step})" if scenario.path is not None else ""
        if move.market_shock is not None:
            ref_name, pct = move.market_shock
            if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not math.isfinite(pct):
                raise ScenarioError(f"market shock on {ref_name}: {pct!r} is not a finite number{where}")
            ref = book.market(ref_name)
            moves = betas * float(pct)
            moves[ref] = float(pct)
            for j, m in enumerate(moves):
                if m <= -100:
                    raise ScenarioError(f"market shock {pct:g} % on {book.markets[ref]} moves {book.markets[j]} "
                                        f"by {m:g} % (beta {betas[j]:g}): at or below −100 %{where}")
            prices = book.marks * (1.0 + moves / 100.0)
        seen: dict[int, str] = {}
        for name, value in move.shocks.items():
            j = book.market(name)
            if j in seen:
                raise ScenarioError(f"{name} and {seen[j]} are the same market {book.markets[j]}{where}")
            seen[j] = name
            prices[j] = _as_shock(value).apply(float(book.marks[j]))
        rows.append(prices)
    return np.array(rows, dtype=np.float64)


def edited_batch(book: ScenarioBook, scenario: Scenario) -> tuple[PositionBatch, np.ndarray]:
    """The batch after the scenario's leverage and margin edits, and the free balance per account
    after the money moved (settlement currency; negative = overdrawn)."""
    batch = book.batch
    margin = batch.margin.copy()
    leverage = batch.leverage.copy()
    free = book.free.copy()
    if not (scenario.margin_edits or scenario.leverage_edits):
        return batch, free
    max_lev = batch.tiers.flat("max_leverage")[batch.base + batch.entry_tier]
    for pid, lev in scenario.leverage_edits.items():
        r = book.row(pid)
        if isinstance(lev, bool) or not isinstance(lev, (int, float)) or not (math.isfinite(lev) and lev > 0):
            raise ScenarioError(f"{book.labels[r]}: leverage {lev!r} must be a positive number")
        if math.isfinite(max_lev[r]) and lev > max_lev[r] + 1e-9:
            raise ScenarioError(f"{book.labels[r]}: {lev:g}x is above the {max_lev[r]:g}x maximum of its bracket")
        leverage[r] = float(lev)
        margin[r] = batch.entry_notional[r] / float(lev)
    for pid, delta in scenario.margin_edits.items():
        r = book.row(pid)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not math.isfinite(delta):
            raise ScenarioError(f"{book.labels[r]}: margin edit {delta!r} is not a finite number")
        margin[r] += float(delta)
    assert book.no_removal is not None
    locked = np.flatnonzero(book.no_removal & (margin < batch.margin))
    if locked.size:
        r = int(locked[0])
        raise ScenarioError(f"{book.labels[r]}: the venue lets no margin be removed from this isolated-only "
                            "position (add margin, or close part of it)")
    drained = np.flatnonzero(~(margin > 0))
    if drained.size:
        r = int(drained[0])
        raise ScenarioError(f"{book.labels[r]}: the edits leave {margin[r]:g} of isolated margin; it must stay above 0")
    moved = margin - batch.margin
    free -= np.bincount(book.account_index, weights=moved, minlength=len(book.accounts))
    return batch.replace(margin=margin, leverage=leverage), free


@dataclass(frozen=True, slots=True)
class _Walk:
    """Where each position stands after a path under its venue's ladder (per row): ``whole_step``
    (1-based step at which the whole rest went, 0 = never), ``taken`` (partial rungs taken),
    ``loss`` (what those rungs realized, settlement currency) and ``rest``, the batch of what is
    left (each row's size and margin after its rungs; the rows untouched as they were)."""

    whole_step: np.ndarray
    taken: np.ndarray
    loss: np.ndarray
    rest: PositionBatch


def _ladder_walk(batch: PositionBatch, procedure: np.ndarray, marks: np.ndarray, crossed: np.ndarray,
                 first: np.ndarray, lad: Ladder | None = None) -> _Walk:
    """Walk each position along the path ``marks`` (S, N) through its ladder
    (:func:`isodesk.margin.ladder.ladder`). ``crossed``/``first``: the engine's ``B ≤ R`` test per
    step and its first step, which decides the first rung, so a position its venue takes at once
    goes exactly where it did without the ladder; later rungs are crossed when the mark reaches
    their price (the rest's liquidation price). ``lad``: the batch's ladder when already computed."""
    n, steps = len(batch), marks.shape[0]
    taken = np.zeros(n, dtype=np.intp)
    zero = np.zeros(n)
    stepped = np.flatnonzero((procedure != Procedure.AT_ONCE) & (first > 0))
    if not stepped.size:
        return _Walk(whole_step=first, taken=taken, loss=zero, rest=batch)
    lad = ladder(batch, procedure) if lad is None else lad
    whole = np.where(procedure == Procedure.AT_ONCE, first, 0)
    side = batch.side.astype(np.float64)
    chunk = procedure == Procedure.CHUNK
    for s in range(steps):
        took_now = np.zeros(n, dtype=bool)
        rows = stepped[(whole[stepped] == 0)]
        while rows.size:
            j = taken[rows]
            at = np.where(j == 0, crossed[s, rows],
                          side[rows] * (marks[s, rows] - lad.mark[rows, np.minimum(j, lad.mark.shape[1] - 1)]) <= 0)
            at &= j < lad.steps[rows]
            rows = rows[at]
            if not rows.size:
                break
            j = taken[rows]
            goes = (j == lad.steps[rows] - 1) | (chunk[rows] & took_now[rows])
            whole[rows[goes]] = s + 1
            part = rows[~goes]
            taken[part] += 1
            took_now[part] = True
            rows = part
    rungs = np.arange(lad.mark.shape[1])
    done = rungs[None, :] < taken[:, None]
    loss = np.where(done, lad.loss, 0.0).sum(axis=1)
    held = 1.0 - np.where(done, lad.removed_qty_frac, 0.0).sum(axis=1)
    last = np.maximum(taken - 1, 0)
    margin_left = np.where(taken > 0, lad.margin_after[np.arange(n), last], batch.margin)
    cut = (taken > 0) & (whole == 0)
    rest = batch
    if cut.any():
        rest = batch.replace(size=np.where(cut, batch.size * held, batch.size),
                             contracts=np.where(cut, batch.contracts * held, batch.contracts),
                             margin=np.where(cut, margin_left, batch.margin))
    return _Walk(whole_step=whole, taken=taken, loss=loss, rest=rest)


# -- outcomes -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IsolatedOutcome:
    """The scenario under isolated margin, as held. Per row (position) and per account.

    Money in the settlement currency; ``shocked_mark`` and ``liquidation_price`` in quote per coin
    (the liquidation price after the edits); ``margin_ratio`` as the engine shows it (NaN once the
    balance is ≤ 0); ``liquidated_step`` 1-based, 0 = survives. ``partial_liquidations``: the rungs
    of the venue's ladder taken (parts removed, the rest left open); ``ladder_loss``: the loss they
    realized. For a rest that survives them, ``unrealized_pnl``, ``margin_balance``,
    ``margin_ratio`` and ``liquidation_price`` are the rest's at the last step.

    After the scenario, for the survivors (NaN for a position liquidated whole, and where the book has
    no volatility or no funding quote; module docstring): ``sigma_distance`` (distance to liquidation
    in daily standard deviations), ``liq_prob_1h`` / ``liq_prob_24h`` (probabilities 0…1 of touching
    the liquidation price within 1 h / 24 h from the last step's mark), ``next_funding_amount`` (the
    next funding payment at that mark, settlement currency, − paid / + received) and
    ``liq_drift_pct_day`` (% of the mark per day, + towards the mark).
    """

    shocked_mark: np.ndarray
    margin: np.ndarray
    leverage: np.ndarray
    unrealized_pnl: np.ndarray
    margin_balance: np.ndarray
    margin_ratio: np.ndarray
    liquidation_price: np.ndarray
    liquidated: np.ndarray
    liquidated_step: np.ndarray
    loss: np.ndarray
    margin_needed: np.ndarray
    partial_liquidations: np.ndarray
    ladder_loss: np.ndarray
    sigma_distance: np.ndarray
    liq_prob_1h: np.ndarray
    liq_prob_24h: np.ndarray
    next_funding_amount: np.ndarray
    liq_drift_pct_day: np.ndarray
    # per account
    free: np.ndarray
    overdrawn: np.ndarray
    positions_lost: np.ndarray
    account_loss: np.ndarray
    equity_after: np.ndarray
    account_margin_needed: np.ndarray


@dataclass(frozen=True, slots=True)
class CrossOutcome:
    """The same scenario as if every account were cross margin (one pool per venue account).

    Per account, settlement currency: ``pool`` (free + isolated margins), ``margin_balance`` and
    ``requirement`` at the liquidation step (or the last step), ``liquidated`` / ``liquidated_step``
    (1-based, 0 = survives), ``loss``, ``equity_after``, ``pool_needed`` (the smallest pool that
    survives every step; 0 = any).
    """

    pool: np.ndarray
    margin_balance: np.ndarray
    requirement: np.ndarray
    liquidated: np.ndarray
    liquidated_step: np.ndarray
    loss: np.ndarray
    equity_after: np.ndarray
    pool_needed: np.ndarray
    open_positions: np.ndarray


@dataclass(frozen=True, slots=True)
class Outcome:
    """:func:`evaluate`'s answer: the prices, both margin modes, and the accounts' equity now.

    ``prices``: shocked price per market and step (S, markets); ``equity_now`` per account: free +
    margins + uPnL at the current marks (before edits and moves), settlement currency.
    """

    book: ScenarioBook
    scenario: Scenario
    prices: np.ndarray
    equity_now: np.ndarray
    isolated: IsolatedOutcome
    cross: CrossOutcome
    rescue: Any = None
    """A :class:`isodesk.margin.topup.Rescue` when top-ups were asked for
    (:func:`isodesk.margin.topup.with_top_ups`), else None; ``rescue_options`` says which."""
    rescue_options: tuple[bool, str | None] = (False, None)
    """``(auto_add, policy text)`` of :attr:`rescue`."""

    @property
    def steps(self) -> int:
        """Number of states evaluated (1 for a single jump)."""
        return int(self.prices.shape[0])

    def odds_above(self, threshold_pct: float) -> int:
        """How many positions survive the scenario with a 24 h probability of liquidation above
        ``threshold_pct`` (percent, e.g. 20) from the marks it ends at; unknown odds do not count."""
        p = self.isolated.liq_prob_24h
        return int((np.isfinite(p) & (p * 100.0 > threshold_pct)).sum())

    def totals(self, values: np.ndarray) -> dict[str, float]:
        """Per-account ``values`` summed per settlement currency (the only sums that mean anything)."""
        out: dict[str, float] = {}
        for currency, v in zip(self.book.currencies, values, strict=True):
            out[currency] = out.get(currency, 0.0) + float(v)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-ready data (NaN → None). Top-level money totals are objects keyed by
        settlement currency, since accounts count collateral in different currencies."""
        book, iso, cross = self.book, self.isolated, self.cross

        def f(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        positions = []
        for r in range(len(book)):
            a, m = int(book.account_index[r]), int(book.market_index[r])
            positions.append({
                "id": int(book.position_ids[r]), "label": book.labels[r], "account": book.accounts[a],
                "currency": book.currencies[a], "market": book.markets[m], "mark": f(book.marks[m]),
                "shocked_mark": f(iso.shocked_mark[r]), "move_pct": f((iso.shocked_mark[r] / book.marks[m] - 1) * 100),
                "isolated_margin": f(iso.margin[r]), "leverage": f(iso.leverage[r]),
                "unrealized_pnl": f(iso.unrealized_pnl[r]), "margin_balance": f(iso.margin_balance[r]),
                "margin_ratio": f(iso.margin_ratio[r]), "liquidation_price": f(iso.liquidation_price[r]),
                "liquidated": bool(iso.liquidated[r]), "liquidated_step": int(iso.liquidated_step[r]) or None,
                "loss": f(iso.loss[r]), "margin_needed": f(iso.margin_needed[r]),
                "partial_liquidations": int(iso.partial_liquidations[r]), "ladder_loss": f(iso.ladder_loss[r]),
                "sigma_distance": f(iso.sigma_distance[r]), "liq_prob_1h": f(iso.liq_prob_1h[r]),
                "liq_prob_24h": f(iso.liq_prob_24h[r]), "next_funding_amount": f(iso.next_funding_amount[r]),
                "liq_drift_pct_day": f(iso.liq_drift_pct_day[r]),
            })
            if self.rescue is not None:
                positions[-1].update({"saved_by_top_ups": bool(self.rescue.saved[r]),
                                      "lost_with_top_ups": bool(self.rescue.lost_with[r]),
                                      "auto_add": f(self.rescue.auto_add[r]),
                                      "policy_add": f(self.rescue.policy_add[r])})
        iso_accounts, cross_accounts = [], []
        for a, name in enumerate(book.accounts):
            common = {"name": name, "currency": book.currencies[a], "equity_now": f(self.equity_now[a])}
            iso_accounts.append({**common, "free_balance": f(iso.free[a]), "overdrawn": bool(iso.overdrawn[a]),
                                 "positions_lost": int(iso.positions_lost[a]), "total_loss": f(iso.account_loss[a]),
                                 "equity_after": f(iso.equity_after[a]),
                                 "margin_needed": f(iso.account_margin_needed[a])})
            cross_accounts.append({**common, "pool": f(cross.pool[a]), "margin_balance": f(cross.margin_balance[a]),
                                   "requirement": f(cross.requirement[a]), "liquidated": bool(cross.liquidated[a]),
                                   "liquidated_step": int(cross.liquidated_step[a]) or None,
                                   "positions_lost": int(cross.open_positions[a]) if cross.liquidated[a] else 0,
                                   "total_loss": f(cross.loss[a]), "equity_after": f(cross.equity_after[a]),
                                   "pool_needed": f(cross.pool_needed[a])})
        out: dict[str, Any] = {
            "steps": self.steps,
            "prices": [{m: f(p) for m, p in zip(book.markets, row, strict=True)} for row in self.prices],
            "isolated": {"positions": positions, "accounts": iso_accounts,
                         "total_loss": self.totals(iso.account_loss), "equity_after": self.totals(iso.equity_after),
                         "equity_now": self.totals(self.equity_now),
                         "margin_needed": self.totals(iso.account_margin_needed)},
            "cross": {"accounts": cross_accounts, "total_loss": self.totals(cross.loss),
                      "equity_after": self.totals(cross.equity_after), "equity_now": self.totals(self.equity_now),
                      "pool_needed": self.totals(cross.pool_needed)},
        }
        if self.rescue is not None:
            res = self.rescue
            out["top_ups"] = {"auto_add": self.rescue_options[0], "policy": self.rescue_options[1],
                              "saved": int(res.saved.sum()),
                              "lost_anyway": int((res.lost_with & res.lost_without).sum()),
                              "auto_add_spent": self.totals(res.auto_add_total),
                              "policy_spent": self.totals(res.policy_total),
                              "cap_bound": [book.accounts[a] for a in np.flatnonzero(res.cap_bound)]}
        return out


def evaluate(book: ScenarioBook, scenario: Scenario) -> Outcome:
    """Apply ``scenario`` to ``book`` and report the isolated and the cross outcome (see the module
    docstring for the modelling); :class:`ScenarioError` for a scenario the book cannot take."""
    prices = market_prices(book, scenario)                  # (S, M)
    batch, free = edited_batch(book, scenario)
    marks = prices[:, book.market_index]                    # (S, N)
    n_acc = len(book.accounts)
    notional, upnl, req = _state(batch, marks)
    margin = batch.margin
    idx = book.account_index

    # isolated: B = W + uPnL against R, each position alone
    crossed = margin + upnl <= req
    step = _first_step(crossed)
    last = marks[-1]
    assert book.procedure is not None
    walk = _ladder_walk(batch, book.procedure, marks, crossed, step)
    rest = walk.rest
    step = walk.whole_step
    liquidated = step > 0
    figures = mark_figures(rest, last, price_levels(rest))
    last_upnl = figures.unrealized_pnl
    loss = np.where(liquidated, margin, walk.loss + np.maximum(0.0, -last_upnl))
    needed_raw = (req - upnl).max(axis=0, initial=-np.inf)
    needed = np.where(needed_raw > 0, needed_raw + SAFETY * notional.max(axis=0, initial=0.0), 0.0)
    kept = np.where(liquidated, 0.0, rest.margin + last_upnl)
    after = _odds_and_funding(book, rest, last, figures.liquidation_price, liquidated)

    def per_account(values: np.ndarray) -> np.ndarray:
        return np.bincount(idx, weights=values, minlength=n_acc).astype(np.float64)

    now_upnl = batch.c1 * (batch.linear_size * book.marks[book.market_index]
                           + batch.inverse_size / book.marks[book.market_index] - batch.entry_notional)
    equity_now = book.free + per_account(book.batch.margin) + per_account(now_upnl)
    isolated = IsolatedOutcome(
        shocked_mark=_frozen(last), margin=_frozen(margin.copy()), leverage=_frozen(batch.leverage.copy()),
        unrealized_pnl=_frozen(np.array(last_upnl, copy=True)),
        margin_balance=_frozen(figures.margin_balance), margin_ratio=_frozen(figures.margin_ratio),
        liquidation_price=_frozen(figures.liquidation_price), liquidated=_frozen(liquidated),
        liquidated_step=_frozen(step), loss=_frozen(loss), margin_needed=_frozen(needed),
        partial_liquidations=_frozen(walk.taken), ladder_loss=_frozen(walk.loss),
        sigma_distance=after["sigma_distance"], liq_prob_1h=after["liq_prob_1h"], liq_prob_24h=after["liq_prob_24h"],
        next_funding_amount=after["next_funding_amount"], liq_drift_pct_day=after["liq_drift_pct_day"],
        free=_frozen(free), overdrawn=_frozen(free < 0), positions_lost=_frozen(np.bincount(
            idx, weights=liquidated, minlength=n_acc).astype(np.int64)),
        account_loss=_frozen(per_account(loss)), equity_after=_frozen(free + per_account(kept)),
        account_margin_needed=_frozen(per_account(needed)))

    # cross: one pool per account
    pool = book.free + per_account(book.batch.margin)       # edits move money inside the pool
    count = np.bincount(idx, minlength=n_acc)
    acc_upnl = _account_sum(upnl, idx, n_acc)               # (S, A)
    acc_req = _account_sum(req, idx, n_acc)
    acc_balance = pool + acc_upnl
    acc_crossed = (acc_balance <= acc_req) & (count > 0)
    acc_step = _first_step(acc_crossed)
    acc_liq = acc_step > 0
    at = np.where(acc_liq, acc_step - 1, len(prices) - 1)
    cols = np.arange(n_acc)
    gross = per_account(np.maximum(0.0, -upnl[-1]))
    acc_scale = _account_sum(notional, idx, n_acc).max(axis=0)
    pool_raw = (acc_req - acc_upnl).max(axis=0)
    cross = CrossOutcome(
        pool=_frozen(pool), margin_balance=_frozen(acc_balance[at, cols]), requirement=_frozen(acc_req[at, cols]),
        liquidated=_frozen(acc_liq), liquidated_step=_frozen(acc_step),
        loss=_frozen(np.where(acc_liq, pool, gross)),
        equity_after=_frozen(np.where(acc_liq, 0.0, acc_balance[-1])),
        pool_needed=_frozen(np.where((pool_raw > 0) & (count > 0), pool_raw + SAFETY * acc_scale, 0.0)),
        open_positions=_frozen(count))
    return Outcome(book=book, scenario=scenario, prices=_frozen(prices), equity_now=_frozen(equity_now),
                   isolated=isolated, cross=cross)


def _odds_and_funding(book: ScenarioBook, rest: PositionBatch, mark: np.ndarray, liquidation_price: np.ndarray,
                      gone: np.ndarray) -> dict[str, np.ndarray]:
    """The odds and funding figures of the survivors after the scenario (module docstring), per row:
    ``rest`` the positions left after the ladder, ``mark`` the last step's mark of each row (quote per
    coin), ``liquidation_price`` the rest's liquidation price, ``gone`` the rows liquidated whole (NaN).
    Each part is skipped (all NaN) when the book has no volatility, or no funding quote, at all."""
    n = len(rest)
    out = {k: np.full(n, np.nan) for k in ("sigma_distance", "liq_prob_1h", "liq_prob_24h",
                                           "next_funding_amount", "liq_drift_pct_day")}
    sigma, rate = book.sigma, book.funding_rate
    assert sigma is not None and rate is not None
    if np.isfinite(sigma).any():
        odds = book_odds(mark, liquidation_price, rest.side, sigma)
        out.update(sigma_distance=odds.sigma_distance, liq_prob_1h=odds.liq_prob_1h, liq_prob_24h=odds.liq_prob_24h)
    if np.isfinite(rate).any():
        assert book.funding_interval_s is not None and book.funding_settles is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            out["next_funding_amount"] = funding_flow(rest.side, position_value(rest, mark), rate)
            out["liq_drift_pct_day"] = liq_drift_pct_day(rest, mark, rate, book.funding_interval_s,
                                                         book.funding_settles, liquidation_price)
    for key, values in out.items():
        values = np.array(values, dtype=np.float64, copy=True)
        values[gone] = np.nan
        out[key] = _frozen(values)
    return out


# -- a grid of uniform shocks ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GridOutcome:
    """Equity versus a uniform shock, each shock a separate single jump.

    ``shocks``: percent, shape (S,). Per shock and account (S, A), settlement currency:
    ``isolated_equity``, ``isolated_loss``, ``isolated_lost`` (positions liquidated whole; a
    position its venue cuts in steps loses, at a shock between its rungs, what the rungs crossed
    realized and keeps the rest, as in :func:`evaluate`), ``cross_equity``, ``cross_loss``,
    ``cross_liquidated``. Per position: ``liquidation_shock``, the uniform shock (percent) at which
    it is first liquidated (whole, or its first partial step) under isolated margin (NaN: none above
    −100 %, or none at all), from the engine's liquidation price.
    """

    shocks: np.ndarray
    isolated_equity: np.ndarray
    isolated_loss: np.ndarray
    isolated_lost: np.ndarray
    cross_equity: np.ndarray
    cross_loss: np.ndarray
    cross_liquidated: np.ndarray
    liquidation_shock: np.ndarray


def uniform_grid(book: ScenarioBook, shocks: np.ndarray | Sequence[float],
                 betas: Mapping[str, float] | None = None, *, edits: Scenario | None = None) -> GridOutcome:
    """Every market moved by the same percent (times its beta when ``betas`` names it), for each
    value of ``shocks`` (percent, each > −100 after the beta); one vectorized pass per shock.
    ``edits``: a scenario whose margin and leverage edits apply first (its shocks are ignored)."""
    shocks = np.asarray(shocks, dtype=np.float64)
    beta = np.ones(len(book.markets))
    for name, b in (betas or {}).items():
        beta[book.market(name)] = float(b)
    moves = shocks[:, None] * beta[None, :]                   # (S, M) percent
    if not np.all(np.isfinite(moves) & (moves > -100)):
        raise ScenarioError("every shock × beta must be a finite percent above −100 %")
    batch, free = edited_batch(book, edits) if edits is not None else (book.batch, book.free)
    idx, n_acc = book.account_index, len(book.accounts)
    marks = (book.marks * (1.0 + moves / 100.0))[:, book.market_index]
    _, upnl, req = _state(batch, marks)
    margin = batch.margin
    crossed = margin + upnl <= req
    liquidated, kept, lost = crossed, np.where(crossed, 0.0, margin + upnl), np.where(crossed, margin, -upnl)
    assert book.procedure is not None
    stepped = crossed & (book.procedure != Procedure.AT_ONCE)[None, :]
    if stepped.any():  # each shock a jump of its own through the ladders it crosses (see evaluate)
        lad = ladder(batch, book.procedure)
        liquidated, kept, lost = liquidated.copy(), kept.copy(), lost.copy()
        for k in np.flatnonzero(stepped.any(axis=1)):
            walk = _ladder_walk(batch, book.procedure, marks[k:k + 1], crossed[k:k + 1], crossed[k].astype(np.intp),
                                lad)
            rest, m = walk.rest, marks[k]
            rest_upnl = rest.c1 * (rest.linear_size * m + rest.inverse_size / m - rest.entry_notional)
            whole = walk.whole_step > 0
            liquidated[k] = whole
            kept[k] = np.where(whole, 0.0, rest.margin + rest_upnl)
            lost[k] = np.where(whole, margin, walk.loss + np.maximum(0.0, -rest_upnl))
    iso_equity = free + _account_sum(kept, idx, n_acc)
    iso_loss = _account_sum(np.where(liquidated, margin, np.maximum(0.0, lost)), idx, n_acc)
    iso_lost = _account_sum(liquidated.astype(np.float64), idx, n_acc).astype(np.int64)
    pool = free + np.bincount(idx, weights=margin, minlength=n_acc)
    count = np.bincount(idx, minlength=n_acc)
    acc_upnl = _account_sum(upnl, idx, n_acc)
    cross_liq = (pool + acc_upnl <= _account_sum(req, idx, n_acc)) & (count > 0)
    gross = _account_sum(np.maximum(0.0, -upnl), idx, n_acc)
    liq = price_levels(batch).liquidation_price
    row_beta = beta[book.market_index]
    with np.errstate(invalid="ignore", divide="ignore"):
        liq_shock = (liq / book.marks[book.market_index] - 1.0) * 100.0 / row_beta
    liq_shock[~(np.isfinite(liq_shock) & (liq_shock * row_beta > -100))] = np.nan
    return GridOutcome(
        shocks=_frozen(shocks), isolated_equity=_frozen(iso_equity), isolated_loss=_frozen(iso_loss),
        isolated_lost=_frozen(iso_lost), cross_equity=_frozen(np.where(cross_liq, 0.0, pool + acc_upnl)),
        cross_loss=_frozen(np.where(cross_liq, pool, gross)), cross_liquidated=_frozen(cross_liq),
        liquidation_shock=_frozen(liq_shock))


# -- price paths (replayed files, the grid preset) -------------------------------------------------


class PricePoint(Protocol):
    """One price of a recorded path: Unix seconds, market name or venue symbol, quote per coin."""

    @property
    def ts(self) -> float: ...

    @property
    def symbol(self) -> str: ...

    @property
    def price(self) -> float: ...


@dataclass(frozen=True, slots=True)
class PricePath:
    """A path of market states to scrub: ``moves[k]`` is step ``k + 1``.

    ``times``: Unix seconds per step for a recorded path (empty for a preset); ``dropped``: the
    symbols of the file the book does not hold (ignored).
    """

    name: str
    moves: tuple[Move, ...]
    times: tuple[float, ...] = ()
    dropped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.moves)

    def scenario(self, step: int | None = None, *, betas: Mapping[str, float] | None = None,
                 margin_edits: Mapping[int, float] | None = None,
                 leverage_edits: Mapping[int, float] | None = None) -> Scenario:
        """The path up to ``step`` (1-based; default the whole path) as a :class:`Scenario` with the
        given edits: positions liquidated at any step up to ``step`` stay liquidated, the survivors
        are valued at ``step``. :class:`ScenarioError` for a step outside 1…len."""
        k = len(self.moves) if step is None else step
        if not 1 <= k <= len(self.moves):
            raise ScenarioError(f"{self.name}: step {k} is outside 1…{len(self.moves)}")
        return Scenario(betas=dict(betas or {}), margin_edits=dict(margin_edits or {}),
                        leverage_edits=dict(leverage_edits or {}), path=self.moves[:k])


def price_path(points: Iterable[PricePoint], book: ScenarioBook, name: str = "path") -> PricePath:
    """A recorded price path as scenario steps, one step per instant (``ts``) of ``points``.

    Each step moves every market the file has named so far by its **percent move from its first
    row in the file** (``Shock.pct``), carried forward between rows, so the path's shape applies to
    the book's current marks: a path recorded at other prices still means "BTC −30 % then half
    back". Symbols the book does not hold are dropped (listed in ``dropped``); markets the file does
    not name stay at their marks. :class:`ScenarioError` when none of the symbols is a market of
    the book.
    """
    first: dict[int, float] = {}
    current: dict[int, float] = {}
    dropped: dict[str, None] = {}
    resolved: dict[str, int | None] = {}
    moves: list[Move] = []
    times: list[float] = []
    ordered = sorted(points, key=lambda p: p.ts)
    i = 0
    while i < len(ordered):
        ts = ordered[i].ts
        while i < len(ordered) and ordered[i].ts == ts:
            point = ordered[i]
            i += 1
            if point.symbol not in resolved:
                try:
                    resolved[point.symbol] = book.market(point.symbol)
                except ScenarioError:
                    resolved[point.symbol] = None
            j = resolved[point.symbol]
            if j is None:
                dropped[point.symbol] = None
                continue
            first.setdefault(j, float(point.price))
            current[j] = float(point.price)
        if not current:
            continue
        moves.append(Move({book.markets[j]: Shock.pct((current[j] / first[j] - 1.0) * 100.0)
                           for j in sorted(current)}))
        times.append(float(ts))
    if not moves:
        raise ScenarioError(f"{name}: none of its symbols is a market of the book "
                            f"(book: {', '.join(book.markets) or 'none'})")
    return PricePath(name, tuple(moves), tuple(times), tuple(dropped))


def grid_path(reference: str, shocks: Sequence[float], name: str = "grid") -> PricePath:
    """Market shocks on ``reference`` (percent each, in order) as the steps of a path."""
    if not shocks:
        raise ScenarioError(f"{name}: a path needs at least one step")
    return PricePath(name, tuple(Move(market_shock=(reference, float(x))) for x in shocks))
