"""Regression guard for PySide6-Essentials 6.12.0: the interpreter aborted at exit (status 134)
once a Python ``paint()`` override had run a few hundred times (QT-PRACTICES §0.1). A window
that paints through a Python delegate hundreds of times must still exit with status 0.
"""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QApplication, QStyledItemDelegate, QTableView

    class Model(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else 40
        def columnCount(self, parent=QModelIndex()):
            return 0 if parent.isValid() else 4
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            return f"{index.row()}:{index.column()}" if role == Qt.ItemDataRole.DisplayRole else None

    painted = 0
    class Delegate(QStyledItemDelegate):
        def paint(self, painter, option, index):
            global painted
            painted += 1
            painter.fillRect(option.rect, QColor(200, 40, 40))
            super().paint(painter, option, index)

    app = QApplication(sys.argv)
    view = QTableView()
    view.setModel(Model())
    view.setItemDelegate(Delegate(view))
    view.resize(400, 300)
    view.show()
    for _ in range(200):
        view.viewport().repaint()
        app.processEvents()
    print("painted", painted)
""")


def test_a_painting_window_exits_with_status_zero(tmp_path):
    script = tmp_path / "paint_exit.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}\n{proc.stderr[-2000:]}"
    painted = int(proc.stdout.split()[-1])
    assert painted >= 1000  # far past the few hundred paints that triggered the abort
