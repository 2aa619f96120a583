"""The What-if page's conversation with the desk: requests out, answers routed back.

Every request goes through the :class:`~isodesk.ui.worker.DeskController` (the desk thread
evaluates; the GUI never blocks) and is remembered by its request id; an answer is routed by the
kind of request it answers (QT-PRACTICES §3.2, §4.4). Only the newest scenario run counts: the
answer to an older one is dropped. Saving, renaming or deleting a scenario is followed by a fresh
list of the names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from PySide6.QtCore import QObject, Signal, Slot

from isodesk.desk.commands import Result
from isodesk.desk.scenario_jobs import (
    GRID_DEFAULT,
    DeleteScenario,
    GetScenarioBook,
    ListScenarios,
    LoadScenario,
    RenameScenario,
    RunScenario,
    SaveScenario,
)
from isodesk.margin.scenario import Scenario
from isodesk.ui.whatif.apply import collateral_commands


class DeskLink(QObject):
    """Sends the page's requests and emits their answers.

    Signals:
        book_taken(object, bool): a :class:`MarkedBook`; True when the page keeps its own marks.
        outcome_ready(object, object): ``Outcome, GridOutcome`` of the newest run.
        run_refused(str): the newest run was refused; the desk's reason.
        names_listed(object, object): the saved names (tuple of str) and the one to pick (or None).
        scenario_loaded(object): a saved :class:`Scenario`.
        collateral_answered(object, int): a collateral move's :class:`Result` and its position id.
        answered(object, str): the :class:`Result` of a book, save, load, rename or delete request
            and its kind.
    """

    book_taken = Signal(object, bool)
    outcome_ready = Signal(object, object)
    run_refused = Signal(str)
    names_listed = Signal(object, object)
    scenario_loaded = Signal(object)
    collateral_answered = Signal(object, int)
    answered = Signal(object, str)

    def __init__(self, controller: Any, parent: QObject | None = None):
        super().__init__(parent)
        self.controller = controller
        self._pending: dict[str, tuple[str, Any]] = {}
        self.run_id: str | None = None
        controller.result.connect(self._on_result)

    def send(self, command: Any, kind: str, context: Any = None) -> str:
        """Send ``command`` and remember what kind of answer to expect; returns the request id."""
        self._pending[command.request_id] = (kind, context)
        return str(self.controller.send(command))

    @property
    def run_pending(self) -> bool:
        """True while the newest run waits for its answer."""
        return self.run_id is not None and self.run_id in self._pending

    @property
    def collateral_pending(self) -> bool:
        """True while a collateral move waits for its answer."""
        return any(kind == "collateral" for kind, _ in self._pending.values())

    def take_marks(self, *, keep: bool = False) -> str:
        """Ask for the book and the live marks (``keep``: the page keeps the marks it has)."""
        return self.send(GetScenarioBook(), "book", keep)

    def list_names(self, select: str | None = None) -> str:
        """Ask for the saved names (``select``: the one to pick when they arrive)."""
        return self.send(ListScenarios(), "list", select)

    def run(self, scenario: Scenario, marks: tuple[tuple[str, float], ...] | None, *, auto_add: bool = False,
            top_up: str | None = None) -> str:
        """Evaluate ``scenario`` at ``marks`` with the grid sweep (and what the venues' auto-add and the
        policy ``top_up`` would save); this run is now the newest."""
        self.run_id = self.send(RunScenario(scenario, grid=GRID_DEFAULT, marks=marks, auto_add=auto_add,
                                            top_up=top_up), "run")
        return self.run_id

    def save(self, name: str, scenario: Scenario) -> str:
        """Store ``scenario`` under ``name``."""
        return self.send(SaveScenario(name, scenario), "save", name.strip())

    def load(self, name: str) -> str:
        """Read the saved scenario ``name``."""
        return self.send(LoadScenario(name), "load", name)

    def rename(self, old: str, new: str) -> str:
        """Rename a saved scenario."""
        return self.send(RenameScenario(old, new), "rename", new.strip())

    def delete(self, name: str) -> str:
        """Delete a saved scenario."""
        return self.send(DeleteScenario(name), "delete", name)

    def move_collateral(self, plan: list[tuple[int, Any]]) -> list[str]:
        """One AddCollateral / RemoveCollateral per ``(position id, signed Decimal amount)``."""
        return [self.send(command, "collateral", pid)
                for (pid, _amount), command in zip(plan, collateral_commands(plan), strict=True)]

    @Slot(object)
    def _on_result(self, result: Result) -> None:
        entry = self._pending.pop(result.request_id, None)
        if entry is None:
            return  # another part of the window asked
        kind, context = entry
        if kind == "run":
            if result.request_id != self.run_id:
                return  # an older edit's answer: the newest one is on its way
            if result.accepted:
                outcome, grid = cast(tuple[Any, Any], result.payload)
                self.outcome_ready.emit(outcome, grid)
            else:
                self.run_refused.emit(result.reason)
            return
        if kind == "list":
            if result.accepted:
                self.names_listed.emit(tuple(cast(Iterable[str], result.payload)), context)
            return
        if kind == "collateral":
            self.collateral_answered.emit(result, int(context))
            return
        if kind == "book":
            if result.accepted:
                self.book_taken.emit(result.payload, bool(context))
        elif kind == "load":
            if result.accepted:
                self.scenario_loaded.emit(result.payload)
        elif result.accepted:  # save / rename / delete: the names changed
            self.list_names(None if kind == "delete" else context)
        self.answered.emit(result, kind)
