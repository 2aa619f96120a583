"""The positions of the What-if page: one row per open position, its edits and its outcome.

Two cells of a row are editable in place (a :class:`~isodesk.ui.whatif.common.CellEditDelegate`
line edit, no widget per position): **Margin ±**, collateral added (+) or removed (−) in the
settlement currency, and **New lev.**, a new leverage (the isolated margin becomes entry notional
÷ leverage, as the venues do). A written value is read and bounded by :mod:`isodesk.margin.bounds`
with the rules of ``isodesk whatif --margin/--leverage`` (the same text is accepted or refused for
the same reason), then held to the position's own limits: its bracket's maximum leverage, no
removal from an isolated-only asset, some margin left. A refusal is a one-line reason
(:attr:`PositionsModel.refused`) and leaves the cell as it was.

The other columns are the desk's outcome, formatted lazily in ``data()`` so a 1,000-position book
costs only its visible rows. **Needs** is the CLI's ``needs``: the isolated margin the position
needs to survive the scenario (``Outcome.isolated.margin_needed``; 0 = any). Rows keep the book's
order until a header is clicked; the order then changes only on the next click.

**24 h odds** and **Liq. drift/day** are the outcome's figures after the scenario for the positions
that survive it (``Outcome.isolated.liq_prob_24h`` / ``liq_drift_pct_day``, from the desk's current
realized volatility and latest funding quote), formatted as the live table's columns of the same
keys (:func:`isodesk.ui.columns.format_value`); ``—`` where unknown or liquidated. Odds above the
trader's ``odds.alert_pct`` (:attr:`PositionsModel.odds_alert_pct`) are drawn in the danger colour;
sorted descending, the odds put the positions the scenario liquidates first, then the survivors by
odds, then those without odds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from isodesk.desk.settings import DEFAULTS
from isodesk.margin.bounds import BoundsError, check_amount, check_leverage, parse_decimal
from isodesk.margin.scenario import Outcome, ScenarioBook
from isodesk.ui.columns import (
    DASH,
    MINUS,
    column_for,
    fmt_leverage,
    fmt_money,
    fmt_pct,
    fmt_price,
    format_value,
    money_decimals,
)
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import EDITABLE_HINT, tint

CLEAR_WORDS = ("", "0", "keep", "-", DASH, "none")


@dataclass(frozen=True)
class Column:
    """One column: key, header, right-aligned, header tooltip, editable."""

    key: str
    header: str
    right: bool
    tip: str = ""
    editable: bool = False


COLUMNS = (
    Column("label", "Position", False, "the position's label"),
    Column("state", "Isolated", False, "under isolated margin, as held: ok, or LIQUIDATED (@ the path step)"),
    Column("margin", "Margin", True, "isolated margin now, settlement currency"),
    Column("needs", "Needs", True, "the isolated margin this position needs to survive the scenario "
                                    "('needs' in isodesk whatif); 0 = any. Red: it holds less"),
    Column("margin_edit", "Margin ±", True, "collateral added (+) or removed (−) in the scenario, settlement "
                                            f"currency; {EDITABLE_HINT}", editable=True),
    Column("leverage", "Lev.", True, "leverage now"),
    Column("leverage_edit", "New lev.", True, "a new leverage: the isolated margin becomes entry notional ÷ "
                                              f"leverage; empty = keep; {EDITABLE_HINT}", editable=True),
    Column("liq", "Liq. price", True, "liquidation price after the edits"),
    Column("shocked", "Shocked", True, "the mark after the scenario (its last step)"),
    Column("ratio", "Ratio", True, "margin ratio after the scenario (100 % = liquidation)"),
    Column("upnl", "uPnL", True, "unrealized PnL after the scenario, settlement currency"),
    Column("loss", "Loss", True, "what the position loses: its isolated margin when liquidated, else its "
                                 "unrealized loss"),
    Column("odds", "24 h odds", True, "after the scenario: the probability that the mark touches the liquidation "
                                      "price within 24 h of the scenario's marks, at the market's current realized "
                                      "volatility (as the live table's '24 h liq odds'); — : no volatility yet, "
                                      "or liquidated"),
    Column("drift", "Liq. drift/day", True, "after the scenario: how far one day of funding at the latest rate "
                                            "moves the liquidation price, % of the mark, + towards it (as the live "
                                            "table's 'Liq. drift'); — : no funding quote, or liquidated"),
    Column("cross", "Cross margin", False, "the same scenario as if its venue account were one cross pool"),
    Column("account", "Account", False, "venue account (settlement currency)"),
)
KEYS = tuple(c.key for c in COLUMNS)
SAMPLES = ("btc-bybit-long", "LIQUIDATED @99", "24,400.00", "24,400.00", "+1,000.00", "20×", "20×",
           "60,000.00", "60,000.00", "100.0 %", "+1,000.00", "1,000.00", "100.0 %", "+10.00 %/day",
           "pool lost @99", "binance-usdm:USDT")
ODDS_COLUMN = column_for("liq_prob_24h")      # the live table's columns: one way to write each figure
DRIFT_COLUMN = column_for("liq_drift_pct_day")


def _written(text: Any) -> str:
    """A cell's text with the typographic minus and a trailing unit read as the CLI reads them."""
    return str(text).strip().replace(MINUS, "-").replace("\u2212", "-")


