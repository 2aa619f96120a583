"""The markets of the What-if page: one row per market, its mark, own shock and beta.

**Own shock** (editable): a percent of the market's mark, bounded as ``isodesk whatif --shock``
bounds a percent move (:func:`~isodesk.margin.bounds.check_move_pct`: above −100 %); empty or 0 =
no own shock, the market follows the market shock × its beta. **Beta** (editable): how much of the
market shock the market takes (default 1, from −10 to 10). The **Mark** column is the mark the
page took (see the marks bar), **Shocked** the price after the scenario's last step.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QWidget

from isodesk.margin.bounds import BoundsError, check_move_pct, parse_decimal
from isodesk.margin.scenario import Outcome, ScenarioBook
from isodesk.ui.columns import MINUS, fmt_pct, fmt_price
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import EDITABLE_HINT, tint

HEADERS = ("Market", "Mark", "Own shock", "Beta", "Shocked")
TIPS = ("the market", "the mark the scenario starts from (see 'Marks of …' above)",
        f"percent of the mark; empty = follow the market shock × beta; {EDITABLE_HINT}",
        f"the share of the market shock this market takes (1 = all of it); {EDITABLE_HINT}",
        "the price after the scenario (its last step), and the move")
OWN, BETA = 2, 3
MAX_BETA = Decimal(10)
SAMPLES = ("DOGEUSDT-xx", "60,000.00", "+100.0 %", "−10.00", "60,000.00  (+100.0 %)")


def read_own_shock(text: Any, market: str) -> Decimal | None:
    """A written own shock in percent (``-15``, ``−15 %``) as an exact Decimal, None for none
    (empty or 0); :class:`BoundsError` naming ``MARKET own shock`` otherwise."""
    field = f"{market} own shock"
    written = str(text).strip().replace(MINUS, "-").removesuffix("%").strip()
    if written in ("", "0"):
        return None
    value = check_move_pct(parse_decimal(written, field), field)
    return None if value == 0 else value


def read_beta(text: Any, market: str) -> Decimal | None:
    """A written beta as an exact Decimal, None for the default 1 (also when empty);
    :class:`BoundsError` naming ``MARKET beta`` outside −10…10."""
    field = f"{market} beta"
    written = str(text).strip().replace(MINUS, "-")
    if written == "":
        return None
    value = parse_decimal(written, field)
    if abs(value) > MAX_BETA:
        raise BoundsError(field, f"{value} is outside −10 to 10")
    return None if value == 1 else value


class MarketsModel(QAbstractTableModel):
    """Markets × (mark, own shock, beta, shocked price).

    Signals:
        edits_changed(): an own shock or a beta was set or cleared.
        refused(str): a written value was refused; the one-line reason.
    """

    edits_changed = Signal()
    refused = Signal(str)

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        self.book: ScenarioBook | None = None
        self.outcome: Outcome | None = None
        self.shocks: dict[str, Decimal] = {}
        self.betas: dict[str, Decimal] = {}
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        """Colours and fonts of the cells."""
        self.theme = theme
        self._editable = tint(theme.selection, 26)
        self._font = QFont(theme.font)
        self._bold = QFont(theme.font)
        self._bold.setBold(True)
        self._changed()

    def set_book(self, book: ScenarioBook) -> None:
        """Show the markets of ``book`` (own shocks and betas of markets still held are kept)."""
        if self.book is not None and self.book.markets == book.markets:
            self.book = book
            self._changed()
            return
        self.beginResetModel()
        self.book = book
        self.outcome = None
        self.shocks = {m: v for m, v in self.shocks.items() if m in book.markets}
        self.betas = {m: v for m, v in self.betas.items() if m in book.markets}
        self.endResetModel()

    def set_outcome(self, outcome: Outcome) -> None:
        """Show the shocked prices of an outcome."""
        if self.book is None or self.book.markets != outcome.book.markets:
            self.set_book(outcome.book)
        self.book = outcome.book
        self.outcome = outcome
        self._changed()

    def _changed(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(HEADERS) - 1))

    # -- edits -----------------------------------------------------------------------------------

    def own_shocks(self) -> dict[str, float]:
        """Own shock per market (percent), only the markets that have one."""
        return {m: float(v) for m, v in self.shocks.items()}

    def beta_values(self) -> dict[str, float]:
        """Beta per market, only those that differ from 1."""
        return {m: float(v) for m, v in self.betas.items()}

    def set_values(self, shocks: Mapping[str, float], betas: Mapping[str, float]) -> None:
        """Replace every own shock and beta (percent; markets not in the book are ignored)."""
        held = set(self.book.markets) if self.book is not None else set()
        self.shocks = {m: Decimal(repr(float(v))) for m, v in shocks.items() if m in held and v}
        self.betas = {m: Decimal(repr(float(v))) for m, v in betas.items() if m in held and v != 1.0}
        self._changed()

    def set_own_shock(self, market: str, pct: float) -> None:
        """Set one market's own shock (percent; 0 clears it), as the own-shock slider does."""
        self.setData(self.index(self.row_of(market), OWN), f"{pct:g}")

    def row_of(self, market: str) -> int:
        """The row of a market."""
        assert self.book is not None
        return self.book.markets.index(market)

    # -- Qt model --------------------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self.book is None else len(self.book.markets)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADERS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(section > 0))
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsEditable if index.column() in (OWN, BETA) else base

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.book is None:
            return None
        j, col = index.row(), index.column()
        market = self.book.markets[j]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(j, col)
        if role == Qt.ItemDataRole.EditRole:
            value = self.shocks.get(market) if col == OWN else self.betas.get(market) if col == BETA else None
            return "" if value is None else f"{value:f}"
        if role == Qt.ItemDataRole.UserRole:
            return self._raw(j, col)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_align(col > 0))
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._editable if col in (OWN, BETA) else None
        if role == Qt.ItemDataRole.FontRole:
            edited = (col == OWN and market in self.shocks) or (col == BETA and market in self.betas)
            return self._bold if edited else self._font
        if role == Qt.ItemDataRole.ForegroundRole and col in (OWN, BETA):
            edited = (col == OWN and market in self.shocks) or (col == BETA and market in self.betas)
            return None if edited else self.theme.muted
        if role == Qt.ItemDataRole.ToolTipRole:
            return TIPS[col]
        if role == Qt.ItemDataRole.WhatsThisRole and col in (OWN, BETA):
            return "−15 (percent)" if col == OWN else "1.5"
        return None

    def _text(self, j: int, col: int) -> str:
        assert self.book is not None
        market = self.book.markets[j]
        if col == 0:
            return market
        if col == 1:
            return fmt_price(float(self.book.marks[j]))
        if col == OWN:
            v = self.shocks.get(market)
            return "follows" if v is None else fmt_pct(float(v), signed=True)
        if col == BETA:
            return f"{float(self.betas.get(market, Decimal(1))):.2f}"
        if self.outcome is None:
            return ""
        price = float(self.outcome.prices[-1, j])
        move = (price / float(self.book.marks[j]) - 1.0) * 100.0
        return f"{fmt_price(price)}  ({fmt_pct(move, signed=True)})"

    def _raw(self, j: int, col: int) -> Any:
        assert self.book is not None
        market = self.book.markets[j]
        if col == 0:
            return market
        if col == 1:
            return float(self.book.marks[j])
        if col == OWN:
            return float(self.shocks.get(market, Decimal(0)))
        if col == BETA:
            return float(self.betas.get(market, Decimal(1)))
        return None if self.outcome is None else float(self.outcome.prices[-1, j])

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid() or self.book is None:
            return False
        col = index.column()
        if col not in (OWN, BETA):
            return False
        market = self.book.markets[index.row()]
        target = self.shocks if col == OWN else self.betas
        try:
            parsed = read_own_shock(value, market) if col == OWN else read_beta(value, market)
        except BoundsError as exc:
            self.refused.emit(str(exc))
            return False
        if parsed == target.get(market):
            return True
        if parsed is None:
            target.pop(market, None)
        else:
            target[market] = parsed
        row = index.row()
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        self.edits_changed.emit()
        return True


def _align(right: bool) -> Qt.AlignmentFlag:
    return (Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft) | Qt.AlignmentFlag.AlignVCenter
