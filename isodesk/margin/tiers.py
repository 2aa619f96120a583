"""Maintenance-margin tier tables: validation, the maintenance-amount recurrence, bracket lookup.

A tier row is ``[notional_floor, notional_cap, mmr, maintenance_amount, max_leverage]`` with the
notional in the settlement currency (quote for linear contracts, coin for inverse ones). A row
applies to a notional ``x`` when ``floor <= x < cap``; on it the maintenance margin is
``x * mmr - amount``, computed in one place, :func:`isodesk.margin.engine.maintenance_requirement`.
Many tables are stacked into one padded :class:`TierSet` so a whole book is looked up in one call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

TierRow = Sequence[Any]
TIER_BASES = ("notional", "contracts")


class TierError(ValueError):
    """A tier table that is not usable: not contiguous, bad rates, bad amounts."""


@dataclass(frozen=True, slots=True)
class TierTable:
    """One symbol's maintenance brackets, floors ascending; amounts always filled in.

    All arrays are float64 and read-only. ``caps[-1]`` is ``inf`` for an unbounded last row;
    ``max_leverage`` is ``nan`` where the venue publishes none.

    ``basis`` says what floors and caps count: ``"notional"`` (the position value in the
    settlement currency; Binance USDⓈ-M, Bybit, Hyperliquid) or ``"contracts"`` (the position
    size in contracts, fixed whatever the price; OKX ``minSz``/``maxSz``, Binance COIN-M
    ``qtyFloor``/``qtyCap``). ``contract_value`` converts a linear position's quantity (base
    units) to contracts: ``contracts = quantity / contract_value`` (OKX ``ctVal``, e.g. 0.01 BTC);
    an inverse position's quantity is already in contracts.
    """

    floors: np.ndarray
    caps: np.ndarray
    mmr: np.ndarray
    amounts: np.ndarray
    max_leverage: np.ndarray
    basis: str = "notional"
    contract_value: float = 1.0

    @classmethod
    def from_rows(cls, rows: Sequence[TierRow], *, name: str = "tiers", basis: str = "notional",
                  contract_value: float = 1.0) -> TierTable:
        """Validate rows ``[floor, cap, mmr, amount|None, max_leverage|None]`` and build the table.

        Amounts that are all ``None`` are derived by the published recurrence
        ``a_0 = 0, a_k = a_{k-1} + floor_k * (mmr_k - mmr_{k-1})``, which keeps maintenance margin
        continuous in notional.
        """
        if not rows:
            raise TierError(f"{name}: no tier rows")
        for i, row in enumerate(rows):
            if len(row) != 5:
                raise TierError(f"{name}: row {i + 1} has {len(row)} values, expected 5")
        floors = [_finite(r[0], name, i, "notional_floor") for i, r in enumerate(rows)]
        caps = [math.inf if r[1] is None else _finite(r[1], name, i, "notional_cap") for i, r in enumerate(rows)]
        mmr = [_finite(r[2], name, i, "maintenance_margin_rate") for i, r in enumerate(rows)]
        if floors[0] != 0:
            raise TierError(f"{name}: the first tier must start at notional 0, not {floors[0]}")
        for i in range(len(rows)):
            if not caps[i] > floors[i]:
                raise TierError(f"{name}: row {i + 1} cap {caps[i]} is not above its floor {floors[i]}")
            if i + 1 < len(rows) and caps[i] != floors[i + 1]:
                raise TierError(f"{name}: rows {i + 1} and {i + 2} are not contiguous ({caps[i]} vs {floors[i + 1]})")
            if not 0 <= mmr[i] < 1:
                raise TierError(f"{name}: row {i + 1} maintenance rate {mmr[i]} is not in [0, 1)")
        raw_amounts = [r[3] for r in rows]
        if all(a is None for a in raw_amounts):
            amounts = maintenance_amounts(floors, mmr)
        elif any(a is None for a in raw_amounts):
            raise TierError(f"{name}: maintenance amounts must be given in every row or in none")
        else:
            amounts = [_finite(a, name, i, "maintenance_amount") for i, a in enumerate(raw_amounts)]
        max_lev = [math.nan if r[4] is None else _finite(r[4], name, i, "max_leverage") for i, r in enumerate(rows)]
        if basis not in TIER_BASES:
            raise TierError(f"{name}: basis {basis!r} is not one of {', '.join(TIER_BASES)}")
        if not (math.isfinite(contract_value) and contract_value > 0):
            raise TierError(f"{name}: contract value {contract_value!r} is not a positive number")
        arrays = (_frozen(np.array(v, dtype=np.float64)) for v in (floors, caps, mmr, amounts, max_lev))
        return cls(*arrays, basis=basis, contract_value=float(contract_value))

    def same_rows(self, other: TierTable) -> bool:
        """True when both tables hold the same rows on the same basis and contract value."""
        return (self.basis == other.basis and self.contract_value == other.contract_value
                and self.rows() == other.rows())

    @classmethod
    def single(cls, mmr: float, maintenance_amount: float = 0.0) -> TierTable:
        """One bracket for every notional: ``MM(x) = x * mmr - maintenance_amount``."""
        return cls.from_rows([[0.0, None, mmr, maintenance_amount, None]], name="single tier")

    def __len__(self) -> int:
        return len(self.floors)

    def rows(self) -> list[list[float | None]]:
        """The table as plain rows (``None`` for an unbounded cap or unknown max leverage)."""
        out: list[list[float | None]] = []
        for f, c, r, a, m in zip(self.floors, self.caps, self.mmr, self.amounts, self.max_leverage, strict=True):
            out.append([float(f), None if math.isinf(c) else float(c), float(r), float(a),
                        None if math.isnan(m) else float(m)])
        return out

    def bracket(self, notional: float) -> int:
        """Index of the row holding ``notional`` (settlement currency)."""
        return int(np.searchsorted(self.floors, notional, side="right") - 1)


def maintenance_amounts(floors: Sequence[float], mmr: Sequence[float], first: float = 0.0) -> list[float]:
    """Maintenance amounts by the recurrence ``a_k = a_{k-1} + floor_k * (mmr_k - mmr_{k-1})``.

    ``first`` is the amount of the first row given (0 for a table starting at notional 0).
    Amounts are in the settlement currency.
    """
    amounts = [first]
    for k in range(1, len(floors)):
        amounts.append(amounts[-1] + floors[k] * (mmr[k] - mmr[k - 1]))
    return amounts


def _finite(value: Any, name: str, row: int, column: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TierError(f"{name}: row {row + 1}, {column}: {value!r} is not a finite number")
    return float(value)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True)
class TierSet:
    """Many tier tables padded into 2-D arrays (tables × rows), so a book is looked up at once.

    Padding rows have floor and cap ``inf``; lookups never reach them because each real table's
    last cap is ``inf`` or the position is refused before (notional above the last cap is clamped
    to the last real row).
    """

    floors: np.ndarray
    caps: np.ndarray
    mmr: np.ndarray
    amounts: np.ndarray
    max_leverage: np.ndarray
    row_counts: np.ndarray

    @classmethod
    def from_tables(cls, tables: Sequence[TierTable]) -> TierSet:
        """Stack tables; position ``i`` refers to ``tables[table_index[i]]``."""
        if not tables:
            raise TierError("a tier set needs at least one table")
        width = max(len(t) for t in tables)
        shape = (len(tables), width)
        floors = np.full(shape, np.inf)
        caps = np.full(shape, np.inf)
        mmr = np.zeros(shape)
        amounts = np.zeros(shape)
        max_lev = np.full(shape, np.nan)
        for i, t in enumerate(tables):
            n = len(t)
            floors[i, :n], caps[i, :n], mmr[i, :n] = t.floors, t.caps, t.mmr
            amounts[i, :n], max_lev[i, :n] = t.amounts, t.max_leverage
            caps[i, n - 1] = np.inf  # a notional beyond the published last cap stays in the last row
        counts = np.array([len(t) for t in tables], dtype=np.intp)
        return cls(*(_frozen(a) for a in (floors, caps, mmr, amounts, max_lev, counts)))

    @property
    def width(self) -> int:
        """Rows per table after padding."""
        return int(self.floors.shape[1])

    def flat(self, name: str) -> np.ndarray:
        """One of the 2-D arrays flattened, indexed by ``table * width + row``."""
        return np.ravel(getattr(self, name))


def load_tier_file(path: str | Path) -> dict[str, Any]:
    """Read a tier file of ``resources/tiers/`` (JSON; see its README) and validate every table.

    Returns the document with ``symbols`` mapped to :class:`TierTable` objects.
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    name = Path(path).name
    symbols = doc.get("symbols")
    if not isinstance(symbols, dict) or not symbols:
        raise TierError(f"{name}: no 'symbols' object")
    doc = dict(doc)
    doc["symbols"] = {sym: TierTable.from_rows(rows, name=f"{name} {sym}") for sym, rows in symbols.items()}
    return doc
