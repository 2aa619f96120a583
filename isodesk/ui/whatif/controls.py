"""The controls strip of the What-if page: the marks it starts from, presets, market shock, path.

* :class:`MarksBar`: "Marks of 14:02:11" — the time the page took its marks from the live book
  (the desk's clock; a replay's own time) — and *Take the live marks*.
* :class:`PresetsBar`: −10 / −20 / −30 % market crash (own shocks cleared); *±16 % grid*: a path
  of market shocks −16, −12, …, +16 % to scrub; *Open path…* (a ``ts,symbol,price`` CSV); *Reset*.
* :class:`ShockBar`: the market shock (slider −50…+50 %, spin box to one decimal) on a reference
  market: every market without an own shock moves ``beta × market shock``.
* :class:`PathBar`: the path being scrubbed: play, the scrub slider, the step shown, back to shocks.
* :class:`OwnShockSlider`: a slider for the own shock of the market selected in the markets table
  (one slider, not one per market).
"""

from __future__ import annotations

import time
from datetime import datetime

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from isodesk.ui.columns import fmt_pct
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import MARKET_RANGE, muted_style

CRASH_PRESETS = (-10.0, -20.0, -30.0)
GRID_PRESET = tuple(float(x) for x in range(-16, 17, 4))
"""The ±16 % grid preset: market shocks −16, −12, …, +16 % as the steps of a path."""
GRID_NAME = "±16 % grid"
MARKET_SPIN_RANGE = (-99.0, 400.0)  # what the market-shock spin box accepts, percent
PLAY_MS = 200


def marks_time_text(taken_at: float | None, now: float | None = None) -> str:
    """``Marks of 14:02:11`` (local time; the date too when not today), or ``Marks: not taken yet``."""
    if taken_at is None:
        return "Marks: not taken yet"
    when = datetime.fromtimestamp(taken_at)
    today = datetime.fromtimestamp(time.time() if now is None else now).date()
    return f"Marks of {when:%H:%M:%S}" if when.date() == today else f"Marks of {when:%Y-%m-%d %H:%M:%S}"


def _tool_button(text: str, parent: QWidget) -> QToolButton:
    """A compact text button (no push button's minimum width): the strip must fit 1280 px."""
    b = QToolButton(parent)
    b.setText(text)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    return b


def _row(parent: QWidget) -> QHBoxLayout:
    layout = QHBoxLayout(parent)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    return layout


class MarksBar(QWidget):
    """The marks the page starts from, their time, and the button to take the live ones.

    Signals:
        take_requested(): *Take the live marks* was clicked.
    """

    take_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.label = QLabel(marks_time_text(None), self)
        self.label.setObjectName("marks-time")
        self.label.setToolTip("The scenario moves prices from these marks. They do not follow the feed: "
                              "take the live marks to start from the marks of now.")
        row.addWidget(self.label)
        self.take_button = QPushButton("Take the live marks", self)
        self.take_button.setObjectName("take-live-marks")
        self.take_button.setToolTip("Start the scenario from the live book's marks of now (edits are kept)")
        self.take_button.clicked.connect(self.take_requested)
        row.addWidget(self.take_button)

    def set_taken(self, taken_at: float, marks: str) -> None:
        """Show when the marks were taken (Unix seconds) and list them (``marks``) in the tooltip."""
        self.label.setText(marks_time_text(taken_at))
        when = datetime.fromtimestamp(taken_at)
        self.label.setToolTip(f"The scenario moves prices from the marks of {when:%Y-%m-%d %H:%M:%S} "
                              f"(local time): {marks}.\nThey do not follow the feed: take the live marks to "
                              "start from the marks of now.")


class PresetsBar(QWidget):
    """Preset scenarios.

    Signals:
        crash(float): a market crash of this percent.
        grid(): the ±16 % grid path.
        open_path(): pick a price-path CSV.
        reset(): no shocks, betas 1, no edits.
    """

    crash = Signal(float)
    grid = Signal()
    open_path = Signal()
    reset = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.buttons: dict[str, QToolButton] = {}
        crash = QLabel("Crash:", self)
        row.addWidget(crash)
        for pct in CRASH_PRESETS:
            b = _tool_button(fmt_pct(pct, signed=True, decimals=0), self)
            b.setToolTip(f"every market {fmt_pct(pct, signed=True, decimals=0)} (times its beta); own shocks "
                         "cleared")
            b.clicked.connect(lambda _=False, p=pct: self.crash.emit(p))
            row.addWidget(b)
            self.buttons[f"{pct:g}"] = b
        for key, text, tip, signal in (
                ("grid", GRID_NAME, "a path of market shocks −16, −12, …, +16 %; scrub it", self.grid),
                ("open", "Open path…", "replay a recorded price path (ts,symbol,price CSV) from the marks",
                 self.open_path),
                ("reset", "Reset", "no shocks, betas 1, no edits", self.reset)):
            b = _tool_button(text, self)
            b.setToolTip(tip)
            b.clicked.connect(signal)
            row.addWidget(b)
            self.buttons[key] = b


