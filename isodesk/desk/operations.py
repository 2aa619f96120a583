"""The money-moving commands, each validated against the book and executed in one transaction.

Amounts are exact ``Decimal`` in the account's settlement currency. Every check that can fail
raises :class:`CommandRejected` with a sentence the form shows verbatim, before anything is
written; the writes of one command share one ``store.transaction()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from isodesk.desk import rules
from isodesk.desk.allocation import AllocateCollateral, allocate_handler
from isodesk.desk.commands import (
    AcknowledgeAlerts,
    AddCollateral,
    ClosePosition,
    CloseReport,
    Command,
    CommandRejected,
    Deposit,
    ImportPositions,
    OpenPosition,
    RemoveCollateral,
    StoreTierTables,
    UndoAdjustment,
    Withdraw,
)
from isodesk.desk.increase import IncreasePosition, increase_handler
from isodesk.desk.rules import removable_limit
from isodesk.margin import PositionError, check, compute_one
from isodesk.margin.bounds import MAX_REASON, BoundsError, check_text
from isodesk.margin.catalog import UnknownSymbol
from isodesk.margin.venues import VENUES
from isodesk.store.ledger import EXTERNAL, free_ref, pnl_ref, position_ref
from isodesk.store.records import Account, PositionRecord

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk

MONEY_STEP = rules.MONEY_STEP
MAX_ACKNOWLEDGED = 100_000  # alert ids in one AcknowledgeAlerts (the dock keeps at most 5,000 rows)
__all__ = ["HANDLERS", "CloseFigures", "Outcome", "execute", "max_removable", "partial_close_figures", "realized_pnl",
           "removable_limit"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an accepted command did."""

    message: str
    ledger_entry_id: int | None = None
    position_id: int | None = None
    book_changed: bool = False
    payload: object = None


def execute(desk: Desk, command: Command, *, ts: float) -> Outcome:
    """Run one money command against the desk's store; raises :class:`CommandRejected`."""
    handler: Callable[[Desk, Any, float], Outcome] | None = HANDLERS.get(type(command))
    if handler is None:
        raise CommandRejected(f"unknown command {type(command).__name__}")
    return handler(desk, command, ts)


def _amount(value: object, field: str = "amount") -> Decimal:
    if not isinstance(value, Decimal):
        raise CommandRejected(f"{field}: {value!r} must be an exact decimal amount")
    _refuse(rules.amount_problem(value, field))
    return value


def _refuse(problem: str) -> None:
    if problem:
        raise CommandRejected(problem)


def _reason(text: str) -> str:
    try:
        return check_text(text, "reason", max_length=MAX_REASON, required=False)
    except BoundsError as exc:
        raise CommandRejected(str(exc)) from None


def decimal_of(value: float) -> Decimal:
    """A float from a data file as the Decimal it was written as (``1.0`` → ``1``, ``0.1`` → ``0.1``)."""
    return Decimal(int(value)) if float(value).is_integer() else Decimal(repr(float(value)))


def account_name(venue: str, currency: str) -> str:
    """The default name of a venue wallet, e.g. ``binance-usdm:USDT``."""
    return f"{venue}:{currency}"


def _resolve_account(desk: Desk, name: str | None) -> Account:
    accounts = desk.store.accounts()
    if name is None:
        if len(accounts) == 1:
            return accounts[0]
        names = ", ".join(a.name for a in accounts) or "none yet"
        raise CommandRejected(f"account: name one with --account (accounts: {names})")
    account = desk.store.account(name)
    if account is None:
        names = ", ".join(a.name for a in accounts) or "none yet"
        raise CommandRejected(f"account: no account named {name!r} (accounts: {names})")
    return account


JOURNAL_FIGURES = ("mark", "isolated_margin", "effective_leverage", "liquidation_price", "margin_ratio",
                   "distance_frac")


def figures(desk: Desk, record: PositionRecord, margin: Decimal, mark: float | None) -> dict[str, float | None]:
    """The journal's figures of ``record`` holding ``margin`` at ``mark`` (settlement currency, fractions)."""
    from isodesk.desk.book import engine_position

    if margin <= 0:
        return {"mark": mark, "isolated_margin": 0.0, "effective_leverage": None, "liquidation_price": None,
                "margin_ratio": None, "distance_frac": None}
    risk = compute_one(engine_position(record, desk.catalog, margin), mark)
    out = {name: getattr(risk, name) for name in JOURNAL_FIGURES if name != "isolated_margin"}
    out["isolated_margin"] = float(margin)
    return out


