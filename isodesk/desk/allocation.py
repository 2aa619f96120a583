"""Allocate free collateral: the plan from the book (read only), and the one desk command that adds
every top-up of a plan in one transaction, all or nothing.

The plan is the pure core's (:mod:`isodesk.margin.allocate`) on the book as the scenarios see it
(:func:`isodesk.desk.whatif.scenario_book`: marks are the latest stored prices, else the entry
price), with the account's exact free balance. :class:`AllocateCollateral` carries the top-ups the
trader saw; the desk checks each (an open position of that account, an amount within the bounds)
and their sum against the free balance **at execution**, then moves each amount from the free
balance into the position's isolated margin (``add_margin`` ledger entries and journal ``add``
entries, as :class:`~isodesk.desk.commands.AddCollateral` does), all inside the desk's one
transaction: one refusal and nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from isodesk.desk.commands import CommandRejected, new_request_id
from isodesk.margin.allocate import AllocationError, Plan, allocate, holdings_of
from isodesk.margin.scenario import ScenarioError

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk
    from isodesk.desk.operations import Outcome
    from isodesk.margin.catalog import TierCatalog
    from isodesk.store import Store

MAX_TOP_UPS = 10_000


@dataclass(frozen=True, slots=True)
class AllocateCollateral:
    """Add ``top_ups`` — ``((position id, amount), …)``, exact amounts in the account's settlement
    currency — from ``account``'s free balance to its positions, in one transaction or not at all.
    A queued command's JSON (lists, amounts as text) is turned back into this form."""

    account: str
    top_ups: tuple[tuple[int, Decimal], ...]
    reason: str = "allocation"
    request_id: str = field(default_factory=new_request_id)

    def __post_init__(self) -> None:
        raw: Any = self.top_ups
        if isinstance(raw, (str, bytes)) or not hasattr(raw, "__iter__"):
            raise TypeError(f"top_ups: {raw!r} must be a list of [position id, amount]")
        pairs = []
        for item in raw:
            if not isinstance(item, (list, tuple)) or len(item) != 2:
                raise TypeError(f"top_ups: {item!r} is not [position id, amount]")
            pid, amount = item
            if isinstance(amount, str):
                try:
                    amount = Decimal(amount)
                except InvalidOperation:
                    raise TypeError(f"top_ups: {amount!r} is not a decimal amount") from None
            pairs.append((pid, amount))
        object.__setattr__(self, "top_ups", tuple(pairs))

    def as_json(self) -> dict[str, Any]:
        """The command's fields as JSON-ready data (amounts as exact text)."""
        return {"account": self.account, "top_ups": [[pid, str(a)] for pid, a in self.top_ups],
                "reason": self.reason, "request_id": self.request_id}


@dataclass(frozen=True, slots=True)
class PlanAllocation:
    """Read only: the plan for ``budget`` (exact, settlement currency) of ``account``'s free balance,
    goal ``distance`` or ``survive`` the saved scenario named ``scenario`` (payload: :class:`Plan`),
    computed by the desk on its book as ``isodesk allocate`` computes it (:func:`plan_from_store`)."""

    account: str
    budget: Decimal
    goal: str = "distance"
    scenario: str | None = None
    request_id: str = field(default_factory=new_request_id)


def plan_request(desk: Desk, cmd: PlanAllocation) -> tuple[str, Plan]:
    """Answer :class:`PlanAllocation` from the desk's store (reads only): a one-line message and the
    plan; :class:`CommandRejected` with the allocation's own sentence when there is none."""
    if not isinstance(cmd.budget, Decimal):
        raise CommandRejected(f"budget: {cmd.budget!r} must be an exact decimal")
    try:
        plan = plan_from_store(desk.store, cmd.budget, account=cmd.account, goal=cmd.goal,
                               scenario_name=cmd.scenario, catalog=desk.catalog)
    except AllocationError as exc:
        raise CommandRejected(str(exc)) from None
    return "; ".join(describe(plan)), plan


def command_of(plan: Plan, *, request_id: str | None = None) -> AllocateCollateral:
    """The command that applies ``plan`` (its positive top-ups)."""
    cmd = AllocateCollateral(account=plan.account, top_ups=plan.top_ups,
                             reason=f"allocation ({plan.goal}" + (f": {plan.scenario})" if plan.scenario else ")"))
    if request_id:
        cmd = AllocateCollateral(cmd.account, cmd.top_ups, cmd.reason, request_id)
    return cmd