def pct_spin(parent: QWidget, bounds: tuple[float, float]) -> QDoubleSpinBox:
    """A percent spin box to one decimal."""
    spin = QDoubleSpinBox(parent)
    spin.setRange(*bounds)
    spin.setDecimals(1)
    spin.setSingleStep(1.0)
    spin.setSuffix(" %")
    spin.setKeyboardTracking(False)
    spin.setAlignment(Qt.AlignmentFlag.AlignRight)
    return spin


class ShockBar(QWidget):
    """The market shock on a reference market: slider (whole percent) and spin box (tenths) follow
    each other.

    Signals:
        shock_changed(float): the market shock (percent) was edited.
        reference_changed(str): another reference market was chosen.
    """

    shock_changed = Signal(float)
    reference_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.title = QLabel("Market shock on", self)
        row.addWidget(self.title)
        self.combo = QComboBox(self)
        self.combo.setObjectName("reference-market")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip("the reference market; every market without an own shock moves beta × this")
        row.addWidget(self.combo)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("market-shock-slider")
        self.slider.setRange(-MARKET_RANGE, MARKET_RANGE)
        self.slider.setPageStep(5)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(10)
        self.slider.setMinimumWidth(120)
        row.addWidget(self.slider, 1)
        self.spin = pct_spin(self, MARKET_SPIN_RANGE)
        self.spin.setObjectName("market-shock")
        row.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        self.combo.currentTextChanged.connect(self.reference_changed)

    @Slot(int)
    def _from_slider(self, value: int) -> None:
        if round(self.spin.value()) != value:
            self.spin.setValue(float(value))

    @Slot(float)
    def _from_spin(self, value: float) -> None:
        with QSignalBlocker(self.slider):
            self.slider.setValue(max(self.slider.minimum(), min(self.slider.maximum(), round(value))))
        self.shock_changed.emit(value)

    def set_markets(self, markets: tuple[str, ...]) -> None:
        """The markets to choose the reference from (keeps the choice; BTCUSDT by default)."""
        with QSignalBlocker(self.combo):
            current = self.combo.currentText()
            self.combo.clear()
            self.combo.addItems(list(markets))
            pick = current if current in markets else ("BTCUSDT" if "BTCUSDT" in markets else "")
            if pick:
                self.combo.setCurrentText(pick)

    def set_value(self, pct: float) -> None:
        """Set the shock without telling anyone (presets, loading)."""
        with QSignalBlocker(self.spin), QSignalBlocker(self.slider):
            self.spin.setValue(pct)
            self.slider.setValue(max(self.slider.minimum(), min(self.slider.maximum(), round(pct))))

    def set_path_mode(self, on: bool) -> None:
        """Say that a path is shown (a shock edit ends it)."""
        self.title.setText("Market shock on" if not on else "Market shock (ends the path) on")


