"""Top-ups on the step desk: the trader's policy and the venues' auto-add, applied between instants.

A replay with top-ups runs on the tick-by-tick desk (``desk.step()``): the fast replay assumes the
book does not change between the instants it plays, and a top-up changes it. :class:`TopUpRunner`
wraps the replay's feed (:class:`BeforeTicks`): when the feed hands the desk the ticks of the next
instant, and before the desk takes them (and could liquidate on them), the runner marks the book
at those ticks the way the desk will (a copy of the desk's mark board: each position's own venue's
series or the reference, the step's worst tick: lowest for a long, highest for a short), then

1. the policy (:class:`~isodesk.margin.topup.TopUpPolicy`): positions whose distance there is
   below its trigger get what brings them back to its target, within the day's cap, the reserve
   and the free balance (:class:`~isodesk.margin.topup.PolicyBudget`; the day is the instant's
   UTC day);
2. the venue's auto-add, for positions flagged by their latest venue report
   (``venue_reports.auto_add_margin``) that would still cross their liquidation price
   (:func:`~isodesk.margin.topup.venue_auto_add`).

Each is sent to the desk as one :class:`~isodesk.desk.allocation.AllocateCollateral` per account
(free balance → isolated margin, double-entry ledger entries, all or nothing), so the ledger keeps
summing to zero and the desk's own rules check every amount. The desk then takes the ticks and
liquidates what is still crossing. Only positions whose marking series ticked in the instant are
considered (only those can be liquidated by it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from isodesk.desk.allocation import AllocateCollateral
from isodesk.feeds.base import Tick
from isodesk.margin.allocate import UNITS, subset
from isodesk.margin.topup import PolicyBudget, TopUpPolicy, day_of, from_units, policy_needs, to_units, venue_auto_add

if TYPE_CHECKING:
    from isodesk.desk.book import LoadedBook
    from isodesk.desk.desk import Desk


class BeforeTicks:
    """A feed that calls ``hook(ticks)`` with each non-empty batch of ticks it polls, before handing
    them on; every other attribute is the wrapped feed's."""

    def __init__(self, inner: Any, hook: Callable[[list[Tick]], None]):
        self._inner = inner
        self._hook = hook

    def poll(self, now: float) -> list[Tick]:
        """The wrapped feed's ticks, after the hook has seen them."""
        ticks: list[Tick] = self._inner.poll(now)
        if ticks:
            self._hook(ticks)
        return ticks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass(frozen=True, slots=True)
class TopUpEvent:
    """One top-up sent to the desk: ``source`` ``policy`` or ``auto_add``, at the instant ``ts``
    (Unix s), ``amount`` exact in the account's settlement ``currency``."""

    ts: float
    source: str
    position_id: int
    label: str
    account: str
    currency: str
    amount: Decimal

    def as_json(self) -> dict[str, Any]:
        """The event as a JSON line's data (amount as exact text)."""
        return {"event": "top_up", "ts": self.ts, "source": self.source, "position_id": self.position_id,
                "label": self.label, "account": self.account, "currency": self.currency, "amount": str(self.amount)}


