"""``isodesk`` with no subcommand: the desktop app on a database and a feed."""

from __future__ import annotations

import argparse
import sys

from isodesk.paths import user_config_dir


def add_app_options(parser: argparse.ArgumentParser) -> None:
    """Options of the app itself (before any subcommand)."""
    parser.add_argument("--db", metavar="PATH", help="the database (default: the per-user one, seeded with the demo)")
    parser.add_argument("--demo", action="store_true", help="seed a new, empty --db with the demo book")
    parser.add_argument("--feed", default="simulated", metavar="SPEC",
                        help="simulated (default), replay:PATH[@SPEED], sqlite, or sqlite:PATH")
    parser.add_argument("--speed", type=float, default=1.0, help="simulation or replay speed multiplier")
    parser.add_argument("--theme", choices=("system", "light", "dark"), help="override the saved theme")


def run(args: argparse.Namespace) -> int:
    """Open the main window and run the event loop until it closes."""
    from isodesk.ui.app import display_problem

    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    from isodesk.desk.session import DeskConfig
    from isodesk.logfile import start_logging
    from isodesk.runtime import tune_allocator
    from isodesk.ui.app import make_app
    from isodesk.ui.mainwindow import MainWindow, ui_settings

    tune_allocator()
    start_logging()
    app = make_app()
    config = DeskConfig(db=args.db, demo=args.demo, feed=args.feed, speed=args.speed)
    window = MainWindow(config, settings=ui_settings(user_config_dir() / "ui.ini"), theme=args.theme)
    window.show()
    window.start()
    return int(app.exec())