def _journal(desk: Desk, record: PositionRecord, *, kind: str, amount: Decimal, before: Decimal, after: Decimal,
             ledger_id: int | None, ts: float, reason: str = "", undoes: int | None = None) -> int:
    mark = desk.market_price(record.venue, record.symbol)
    return desk.store.add_journal(ts=ts, position_id=record.id, account_id=record.account_id, ledger_id=ledger_id,
                                  kind=kind, amount=amount, before=figures(desk, record, before, mark),
                                  after=figures(desk, record, after, mark), reason=reason, undoes=undoes)


def _open_position(desk: Desk, position_id: int) -> tuple[PositionRecord, int]:
    record = desk.store.position(position_id)
    if record is None:
        raise CommandRejected(f"position: no position with id {position_id}")
    if record.status != "open":
        raise CommandRejected(f"position {record.label!r} was {record.status}; it holds no collateral any more")
    row = desk.book.row_of(position_id)
    if row is None:
        raise CommandRejected(f"position {record.label!r} is not in the desk's book")
    return record, row


def _deposit(desk: Desk, cmd: Deposit, ts: float) -> Outcome:
    amount = _amount(cmd.amount)
    with desk.store.transaction():
        account = desk.store.account(cmd.account) if cmd.account else None
        if account is None and cmd.account is None and not (cmd.venue and cmd.currency):
            account = _resolve_account(desk, None)
        if account is None:
            venue, currency = cmd.venue, cmd.currency
            if (venue is None or currency is None) and cmd.account and ":" in cmd.account:
                venue, _, currency = cmd.account.partition(":")
            if venue not in VENUES or not currency:
                raise CommandRejected(f"account: {cmd.account!r} does not exist; to create it, name it "
                                      "VENUE:CURRENCY (e.g. binance-usdm:USDT) or give --venue and --currency")
            account = desk.store.create_account(cmd.account or account_name(venue, currency), venue,
                                                currency.upper(), ts=ts)
        entry = desk.store.transfer(amount, EXTERNAL, free_ref(account.id), kind="deposit", ts=ts,
                                    account_id=account.id, request_id=cmd.request_id)
    return Outcome(f"deposited {amount} {account.currency} into {account.name}", ledger_entry_id=entry)


def _withdraw(desk: Desk, cmd: Withdraw, ts: float) -> Outcome:
    amount = _amount(cmd.amount)
    with desk.store.transaction():
        account = _resolve_account(desk, cmd.account)
        free = desk.store.free_balance(account.id)
        _refuse(rules.withdraw_problem(amount, free, account.currency, account.name))
        entry = desk.store.transfer(amount, free_ref(account.id), EXTERNAL, kind="withdrawal", ts=ts,
                                    account_id=account.id, request_id=cmd.request_id)
    return Outcome(f"withdrew {amount} {account.currency} from {account.name}", ledger_entry_id=entry)


