"""Ledger refs and balances: the double-entry arithmetic, with no database in sight.

A ref names a place collateral can sit:

- ``"external"``: the outside world (deposits, withdrawals, imports);
- ``free:{account_id}``: the account's free balance;
- ``position:{position_id}``: one position's isolated margin;
- ``pnl:{account_id}``: the venue's side of realized PnL (losses and liquidations flow into it,
  profits out of it).

Every entry moves a positive amount from one ref to another, so the balances of all refs sum to
exactly zero. Balances are computed here in ``Decimal``, never with SQL ``SUM`` over TEXT.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from decimal import Decimal

EXTERNAL = "external"

# Sums of amounts must be exact, not rounded to the default 28 significant digits (825000001 − 9E-20
# needs 29). This context has room for any sum of stored amounts and traps anything inexact.
EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[decimal.InvalidOperation, decimal.Inexact, decimal.Overflow, decimal.DivisionByZero],
)
_KINDS = ("free", "position", "pnl")


def free_ref(account_id: int) -> str:
    """The ref of an account's free balance."""
    return f"free:{int(account_id)}"


def position_ref(position_id: int) -> str:
    """The ref of a position's isolated margin."""
    return f"position:{int(position_id)}"


def pnl_ref(account_id: int) -> str:
    """The ref of the venue's side of an account's realized PnL."""
    return f"pnl:{int(account_id)}"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``(kind, id)`` of a ref: ``("external", None)``, ``("free", 3)``, ``("position", 7)``, ``("pnl", 3)``.

    Raises ``ValueError`` naming the ref if it is none of these.
    """
    if ref == EXTERNAL:
        return EXTERNAL, None
    kind, sep, number = str(ref).partition(":")
    if sep and kind in _KINDS and number.isdigit() and number.isascii() and str(int(number)) == number:
        return kind, int(number)
    raise ValueError(f"ledger ref {ref!r} is none of external, free:<account>, position:<id>, pnl:<account>")


def balances_of(entries: Iterable[tuple[str, str, Decimal]]) -> dict[str, Decimal]:
    """Balance of every ref touched by ``(source, dest, amount)`` triples: inflows minus outflows,
    computed in the :data:`EXACT` context so no digit is rounded away."""
    out: dict[str, Decimal] = {}
    zero = Decimal(0)
    with decimal.localcontext(EXACT):
        for source, dest, amount in entries:
            out[source] = out.get(source, zero) - amount
            out[dest] = out.get(dest, zero) + amount
    return out


def balance_from(base: Decimal, inflows: Iterable[Decimal], outflows: Iterable[Decimal]) -> Decimal:
    """``base`` plus ``inflows`` minus ``outflows``, in the :data:`EXACT` context (one ref's balance
    from a checkpoint and the entries after it)."""
    with decimal.localcontext(EXACT):
        return base + sum(inflows, Decimal(0)) - sum(outflows, Decimal(0))


def difference(a: Decimal, b: Decimal) -> Decimal:
    """``a - b`` exactly (what a balance becomes when ``b`` leaves it)."""
    with decimal.localcontext(EXACT):
        return a - b
