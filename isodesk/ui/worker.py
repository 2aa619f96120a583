"""The desk's thread: a thin Qt adapter around :class:`~isodesk.desk.Desk` (QT-PRACTICES §3).

``DeskWorker`` is a parentless QObject moved to a QThread. Its ``start`` slot creates the store,
the feed, the desk and the step timer inside that thread; snapshots go through a latest-wins
mailbox (state is coalesced), events and command results are emitted every one, in order.
``DeskController`` lives in the GUI thread, owns the thread and re-emits everything as GUI-thread
signals; the GUI talks to the desk only through it.
"""

from __future__ import annotations

import logging
import traceback

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from isodesk.desk import Desk, Result, Snapshot
from isodesk.desk.commands import Command, Reply
from isodesk.desk.mailbox import Mailbox
from isodesk.desk.session import DeskConfig, open_desk
from isodesk.ui.collector import install_gui_collector

log = logging.getLogger("isodesk.ui")

MAX_FAILURES_IN_A_ROW = 5


class DeskWorker(QObject):
    """Runs the desk in its own thread.

    Signals:
        snapshot_available(): a new snapshot waits in the mailbox (sent only when it was empty).
        events_ready(object): a tuple of PositionEvent, in order, never coalesced.
        result_ready(object): the Result of one command.
        alerts_loaded(object): (alerts, {position_id: label}) from the store at start.
        failed(str): the desk could not start or a step raised; the message says why.
        stopped(): the desk is closed; the thread is quitting.
    """

    snapshot_available = Signal()
    events_ready = Signal(object)
    result_ready = Signal(object)
    alerts_loaded = Signal(object)
    failed = Signal(str)
    stopped = Signal()

    def __init__(self, config: DeskConfig, mailbox: Mailbox[Snapshot]):
        super().__init__()
        self.config = config
        self.mailbox = mailbox
        self.desk: Desk | None = None
        self._timer: QTimer | None = None
        self._failures_in_a_row = 0

    @Slot()
    def start(self) -> None:
        """Create the desk and its timer in this thread and publish the first snapshot."""
        try:
            self.desk = open_desk(self.config)
        except Exception as exc:  # the GUI shows it; the thread stays usable for stop()
            log.exception("desk failed to start")
            self.failed.emit(f"the desk could not start: {exc}")
            return
        store = self.desk.store
        labels = {r.id: r.label for r in store.positions(statuses=None)}
        self.alerts_loaded.emit((tuple(store.alerts(limit=500)), labels))
        self._publish(self.desk.snapshot)
        self._timer = QTimer(self)
        self._timer.setObjectName("desk-step")
        self._timer.setInterval(self.config.step_ms)
        self._timer.timeout.connect(self.step)
        self._timer.start()

    @Slot()
    def step(self) -> None:
        """One desk step: other processes' changes, queued commands, ticks, recompute, levels,
        liquidations, snapshot. A failed step is logged, counted, shown (``failed`` and an event),
        and the desk re-reads the book; after several failures in a row the desk stops stepping
        rather than fail silently forever."""
        if self.desk is None:
            return
        try:
            snapshot = self.desk.step()
        except Exception as exc:
            self._failed_step("a desk step failed", exc)
            return
        self._failures_in_a_row = 0
        self._publish(snapshot)

    def _failed_step(self, what: str, exc: BaseException) -> None:
        assert self.desk is not None
        log.error("%s:\n%s", what, traceback.format_exc())
        self._failures_in_a_row += 1
        error = f"{type(exc).__name__}: {exc}"
        try:
            snapshot = self.desk.recover(error)
        except Exception as again:
            log.error("reloading the book failed too:\n%s", traceback.format_exc())
            self._stop_stepping(f"{what} and the book could not be re-read ({type(again).__name__}: {again}); "
                                "the desk stopped. Restart isodesk; the log has the details")
            return
        self._publish(snapshot)
        if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            self._stop_stepping(f"{what} {self._failures_in_a_row} times in a row ({error}); the desk stopped "
                                "updating. Restart isodesk; the log has the details")
        else:
            self.failed.emit(f"{what} ({self.desk.failures} so far): {error}; the book was re-read")

    def _stop_stepping(self, message: str) -> None:
        if self._timer is not None:
            self._timer.stop()
        self.failed.emit(message)

    @Slot(object)
    def apply(self, command: Command) -> None:
        """Execute one command and answer with its Result. If the desk fails mid-way the answer says
        the outcome is unknown: sending the same command (same request id) again is safe, the
        desk answers it from its record instead of running it twice."""
        if self.desk is None:
            self.result_ready.emit(Result(command.request_id, False, "the desk is not running"))
            return
        try:
            result = self.desk.apply(command)
        except Exception as exc:
            result = Result(command.request_id, False,
                            f"the desk failed while running this command ({type(exc).__name__}: {exc}); whether it "
                            "took effect is unknown. Sending it again is safe: it will not run twice",
                            kind=type(command).__name__, reply=Reply.UNKNOWN)
            self._failed_step("a command failed", exc)
            self.result_ready.emit(result)
            return
        self._publish(self.desk.snapshot)
        self.result_ready.emit(result)

    def _publish(self, snapshot: Snapshot) -> None:
        assert self.desk is not None
        for late in self.desk.drain_results():  # background jobs (venue imports) that finished
            self.result_ready.emit(late)
        events = self.desk.drain_events()
        if self.mailbox.put(snapshot):
            self.snapshot_available.emit()
        if events:
            self.events_ready.emit(tuple(events))

    @Slot()
    def stop(self) -> None:
        """Stop the timer, close the desk (and its database connection) in this thread, quit."""
        if self._timer is not None:
            self._timer.stop()
        if self.desk is not None:
            self.desk.close()
            self.desk = None
        self.stopped.emit()
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class DeskController(QObject):
    """GUI-thread owner of the desk thread.

    Signals:
        snapshot(object): the newest Snapshot (older unread ones were dropped).
        events(object): a tuple of PositionEvent.
        result(object): a command's Result.
        alerts(object): (alerts, labels) at start.
        failed(str): the desk reported an error.
        command_requested(object): (internal) a command queued to the worker.
        stop_requested(): (internal) asks the worker to stop.
    """

    snapshot = Signal(object)
    events = Signal(object)
    result = Signal(object)
    alerts = Signal(object)
    failed = Signal(str)
    command_requested = Signal(object)
    stop_requested = Signal()

    def __init__(self, config: DeskConfig, parent: QObject | None = None):
        super().__init__(parent)
        self.mailbox: Mailbox[Snapshot] = Mailbox()
        self.thread = QThread()
        self.thread.setObjectName("desk-thread")
        self.worker = DeskWorker(config, self.mailbox)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.start)
        self.thread.finished.connect(self.worker.deleteLater)
        self.command_requested.connect(self.worker.apply)
        self.stop_requested.connect(self.worker.stop)
        self.worker.snapshot_available.connect(self._take_snapshot)
        self.worker.events_ready.connect(self.events)
        self.worker.result_ready.connect(self.result)
        self.worker.alerts_loaded.connect(self.alerts)
        self.worker.failed.connect(self.failed)
        self.latest: Snapshot | None = None
        self._stopped = False

    def start(self) -> None:
        """Start the desk thread (cycles are collected in the GUI thread from now on:
        :mod:`isodesk.ui.collector`)."""
        install_gui_collector()
        self.thread.start()

    def send(self, command: Command) -> str:
        """Queue a command to the desk; returns its request id (the result carries it back)."""
        self.command_requested.emit(command)
        return command.request_id

    @Slot()
    def _take_snapshot(self) -> None:
        snap = self.mailbox.take()
        if snap is not None:
            self.latest = snap
            self.snapshot.emit(snap)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Stop the worker, wait for the thread to finish; True if it finished in time."""
        if self._stopped:
            return True
        self._stopped = True
        if not self.thread.isRunning():
            return True
        self.stop_requested.emit()
        return self.thread.wait(timeout_ms)

    @property
    def dropped_snapshots(self) -> int:
        """Snapshots replaced in the mailbox before the GUI took them."""
        return self.mailbox.dropped