def _open(desk: Desk, cmd: OpenPosition, ts: float) -> Outcome:
    from isodesk.desk.book import engine_position

    if not cmd.label.strip():
        raise CommandRejected("label: give the position a name")
    if cmd.venue not in VENUES or cmd.venue == "custom":
        raise CommandRejected(f"venue: {cmd.venue!r} is not a venue with shipped tiers")
    for field in ("quantity", "entry_price", "leverage", "margin"):
        if not isinstance(getattr(cmd, field), Decimal):
            raise CommandRejected(f"{field}: {getattr(cmd, field)!r} must be an exact decimal")
    try:
        contract = cmd.contract or desk.catalog.contract_of(cmd.venue, cmd.symbol)
        desk.catalog.table(cmd.venue, contract, cmd.symbol)
    except UnknownSymbol as exc:
        raise CommandRejected(str(exc)) from None
    currency = desk.catalog.settlement(cmd.venue, contract, cmd.symbol)
    size = decimal_of(desk.catalog.contract_size(cmd.venue, contract, cmd.symbol))
    with desk.store.transaction():
        account = _resolve_account(desk, cmd.account or account_name(cmd.venue, currency))
        if account.venue != cmd.venue:
            raise CommandRejected(f"account: {account.name} is on {account.venue}, not {cmd.venue}")
        taken = (cmd.label.strip(),) if desk.store.position_by_label(cmd.label.strip()) is not None else ()
        _refuse(rules.open_problem(label=cmd.label, quantity=cmd.quantity, entry_price=cmd.entry_price,
                                   leverage=cmd.leverage, margin=cmd.margin, contract=contract, contract_size=size,
                                   currency=currency, free=desk.store.free_balance(account.id), account=account.name,
                                   taken_labels=taken))
        pid = desk.store.insert_position(
            label=cmd.label.strip(), account_id=account.id, venue=cmd.venue, symbol=cmd.symbol, contract=contract,
            side=cmd.side, quantity=cmd.quantity, contract_size=size if contract == "inverse" else None,
            entry_price=cmd.entry_price, leverage=cmd.leverage, ts=ts)
        record = desk.store.position(pid)
        assert record is not None
        try:
            position = check(engine_position(record, desk.catalog, cmd.margin))
        except PositionError as exc:
            raise CommandRejected("; ".join(f"{f}: {m}" for f, m in exc.problems)) from None
        mark = desk.market_price(cmd.venue, cmd.symbol)
        risk = compute_one(position, mark)
        if risk.distance_frac is not None and risk.distance_frac <= 0:
            raise CommandRejected(f"the position would be liquidated at once: mark {mark:,.8g} is past its "
                                  f"liquidation price {risk.liquidation_price:,.8g}")
        entry = desk.store.transfer(cmd.margin, free_ref(account.id), position_ref(pid), kind="open", ts=ts,
                                    account_id=account.id, request_id=cmd.request_id)
        _journal(desk, record, kind="open", amount=cmd.margin, before=Decimal(0), after=cmd.margin, ledger_id=entry,
                 ts=ts)
    return Outcome(f"opened {cmd.label}", ledger_entry_id=entry, position_id=pid, book_changed=True)


def realized_pnl(record: PositionRecord, price: Decimal, quantity: Decimal | None = None) -> Decimal:
    """Exact PnL of closing ``quantity`` of ``record`` (None: all of it) at ``price``, in the
    settlement currency (8 decimals): ``s·q·(P − E)`` linear, ``s·q·size·(1/E − 1/P)`` inverse."""
    sign = 1 if record.side == "long" else -1
    qty = record.quantity if quantity is None else quantity
    if record.contract == "inverse":
        face = qty * (record.contract_size or Decimal(1))
        pnl = sign * face * (1 / record.entry_price - 1 / price)
    else:
        pnl = sign * qty * (price - record.entry_price)
    return pnl.quantize(MONEY_STEP)


@dataclass(frozen=True, slots=True)
class CloseFigures:
    """The money of closing ``quantity`` of a position holding ``margin`` (exact, settlement currency):
    ``released`` (its share of the margin), ``pnl`` (the closed part's PnL, uncapped), ``booked``
    (the PnL the account realizes: a loss capped at ``released``), ``back`` (what reaches the free
    balance: ``released + booked``, never below 0) and ``remaining`` quantity."""

    quantity: Decimal
    released: Decimal
    pnl: Decimal
    booked: Decimal
    back: Decimal
    remaining: Decimal


def partial_close_figures(record: PositionRecord, margin: Decimal, price: Decimal,
                          quantity: Decimal | None = None) -> CloseFigures:
    """What closing ``quantity`` (None: all) of ``record``, which holds ``margin``, at ``price`` moves.

    The margin is released **pro rata** to the size closed: ``margin × quantity ÷ position
    quantity``, rounded down to 0.00000001 (the part that stays open keeps the rest, so nothing is
    lost to rounding); the whole margin when the whole position closes. This is how the venues
    release isolated margin on a reduce: Bybit help centre, "How to Increase/Decrease Position
    Margin" (USDT contracts, "Situation 3": "if the position is partially closed, the newly added
    margin will be reduced correspondingly according to the proportion of the position closed.
    The liquidation price remains unchanged after partial liquidation"), and Hyperliquid Docs,
    Trading → Margining ("margin is proportionally removed as the position is closed"); Binance
    publishes no formula for it and is treated the same. A pro-rata release keeps the remaining
    position's leverage and liquidation price where they were (its margin, notional and maintenance
    all shrink by the same fraction, tiers aside).

    The loss the account books is capped at the margin released (an isolated position never loses
    more than its own margin); a profit is booked whole.
    """
    qty = record.quantity if quantity is None else quantity
    whole = qty == record.quantity
    released = margin if whole else (margin * qty / record.quantity).quantize(MONEY_STEP, rounding=ROUND_DOWN)
    pnl = realized_pnl(record, price, qty)
    booked = max(pnl, -released)
    return CloseFigures(quantity=qty, released=released, pnl=pnl, booked=booked,
                        back=max(released + booked, Decimal(0)), remaining=record.quantity - qty)


