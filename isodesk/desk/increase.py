"""Add size to an open isolated position: the exact new entry price, the margin the added part
brings, and the desk command that does it in one transaction.

The venues average the entry price of a position that grows (Bybit help centre, "How to Calculate
Average Entry Price", article 000001113, 2024-11-27):

- linear (USDT/USDC) contracts: ``total contract value ÷ total quantity``, the value being
  ``Σ quantityᵢ × priceᵢ`` (the quantity-weighted mean of the fill prices);
- inverse contracts: ``total quantity of contracts ÷ total contract value``, the value being
  ``Σ contractsᵢ ÷ priceᵢ`` in coin (the harmonic mean; the contract size cancels).

The added part is margined like a new position at the position's leverage: its initial margin,
notional ÷ leverage, moves from the account's free balance into the isolated margin (the trader may
add more, never less), so the position's leverage is unchanged. The isolated margin already held
stays: the old part's unrealized PnL is carried by the averaged entry price (``Σ qᵢ(P − Eᵢ) =
Q(P − Ē)``). A size that moves the position onto a higher maintenance tier is not refused; the form
shows the tier-cliff warning (:func:`isodesk.desk.rules.tier_cliff_warning`) before it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from isodesk.desk import rules
from isodesk.desk.commands import CommandRejected, IncreasePosition
from isodesk.margin import PositionError, check, compute_one
from isodesk.margin.bounds import PRICE_DECIMALS
from isodesk.store.ledger import free_ref, position_ref
from isodesk.store.records import PositionRecord

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk
    from isodesk.desk.operations import Outcome

PRICE_STEP = Decimal(1).scaleb(-PRICE_DECIMALS)
__all__ = ["IncreaseFigures", "IncreasePosition", "increase_figures", "increase_handler"]


@dataclass(frozen=True, slots=True)
class IncreaseFigures:
    """What adding ``added`` at ``price`` makes of a position: its ``quantity`` and averaged
    ``entry_price`` after (exact, the entry rounded half-even to 12 decimals), and the added part's
    ``initial_margin`` (settlement currency, 8 decimals)."""

    added: Decimal
    price: Decimal
    quantity: Decimal
    entry_price: Decimal
    initial_margin: Decimal


def increase_figures(record: PositionRecord, quantity: Decimal, price: Decimal) -> IncreaseFigures:
    """The size, averaged entry price (quote per coin) and added initial margin (settlement currency)
    of ``record`` once ``quantity`` more is filled at ``price`` (see the module docstring)."""
    total = record.quantity + quantity
    if record.contract == "inverse":
        entry = total / (record.quantity / record.entry_price + quantity / price)
    else:
        entry = (record.quantity * record.entry_price + quantity * price) / total
    size = record.contract_size if record.contract_size is not None else Decimal(1)
    initial = rules.initial_margin(quantity, price, record.leverage, contract=record.contract, contract_size=size)
    return IncreaseFigures(added=quantity, price=price, quantity=total,
                           entry_price=entry.quantize(PRICE_STEP, rounding=ROUND_HALF_EVEN), initial_margin=initial)


def increase_handler(desk: Desk, cmd: IncreasePosition, ts: float) -> Outcome:
    """Execute :class:`IncreasePosition`: checks, then one transaction moving the margin and changing
    the position's size and entry price, with its ledger (``increase``) and journal entries."""
    from isodesk.desk.book import engine_position
    from isodesk.desk.operations import Outcome, _open_position, execution_price, figures

    record, row = _open_position(desk, cmd.position_id)
    for name in ("quantity", "margin"):
        value = getattr(cmd, name)
        if value is not None and not isinstance(value, Decimal):
            raise CommandRejected(f"{name}: {value!r} must be an exact decimal")
    unit = "contracts" if record.contract == "inverse" else ""
    price, mark = execution_price(desk, cmd.price, record, row, what="fill")
    currency = desk.book.info.currencies[row]
    with desk.store.transaction():
        account = desk.store.account_by_id(record.account_id)
        name = account.name if account is not None else str(record.account_id)
        size = record.contract_size if record.contract_size is not None else Decimal(1)
        problem = rules.increase_problem(quantity=cmd.quantity, price=price, margin=cmd.margin,
                                         leverage=record.leverage, contract=record.contract, contract_size=size,
                                         free=desk.store.free_balance(record.account_id), currency=currency,
                                         account=name, unit=unit)
        if problem:
            raise CommandRejected(problem)
        grown = increase_figures(record, cmd.quantity, price)
        added = cmd.margin if cmd.margin is not None else grown.initial_margin
        held = desk.store.balance(position_ref(record.id))
        after = replace(record, quantity=grown.quantity, entry_price=grown.entry_price)
        try:
            before_risk = compute_one(check(engine_position(record, desk.catalog, held)), mark)
            after_risk = compute_one(check(engine_position(after, desk.catalog, held + added)), mark)
        except PositionError as exc:
            raise CommandRejected("; ".join(f"{f}: {m}" for f, m in exc.problems)) from None
        if after_risk.distance_frac is not None and after_risk.distance_frac <= 0:
            raise CommandRejected(f"the position would be liquidated at once: mark {mark:,.8g} is past its new "
                                  f"liquidation price {after_risk.liquidation_price:,.8g}")
        entry = desk.store.transfer(added, free_ref(record.account_id), position_ref(record.id), kind="increase",
                                    ts=ts, account_id=record.account_id, request_id=cmd.request_id)
        desk.store.update_position_terms(record.id, quantity=grown.quantity, entry_price=grown.entry_price)
        suffix = f" {unit}" if unit else ""
        desk.store.add_journal(
            ts=ts, position_id=record.id, account_id=record.account_id, ledger_id=entry, kind="increase",
            amount=added, before=figures(desk, record, held, mark), after=figures(desk, after, held + added, mark),
            reason=f"added {rules.plain(cmd.quantity)}{suffix} at {rules.plain(price)}")
    return Outcome(_message(record, grown, added, currency, suffix, before_risk.liquidation_price,
                            after_risk.liquidation_price),
                   ledger_entry_id=entry, position_id=record.id, book_changed=True)


def _message(record: PositionRecord, grown: IncreaseFigures, added: Decimal, currency: str, suffix: str,
             liq_before: float | None, liq_after: float | None) -> str:
    from isodesk.formats import fmt_price

    text = (f"added {rules.plain(grown.added)}{suffix} to {record.label} at {rules.plain(grown.price)}: size "
            f"{rules.plain(record.quantity)} → {rules.plain(grown.quantity)}{suffix}, entry "
            f"{fmt_price(float(record.entry_price))} → {fmt_price(float(grown.entry_price))}, margin "
            f"+{rules.plain(added)} {currency}")
    if liq_before is not None and liq_after is not None:
        text += f"; liquidation price {fmt_price(liq_before)} → {fmt_price(liq_after)}"
    return text
