"""``isodesk check``: is this book sound? SQLite's integrity and foreign keys, then the ledger's rules.

Read-only (never creates, migrates or repairs the file). Prints ``OK`` or every problem found;
exit status 0 when sound, 1 when a problem was found, 2 when the file cannot be checked at all
(missing, empty, not an isodesk database, unreadable), with one line saying why.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from isodesk.cli.errors import UserError
from isodesk.paths import default_db_path
from isodesk.store import StoreError
from isodesk.store.integrity import CheckReport, check_book


def add_parser(sub: Any) -> None:
    """Register ``check``."""
    p = sub.add_parser(
        "check", help="check a book: SQLite integrity, foreign keys and the ledger's rules",
        description="Check a book without changing it: PRAGMA integrity_check and foreign_key_check, then the "
                    "ledger: every account's balances sum to 0, no free balance or margin below 0, no margin "
                    "left in a closed or liquidated position, reversals, balance checkpoints and the journal "
                    "agree with the ledger. Exit status 0 when sound, 1 when a problem was found, 2 when the "
                    "file cannot be checked.")
    p.add_argument("--db", metavar="PATH", help="the database (default: the per-user one)")
    p.add_argument("--json", action="store_true", help="print JSON: ok, problems, counts, pending migrations")
    p.set_defaults(handler=run)


def render(report: CheckReport) -> str:
    """The report as text: one OK line, or a heading and one line per problem."""
    counts = report.counts
    summary = (f"{counts.get('accounts', 0):,} accounts, {counts.get('positions', 0):,} positions, "
               f"{counts.get('ledger', 0):,} ledger entries, {counts.get('prices', 0):,} prices")
    lines = []
    if report.ok:
        lines.append(f"{report.path}: OK ({summary}; integrity, foreign keys, ledger, checkpoints and journal "
                     "agree)")
    else:
        n = len(report.findings)
        lines.append(f"{report.path}: {n} problem{'s' if n != 1 else ''} ({summary})")
        lines += [f"  {f.check}: {f.message}" for f in report.findings]
    if report.pending_migrations:
        lines.append(f"note: written by an older isodesk; the next writable open applies "
                     f"{', '.join(report.pending_migrations)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Check the book; 0 when sound, 1 when a problem was found."""
    path = Path(args.db) if args.db else default_db_path()
    try:
        report = check_book(path)
    except (StoreError, OSError) as exc:
        raise UserError(f"--db {args.db or '(default)'}: {exc}") from None
    if args.json:
        print(json.dumps(report.as_json()))
    else:
        print(render(report))
    return 0 if report.ok else 1
