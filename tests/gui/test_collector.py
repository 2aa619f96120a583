"""Reference cycles are collected in the GUI thread, never in the desk's (isodesk.ui.collector)."""

import gc
import threading

from isodesk.desk.session import DeskConfig
from isodesk.ui.collector import GuiThreadCollector, install_gui_collector
from isodesk.ui.worker import DeskController


class _Cycle:
    """Half of a reference cycle that records the thread it was collected in."""

    def __init__(self, where: list[str]):
        self.where = where
        self.other = self

    def __del__(self):
        self.where.append(threading.current_thread().name)


def test_a_desk_thread_never_collects_a_cycle_the_gui_thread_does(qtbot, tmp_path):
    controller = DeskController(DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20))
    with qtbot.waitSignal(controller.snapshot, timeout=10000):
        controller.start()
    try:
        assert not gc.isenabled()
        collector = install_gui_collector()
        assert isinstance(collector, GuiThreadCollector)
        assert install_gui_collector() is collector  # one per application
        where: list[str] = []
        for _ in range(collector.thresholds[0] * 3):  # enough cycles to pass the first threshold
            _Cycle(where)
        qtbot.waitUntil(lambda: len(where) > 0, timeout=5000)
        assert set(where) == {threading.main_thread().name}
    finally:
        assert controller.shutdown()