class PathBar(QWidget):
    """The path being scrubbed.

    Signals:
        scrubbed(int): the step to show (1-based).
        back_requested(): back to the single jump of the shock controls.
    """

    scrubbed = Signal(int)
    back_requested = Signal()

    def __init__(self, theme: Theme, parent: QWidget | None = None):
        super().__init__(parent)
        lines = QVBoxLayout(self)
        lines.setContentsMargins(0, 0, 0, 0)
        lines.setSpacing(2)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(4)
        lines.addLayout(row)
        self.name = QLabel("Path: none", self)
        self.name.setObjectName("path-name")
        row.addWidget(self.name)
        self.play_button = _tool_button("Play", self)
        self.play_button.setObjectName("path-play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play_toggled)
        row.addWidget(self.play_button)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("replay-scrub")
        self.slider.setRange(1, 1)
        self.slider.setMinimumWidth(120)
        self.slider.valueChanged.connect(self.scrubbed)
        row.addWidget(self.slider, 1)
        self.step_label = QLabel("", self)
        self.step_label.setObjectName("path-step")
        self.step_label.setMinimumWidth(60)
        self.step_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.step_label, 1)
        self.back_button = _tool_button("Back to shocks", self)
        self.back_button.clicked.connect(self.back_requested)
        row.addWidget(self.back_button)
        self.timer = QTimer(self)
        self.timer.setObjectName("scenario-play")
        self.timer.setTimerType(Qt.TimerType.CoarseTimer)
        self.timer.setInterval(PLAY_MS)
        self.timer.timeout.connect(self._play_step)
        # the whole path as recorded, played by the desk's fast replay (who is liquidated when)
        self.outcome_label = QLabel("", self)
        self.outcome_label.setObjectName("path-outcome")
        self.outcome_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.outcome_label.setVisible(False)
        lines.addWidget(self.outcome_label)
        self._outcome_text = ""
        self._outcome_error = False
        self.set_theme(theme)
        self.set_path(None, 0)

    def set_theme(self, theme: Theme) -> None:
        """Muted texts in the theme's colour."""
        self.theme = theme
        self.name.setStyleSheet(muted_style(theme))
        self.set_outcome_text(self._outcome_text, error=self._outcome_error)

    def set_outcome_text(self, text: str, *, error: bool = False) -> None:
        """The whole-path outcome line (elided to the width; whole in the tooltip); hidden when empty."""
        self._outcome_text, self._outcome_error = text, error
        self.outcome_label.setToolTip(text)
        metrics = self.outcome_label.fontMetrics()
        self.outcome_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                                      max(self.outcome_label.width(), 300)))
        self.outcome_label.setStyleSheet(f"color: {self.theme.danger.name()};" if error else muted_style(self.theme))
        self.outcome_label.setVisible(bool(text))

    @property
    def outcome_text(self) -> str:
        """The whole-path outcome line, whole (empty when none is shown)."""
        return self._outcome_text

    def set_path(self, name: str | None, steps: int, step: int | None = None) -> None:
        """Show a path of ``steps`` steps scrubbed at ``step`` (default: the last), or none."""
        self.play_button.setChecked(False)
        on = name is not None
        with QSignalBlocker(self.slider):
            self.slider.setRange(1, max(steps, 1))
            self.slider.setValue(steps if step is None else step)
        for w in (self.slider, self.play_button, self.back_button):
            w.setEnabled(on)
        self.name.setText(f"Path: {name}, {steps} steps" if on else "Path: none (the shocks are one jump)")
        if not on:
            self.step_label.setText("")
        self.set_outcome_text("")  # a new path: the file's outcome, if any, is asked for anew

    def set_step_text(self, text: str) -> None:
        """Describe the step shown (elided to the label's width; whole in the tooltip)."""
        self.step_label.setToolTip(text)
        metrics = self.step_label.fontMetrics()
        self.step_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight,
                                                   max(self.step_label.width(), 60)))

    @Slot(bool)
    def _play_toggled(self, on: bool) -> None:
        self.play_button.setText("Pause" if on else "Play")
        if on and self.slider.isEnabled():
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(1)
            self.timer.start()
        else:
            self.timer.stop()

    @Slot()
    def _play_step(self) -> None:
        if self.slider.value() >= self.slider.maximum():
            self.play_button.setChecked(False)
            return
        jump = max(1, self.slider.maximum() // 60)
        self.slider.setValue(min(self.slider.maximum(), self.slider.value() + jump))


class OwnShockSlider(QWidget):
    """One slider for the own shock of the selected market (percent of its mark, −50…+50).

    Signals:
        moved(str, float): the own shock of this market was dragged to this percent.
    """

    moved = Signal(str, float)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        row = _row(self)
        self.label = QLabel("Own shock: pick a market", self)
        self.label.setMinimumWidth(60)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.label, 1)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setObjectName("own-shock-slider")
        self.slider.setRange(-MARKET_RANGE, MARKET_RANGE)
        self.slider.setPageStep(5)
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._moved)
        row.addWidget(self.slider, 2)
        self.market: str | None = None

    def bind(self, market: str | None, pct: float) -> None:
        """Follow ``market`` (None: nothing selected), showing its own shock ``pct``."""
        self.market = market
        self.slider.setEnabled(market is not None)
        self.label.setText(f"Own shock of {market}" if market else "Own shock: pick a market")
        with QSignalBlocker(self.slider):
            self.slider.setValue(max(-MARKET_RANGE, min(MARKET_RANGE, round(pct))))

    @Slot(int)
    def _moved(self, value: int) -> None:
        if self.market is not None:
            self.moved.emit(self.market, float(value))
