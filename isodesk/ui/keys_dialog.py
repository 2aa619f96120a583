"""Settings → Venue API keys…: enter a venue's read-only API key, secret (and OKX passphrase, or the
Hyperliquid wallet address) into the operating system's keyring, as ``isodesk keys set`` does.

The keys go to the keyring only (:mod:`isodesk.venues.keys`), never to the book, a file or a log.
Where the system has no keyring the dialog says what to install and offers nothing else; where the
keyring in use keeps keys unencrypted (``keyrings.alt`` PlaintextKeyring) it says so and stores
only after the trader ticks "Store unencrypted". Writing to a keyring may show the system's own
unlock prompt; the dialog waits for it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk import Level
from isodesk.ui.theme import Theme
from isodesk.venues.errors import VenueError
from isodesk.venues.keys import PROMPTS, KeyringStatus, delete_credentials, keyring_status, save_credentials
from isodesk.venues.registry import SPECS, VenueSpec

#: Which credential fields are hidden while typed.
SECRET_FIELDS = ("secret", "password")
FIELD_LABELS = {"apiKey": "API key", "secret": "API secret", "password": "Passphrase (OKX)",
                "walletAddress": "Wallet address"}


class KeysDialog(QDialog):
    """Store or delete a venue's read-only keys in the system keyring; non-modal.

    ``status_probe`` (tests) replaces :func:`~isodesk.venues.keys.keyring_status`.

    Signals:
        stored(str): the venue whose keys were saved.
        deleted(str): the venue whose keys were removed.
    """

    stored = Signal(str)
    deleted = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, venue: str | None = None, theme: Theme | None = None,
                 status_probe: Callable[[], KeyringStatus] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Venue API keys")
        self.setObjectName("venue-keys")
        self._error_style = f"color: {theme.level_color(Level.DANGER).name() if theme else '#c62828'};"
        self._warn_style = f"color: {theme.level_color(Level.WARNING).name() if theme else '#b26a00'};"
        self.keyring: KeyringStatus = (status_probe or keyring_status)()
        self.venue = QComboBox(self)
        self.venue.setObjectName("venue")
        self.venue.addItems(list(SPECS))
        if venue in SPECS:
            self.venue.setCurrentText(venue)
        self.inputs: dict[str, QLineEdit] = {}
        self._labels: dict[str, QLabel] = {}
        form = QFormLayout()
        form.addRow(QLabel("Venue", self), self.venue)
        for name in ("apiKey", "secret", "password", "walletAddress"):
            edit = QLineEdit(self)
            edit.setObjectName(name)
            edit.setPlaceholderText(PROMPTS.get(name, name))
            if name in SECRET_FIELDS:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.textChanged.connect(self._update)
            label = QLabel(FIELD_LABELS[name], self)
            form.addRow(label, edit)
            self.inputs[name] = edit
            self._labels[name] = label
        self.keyring_label = QLabel(self)
        self.keyring_label.setObjectName("keyring-status")
        self.keyring_label.setWordWrap(True)
        self.keyring_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.consent = QCheckBox("Store unencrypted anyway (I understand the risk)", self)
        self.consent.setObjectName("consent")
        self.status = QLabel(self)
        self.status.setObjectName("keys-status")
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save to keyring", self)
        self.save_button.setDefault(True)
        self.delete_button = QPushButton("Delete keys", self)
        close = QPushButton("Close", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.keyring_label)
        layout.addLayout(form)
        layout.addWidget(self.consent)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.venue.currentTextChanged.connect(self._venue_changed)
        self.consent.toggled.connect(self._update)
        self.save_button.clicked.connect(self.save)
        self.delete_button.clicked.connect(self.delete)
        close.clicked.connect(self.close)
        self._show_keyring()
        self._venue_changed(self.venue.currentText())
        self.setModal(False)
        self.setMinimumWidth(520)

    def spec(self) -> VenueSpec:
        """The venue being edited."""
        return SPECS[self.venue.currentText()]

    def _show_keyring(self) -> None:
        k = self.keyring
        self.consent.setVisible(k.usable and k.needs_consent)
        if not k.usable:
            self.keyring_label.setText(f"Keys cannot be stored here: {k.message()}.")
            self.keyring_label.setStyleSheet(self._error_style)
        elif k.needs_consent:
            self.keyring_label.setText(f"Warning: {k.problem}. {k.advice[:1].upper()}{k.advice[1:]}.")
            self.keyring_label.setStyleSheet(self._warn_style)
        else:
            self.keyring_label.setText(f"Keys are kept in the system keyring ({k.name}), never in the book, a file "
                                       "or a log. Use read-only keys.")
            self.keyring_label.setStyleSheet("")

    @Slot(str)
    def _venue_changed(self, _venue: str) -> None:
        wanted = self.spec().credentials
        for name, edit in self.inputs.items():
            edit.setVisible(name in wanted)
            self._labels[name].setVisible(name in wanted)
            edit.clear()
        self.status.clear()
        self._update()

    def missing(self) -> list[str]:
        """The credential fields of the venue still empty."""
        return [name for name in self.spec().credentials if not self.inputs[name].text().strip()]

    @Slot()
    def _update(self, *_: object) -> None:
        k = self.keyring
        allowed = k.usable and (not k.needs_consent or self.consent.isChecked())
        self.save_button.setEnabled(allowed and not self.missing())
        self.delete_button.setEnabled(k.usable)

    @Slot()
    def save(self) -> bool:
        """Store the typed keys in the keyring; True when saved (the fields are cleared)."""
        spec = self.spec()
        values = {name: self.inputs[name].text().strip() for name in spec.credentials}
        try:
            save_credentials(spec, values, allow_insecure=self.consent.isChecked())
        except VenueError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet(self._error_style)
            return False
        for edit in self.inputs.values():
            edit.clear()
        self.status.setText(f"{spec.venue}: keys saved in the system keyring ({self.keyring.name}). Import from "
                            "the venue with Account → Import from venue…")
        self.status.setStyleSheet("")
        self.stored.emit(spec.venue)
        return True

    @Slot()
    def delete(self) -> bool:
        """Remove the venue's keys from the keyring; True if there were any."""
        spec = self.spec()
        try:
            found = delete_credentials(spec)
        except VenueError as exc:
            self.status.setText(str(exc))
            self.status.setStyleSheet(self._error_style)
            return False
        self.status.setText(f"{spec.venue}: keys {'deleted' if found else 'were not set'}")
        self.status.setStyleSheet("")
        if found:
            self.deleted.emit(spec.venue)
        return found


__all__ = ["KeysDialog"]