def execution_price(desk: Desk, price: object, record: PositionRecord, row: int, *,
                    what: str = "close") -> tuple[Decimal, float | None]:
    """The price an order on ``record`` (a close, or a ``fill`` of added size) executes at, quote per
    coin: ``price`` when given (checked against a fresh mark by the desk's rule), else the desk's
    fresh mark; with that mark (None when stale or missing)."""
    fresh = desk.snapshot.book is desk.book.info and not desk.snapshot.stale[row]
    mark = float(desk.snapshot.cols["mark"][row]) if fresh else math.nan
    known = mark if math.isfinite(mark) else None
    if price is None:
        if known is None:
            raise CommandRejected(f"price: no fresh mark for {record.symbol}; give the {what} price")
        from isodesk.desk.desk import price_decimal

        return price_decimal(known), known
    if not isinstance(price, Decimal):
        raise CommandRejected(f"price: {price!r} must be an exact decimal")
    _refuse(rules.close_price_problem(price, known, what=f"a {what} price"))
    return price, known


def _close(desk: Desk, cmd: ClosePosition, ts: float) -> Outcome:
    record, row = _open_position(desk, cmd.position_id)
    if cmd.quantity is not None and not isinstance(cmd.quantity, Decimal):
        raise CommandRejected(f"quantity: {cmd.quantity!r} must be an exact decimal")
    _refuse(rules.close_quantity_problem(cmd.quantity, record.quantity, unit=_unit(record)))
    price, _ = execution_price(desk, cmd.price, record, row)
    account = record.account_id
    currency = desk.book.info.currencies[row]
    with desk.store.transaction():
        margin = desk.store.balance(position_ref(record.id))  # what it holds now, not what was read before
        close = partial_close_figures(record, margin, price, cmd.quantity)
        partial = close.remaining > 0
        loss = -close.booked if close.booked < 0 else Decimal(0)
        entry = None
        if loss > 0:
            entry = desk.store.transfer(loss, position_ref(record.id), pnl_ref(account), kind="close_loss", ts=ts,
                                        account_id=account, request_id=cmd.request_id)
        if close.released - loss > 0:
            entry = desk.store.transfer(close.released - loss, position_ref(record.id), free_ref(account),
                                        kind="close", ts=ts, account_id=account, request_id=cmd.request_id)
        if close.booked > 0:
            entry = desk.store.transfer(close.booked, pnl_ref(account), free_ref(account), kind="close_profit",
                                        ts=ts, account_id=account, request_id=cmd.request_id)
        if partial:
            desk.store.update_position_terms(record.id, quantity=close.remaining)
        else:
            desk.store.set_position_status(record.id, "closed", ts=ts, close_price=price)
        after = replace(record, quantity=close.remaining) if partial else record
        mark = desk.market_price(record.venue, record.symbol)
        unit = f" {_unit(record)}" if _unit(record) else ""
        what = (f"{rules.plain(close.quantity)} of {rules.plain(record.quantity)}{unit}" if partial
                else f"all {rules.plain(record.quantity)}{unit}")
        desk.store.add_journal(
            ts=ts, position_id=record.id, account_id=account, ledger_id=entry, kind="close", amount=close.released,
            before=figures(desk, record, margin, mark),
            after=figures(desk, after, margin - close.released, mark),
            reason=f"closed {what} at {rules.plain(price)}",
            realized_pnl=close.booked, closed_quantity=close.quantity)
    report = CloseReport(position_id=record.id, label=record.label, quantity=close.quantity, price=price,
                         realized_pnl=close.booked, margin_released=close.released, remaining=close.remaining,
                         currency=currency)
    return Outcome(_close_message(record, close, price, currency), ledger_entry_id=entry, position_id=record.id,
                   book_changed=True, payload=report)


