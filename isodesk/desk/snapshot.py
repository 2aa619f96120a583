"""What the desk publishes after each recompute: immutable, safe to hand to another thread.

PySide6 passes the very same Python object through a queued ``Signal(object)``, so nothing in a
snapshot may be mutable: arrays are read-only, mappings are proxies, dataclasses are frozen.
Invariant: every finite ``mark`` came through the tick guard (finite, positive), so views may
plot marks without a finiteness check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from isodesk.desk.levels import Thresholds
from isodesk.desk.settings import DEFAULTS as DEFAULT_SETTINGS
from isodesk.desk.settings import DeskSettings
from isodesk.feeds.base import FeedHealth
from isodesk.margin.catalog import TierCatalog

DEFAULT_THRESHOLDS = Thresholds()

NUMERIC_COLUMNS = (
    "mark", "mark_ts", "notional", "unrealized_pnl", "margin_balance", "maintenance_margin", "margin_ratio",
    "liquidation_price", "bankruptcy_price", "distance_price", "distance_frac", "roe", "effective_leverage",
    "max_removable", "isolated_margin", "quantity", "entry_price", "leverage", "venue_liquidation_price",
    "reconcile_diff_pct",
    # funding (isodesk.desk.funding): since open and next payment (settlement currency, − paid), the next
    # funding time (Unix s), the liquidation price's drift per day at the current rate (% of mark, + towards it)
    "funding_since_open", "next_funding_amount", "next_funding_ts", "liq_drift_pct_day",
    # the liquidation ladder (isodesk.desk.ladder): the mark of the first partial liquidation (quote per coin)
    # and the share of the size it removes; NaN for a position its venue liquidates at once
    "ladder_first_mark", "ladder_first_frac",
)


class _RowIndex:
    """A slot for :meth:`BookInfo.row_of`'s index (row by position id), outside the dataclass fields
    (not compared, copied or printed), built on first use: the book's ids never change."""

    __slots__ = ("_row_index",)


@dataclass(frozen=True, slots=True)
class BookInfo(_RowIndex):
    """The descriptive, rarely changing part of the book, one tuple entry per row.

    A new ``BookInfo`` object is made only when positions are added, removed or change status,
    so a view may compare it by identity to know whether to rebuild.
    """

    position_ids: np.ndarray
    labels: tuple[str, ...]
    symbols: tuple[str, ...]
    venues: tuple[str, ...]
    sides: tuple[str, ...]
    contracts: tuple[str, ...]
    accounts: tuple[str, ...]
    currencies: tuple[str, ...]
    statuses: tuple[str, ...]
    auto_add_margin: tuple[bool | None, ...] = ()
    """Per row, the venue's auto-add-margin flag at the last import (the venue tops the isolated
    margin up from the free balance before liquidating); None where never imported or not said."""
    adl_rank: tuple[int | None, ...] = ()
    """Per row, the venue's auto-deleveraging rank at the last import, 0 (last in the queue) to 5
    (first): Bybit ``adlRankIndicator``, OKX ``adl``; None where never imported or not said."""

    def __len__(self) -> int:
        return len(self.labels)

    def row_of(self, position_id: int) -> int | None:
        """The row of a position id (its first row), or None; one dictionary look-up (a liquidation
        step of a 10,000-row book asks it for each row it liquidates)."""
        rows: dict[int, int] | None = getattr(self, "_row_index", None)
        if rows is None:  # two threads may both build it: the same mapping either way
            ids = self.position_ids.tolist()
            rows = dict(zip(reversed(ids), range(len(ids) - 1, -1, -1), strict=True))
            object.__setattr__(self, "_row_index", rows)
        try:
            return rows.get(position_id)  # an int, a numpy integer or an integral float finds its row
        except TypeError:  # unhashable
            return None


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """One account's totals in its settlement currency (floats, for display)."""

    name: str
    venue: str
    currency: str
    free_balance: float
    total_isolated_margin: float
    unrealized_pnl: float
    equity: float
    realized_loss: float
    open_positions: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The book's risk at one instant.

    ``step_started_at`` and ``taken_at`` are ``time.monotonic()`` seconds when the step (or
    command) that made it began and when it was published: tick-to-paint latency starts at the
    former. ``clock`` is the desk clock (Unix s; the ticks' time under replay).

    ``cols`` maps each name of :data:`NUMERIC_COLUMNS` to a read-only float64 array (NaN where a
    figure does not exist); ``level`` (int8 :class:`~isodesk.desk.levels.Level`) and ``stale``
    (bool) are separate arrays; ``order_by_risk`` lists rows nearest to liquidation first: open rows
    by reported level (DANGER first), then distance (:func:`isodesk.desk.levels.risk_order`).
    ``by_reference`` (bool, read-only) is True where an open position is marked by the market's
    reference price because its venue's own price has not arrived yet (see
    :mod:`isodesk.desk.marks`); every other mark is the position's own venue's.
    ``venue_liquidation_price`` is the venue's own figure from the last import (NaN: never
    imported) and ``reconcile_diff_pct`` isodesk's liquidation price against it, in percent; a
    difference beyond ``reconcile_tolerance_pct`` is flagged.

    ``writer`` is False when this desk only reads the book (another process holds it, or the
    file is read-only) and ``writer_note`` then says why; ``failures`` counts the desk steps that
    failed since start and ``last_failure`` says what the last one was (None: none).
    """

    version: int
    taken_at: float
    clock: float
    step_started_at: float
    book: BookInfo
    cols: Mapping[str, np.ndarray]
    level: np.ndarray
    stale: np.ndarray
    order_by_risk: np.ndarray
    accounts: tuple[AccountTotals, ...]
    feed: FeedHealth
    last_tick_at: float | None
    paused: bool = False
    thresholds: Thresholds = DEFAULT_THRESHOLDS
    reconcile_tolerance_pct: float = 0.5
    writer: bool = True
    writer_note: str = ""
    failures: int = 0
    last_failure: str | None = None
    catalog: TierCatalog | None = None
    """The tier tables the desk computed with (the book's first, the shipped snapshot second),
    immutable: a form previews with exactly these, never with a catalog of its own."""
    by_reference: np.ndarray | None = None
    settings: DeskSettings = DEFAULT_SETTINGS
    """The trader's settings the desk runs with (:mod:`isodesk.desk.settings`), for the settings
    dialog and the notifier (sound); frozen."""

    def __len__(self) -> int:
        return len(self.book)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]


def frozen(arr: np.ndarray) -> np.ndarray:
    """The array made read-only (in place) and returned."""
    arr.flags.writeable = False
    return arr


def freeze_columns(cols: dict[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """A read-only mapping of read-only arrays."""
    return MappingProxyType({k: frozen(v) for k, v in cols.items()})
