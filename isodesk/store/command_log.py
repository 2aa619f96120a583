"""The ``commands`` table: commands another process hands to the book's one writer, and the record
of every book-changing command by request id (migration 0004).

A command is written here either by the writer itself, in the same transaction as its effects
(``record_answer``), or by another process as ``queued`` (``submit``) for the writer to take,
execute and answer (``answer``). Because the answer and the effects commit together, a request id
that has an answer was executed exactly once; one without an answer was not executed at all. A
queued command that nobody took before its ``expires_at`` is never executed (``expire``), and the
process that queued it can withdraw it while it is still queued (``cancel``): so a sender always
knows whether its command ran.

The ``book_clock`` counter moves on every change of the book's contents (triggers on accounts,
positions, ledger, alerts, settings, venue reports), never on prices or on this table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from isodesk.store.errors import StoreError
from isodesk.store.store import Store

QUEUED, RUNNING, DONE, CANCELLED, EXPIRED = "queued", "running", "done", "cancelled", "expired"


@dataclass(frozen=True, slots=True)
class CommandRow:
    """One row of the ``commands`` table; ``body`` and ``reply`` are decoded JSON (``reply`` None until answered)."""

    id: int
    request_id: str
    kind: str
    body: dict[str, Any]
    origin: str
    submitted_at: float
    expires_at: float | None
    state: str
    accepted: bool | None
    reply: dict[str, Any] | None
    answered_at: float | None


def _row(row: tuple[Any, ...]) -> CommandRow:
    (cid, request_id, kind, body, origin, submitted_at, expires_at, state, accepted, reply, answered_at) = row
    return CommandRow(int(cid), request_id, kind, json.loads(body), origin, submitted_at, expires_at, state,
                      None if accepted is None else bool(accepted), None if reply is None else json.loads(reply),
                      answered_at)


_COLUMNS = "id, request_id, kind, body, origin, submitted_at, expires_at, state, accepted, reply, answered_at"


def find(store: Store, request_id: str) -> CommandRow | None:
    """The command recorded under ``request_id``, or None."""
    rows = store.db.conn.execute(f"SELECT {_COLUMNS} FROM commands WHERE request_id = ?", [request_id]).fetchall()
    return _row(rows[0]) if rows else None


def submit(store: Store, *, request_id: str, kind: str, body: dict[str, Any], origin: str, ts: float,
           expires_at: float) -> CommandRow:
    """Queue a command for the writer (Unix s times); the existing row if ``request_id`` is already known."""
    with store.transaction():
        existing = find(store, request_id)
        if existing is not None:
            return existing
        store.db.conn.execute(
            "INSERT INTO commands (request_id, kind, body, origin, submitted_at, expires_at, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'queued')",
            [request_id, kind, json.dumps(body, sort_keys=True), origin, float(ts), float(expires_at)])
    found = find(store, request_id)
    assert found is not None
    return found


def queued(store: Store, limit: int = 100) -> list[CommandRow]:
    """Queued commands, oldest first (the writer takes them in this order)."""
    rows = store.db.conn.execute(f"SELECT {_COLUMNS} FROM commands WHERE state = 'queued' ORDER BY id LIMIT ?",
                                 [limit]).fetchall()
    return [_row(r) for r in rows]


def has_queued(store: Store) -> bool:
    """True if any command waits in the queue (an indexed lookup; cheap enough for every step)."""
    return bool(store.db.conn.execute("SELECT 1 FROM commands WHERE state = 'queued' LIMIT 1").fetchall())


def record_answer(store: Store, *, request_id: str, kind: str, body: dict[str, Any], origin: str, ts: float,
                  accepted: bool, reply: dict[str, Any]) -> None:
    """Record a command's answer; call inside the transaction that made its effects.

    A queued row is answered in place; an unknown request id gets a new ``done`` row. Raises
    :class:`StoreError` if the request id was already answered, cancelled or expired (a command
    runs at most once).
    """
    encoded = json.dumps(reply, sort_keys=True)
    with store.transaction():
        existing = find(store, request_id)
        if existing is None:
            store.db.conn.execute(
                "INSERT INTO commands (request_id, kind, body, origin, submitted_at, state, accepted, reply, "
                "answered_at) VALUES (?, ?, ?, ?, ?, 'done', ?, ?, ?)",
                [request_id, kind, json.dumps(body, sort_keys=True), origin, float(ts), int(accepted), encoded,
                 float(ts)])
            return
        if existing.state not in (QUEUED, RUNNING):
            raise StoreError(f"command {request_id} is already {existing.state}; it runs at most once")
        store.db.conn.execute("UPDATE commands SET state = 'done', accepted = ?, reply = ?, answered_at = ? "
                              "WHERE request_id = ? AND state IN ('queued', 'running')",
                              [int(accepted), encoded, float(ts), request_id])


def mark_running(store: Store, request_id: str) -> None:
    """A queued command the writer has started in the background (a venue read): no longer
    cancellable; its answer follows with :func:`record_answer`."""
    with store.transaction():
        store.db.conn.execute("UPDATE commands SET state = 'running' WHERE request_id = ? AND state = 'queued'",
                              [request_id])


def reclaim(store: Store, request_id: str) -> bool:
    """Take back a still-queued command so the sender can run it itself (the writer went away);
    True if taken back (the row is gone: nobody ran it or will)."""
    with store.transaction():
        removed = store.db.conn.execute("DELETE FROM commands WHERE request_id = ? AND state = 'queued'",
                                        [request_id]).rowcount
    return removed == 1


def cancel(store: Store, request_id: str) -> bool:
    """Withdraw a still-queued command; True if it was withdrawn (it will never run), False if the
    writer has already answered it (read the answer with :func:`find`)."""
    with store.transaction():
        changed = store.db.conn.execute("UPDATE commands SET state = 'cancelled' WHERE request_id = ? AND "
                                        "state = 'queued'", [request_id]).rowcount
    return changed == 1


def expire(store: Store, now: float) -> list[str]:
    """Mark queued commands whose ``expires_at`` has passed as expired (never to run); their request ids."""
    with store.transaction():
        rows = store.db.conn.execute("SELECT request_id FROM commands WHERE state = 'queued' AND expires_at < ?",
                                     [float(now)]).fetchall()
        store.db.conn.execute("UPDATE commands SET state = 'expired' WHERE state = 'queued' AND expires_at < ?",
                              [float(now)])
    return [r[0] for r in rows]


def book_version(store: Store) -> int:
    """The book's change counter (moves on every change of accounts, positions, ledger, alerts, settings)."""
    rows = store.db.conn.execute("SELECT version FROM book_clock WHERE id = 1").fetchall()
    return int(rows[0][0]) if rows else 0


def data_version(store: Store) -> int:
    """SQLite's ``PRAGMA data_version``: changes when another connection commits to the file."""
    return int(store.db.conn.execute("PRAGMA data_version").fetchall()[0][0])