def _unit(record: PositionRecord) -> str:
    """The unit of a position's quantity in a sentence: ``contracts`` for inverse, "" for linear."""
    return "contracts" if record.contract == "inverse" else ""


def _close_message(record: PositionRecord, close: CloseFigures, price: Decimal, currency: str) -> str:
    """The desk's answer to a close: what was closed, at what price, the PnL realized (and the cap)."""
    realized = f"realized {rules.signed_plain(close.booked)} {currency}"
    if close.booked != close.pnl:
        realized += (f" (a loss of {rules.plain(-close.pnl)} capped at the {rules.plain(close.released)} "
                     "margin released)")
    if close.remaining > 0:
        unit = f" {_unit(record)}" if _unit(record) else ""
        return (f"closed {rules.plain(close.quantity)}{unit} of {record.label} at {rules.plain(price)}: {realized}; "
                f"{rules.plain(close.remaining)}{unit} stay open")
    return f"closed {record.label} at {rules.plain(price)}: {realized}"


def _add(desk: Desk, cmd: AddCollateral, ts: float) -> Outcome:
    amount = _amount(cmd.amount)
    reason = _reason(cmd.reason)
    with desk.store.transaction():
        record, _ = _open_position(desk, cmd.position_id)
        free = desk.store.free_balance(record.account_id)
        account = desk.store.account_by_id(record.account_id)
        assert account is not None
        _refuse(rules.add_problem(amount, free, account.currency, account.name))
        entry = desk.store.transfer(amount, free_ref(record.account_id), position_ref(record.id), kind="add_margin",
                                    ts=ts, account_id=record.account_id, memo=reason, request_id=cmd.request_id)
        _journal(desk, record, kind="add", amount=amount, before=record.isolated_margin,
                 after=record.isolated_margin + amount, ledger_id=entry, ts=ts, reason=reason)
    return Outcome(f"added {amount} to {record.label}", ledger_entry_id=entry, position_id=record.id,
                   book_changed=True)


def max_removable(desk: Desk, row: int) -> float:
    """Collateral removable from the row's position now, by :func:`removable_limit` on the desk's snapshot.

    NaN when the snapshot is not of the current book, or there is no fresh mark.
    """
    snap = desk.snapshot
    if snap.book is not desk.book.info:
        return math.nan
    return removable_limit(snap, row)


def _remove(desk: Desk, cmd: RemoveCollateral, ts: float) -> Outcome:
    amount = _amount(cmd.amount)
    reason = _reason(cmd.reason)
    with desk.store.transaction():
        record, row = _open_position(desk, cmd.position_id)
        account = desk.store.account_by_id(record.account_id)
        assert account is not None
        _refuse(rules.remove_problem(amount, max_removable(desk, row), margin=record.isolated_margin,
                                     label=record.label, symbol=record.symbol, currency=account.currency,
                                     strict_isolated=desk.catalog.strict_isolated(record.venue, record.symbol)))
        entry = desk.store.transfer(amount, position_ref(record.id), free_ref(record.account_id),
                                    kind="remove_margin", ts=ts, account_id=record.account_id, memo=reason,
                                    request_id=cmd.request_id, expected_source_balance=desk.book.margins[row])
        _journal(desk, record, kind="remove", amount=amount, before=record.isolated_margin,
                 after=record.isolated_margin - amount, ledger_id=entry, ts=ts, reason=reason)
    return Outcome(f"removed {amount} from {record.label}", ledger_entry_id=entry, position_id=record.id,
                   book_changed=True)


