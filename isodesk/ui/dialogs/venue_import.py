"""Import isolated positions from a live venue (read-only keys from the keyring), as a desk job."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from isodesk.desk import Result
from isodesk.desk.venue_jobs import ImportFromVenue
from isodesk.ui.worker import DeskController

VENUES = ("binance-usdm", "bybit", "okx", "hyperliquid")


class VenueImportDialog(QDialog):
    """Pick a venue, import its isolated positions, read what changed and what reconciliation flags.

    Signals:
        finished_import(object): the desk's final Result (payload: the SyncReport when accepted).
    """

    finished_import = Signal(object)

    def __init__(self, controller: DeskController, parent: QWidget | None = None, *, base_url: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import from a venue")
        self.setObjectName("venue-import")
        self.controller = controller
        self.base_url = base_url
        self.pending: str | None = None
        self.venue = QComboBox(self)
        self.venue.addItems(VENUES)
        self.import_button = QPushButton("Import", self)
        self.import_button.setDefault(True)
        self.status = QLabel("Keys are read from the system keyring (enter them with File → Venue API keys…, or "
                             "isodesk keys set VENUE); isodesk never stores them anywhere else.", self)
        self.status.setWordWrap(True)
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("What the import created, updated, skipped and flagged appears here.")
        close = QPushButton("Close", self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Venue", self))
        row.addWidget(self.venue, 1)
        row.addWidget(self.import_button)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.resize(560, 360)
        self.import_button.clicked.connect(self.start_import)
        close.clicked.connect(self.close)
        controller.result.connect(self._on_result)
        self.setModal(False)
        self.setWindowModality(Qt.WindowModality.NonModal)

    def start_import(self) -> str:
        """Send the import to the desk; returns its request id."""
        command = ImportFromVenue(self.venue.currentText(), base_url=self.base_url)
        self.pending = command.request_id
        self.import_button.setEnabled(False)
        self.status.setText(f"Asking the desk to read {command.venue}…")
        self.controller.send(command)
        return command.request_id

    @Slot(object)
    def _on_result(self, result: Result) -> None:
        if result.request_id != self.pending:
            return
        if result.accepted and result.payload is None:  # "started": the final answer follows
            self.status.setText(result.reason)
            return
        self.pending = None
        self.import_button.setEnabled(True)
        if not result.accepted:
            self.status.setText(f"The import failed: {result.reason}")
            self.finished_import.emit(result)
            return
        report = result.payload
        self.status.setText(result.reason)
        lines = [f"new      {s.label}" for s in report.created]
        lines += [f"updated  {s.label}: {', '.join(sorted(s.changes))}" for s in report.updated]
        for s in report.synced:
            r = s.reconciliation
            if r.diff_pct is not None:
                mark = "⚠" if r.flagged else "✓"
                lines.append(f"{mark} {s.label}: isodesk liq {r.isodesk_liquidation_price:,.6g} vs venue "
                             f"{r.venue_liquidation_price:,.6g} ({r.diff_pct:+.2f} %)")
        lines += [f"skipped  {symbol}: {reason}" for symbol, reason in report.skipped]
        lines += [f"missing  {label}: no longer shown by the venue (left open here)" for label in report.missing]
        self.details.setPlainText("\n".join(lines) or "nothing to import")
        self.finished_import.emit(result)