def plan_from_store(store: Store, budget: Decimal, *, account: str | None, goal: str = "distance",
                    scenario_name: str | None = None, catalog: TierCatalog | None = None) -> Plan:
    """The plan for ``budget`` on the store's book (reads only). ``account`` may be left out when
    the book has one account; ``scenario_name`` names a saved scenario for the ``survive`` goal.
    :class:`AllocationError` with a one-line reason otherwise."""
    from isodesk.desk.scenario_jobs import scenario_from_dict
    from isodesk.desk.whatif import scenario_book

    accounts = store.accounts()
    if account is None:
        if len(accounts) != 1:
            names = ", ".join(a.name for a in accounts) or "none yet"
            raise AllocationError(f"account: name one with --account (accounts: {names})")
        record = accounts[0]
    else:
        found = store.account(account)
        if found is None:
            names = ", ".join(a.name for a in accounts) or "none yet"
            raise AllocationError(f"account: no account named {account!r} (accounts: {names})")
        record = found
    book = scenario_book(store, catalog)
    holdings = holdings_of(book, record.name, store.free_balance(record.id))
    if goal != "survive":
        return allocate(budget, holdings, goal)
    if not scenario_name:
        raise AllocationError("--goal survive: name a saved scenario (see the What-if workspace or `isodesk whatif`)")
    saved = _saved_scenario(store, scenario_name)
    try:
        scenario = scenario_from_dict(saved)
        return allocate(budget, holdings, "survive", scenario=scenario, scenario_name=scenario_name, book=book)
    except ScenarioError as exc:
        raise AllocationError(f"scenario {scenario_name!r}: {exc}") from None


def _saved_scenario(store: Store, name: str) -> Any:
    """The saved scenario ``name`` as stored (JSON data); :class:`AllocationError` listing the names."""
    doc = store.load_scenario(name)
    if doc is None:
        names = store.scenario_names()
        raise AllocationError(f"scenario: no saved scenario named {name!r} (saved: {', '.join(names) or 'none'})")
    return doc


def allocate_handler(desk: Desk, cmd: AllocateCollateral, ts: float) -> Outcome:
    """Run :class:`AllocateCollateral` inside the desk's transaction (module docstring)."""
    from isodesk.desk import rules
    from isodesk.desk.operations import Outcome, _journal, _reason
    from isodesk.store.ledger import free_ref, position_ref

    reason = _reason(cmd.reason)
    if not cmd.top_ups:
        raise CommandRejected("top_ups: the plan adds nothing")
    if len(cmd.top_ups) > MAX_TOP_UPS:
        raise CommandRejected(f"top_ups: {len(cmd.top_ups)} top-ups in one command; at most {MAX_TOP_UPS:,}")
    with desk.store.transaction():
        account = desk.store.account(cmd.account)
        if account is None:
            raise CommandRejected(f"account: no account named {cmd.account!r}")
        seen: set[int] = set()
        records = []
        for pid, amount in cmd.top_ups:
            if isinstance(pid, bool) or not isinstance(pid, int):
                raise CommandRejected(f"top_ups: {pid!r} is not a position id")
            if pid in seen:
                raise CommandRejected(f"top_ups: position {pid} appears twice")
            seen.add(pid)
            if not isinstance(amount, Decimal):
                raise CommandRejected(f"top_ups: {amount!r} must be an exact decimal amount")
            record = desk.store.position(pid)
            if record is None:
                raise CommandRejected(f"position: no position with id {pid}")
            label = record.label
            if record.account_id != account.id:
                raise CommandRejected(f"position {label!r} is not in {account.name}")
            if record.status != "open":
                raise CommandRejected(f"position {label!r} was {record.status}; it takes no collateral any more")
            problem = rules.amount_problem(amount, f"amount for {label}", account.currency)
            if problem:
                raise CommandRejected(problem)
            records.append((record, amount))
        total = sum((a for _, a in records), Decimal(0))
        free = desk.store.free_balance(account.id)
        problem = rules.add_problem(total, free, account.currency, account.name)
        if problem:
            raise CommandRejected(problem.replace("amount:", "total of the plan:", 1))
        entry = None
        for record, amount in records:
            entry = desk.store.transfer(amount, free_ref(account.id), position_ref(record.id), kind="add_margin",
                                        ts=ts, account_id=account.id, memo=reason, request_id=cmd.request_id)
            _journal(desk, record, kind="add", amount=amount, before=record.isolated_margin,
                     after=record.isolated_margin + amount, ledger_id=entry, ts=ts, reason=reason)
    return Outcome(f"allocated {rules.plain(total)} {account.currency} over {len(records)} "
                   f"position{'s' if len(records) != 1 else ''} of {account.name}", ledger_entry_id=entry,
                   book_changed=True)


def describe(plan: Plan) -> Sequence[str]:
    """The plan as lines of text (for messages and the CLI's header)."""
    lines = [f"{plan.account}: {plan.goal} plan for {plan.budget} {plan.currency}, spends {plan.total}"]
    if plan.scenario:
        lines.append(f"scenario {plan.scenario!r}: {plan.survivors_before} → {plan.survivors} of {len(plan.rows)} "
                     "positions survive")
    return lines