def _undo(desk: Desk, cmd: UndoAdjustment, ts: float) -> Outcome:
    with desk.store.transaction():
        record = desk.store.position(cmd.position_id)
        if record is None:
            raise CommandRejected(f"position: no position with id {cmd.position_id}")
        entries = desk.store.journal(position_id=record.id)
        undone = {e.undoes for e in entries if e.undoes is not None}
        last = next((e for e in reversed(entries) if e.kind in ("add", "remove") and e.id not in undone), None)
        if record.status != "open":
            raise CommandRejected(f"position {record.label!r} was {record.status} since; its adjustments cannot be "
                                  "undone")
        if last is None or last.ledger_id is None:
            raise CommandRejected(f"position {record.label!r} has no collateral adjustment to undo")
        amount = last.amount
        if last.kind == "add":
            row = desk.book.row_of(record.id)
            limit = max_removable(desk, row) if row is not None else math.nan
            if not (math.isfinite(limit) and float(amount) <= limit * (1 + 1e-12)):
                raise CommandRejected(f"undo: taking the {amount} back out is more than the venue lets you remove "
                                      f"from {record.label} now ({limit:,.8f})")
            source, dest, after = position_ref(record.id), free_ref(record.account_id), record.isolated_margin - amount
        else:
            free = desk.store.free_balance(record.account_id)
            if amount > free:
                raise CommandRejected(f"undo: putting {amount} back needs more than the free balance {free}")
            source, dest, after = free_ref(record.account_id), position_ref(record.id), record.isolated_margin + amount
        entry = desk.store.transfer(amount, source, dest, kind="undo", ts=ts, account_id=record.account_id,
                                    memo=cmd.reason or f"undo of journal entry {last.id}", request_id=cmd.request_id,
                                    reverses=last.ledger_id)
        _journal(desk, record, kind="undo", amount=amount, before=record.isolated_margin, after=after,
                 ledger_id=entry, ts=ts, reason=cmd.reason or f"undo of the {last.kind} of {amount}", undoes=last.id)
    return Outcome(f"undid the {last.kind} of {amount} on {record.label}", ledger_entry_id=entry,
                   position_id=record.id, book_changed=True)


def _import(desk: Desk, cmd: ImportPositions, ts: float) -> Outcome:
    from pathlib import Path

    from isodesk.desk.importing import import_book_file
    from isodesk.store.portfolio_io import ImportProblems

    path = Path(cmd.path)
    if not path.is_file():
        raise CommandRejected(f"{path}: no such file")
    try:
        ids = import_book_file(desk.store, path, desk.catalog, ts=ts)
    except ImportProblems as exc:
        raise CommandRejected(f"{path}: nothing imported; fix these and try again:\n"
                              + "\n".join(f"  {p}" for p in exc.problems)) from None
    except OSError as exc:
        raise CommandRejected(f"{path}: cannot read it: {exc.strerror or exc}") from None
    return Outcome(f"imported {len(ids)} position{'s' if len(ids) != 1 else ''} from {path}", book_changed=True)


def _store_tiers(desk: Desk, cmd: StoreTierTables, ts: float) -> Outcome:
    from isodesk.desk.tier_updates import store_tier_tables

    return store_tier_tables(desk, cmd, ts)


def _acknowledge_alerts(desk: Desk, cmd: AcknowledgeAlerts, ts: float) -> Outcome:
    """Acknowledge every alert of the command in the caller's one transaction, or none."""
    ids = cmd.alert_ids
    if not ids:
        raise CommandRejected("alert_ids: no alert to acknowledge")
    if len(ids) > MAX_ACKNOWLEDGED:
        raise CommandRejected(f"alert_ids: {len(ids)} alerts in one command; at most {MAX_ACKNOWLEDGED:,}")
    bad = next((i for i in ids if isinstance(i, bool) or not isinstance(i, int) or i < 1), None)
    if bad is not None:
        raise CommandRejected(f"alert_ids: {bad!r} is not an alert id")
    newly = desk.store.acknowledge_alerts(ids)  # StoreError naming missing ids: the desk refuses the whole
    unique = len(set(ids))
    return Outcome(f"acknowledged {unique} alert{'s' if unique != 1 else ''}"
                   + (f" ({unique - newly} already were)" if newly < unique else ""))


HANDLERS: dict[type, Callable[[Desk, Any, float], Outcome]] = {
    Deposit: _deposit, Withdraw: _withdraw, OpenPosition: _open, ClosePosition: _close,
            AddCollateral: _add, RemoveCollateral: _remove, UndoAdjustment: _undo, ImportPositions: _import,
            StoreTierTables: _store_tiers, AcknowledgeAlerts: _acknowledge_alerts,
            AllocateCollateral: allocate_handler, IncreasePosition: increase_handler}