def read_margin_edit(text: Any, *, label: str, currency: str, base: float, locked: bool) -> Decimal | None:
    """A written margin edit (settlement currency, ``+`` adds, ``−`` removes) as an exact Decimal,
    None for "no edit" (empty, 0, keep). ``base``: the position's isolated margin before this edit
    (after a leverage edit). :class:`BoundsError` naming ``LABEL margin ±`` otherwise."""
    field = f"{label} margin ±"
    written = _written(text).removesuffix(currency).strip()
    if written.lower() in CLEAR_WORDS:
        return None
    value = parse_decimal(written, field)
    if value == 0:
        return None
    check_amount(abs(value), field, currency)
    if value < 0 and locked:
        raise BoundsError(field, "the venue lets no margin be removed from this isolated-only position "
                                 "(add margin, or close part of it)")
    if base + float(value) <= 0:
        raise BoundsError(field, f"removing {fmt_money(float(-value), currency)} {currency} leaves no margin "
                                 f"(it holds {fmt_money(base, currency)} {currency})")
    return value


def read_leverage_edit(text: Any, *, label: str, max_leverage: float) -> Decimal | None:
    """A written new leverage (``5``, ``5x``, ``5×``) as an exact Decimal, None for "keep" (empty,
    0, keep). Bounded by :func:`~isodesk.margin.bounds.check_leverage` (1× to 200×) and the
    position's bracket (``max_leverage``); :class:`BoundsError` naming ``LABEL new leverage``."""
    field = f"{label} new leverage"
    written = _written(text).rstrip("xX×").strip()
    if written.lower() in CLEAR_WORDS:
        return None
    value = check_leverage(parse_decimal(written, field), field)
    if math.isfinite(max_leverage) and float(value) > max_leverage + 1e-9:
        raise BoundsError(field, f"{value}× is above the {max_leverage:g}× maximum of its bracket")
    return value


