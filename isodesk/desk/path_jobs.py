"""What-if path replays off the desk's thread, so the live book keeps being watched meanwhile.

A whole-path outcome (:class:`~isodesk.desk.scenario_jobs.ReplayPath`) replays a file of prices
against a copy of the book: seconds for a day of marks, minutes with top-ups (played twice, once on
the step desk). Run on the desk's thread, it would leave the live book unwatched for that long: no
tick taken, no liquidation seen. Here the desk's thread only copies the book (SQLite's backup API
on its own connection: a consistent copy in milliseconds) and a one-worker executor owned by the
desk replays the copy with a connection of its own; :meth:`PathJobs.finish`, called by every
``Desk.step``, hands the finished outcome back as the command's final :class:`Result` (the desk
answered "started" at once). The copy is only ever the replay's: nothing of it reaches the book.
"""

from __future__ import annotations

import concurrent.futures
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from isodesk.desk.commands import CommandRejected, Reply, Result

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk
    from isodesk.desk.replay.outcome import PathOutcome
    from isodesk.desk.scenario_jobs import ReplayPath
    from isodesk.margin.topup import TopUpPolicy

MAX_RUNNING = 1  # one replay at a time: a second file waits for the trader to ask again


class PathJobs:
    """The desk's background path replays and their outcomes waiting to be answered."""

    def __init__(self) -> None:
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._running: list[tuple[ReplayPath, concurrent.futures.Future[Any], Path]] = []

    @property
    def running(self) -> int:
        """How many replays are under way."""
        return len(self._running)

    def start(self, desk: Desk, command: ReplayPath) -> Result:
        """Check the command, copy the book and start the replay; "started" now, the outcome later.
        :class:`CommandRejected` (nothing started) for a bad option or a replay already running."""
        from isodesk.margin.topup import PolicyError, parse_policy

        if not (isinstance(command.stale_after_s, (int, float)) and command.stale_after_s > 0):
            raise CommandRejected(f"stale_after_s: {command.stale_after_s!r} must be a positive number of seconds")
        try:
            policy = parse_policy(command.top_up) if command.top_up else None
        except PolicyError as exc:
            raise CommandRejected(str(exc)) from None
        if len(self._running) >= MAX_RUNNING:
            raise CommandRejected("a path replay is already running; ask again when it has answered")
        folder = Path(tempfile.mkdtemp(prefix="isodesk-pathjob-"))
        copy = folder / "book.db"
        try:
            target = sqlite3.connect(copy)
            try:
                desk.store.db.conn.backup(target)
            finally:
                target.close()
        except (sqlite3.Error, OSError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise CommandRejected(f"the book could not be copied for the replay: {exc}") from None
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="path-replay")
        future = self._executor.submit(_replay, copy, command, policy)
        self._running.append((command, future, folder))
        name = ", ".join(Path(p).name for p in command.paths)
        return Result(command.request_id, True, f"replaying {name} on a copy of the book…",
                      snapshot_version=desk.version, kind=type(command).__name__, reply=Reply.STARTED)

    def finish(self, desk: Desk) -> list[Result]:
        """The final results of the replays that ended (on the desk's thread), in the order started."""
        done = [job for job in self._running if job[1].done()]
        if not done:
            return []  # every step asks: nothing more than this while no replay has ended
        from isodesk.feeds.base import FeedError
        from isodesk.store import StoreError

        self._running = [job for job in self._running if not job[1].done()]
        results = []
        kind = "ReplayPath"
        for command, future, folder in done:
            try:
                outcome: PathOutcome = future.result()
            except (FeedError, OSError, StoreError, ValueError) as exc:
                results.append(Result(command.request_id, False, str(exc), snapshot_version=desk.version, kind=kind))
            else:
                gone = len(outcome.liquidated)
                results.append(Result(command.request_id, True, f"{outcome.name}: {outcome.ticks} ticks, {gone} of "
                                      f"{len(outcome.positions)} liquidated", snapshot_version=desk.version,
                                      payload=outcome, kind=kind))
            finally:
                shutil.rmtree(folder, ignore_errors=True)
        return results

    def close(self) -> None:
        """Stop taking replays; a replay in flight ends on its own and its copy is removed then."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        for _command, future, folder in self._running:
            future.add_done_callback(_remover(folder))
        self._running = []


def _remover(folder: Path) -> Callable[[concurrent.futures.Future[Any]], None]:
    """A done-callback that removes a replay's copy once its thread is through with it."""
    def remove(_future: concurrent.futures.Future[Any]) -> None:
        shutil.rmtree(folder, ignore_errors=True)
    return remove


def _replay(copy: Path, command: ReplayPath, policy: TopUpPolicy | None) -> PathOutcome:
    """The whole-path outcome of ``command`` on the book copied to ``copy`` (the worker's thread:
    the connection is made here and closed here)."""
    from isodesk.desk.replay.outcome import path_outcome
    from isodesk.store import Store

    store = Store.open(copy)
    try:
        return path_outcome(store, command.paths, stale_after_s=float(command.stale_after_s), symbol=command.symbol,
                            venue=command.venue, auto_add=command.auto_add, policy=policy)
    finally:
        store.close()
