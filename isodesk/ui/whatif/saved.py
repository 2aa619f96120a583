"""Saved scenarios on the What-if page: pick, load, save as, rename, delete.

They live in the book's database (the desk's ``scenarios`` table); this widget only asks: its
signals say what the trader wants and the workspace sends the desk request. Names are typed in an
inline field (:attr:`SavedScenarios.name_bar`), never a modal dialog.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QToolButton, QWidget


def _tool_button(text: str, parent: QWidget) -> QToolButton:
    b = QToolButton(parent)
    b.setText(text)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return b


class SavedScenarios(QWidget):
    """The saved-scenario picker and its buttons; :attr:`name_bar` is placed by the workspace.

    Signals:
        load_requested(str), save_requested(str), delete_requested(str): a saved name.
        rename_requested(str, str): old, new name.
        problem(str): something the trader must fix first (no name, nothing picked).
    """

    load_requested = Signal(str)
    save_requested = Signal(str)
    rename_requested = Signal(str, str)
    delete_requested = Signal(str)
    problem = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        self.combo = QComboBox(self)
        self.combo.setObjectName("saved-scenarios")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setPlaceholderText("saved: none")
        self.combo.setToolTip("scenarios saved in the book's database")
        row.addWidget(self.combo, 1)
        self.load_button = _tool_button("Load", self)
        self.save_button = _tool_button("Save as…", self)
        self.rename_button = _tool_button("Rename…", self)
        self.delete_button = _tool_button("Delete", self)
        for b in (self.load_button, self.save_button, self.rename_button, self.delete_button):
            row.addWidget(b)
        self.load_button.clicked.connect(self._load)
        self.save_button.clicked.connect(lambda: self.ask_name("save"))
        self.rename_button.clicked.connect(lambda: self.ask_name("rename"))
        self.delete_button.clicked.connect(self._delete)

        self.name_bar = QFrame(self)  # the workspace lays it out under its controls
        self.name_bar.setObjectName("scenario-name-bar")
        nb = QHBoxLayout(self.name_bar)
        nb.setContentsMargins(0, 0, 0, 0)
        self.name_label = QLabel("Save as:", self.name_bar)
        self.name_edit = QLineEdit(self.name_bar)
        self.name_edit.setObjectName("scenario-name")
        self.name_ok = QPushButton("Save", self.name_bar)
        self.name_cancel = QPushButton("Cancel", self.name_bar)
        for w in (self.name_label, self.name_edit, self.name_ok, self.name_cancel):
            nb.addWidget(w)
        nb.setStretch(1, 1)
        self.name_ok.clicked.connect(self._name_confirmed)
        self.name_edit.returnPressed.connect(self._name_confirmed)
        self.name_cancel.clicked.connect(self.name_bar.hide)
        self.name_bar.hide()
        self._mode = "save"
        self.set_names((), None)

    def names(self) -> tuple[str, ...]:
        """The saved names, in the combo's order."""
        return tuple(self.combo.itemText(i) for i in range(self.combo.count()))

    def current(self) -> str:
        """The picked name ('' when none)."""
        return self.combo.currentText()

    def set_names(self, names: tuple[str, ...], select: str | None) -> None:
        """List ``names``, picking ``select`` (else the current one, else the first)."""
        current = select or self.combo.currentText()
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItems(list(names))
            i = self.combo.findText(current) if current else -1
            self.combo.setCurrentIndex(i if i >= 0 else (0 if names else -1))
        for b in (self.load_button, self.rename_button, self.delete_button):
            b.setEnabled(bool(names))

    def ask_name(self, mode: str) -> None:
        """Open the inline name field to save (``save``) or rename (``rename``) the picked one."""
        if mode == "rename" and not self.current():
            self.problem.emit("pick a saved scenario to rename")
            return
        self._mode = mode
        self.name_label.setText("Save as:" if mode == "save" else f"Rename {self.current()!r} to:")
        self.name_ok.setText("Save" if mode == "save" else "Rename")
        self.name_edit.setText(self.current() if mode == "rename" else "")
        self.name_bar.show()
        self.name_edit.setFocus()

    @Slot()
    def _name_confirmed(self) -> None:
        name = self.name_edit.text().strip()
        if not name:
            self.problem.emit("give the scenario a name")
            return
        if self._mode == "save":
            self.save_requested.emit(name)
        else:
            self.rename_requested.emit(self.current(), name)
        self.name_bar.hide()

    @Slot()
    def _load(self) -> None:
        if not self.current():
            self.problem.emit("no saved scenario picked")
            return
        self.load_requested.emit(self.current())

    @Slot()
    def _delete(self) -> None:
        if not self.current():
            self.problem.emit("no saved scenario picked")
            return
        self.delete_requested.emit(self.current())
