"""``isodesk`` with no subcommand: the desktop app on a database and a feed."""

from __future__ import annotations

import argparse
import sys

from isodesk.paths import user_config_dir


def add_app_options(parser: argparse.ArgumentParser) -> None:
    """Options of the app itself (before any subcommand)."""
    parser.add_argument("--db", metavar="PATH",
                        help="the database (default: the app's last book, else the per-user one, seeded with the demo "
                             "once; a subcommand's default is always the per-user one)")
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
    from isodesk.ui.books import BookSession
    from isodesk.ui.mainwindow import ui_settings

    tune_allocator()
    start_logging()
    app = make_app()
    settings = ui_settings(user_config_dir() / "ui.ini")
    db = args.db if args.db is not None else last_book(settings)
    config = DeskConfig(db=db, demo=args.demo, feed=args.feed, speed=args.speed)
    session = BookSession(settings, theme=args.theme)
    session.start(config)
    return int(app.exec())


def last_book(settings) -> str | None:
    """The book the app opened last (File → Open book…, New book…, Recent books), when no ``--db``
    is given and that file still opens; None (the per-user default book) otherwise."""
    from isodesk.paths import default_db_path
    from isodesk.ui.books import RecentBooks, probe_book

    last = RecentBooks(settings).last()
    if last is None or last == default_db_path().resolve() or probe_book(last):
        return None
    return str(last)