@dataclass
class TopUpRunner:
    """Applies ``policy`` and (with ``auto_add``) the venues' auto-add on ``desk`` before each instant.

    ``events``: every top-up sent, in order (drained by the caller); ``spent``: per source
    (``policy``/``auto_add``) and account name, the exact total; ``refused``: the desk's refusals
    (none expected: the amounts are within the free balance read just before)."""

    policy: TopUpPolicy | None
    auto_add: bool
    desk: Desk | None = None
    budget: PolicyBudget | None = None
    events: list[TopUpEvent] = field(default_factory=list)
    spent: dict[str, dict[str, Decimal]] = field(default_factory=lambda: {"policy": {}, "auto_add": {}})
    per_position: dict[int, dict[str, Decimal]] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.policy is not None and self.budget is None:
            self.budget = PolicyBudget(self.policy)

    def wrap(self, feed: Any) -> BeforeTicks:
        """``feed`` with this runner called before each instant's ticks reach the desk."""
        return BeforeTicks(feed, self.before)

    def cap_days(self) -> list[tuple[str, int]]:
        """``(account name, UTC day)`` of each day the policy's daily cap stopped a top-up, sorted."""
        if self.budget is None or self.desk is None:
            return []
        names = {a.id: a.name for a in self.desk.store.accounts()}
        return sorted((names.get(a, str(a)), day) for a, day in self.budget.cap_days)

    def before(self, ticks: Sequence[Tick]) -> None:
        """Top up, on the desk, the positions the instant of ``ticks`` would bring to the policy's
        trigger or the venue's (module docstring)."""
        desk = self.desk
        if desk is None or not len(desk.book):
            return
        book = desk.book
        board = desk.board_copy()  # the desk's own marking rule, on a copy
        board.begin_step()
        board.take_ticks(ticks)
        rows = board.rows(book)
        long = book.batch.side > 0
        worst = np.where(long, rows.low, rows.high)
        marks = np.where(np.isfinite(worst), worst, rows.mark)
        live = np.flatnonzero(book.open_rows & rows.ticked & np.isfinite(marks) & (marks > 0))
        if not live.size:
            return
        accounts = {a.id: a for a in desk.store.accounts()}
        account_ids = np.array([book.records[r].account_id for r in live], dtype=np.int64)
        batch = subset(book.batch, live)
        at = marks[live]
        free = {int(a): to_units(desk.store.free_balance(int(a))) for a in set(account_ids.tolist())}
        ts = max(t.ts for t in ticks)
        if self.policy is not None and self.budget is not None:
            wanted = self.policy.currency
            applies = np.array([wanted is None or accounts[int(a)].currency.upper() == wanted for a in account_ids],
                               dtype=bool)
            needs, distance = policy_needs(batch, at, self.policy, applies)
            if needs.any():
                given = self.budget.pay(needs, distance, account_ids, day_of(ts), free)
                self._send(desk, book, "policy", given, live, account_ids, accounts, ts)
                batch = batch.replace(margin=batch.margin + given / UNITS)
        if self.auto_add:
            flags = np.array([book.info.auto_add_margin[r] is True if r < len(book.info.auto_add_margin) else False
                              for r in live], dtype=bool)
            if flags.any():
                given = venue_auto_add(batch, at, flags, account_ids, free)
                self._send(desk, book, "auto_add", given, live, account_ids, accounts, ts)

    def _send(self, desk: Desk, book: LoadedBook, source: str, given: np.ndarray, rows: np.ndarray,
              account_ids: np.ndarray, accounts: dict[int, Any], ts: float) -> None:
        """One :class:`AllocateCollateral` per account for the units ``given`` per row of ``rows`` of
        ``book`` (the book as it was read before the first top-up of the instant)."""
        reason = "top-up policy (replay)" if source == "policy" else "venue auto-add margin (replay)"
        for account_id in sorted({int(a) for a in account_ids[given > 0]}):
            picks = [(i, int(given[i])) for i in np.flatnonzero((account_ids == account_id) & (given > 0))]
            pairs = [(int(book.info.position_ids[rows[i]]), from_units(units)) for i, units in picks]
            account = accounts[account_id]
            result = desk.apply(AllocateCollateral(account=account.name, top_ups=tuple(pairs), reason=reason))
            if not result.accepted:
                self.refused.append(f"{source} for {account.name}: {result.reason}")
                continue
            totals = self.spent[source]
            for (pid, amount), (i, _units) in zip(pairs, picks, strict=True):
                label = book.info.labels[rows[i]]
                totals[account.name] = totals.get(account.name, Decimal(0)) + amount
                mine = self.per_position.setdefault(pid, {})
                mine[source] = mine.get(source, Decimal(0)) + amount
                self.events.append(TopUpEvent(ts=ts, source=source, position_id=pid, label=label,
                                              account=account.name, currency=account.currency, amount=amount))

    def drain(self) -> list[TopUpEvent]:
        """The top-ups sent since the last call."""
        out, self.events = self.events, []
        return out


__all__ = ["BeforeTicks", "TopUpEvent", "TopUpRunner"]
