"""Settings → Risk settings…: the trader's thresholds, hysteresis, dwell, staleness, reconciliation
tolerance, price retention and sound, as ``isodesk config`` shows them.

The dialog edits the values the desk published in its last snapshot and sends the changed ones as
one :class:`~isodesk.desk.settings.SetSettings` command; the desk checks them with the same pure
rules this form previews with (:func:`~isodesk.desk.settings.apply_changes`), writes them to the
book's settings table and uses them at once. The desk's answer is what the status line shows.
"""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from isodesk.desk import Level, Result, Snapshot
from isodesk.desk.settings import (
    DEFAULTS,
    SPECS,
    DeskSettings,
    SetSettings,
    SettingError,
    SettingSpec,
    apply_changes,
    describe_changes,
    number_text,
)
from isodesk.ui.theme import Theme
from isodesk.ui.worker import DeskController

#: Decimals shown per unit (percent to a hundredth, seconds to a tenth).
DECIMALS = {"%": 2, "s": 1}


class SettingsDialog(QDialog):
    """Edit the risk settings; non-modal. ``fields`` maps each key to its spin box or check box.

    Signals:
        saved(object): the DeskSettings the desk accepted.
    """

    saved = Signal(object)

    def __init__(self, controller: DeskController, current: DeskSettings, parent: QWidget | None = None, *,
                 theme: Theme | None = None):
        super().__init__(parent)
        self._error_style = f"color: {theme.level_color(Level.DANGER).name() if theme else '#c62828'};"
        self.setWindowTitle("Risk settings")
        self.setObjectName("settings")
        self.controller = controller
        self.current = current
        self.pending: tuple[str, DeskSettings] | None = None
        self.fields: dict[str, QDoubleSpinBox | QCheckBox] = {}
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        for spec in SPECS:
            widget = self._field(spec)
            label = QLabel(spec.label if spec.kind == "switch" else f"{spec.label} ({spec.unit})", self)
            label.setToolTip(f"{spec.key}: {spec.help}")
            label.setBuddy(widget)
            form.addRow(label, widget)
            self.fields[spec.key] = widget
        self.note = QLabel(self)
        self.note.setObjectName("settings-note")
        self.note.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setObjectName("settings-status")
        self.status.setWordWrap(True)
        self.defaults_button = QPushButton("Restore defaults", self)
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        close = QPushButton("Close", self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.defaults_button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)
        intro = QLabel("Kept in the book, shared with <code>isodesk config</code>; the running desk uses a saved "
                       "value at once. Hover a label for what it does.", self)
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.defaults_button.clicked.connect(self.restore_defaults)
        self.save_button.clicked.connect(self.save)
        close.clicked.connect(self.close)
        controller.result.connect(self._on_result)
        self.show_settings(current)
        self.setModal(False)

    def _field(self, spec: SettingSpec) -> QDoubleSpinBox | QCheckBox:
        if spec.kind == "switch":
            box = QCheckBox(self)
            box.setObjectName(spec.key)
            box.setToolTip(spec.help)
            box.toggled.connect(self._preview)
            return box
        spin = QDoubleSpinBox(self)
        spin.setObjectName(spec.key)
        decimals = DECIMALS.get(spec.unit, 2)
        step = 10.0 ** -decimals
        spin.setDecimals(decimals)
        spin.setRange(spec.low + (step if spec.low_open else 0.0), spec.high - (step if spec.high_open else 0.0))
        spin.setSuffix(f" {spec.unit}")
        spin.setSingleStep(1.0 if spec.unit == "s" else 0.5)
        spin.setKeyboardTracking(True)
        spin.setToolTip(f"{spec.help}; {spec.range_text()}")
        spin.setMinimumWidth(140)
        spin.valueChanged.connect(self._preview)
        return spin

    # -- values ------------------------------------------------------------------------------------

    def show_settings(self, settings: DeskSettings) -> None:
        """Put ``settings`` in the fields (the preview follows)."""
        for spec in SPECS:
            widget = self.fields[spec.key]
            widget.blockSignals(True)
            if isinstance(widget, QCheckBox):
                widget.setChecked(bool(settings.value(spec.key)))
            else:
                widget.setValue(float(settings.value(spec.key)))
            widget.blockSignals(False)
        self._preview()

    def changes(self) -> list[tuple[str, str]]:
        """``(key, value text)`` of every field that differs from the desk's current value."""
        out = []
        for spec in SPECS:
            widget = self.fields[spec.key]
            if isinstance(widget, QCheckBox):
                text = "on" if widget.isChecked() else "off"
                if widget.isChecked() != bool(self.current.value(spec.key)):
                    out.append((spec.key, text))
            else:
                text = number_text(widget.value())
                # a value set finer than the box shows (`config set` takes 6 decimals) is not a change
                shown = widget.valueFromText(widget.textFromValue(float(self.current.value(spec.key))))
                if text != number_text(shown):
                    out.append((spec.key, text))
        return out

    def problem(self) -> str:
        """Why the form cannot be saved (the desk's own rule), or ``""``."""
        changes = self.changes()
        if not changes:
            return ""
        try:
            apply_changes(self.current, changes)
        except SettingError as exc:
            return str(exc)
        return ""

    @Slot()
    def _preview(self, *_: object) -> None:
        changes = self.changes()
        problem = self.problem()
        self.save_button.setEnabled(bool(changes) and not problem and self.pending is None)
        if problem:
            self.note.setText(problem)
            self.note.setStyleSheet(self._error_style)
        elif changes:
            self.note.setText("To save: " + describe_changes(self.current, apply_changes(self.current, changes)))
            self.note.setStyleSheet("")
        else:
            self.note.setText("No changes.")
            self.note.setStyleSheet("")

    @Slot()
    def restore_defaults(self) -> None:
        """Put every default in the form (saved only with Save)."""
        self.show_settings(DEFAULTS)

    # -- the desk ----------------------------------------------------------------------------------

    @Slot()
    def save(self) -> str | None:
        """Send the changed settings to the desk; returns the request id (None: nothing to send)."""
        changes = self.changes()
        if not changes or self.problem():
            return None
        command = SetSettings(tuple(changes))
        self.pending = (command.request_id, apply_changes(self.current, changes))
        self.save_button.setEnabled(False)
        self.status.setText("Saving…")
        self.controller.send(command)
        return command.request_id

    def set_current(self, settings: DeskSettings) -> None:
        """The desk's settings changed elsewhere (``isodesk config set``): show them if nothing is being edited."""
        if settings == self.current:
            return
        editing = bool(self.changes())
        self.current = settings
        if not editing:
            self.show_settings(settings)
        else:
            self._preview()

    @Slot(object)
    def on_snapshot(self, snapshot: Snapshot) -> None:
        """A new snapshot: follow the desk's settings (another process may have changed them)."""
        self.set_current(snapshot.settings)

    @Slot(object)
    def _on_result(self, result: Result) -> None:
        if self.pending is None or result.request_id != self.pending[0]:
            return
        _, wanted = self.pending
        self.pending = None
        if result.accepted:
            self.current = wanted
            self.status.setText(f"Saved: {result.reason}")
            self.status.setStyleSheet("")
            self.saved.emit(wanted)
        else:
            self.status.setText(f"Not saved: {result.reason}")
            self.status.setStyleSheet(self._error_style)
        self._preview()


__all__ = ["SettingsDialog"]
