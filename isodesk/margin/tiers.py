"""Maintenance-margin tier tables: validation, the maintenance-amount recurrence, bracket lookup.

A tier row is ``[floor, cap, mmr, maintenance_amount, max_leverage]``. What floor and cap count is
the table's :attr:`TierTable.basis`:

- ``"notional"``: the position value in the settlement currency (quote for linear contracts, coin
  for inverse ones) at the price in question. A row applies to a notional ``x`` when
  ``floor <= x < cap``, so the row can change with the price (Binance USDⓈ-M and COIN-M, Bybit,
  Hyperliquid, Gate).
- ``"contracts"``: the position size in contracts, fixed whatever the price (OKX ``minSz``/``maxSz``).
  A row applies to a size ``n`` when ``floor < n <= cap``: OKX's ``maxSz`` is the largest size of
  its tier (BTC-USDT tier 1 is "0 – 1,000" contracts and tier 2 starts at ``minSz`` 1,000.01, one
  lot above), so a table is written with each row's floor at the previous row's cap.

On the row the maintenance margin is ``x * mmr - amount`` with ``x`` the notional (settlement
currency) in both cases, computed in one place, :func:`isodesk.margin.engine.maintenance_requirement`.
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
UNBOUNDED_CAP = 2**63 - 1
"""Binance's last ``notionalCap``/``qtyCap`` (9223372036854775807, Java's ``Long.MAX_VALUE``): no cap.
It is exact only as an integer (as a float it reads 9223372036854775808): see :func:`venue_cap`."""


class TierError(ValueError):
    """A tier table that is not usable: not contiguous, bad rates, bad amounts."""


@dataclass(frozen=True, slots=True)
class TierTable:
    """One symbol's maintenance brackets, floors ascending; amounts always filled in.

    All arrays are float64 and read-only. ``caps[-1]`` is ``inf`` for an unbounded last row;
    ``max_leverage`` is ``nan`` where the venue publishes none.

    ``basis`` says what floors and caps count (module docstring): ``"notional"`` (the position
    value in the settlement currency at the price; Binance USDⓈ-M and COIN-M, Bybit, Hyperliquid,
    Gate) or ``"contracts"`` (the position size in contracts, fixed whatever the price: OKX
    ``minSz``/``maxSz``; the engine keeps such a position on the row of its size at every price).
    ``contract_value`` converts a linear position's quantity (base units) to contracts:
    ``contracts = quantity / contract_value`` (OKX ``ctVal``, e.g. 0.01 BTC per BTC-USDT-SWAP
    contract); an inverse position's quantity is already in contracts (OKX ``ctVal`` USD each).

    Binance COIN-M's ``qtyFloor``/``qtyCap`` are *not* contract counts: Binance documents them as
    the "upper edge of base asset quantity" (``GET /dapi/v2/leverageBracket``), i.e. the notional
    in coin, and its COIN-M liquidation FAQ (ceccfcfb4e3a45e3b48b0b1bb1a8ae46) picks the level by
    "position notional" in coin ("300 BTC → 12.5 %", "100 contracts × 100 / 25,000 = 0.4 BTC, in
    level 1") and re-picks it at the liquidation price; its ``cum`` follows the recurrence on those
    coin floors ("50 BTC × (5 % − 2.5 %) + 0.56 BTC = 1.81 BTC"). So a COIN-M table is on the
    ``"notional"`` basis, in coin.
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

        On the notional basis, amounts that are all ``None`` are derived by the published recurrence
        ``a_0 = 0, a_k = a_{k-1} + floor_k * (mmr_k - mmr_{k-1})``, which keeps maintenance margin
        continuous in notional. On the contracts basis they are 0: the rate jumps from tier to tier
        with no deduction (OKX), and a recurrence over contract counts would not be money. A cap of
        ``None`` or :data:`UNBOUNDED_CAP` (the integer) is unbounded.
        """
        if basis not in TIER_BASES:
            raise TierError(f"{name}: basis {basis!r} is not one of {', '.join(TIER_BASES)}")
        if not (isinstance(contract_value, (int, float)) and not isinstance(contract_value, bool)
                and math.isfinite(contract_value) and contract_value > 0):
            raise TierError(f"{name}: contract value {contract_value!r} is not a positive number")
        if not rows:
            raise TierError(f"{name}: no tier rows")
        for i, row in enumerate(rows):
            if len(row) != 5:
                raise TierError(f"{name}: row {i + 1} has {len(row)} values, expected 5")
        floors = [_finite(r[0], name, i, "notional_floor") for i, r in enumerate(rows)]
        caps = [math.inf if _unbounded(r[1]) else _finite(r[1], name, i, "notional_cap") for i, r in enumerate(rows)]
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
            amounts = maintenance_amounts(floors, mmr) if basis == "notional" else [0.0] * len(rows)
        elif any(a is None for a in raw_amounts):
            raise TierError(f"{name}: maintenance amounts must be given in every row or in none")
        else:
            amounts = [_finite(a, name, i, "maintenance_amount") for i, a in enumerate(raw_amounts)]
        max_lev = [math.nan if r[4] is None else _finite(r[4], name, i, "max_leverage") for i, r in enumerate(rows)]
        f, c, r, a, m = (_frozen(np.array(v, dtype=np.float64)) for v in (floors, caps, mmr, amounts, max_lev))
        return cls(f, c, r, a, m, basis=basis, contract_value=float(contract_value))

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

    @property
    def sized(self) -> bool:
        """True when rows are chosen by the position's size in contracts (``basis == "contracts"``)."""
        return self.basis == "contracts"

    def bracket(self, value: float) -> int:
        """Index of the row holding ``value``, in the table's basis: a notional (settlement
        currency; ``floor <= value < cap``) or a size in contracts (``floor < value <= cap``).
        A value beyond the last cap stays in the last row."""
        if self.sized:
            return min(int(np.searchsorted(self.caps, value, side="left")), len(self) - 1)
        return max(int(np.searchsorted(self.floors, value, side="right") - 1), 0)

    def row_for(self, notional: float, contracts: float) -> int:
        """Index of the row a position uses: by ``contracts`` on the contracts basis, else by
        ``notional`` (settlement currency)."""
        return self.bracket(contracts if self.sized else notional)

    def contracts_of(self, quantity: float, inverse: bool) -> float:
        """A position's size in contracts: ``quantity`` (inverse: already contracts) or
        ``quantity / contract_value`` (linear: base units)."""
        return quantity if inverse else quantity / self.contract_value


def maintenance_amounts(floors: Sequence[float], mmr: Sequence[float], first: float = 0.0) -> list[float]:
    """Maintenance amounts by the recurrence ``a_k = a_{k-1} + floor_k * (mmr_k - mmr_{k-1})``.

    ``first`` is the amount of the first row given (0 for a table starting at notional 0).
    Amounts are in the settlement currency.
    """
    amounts = [first]
    for k in range(1, len(floors)):
        amounts.append(amounts[-1] + floors[k] * (mmr[k] - mmr[k - 1]))
    return amounts


def venue_cap(raw: Any) -> float | None:
    """A tier cap as a venue sends it (JSON number or decimal string), as a float; ``None`` for
    no cap: an empty value, or Binance's :data:`UNBOUNDED_CAP` written as an integer (compared as
    an integer, never through a float, where 2^63 − 1 and 2^63 are the same number).
    ``ValueError`` for anything else that is not a finite number ≥ 0."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, int) or (isinstance(raw, str) and raw.strip().isdigit()):
        whole = int(raw)
        if whole == UNBOUNDED_CAP:
            return None
        return float(whole)
    value = float(raw)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{raw!r} is not a finite number >= 0")
    return value


def hyperliquid_rows(margin_tiers: Sequence[tuple[float, float]]) -> list[list[float | None]]:
    """Tier rows from Hyperliquid margin tiers ``(lowerBound, maxLeverage)`` (USDC notional).

    Hyperliquid docs, "Margin tiers" (trading/margin-tiers; the page carries no date): the
    maintenance margin rate of a tier is half the initial rate at its max leverage,
    ``mmr = 1 / (2 × maxLeverage)``, and the maintenance deduction follows
    ``d_0 = 0, d_n = d_(n−1) + lowerBound_n × (mmr_n − mmr_(n−1))`` (left ``None`` here, so
    :meth:`TierTable.from_rows` derives it). Each tier ends where the next begins; the last is
    unbounded.
    """
    bounds = [float(lo) for lo, _ in margin_tiers]
    return [[lo, bounds[i + 1] if i + 1 < len(bounds) else None, 1.0 / (2.0 * float(lev)), None, float(lev)]
            for i, (lo, (_, lev)) in enumerate(zip(bounds, margin_tiers, strict=True))]


def _unbounded(cap: Any) -> bool:
    return cap is None or (isinstance(cap, int) and not isinstance(cap, bool) and cap == UNBOUNDED_CAP)


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
    to the last real row). ``sized`` (bool) and ``contract_values`` (float) hold, per table, its
    basis (True: contracts) and contract value, so a book mixing both bases is one batch.
    """

    floors: np.ndarray
    caps: np.ndarray
    mmr: np.ndarray
    amounts: np.ndarray
    max_leverage: np.ndarray
    row_counts: np.ndarray
    sized: np.ndarray
    contract_values: np.ndarray

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
        sized = np.array([t.sized for t in tables], dtype=bool)
        values = np.array([t.contract_value for t in tables], dtype=np.float64)
        return cls(*(_frozen(a) for a in (floors, caps, mmr, amounts, max_lev, counts, sized, values)))

    @property
    def width(self) -> int:
        """Rows per table after padding."""
        return int(self.floors.shape[1])

    def flat(self, name: str) -> np.ndarray:
        """One of the 2-D arrays flattened, indexed by ``table * width + row``."""
        return np.ravel(getattr(self, name))


def load_tier_file(path: str | Path) -> dict[str, Any]:
    """Read a tier file of ``resources/tiers/`` (JSON; see its README) and validate every table.

    Returns the document with ``symbols`` mapped to :class:`TierTable` objects. An optional
    ``basis`` (``"notional"``, the default, or ``"contracts"``) applies to every table of the file,
    and an optional ``contract_value`` object gives each symbol's contract value (default 1).
    """
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    name = Path(path).name
    symbols = doc.get("symbols")
    if not isinstance(symbols, dict) or not symbols:
        raise TierError(f"{name}: no 'symbols' object")
    basis = doc.get("basis", "notional")
    values = doc.get("contract_value", {})
    if not isinstance(values, dict):
        raise TierError(f"{name}: 'contract_value' must map symbols to numbers")
    doc = dict(doc)
    doc["symbols"] = {sym: TierTable.from_rows(rows, name=f"{name} {sym}", basis=basis,
                                               contract_value=values.get(sym, 1.0))
                      for sym, rows in symbols.items()}
    return doc
