"""Sending a book-changing command from the command line to the book's one writer.

- Nobody holds the book: this process becomes its writer for one command (a short-lived desk,
  no feed), runs it through ``Desk.apply`` and lets go.
- The app (or another command) holds it: the command is queued in the book's ``commands`` table
  and the running desk executes it on its next step and answers there; this process waits for
  the answer, so the app's figures and the command's answer agree at once.

Why a queue in the database rather than a socket: the book is already the one thing both
processes share; a queued command and its answer survive a crash of either side; the answer is
written in the same transaction as the command's effects, so "answered" means "done exactly
once"; and there is no port, path or permission to manage on any platform.

The sender always learns what happened: answered; or not taken within the wait, in which case it
withdraws the command (``cancel`` succeeds only while it is still queued) and says it did not
run; or the writer went away, in which case it takes the command back and runs it itself. Only if
this process is killed while waiting is the outcome unknown: the same ``--request-id`` then gets
the recorded answer, never a second execution.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from isodesk.cli.common import store_from
from isodesk.cli.errors import UserError
from isodesk.desk import Desk, Result
from isodesk.desk.commands import Reply
from isodesk.desk.registry import encode, result_from_json
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.writer import BookBusy, describe, holder_of
from isodesk.store import Store, StoreError, command_log

WAIT_S = 15.0
JOB_WAIT_S = 120.0
POLL_S = 0.05


def add_request_id_option(parser: argparse.ArgumentParser) -> None:
    """``--request-id ID``: retrying with the same id is answered, never executed twice."""
    parser.add_argument("--request-id", metavar="ID", help="an id of your choice for this command; sending it again "
                        "with the same id returns the first answer instead of running it twice")


def origin() -> str:
    """How this process signs the commands it sends."""
    return f"isodesk command line (pid {os.getpid()})"


def send(args: argparse.Namespace, command: Any, *, wait_s: float = WAIT_S,
         after: Callable[[Desk, Result], Result] | None = None) -> Result:
    """Run ``command`` on the book ``args`` names and return the desk's answer (see the module doc).

    ``after`` runs on this process's own desk once the command was applied (a venue import waits
    for its background read there); it is not called when the app answered.
    """
    request_id = getattr(args, "request_id", None)
    if request_id:
        command = dataclasses.replace(command, request_id=request_id)
    store = store_from(args)
    if getattr(store, "read_only", False):
        store.close()
        raise UserError(f"--db {store.path}: the book is read-only; nothing was changed")
    try:
        return _run_here(store, command, after)
    except BookBusy as busy:
        try:
            return _via_queue(store, command, busy.holder, wait_s, after)
        finally:
            store.close()


def _run_here(store: Store, command: Any, after: Callable[[Desk, Result], Result] | None) -> Result:
    """Become the writer for one command; raises BookBusy (store left open) when someone else is."""
    try:
        desk = Desk(store, None, catalog=shipped_catalog(), program=origin())
    except BookBusy:
        raise
    except OSError as exc:
        store.close()
        raise UserError(f"--db {store.path}: cannot take the book's writer lock ({exc.strerror or exc}); "
                        "nothing was changed") from None
    try:
        result = desk.apply(command, origin=origin())
        if after is not None and result.accepted:
            result = after(desk, result)
        return result
    finally:
        desk.close()


def _via_queue(store: Store, command: Any, holder: dict[str, Any], wait_s: float,
               after: Callable[[Desk, Result], Result] | None) -> Result:
    kind, body = encode(command)
    now = time.time()
    rid = command.request_id
    try:
        command_log.submit(store, request_id=rid, kind=kind, body=body, origin=origin(), ts=now,
                           expires_at=now + wait_s)
    except StoreError as exc:
        raise UserError(f"--db {store.path}: the command could not be handed to {describe(holder)}: {exc}") from None
    deadline = now + wait_s
    job_deadline = now + JOB_WAIT_S
    while True:
        row = command_log.find(store, rid)
        if row is None:
            raise UserError(f"request {rid}: the command disappeared from the queue; check `isodesk status`")
        if row.state == command_log.DONE and row.reply is not None:
            reply = Reply.REPEATED if row.origin != origin() else None
            return result_from_json(row.reply, reply=reply)
        if row.state in (command_log.CANCELLED, command_log.EXPIRED):
            return Result(rid, False, f"{describe(holder)} did not take the command in time; it was {row.state} "
                                      "and did not run", kind=kind)
        if row.state == command_log.QUEUED:
            if holder_of(store.path) is None and command_log.reclaim(store, rid):
                store_path = store.path
                store.close()
                return _run_here(store_from(argparse.Namespace(db=str(store_path), demo=False)), command, after)
            if time.time() > deadline and command_log.cancel(store, rid):
                return Result(rid, False, f"{describe(holder)} did not take the command within {wait_s:g} s; it "
                                          "was withdrawn and did not run", kind=kind)
        elif row.state == command_log.RUNNING and time.time() > job_deadline:
            return Result(rid, False, f"{describe(holder)} is still running it after {JOB_WAIT_S:g} s; its answer "
                                      f"will be in the app (request {rid})", kind=kind, reply=Reply.UNKNOWN)
        time.sleep(POLL_S)
