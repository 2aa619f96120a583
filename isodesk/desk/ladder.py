"""The desk's side of the liquidation ladder: a partial liquidation written to the book, the ladder
columns of a snapshot, a position's ladder as JSON.

The venue procedures and their sources are in :mod:`isodesk.margin.ladder`. When a fresh mark
crosses the liquidation price of a position whose venue liquidates in steps, the desk
(:meth:`isodesk.desk.desk.Desk._liquidate`) hands the row to :meth:`PartialLiquidations.take`:
the part the venue removes is closed **at the liquidation price**, its realized loss moves from the
position to the account's PnL (ledger kind ``partial_liquidation``; exact decimals), the rest stays
open on the margin left with a new liquidation price, and the journal keeps a ``liquidation`` entry
with the quantity closed and the realized PnL (a partial liquidation is told from a full one by
``closed_quantity`` and the margin after it, as a partial close is told from a close). No other
position and no free balance moves. Hyperliquid's 30 s cooldown is kept per account by the desk's
clock (tick time under replay): a second crossing of any position of the account within it takes
the whole position. The cooldown is kept in memory: a desk started afresh has none.
"""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from isodesk.desk import operations, rules
from isodesk.desk.events import EventKind
from isodesk.desk.levels import Level
from isodesk.margin.bounds import QUANTITY_DECIMALS
from isodesk.margin.engine import PositionBatch, PriceLevels
from isodesk.margin.ladder import HYPERLIQUID_COOLDOWN_S, Ladder, Procedure, Step, first_step, ladder, procedure_codes
from isodesk.store.ledger import pnl_ref, position_ref

if TYPE_CHECKING:
    from isodesk.desk.book import LoadedBook
    from isodesk.desk.desk import Desk

QUANTITY_STEP = Decimal(10) ** -QUANTITY_DECIMALS
PARTIAL_KIND = "partial_liquidation"
"""The ledger kind of the loss a partial liquidation realizes (position → the account's PnL)."""


def book_procedures(book: LoadedBook) -> np.ndarray:
    """Each row's :class:`~isodesk.margin.ladder.Procedure` code (int8), from its venue."""
    return procedure_codes(book.info.venues)


def book_first_step(book: LoadedBook) -> Step:
    """The first rung of every row of ``book`` at its liquidation price (units as in
    :class:`~isodesk.margin.ladder.Step`)."""
    return first_step(book.batch, book_procedures(book), book.levels)


def ladder_columns(book: LoadedBook, step: Step | None = None) -> dict[str, np.ndarray]:
    """The snapshot's ladder columns: ``ladder_first_mark`` (quote per coin), the price of the
    first partial liquidation, and ``ladder_first_frac``, the share of the size it removes; both
    NaN for a position its venue liquidates at once (or one that is not open). ``step``: the
    book's :func:`book_first_step` when the caller has it."""
    step = book_first_step(book) if step is None else step
    partial = step.partial & book.open_rows
    return {"ladder_first_mark": np.where(partial, step.mark, np.nan),
            "ladder_first_frac": np.where(partial, step.removed_frac, np.nan)}


def remaining_quantity(quantity: Decimal, keep: float, *, inverse: bool) -> Decimal:
    """The quantity a partial liquidation leaves of ``quantity`` (linear: base units; inverse:
    contracts) when the venue keeps the share ``keep`` of it: to 8 decimals (half-even, so a cut to
    a round size such as OKX's 1,000 contracts lands on it), and for whole inverse contracts down to
    a whole contract (the venue's order removes whole contracts; rounding down removes the more,
    the conservative side)."""
    remaining = (quantity * Decimal(repr(keep))).quantize(QUANTITY_STEP, rounding=ROUND_HALF_EVEN)
    if inverse and quantity == quantity.to_integral_value():
        remaining = remaining.to_integral_value(rounding=ROUND_DOWN)
    return remaining


def batch_ladder(batch: PositionBatch, venues: Any) -> Ladder:
    """The whole ladder of every position of ``batch`` (``venues``: one venue name per row)."""
    return ladder(batch, procedure_codes(venues))