class PositionsModel(QAbstractTableModel):
    """Positions × (edits, outcome). Rows are the book's until a header sorts them.

    Signals:
        edits_changed(): a margin or leverage edit was set or cleared.
        refused(str): a written edit was refused; the one-line reason.
    """

    edits_changed = Signal()
    refused = Signal(str)

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.book: ScenarioBook | None = None
        self.outcome: Outcome | None = None
        self.margin_edits: dict[int, Decimal] = {}
        self.leverage_edits: dict[int, Decimal] = {}
        self.order = np.zeros(0, dtype=np.intp)   # view row → book row
        self._sorted: tuple[int, Qt.SortOrder] | None = None
        self._max_lev = np.zeros(0)
        self.odds_alert_pct = DEFAULTS.odds_alert_pct  # the trader's odds.alert_pct (the workspace follows it)
        self.set_theme(theme)

    # -- state -----------------------------------------------------------------------------------

    def set_theme(self, theme: Theme) -> None:
        """Colours and fonts of the cells (every cell repaints)."""
        self.theme = theme
        self._dying = tint(theme.danger, 44)
        self._editable = tint(theme.selection, 26)
        self._font = QFont(theme.font)
        self._bold = QFont(theme.font)
        self._bold.setBold(True)
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))

    def set_book(self, book: ScenarioBook) -> None:
        """Show ``book``. The same positions: values change in place; others: the rows are rebuilt
        and the edits of positions no longer open are dropped."""
        same = self.book is not None and np.array_equal(self.book.position_ids, book.position_ids)
        batch = book.batch
        self._max_lev = batch.tiers.flat("max_leverage")[batch.base + batch.entry_tier]
        if same:
            self.book = book
            if self.outcome is not None and not np.array_equal(self.outcome.book.position_ids, book.position_ids):
                self.outcome = None
            self._changed()
            return
        self.beginResetModel()
        self.book = book
        self.outcome = None
        ids = set(book.position_ids.tolist())
        self.margin_edits = {p: v for p, v in self.margin_edits.items() if p in ids}
        self.leverage_edits = {p: v for p, v in self.leverage_edits.items() if p in ids}
        self.order = np.arange(len(book), dtype=np.intp)
        if self._sorted is not None:
            self.order = self._sorted_order(*self._sorted)
        self.endResetModel()

    def set_outcome(self, outcome: Outcome) -> None:
        """Show the outcome of the book's positions (one ``dataChanged`` over every row)."""
        if self.book is None or not np.array_equal(outcome.book.position_ids, self.book.position_ids):
            self.set_book(outcome.book)
        self.book = outcome.book
        self.outcome = outcome
        self._changed()

    def _changed(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(COLUMNS) - 1))

    # -- edits -----------------------------------------------------------------------------------

    def scenario_edits(self) -> tuple[dict[int, float], dict[int, float]]:
        """``(margin edits, leverage edits)`` by position id, as a :class:`Scenario` takes them."""
        return ({p: float(v) for p, v in self.margin_edits.items()},
                {p: float(v) for p, v in self.leverage_edits.items()})

    def set_edits(self, margin: Mapping[int, float], leverage: Mapping[int, float]) -> list[int]:
        """Replace every edit (a loaded scenario); returns the ids that are not open positions."""
        ids = set() if self.book is None else set(self.book.position_ids.tolist())
        self.margin_edits = {int(p): Decimal(repr(float(v))) for p, v in margin.items() if p in ids and v}
        self.leverage_edits = {int(p): Decimal(repr(float(v))) for p, v in leverage.items() if p in ids and v > 0}
        self._changed()
        return sorted({int(p) for p in [*margin, *leverage] if p not in ids})

    def clear_edits(self) -> None:
        """No edits."""
        self.margin_edits.clear()
        self.leverage_edits.clear()
        self._changed()

    def drop_margin_edit(self, position_id: int) -> None:
        """Forget one margin edit (it was applied to the real book)."""
        if self.margin_edits.pop(position_id, None) is not None:
            self._changed()

    def _margin_base(self, r: int, pid: int) -> float:
        """The isolated margin before the margin edit: after the leverage edit if there is one."""
        assert self.book is not None
        lev = self.leverage_edits.get(pid)
        batch = self.book.batch
        return float(batch.entry_notional[r] / float(lev)) if lev is not None else float(batch.margin[r])

    def needs_top_up(self, view_row: int) -> Decimal | None:
        """The margin edit that gives the position what it needs to survive the shown outcome
        (rounded up to the currency's precision), or None when it already holds enough."""
        if self.book is None or self.outcome is None:
            return None
        r = int(self.order[view_row])
        pid = int(self.book.position_ids[r])
        ccy = self.book.currencies[int(self.book.account_index[r])]
        needed = float(self.outcome.isolated.margin_needed[r])
        gap = needed - self._margin_base(r, pid)
        if not math.isfinite(gap) or gap <= 0:
            return None
        step = Decimal(1).scaleb(-money_decimals(ccy))
        return Decimal(repr(gap)).quantize(step, rounding=ROUND_CEILING)

    # -- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.book is None else len(self.book)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        col = COLUMNS[section]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.header
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tip
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(col.right))
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if COLUMNS[index.column()].editable else base

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.book is None:
            return None
        r = int(self.order[index.row()])
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(r, col.key)[0]
        if role == Qt.ItemDataRole.UserRole:
            return self._cell(r, col.key)[1]
        if role == Qt.ItemDataRole.EditRole:
            return self._written_edit(r, col.key)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(col.right))
        if role == Qt.ItemDataRole.BackgroundRole:
            if col.editable:
                return self._editable
            return self._dying if self._step(r) else None
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(r, col.key)
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if self._bold_cell(r, col.key) else self._font
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(r, col)
        if role == Qt.ItemDataRole.WhatsThisRole and col.editable:
            ccy = self.book.currencies[int(self.book.account_index[r])]
            if col.key == "margin_edit":
                return f"+500 or −500 {ccy}"
            top = self._max_lev[r]
            return f"1–{top:g}× (empty: keep)" if math.isfinite(top) else "1–200× (empty: keep)"
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self.book is None:
            return False
        col = COLUMNS[index.column()]
        if not col.editable:
            return False
        book = self.book
        r = int(self.order[index.row()])
        pid = int(book.position_ids[r])
        label, ccy = book.labels[r], book.currencies[int(book.account_index[r])]
        assert book.no_removal is not None
        locked = bool(book.no_removal[r])
        try:
            if col.key == "margin_edit":
                margin = read_margin_edit(value, label=label, currency=ccy, base=self._margin_base(r, pid),
                                          locked=locked)
                if margin == self.margin_edits.get(pid):
                    return True
                _set_or_drop(self.margin_edits, pid, margin)
            else:
                lev = read_leverage_edit(value, label=label, max_leverage=float(self._max_lev[r]))
                if lev == self.leverage_edits.get(pid):
                    return True
                self._check_leverage_keeps_margin(r, pid, lev, locked)
                _set_or_drop(self.leverage_edits, pid, lev)
        except BoundsError as exc:
            self.refused.emit(str(exc))
            return False
        row = index.row()
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        self.edits_changed.emit()
        return True

    def _check_leverage_keeps_margin(self, r: int, pid: int, lev: Decimal | None, locked: bool) -> None:
        assert self.book is not None
        batch = self.book.batch
        base = float(batch.entry_notional[r] / float(lev)) if lev is not None else float(batch.margin[r])
        field = f"{self.book.labels[r]} new leverage"
        if locked and lev is not None and base < float(batch.margin[r]):
            raise BoundsError(field, f"{lev}× lowers the margin of an isolated-only position, which the venue "
                                     "does not allow")
        edit = self.margin_edits.get(pid)
        if edit is not None and base + float(edit) <= 0:
            ccy = self.book.currencies[int(self.book.account_index[r])]
            raise BoundsError(field, f"with the margin edit of {fmt_money(float(edit), ccy, signed=True)} {ccy} "
                                     "it leaves no margin")

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Order the rows by a column (numpy argsort; ``column`` −1: the book's order). The order
        then stays put across outcomes until the next click (rows never move under the pointer)."""
        if self.book is None:
            self._sorted = None if column < 0 else (column, order)
            return
        self.layoutAboutToBeChanged.emit()
        old_rows = [int(self.order[i.row()]) for i in self.persistentIndexList()]
        self._sorted = None if column < 0 else (column, order)
        self.order = self._sorted_order(column, order)
        where = np.empty(len(self.order), dtype=np.intp)
        where[self.order] = np.arange(len(self.order))
        old = self.persistentIndexList()
        new = [self.index(int(where[r]), i.column()) for r, i in zip(old_rows, old, strict=True)]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _sorted_order(self, column: int, order: Qt.SortOrder) -> np.ndarray:
        assert self.book is not None
        n = len(self.book)
        if column < 0 or column >= len(COLUMNS):
            return np.arange(n, dtype=np.intp)
        keys = self._sort_keys(COLUMNS[column].key)
        idx = np.argsort(keys, kind="stable")
        return np.asarray(idx[::-1] if order == Qt.SortOrder.DescendingOrder else idx, dtype=np.intp)

    def _sort_keys(self, key: str) -> np.ndarray:
        assert self.book is not None
        n = len(self.book)
        if key in ("label", "account", "cross"):
            return np.array([self._cell(r, key)[0] for r in range(n)])
        if key == "odds" and self.outcome is not None:  # most likely first: the liquidated, then by odds, unknown last
            iso = self.outcome.isolated
            return np.where(iso.liquidated, 2.0, np.where(np.isnan(iso.liq_prob_24h), -1.0, iso.liq_prob_24h))
        values = np.array([_float(self._cell(r, key)[1]) for r in range(n)], dtype=np.float64)
        if key == "state":  # the first to die first; survivors last
            values = np.where(values > 0, values, np.inf)
        return np.where(np.isnan(values), np.inf, values)

    # -- cells -----------------------------------------------------------------------------------

    def _step(self, r: int) -> int:
        return 0 if self.outcome is None else int(self.outcome.isolated.liquidated_step[r])

    def _written_edit(self, r: int, key: str) -> str:
        assert self.book is not None
        pid = int(self.book.position_ids[r])
        value = self.margin_edits.get(pid) if key == "margin_edit" else self.leverage_edits.get(pid) \
            if key == "leverage_edit" else None
        return "" if value is None else (f"{value:+f}" if key == "margin_edit" else f"{value:f}")

    def _cell(self, r: int, key: str) -> tuple[str, Any]:
        """Shown text and raw value of a cell of book row ``r``."""
        book = self.book
        assert book is not None
        a = int(book.account_index[r])
        ccy = book.currencies[a]
        pid = int(book.position_ids[r])
        if key == "label":
            return book.labels[r], book.labels[r]
        if key == "account":
            return book.accounts[a], book.accounts[a]
        if key == "margin":
            v = float(book.batch.margin[r])
            return fmt_money(v, ccy), v
        if key == "leverage":
            v = float(book.batch.leverage[r])
            return fmt_leverage(round(v, 2)), v
        if key == "margin_edit":
            d = self.margin_edits.get(pid)
            return ("", None) if d is None else (fmt_money(float(d), ccy, signed=True), float(d))
        if key == "leverage_edit":
            d = self.leverage_edits.get(pid)
            return ("", None) if d is None else (fmt_leverage(float(d)), float(d))
        o = self.outcome
        if o is None:
            return "", None
        iso = o.isolated
        if key == "needs":
            v = float(iso.margin_needed[r])
            return fmt_money(v, ccy), v
        if key == "state":
            step = int(iso.liquidated_step[r])
            return ("LIQUIDATED" + (f" @{step}" if o.steps > 1 else "")) if step else "ok", step
        if key == "shocked":
            v = float(iso.shocked_mark[r])
            return fmt_price(v), v
        if key == "ratio":
            v = float(iso.margin_ratio[r])
            return (fmt_pct(v * 100), v) if math.isfinite(v) else (DASH, None)
        if key == "liq":
            v = float(iso.liquidation_price[r])
            return fmt_price(v), v
        if key == "upnl":
            v = float(iso.unrealized_pnl[r])
            return fmt_money(v, ccy, signed=True), v
        if key == "loss":
            v = float(iso.loss[r])
            return fmt_money(v, ccy), v
        if key == "odds":
            v = float(iso.liq_prob_24h[r])
            return format_value(ODDS_COLUMN, v, ccy), (v if math.isfinite(v) else None)
        if key == "drift":
            v = float(iso.liq_drift_pct_day[r])
            return format_value(DRIFT_COLUMN, v, ccy), (v if math.isfinite(v) else None)
        if key == "cross":
            return self._verdict(r)[0], not bool(o.cross.liquidated[a])
        raise KeyError(key)

    def _odds_high(self, r: int) -> bool:
        """True when the position's 24 h odds after the scenario are above the alert line."""
        assert self.outcome is not None
        p = float(self.outcome.isolated.liq_prob_24h[r])
        return math.isfinite(p) and p * 100.0 > self.odds_alert_pct

    def _verdict(self, r: int) -> tuple[str, QColor]:
        assert self.book is not None and self.outcome is not None
        o, t = self.outcome, self.theme
        a = int(self.book.account_index[r])
        step = int(o.isolated.liquidated_step[r])
        if o.cross.liquidated[a]:
            cstep = int(o.cross.liquidated_step[a])
            return "pool lost" + (f" @{cstep}" if o.steps > 1 else ""), t.danger
        if step:
            return "saves it", t.safe
        return "ok", t.muted

    def _short(self, r: int) -> bool:
        """True when the position holds less than it needs (after the edits)."""
        assert self.outcome is not None
        iso = self.outcome.isolated
        return bool(iso.margin_needed[r] > iso.margin[r])

    def _foreground(self, r: int, key: str) -> QColor | None:
        t = self.theme
        if self.outcome is None:
            return None
        step = self._step(r)
        if key == "state":
            return t.danger if step else t.safe
        if key == "label":
            return t.danger if step else None
        if key == "cross":
            return self._verdict(r)[1]
        if key == "odds" and self._odds_high(r):
            return t.danger
        if key == "needs":
            if self._short(r):
                return t.danger
            return t.muted if float(self.outcome.isolated.margin_needed[r]) == 0.0 else None
        return None

    def _bold_cell(self, r: int, key: str) -> bool:
        assert self.book is not None
        if key in ("label", "state"):
            return bool(self._step(r))
        pid = int(self.book.position_ids[r])
        if key == "margin_edit":
            return pid in self.margin_edits
        if key == "leverage_edit":
            return pid in self.leverage_edits
        if key == "needs":
            return self.outcome is not None and self._short(r)
        if key == "odds":
            return self.outcome is not None and self._odds_high(r)
        return False

    def _tip(self, r: int, col: Column) -> str | None:
        book = self.book
        assert book is not None
        a = int(book.account_index[r])
        ccy = book.currencies[a]
        if col.editable:
            return col.tip
        o = self.outcome
        if col.key == "label":
            return f"{book.labels[r]} · {book.accounts[a]} · {book.markets[int(book.market_index[r])]}"
        if o is None:
            return None
        iso = o.isolated
        if col.key == "shocked":
            m = int(book.market_index[r])
            move = float((iso.shocked_mark[r] / book.marks[m] - 1.0) * 100.0)
            return f"{fmt_pct(move, signed=True)} from {fmt_price(float(book.marks[m]))}"
        if col.key == "needs":
            needed, held = float(iso.margin_needed[r]), float(iso.margin[r])
            if needed == 0.0:
                return "survives the scenario with any margin"
            if needed > held:
                return (f"needs {fmt_money(needed, ccy)} {ccy}, holds {fmt_money(held, ccy)} after the edits: "
                        f"{fmt_money(needed - held, ccy)} {ccy} short (right-click: add it)")
            return f"needs {fmt_money(needed, ccy)} {ccy}, holds {fmt_money(held, ccy)}: survives"
        if col.key == "margin":
            return f"after the edits: {fmt_money(float(iso.margin[r]), ccy)} {ccy}"
        if col.key == "cross":
            dead = bool(o.cross.liquidated[a])
            return (f"as cross margin, {book.accounts[a]} would "
                    + (f"be liquidated whole and lose its pool of {fmt_money(float(o.cross.pool[a]), ccy)} {ccy}"
                       if dead else "survive"))
        if col.key in ("upnl", "loss"):
            return ccy
        if col.key in ("odds", "drift"):
            return self._after_tip(r, col.key, ccy)
        return None

    def _after_tip(self, r: int, key: str, ccy: str) -> str:
        """The tooltip of the odds and drift cells: the figures behind them, or why there are none."""
        assert self.book is not None and self.outcome is not None
        iso = self.outcome.isolated
        if iso.liquidated[r]:
            return "liquidated in the scenario"
        if key == "odds":
            p24, p1, sd = (float(iso.liq_prob_24h[r]), float(iso.liq_prob_1h[r]), float(iso.sigma_distance[r]))
            if not math.isfinite(p24):
                return "no realized volatility of this market yet"
            return (f"24 h: {format_value(ODDS_COLUMN, p24)} · 1 h: {format_value(column_for('liq_prob_1h'), p1)} · "
                    f"{format_value(column_for('sigma_distance'), sd)} daily from liquidation at "
                    f"{fmt_price(float(iso.liquidation_price[r]))} (mark {fmt_price(float(iso.shocked_mark[r]))})")
        amount = float(iso.next_funding_amount[r])
        if not math.isfinite(amount):
            return "no funding quote for this market"
        return f"next funding payment at the scenario's mark: {fmt_money(amount, ccy, signed=True)} {ccy}"

    # -- for tests and the workspace ----------------------------------------------------------------

    def column(self, header: str) -> int:
        """The index of a column by its header."""
        return [c.header for c in COLUMNS].index(header)

    def text(self, row: int, header: str) -> str:
        """The shown text of one cell (view row)."""
        return str(self.data(self.index(row, self.column(header))) or "")

    def value(self, row: int, header: str) -> Any:
        """The raw value of one cell (view row)."""
        return self.data(self.index(row, self.column(header)), Qt.ItemDataRole.UserRole)

    def view_row(self, position_id: int) -> int | None:
        """The view row of a position id (None if not in the book)."""
        if self.book is None:
            return None
        hits = np.flatnonzero(self.book.position_ids == position_id)
        if not hits.size:
            return None
        return int(np.flatnonzero(self.order == hits[0])[0])

    def position_id(self, view_row: int) -> int:
        """The position id of a view row."""
        assert self.book is not None
        return int(self.book.position_ids[int(self.order[view_row])])


def _align(right: bool) -> Qt.AlignmentFlag:
    return (Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter


def _float(value: Any) -> float:
    if value is None or isinstance(value, bool):
        return math.nan if value is None else float(value)
    return float(value)


def _set_or_drop(edits: dict[int, Decimal], pid: int, value: Decimal | None) -> None:
    if value is None:
        edits.pop(pid, None)
    else:
        edits[pid] = value