class PartialLiquidations:
    """Performs partial liquidations for a desk and keeps Hyperliquid's per-account cooldown."""

    def __init__(self) -> None:
        self._last: dict[int, float] = {}  # account id → desk clock of its last Hyperliquid partial liquidation
        self._columns: tuple[LoadedBook, dict[str, np.ndarray]] | None = None
        self._first: tuple[LoadedBook, Step] | None = None

    def cooldowns(self) -> dict[int, float]:
        """A copy of the Hyperliquid cooldowns (account id → desk clock, s, of its last partial
        liquidation), to give back to :meth:`restore` when the write that took them is rolled back."""
        return dict(self._last)

    def restore(self, cooldowns: dict[int, float]) -> None:
        """Forget the cooldowns taken since :meth:`cooldowns` (their partial liquidations were rolled back)."""
        self._last = dict(cooldowns)

    def columns(self, book: LoadedBook) -> dict[str, np.ndarray]:
        """:func:`ladder_columns` of ``book``, computed once per loaded book (they do not depend on
        the mark); fresh copies, so the snapshot can freeze them."""
        if self._columns is None or self._columns[0] is not book:
            self._columns = (book, ladder_columns(book, self.step_of(book)))
        return {name: values.copy() for name, values in self._columns[1].items()}

    def step_of(self, book: LoadedBook, levels: PriceLevels | None = None) -> Step:
        """The first rung of every row of ``book`` (its own levels unless ``levels`` is given); with
        its own levels computed once per loaded book (a book is never changed in place: the desk
        loads a new one), so a liquidation step does not pay for the whole book again (about 5 ms
        at 1,000 positions, 40 ms at 10,000). Read it, never change it."""
        if levels is not None:
            return first_step(book.batch, book_procedures(book), levels)
        if self._first is None or self._first[0] is not book:
            self._first = (book, first_step(book.batch, book_procedures(book), book.levels))
        return self._first[1]

    def take(self, desk: Desk, row: int, step: Step, clock: float) -> bool:
        """Partially liquidate ``row`` if its venue does so at this crossing (``step``: the book's
        first rungs); True when done (the caller then leaves the row alone), False when the whole
        position is to go. Runs inside the desk's write transaction."""
        if not step.partial[row]:
            return False
        book = desk.book
        record = book.records[row]
        chunk = int(book_procedures(book)[row]) == Procedure.CHUNK
        if chunk and clock - self._last.get(record.account_id, -math.inf) < HYPERLIQUID_COOLDOWN_S:
            return False
        from isodesk.desk.desk import price_decimal

        price = price_decimal(float(step.mark[row]))
        keep = 1.0 - float(step.removed_frac[row])
        remaining = remaining_quantity(record.quantity, keep, inverse=record.contract == "inverse")
        if not 0 < remaining < record.quantity:
            return False
        removed = record.quantity - remaining
        margin = desk.store.balance(position_ref(record.id))
        loss = max(-operations.realized_pnl(record, price, removed), Decimal(0))
        if margin <= 0 or loss >= margin:
            return False
        mark = float(price)
        currency = book.info.currencies[row]
        entry = None
        if loss > 0:
            entry = desk.store.transfer(loss, position_ref(record.id), pnl_ref(record.account_id), kind=PARTIAL_KIND,
                                        ts=clock, account_id=record.account_id,
                                        memo=f"isolated partial liquidation at {rules.plain(price)}")
        desk.store.update_position_terms(record.id, quantity=remaining)
        after = replace(record, quantity=remaining)
        before_figures = operations.figures(desk, record, margin, mark)
        after_figures = operations.figures(desk, after, margin - loss, mark)
        share = float(removed / record.quantity) * 100
        new_liq = after_figures.get("liquidation_price")
        new_text = f"{new_liq:,.8g}" if isinstance(new_liq, float) else "none"
        reason = (f"partially liquidated by the venue: {share:.4g} % removed ({rules.plain(removed)} of "
                  f"{rules.plain(record.quantity)}) at {rules.plain(price)}")
        desk.store.add_journal(ts=clock, position_id=record.id, account_id=record.account_id, ledger_id=entry,
                               kind="liquidation", amount=loss, before=before_figures, after=after_figures,
                               reason=reason, realized_pnl=-loss, closed_quantity=removed)
        message = (f"{record.label} partially liquidated: {share:.4g} % removed at {mark:,.8g} (liquidation "
                   f"price); realized loss {loss} {currency}; new liq {new_text}; no other position affected")
        previous = Level(int(desk.level_track.reported[row])).label
        desk._event(EventKind.LIQUIDATION, row, "danger", previous, clock, mark, message,
                    sound=desk.settings.sound)
        if chunk:
            self._last[record.account_id] = clock
        return True


def position_ladders(book: LoadedBook) -> dict[int, list[dict[str, float | int | None]]]:
    """Each open position's ladder by position id, as JSON-ready rungs (:meth:`Ladder.rungs`: mark
    in quote per coin, ``removed_frac`` of the size held, ``loss`` and ``margin_after`` in the
    settlement currency, the rest's ``liquidation_after``); positions not open get none."""
    if not len(book):
        return {}
    whole = batch_ladder(book.batch, book.info.venues)
    return {int(pid): whole.rungs(row) for row, pid in enumerate(book.info.position_ids) if book.open_rows[row]}
