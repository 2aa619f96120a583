"""Importing from a live venue without stalling the desk: read off-thread, write on the desk thread.

The venue is read (network, seconds) by a one-worker executor owned by the desk; ``Desk.step``
collects the finished read and the desk itself writes it to the book in one transaction, so it
stays the only writer. The command's final :class:`Result` comes later than the command, with the
same request id; until then the desk has answered "started".
"""

from __future__ import annotations

import concurrent.futures
import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from isodesk.desk.commands import CommandRejected, Result, new_request_id

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk


@dataclass(frozen=True, slots=True)
class ImportFromVenue:
    """Read the isolated positions of ``venue`` with the keys in the keyring and sync the book.

    The final result's ``payload`` is the ``SyncReport`` (created, updated, skipped, flagged).
    """

    venue: str
    base_url: str | None = None
    request_id: str = field(default_factory=new_request_id)


class VenueJobs:
    """The desk's background reads of venues and their results waiting to be written."""

    def __init__(self) -> None:
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._running: list[tuple[ImportFromVenue, concurrent.futures.Future[Any]]] = []

    def start(self, desk: Desk, command: ImportFromVenue) -> Result:
        """Start reading the venue; rejected at once when the venue, the extra or the keys are missing."""
        from isodesk.venues.errors import VenueError
        from isodesk.venues.keys import load_credentials
        from isodesk.venues.registry import venue_spec

        if any(c.venue == command.venue for c, _ in self._running):
            raise CommandRejected(f"an import from {command.venue} is already running")
        try:
            spec = venue_spec(command.venue)
            credentials = load_credentials(spec)
        except (VenueError, ValueError) as exc:
            raise CommandRejected(str(exc)) from None
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="venue-read")
        future = self._executor.submit(_read, spec, credentials, command.base_url)
        self._running.append((command, future))
        return Result(command.request_id, True, f"reading {spec.venue}…", snapshot_version=desk.version)

    def finish(self, desk: Desk, *, ts: float, writing: Callable[[], AbstractContextManager[None]],
               answer: Callable[[Result], None]) -> list[Result]:
        """Write every finished read into the book (on the desk thread); their final results.

        Each import runs inside ``writing()`` (the desk's transaction) and ``answer(result)`` is
        called inside it too, so a queued command's answer commits with its effects or not at all.
        """
        from isodesk.desk.venue_sync import sync_positions
        from isodesk.store import StoreError
        from isodesk.venues.errors import VenueError

        done = [(c, f) for c, f in self._running if f.done()]
        if not done:
            return []
        self._running = [(c, f) for c, f in self._running if not f.done()]
        results = []
        for command, future in done:
            try:
                read = future.result()
                with writing():
                    report = sync_positions(desk.store, command.venue, read.positions, desk.catalog, ts=ts)
                    report.skipped = list(read.skipped) + report.skipped
                    message = (f"{command.venue}: {len(report.created)} new, {len(report.updated)} updated, "
                               f"{len(report.skipped)} skipped, {len(report.flagged)} flagged by reconciliation")
                    result = Result(command.request_id, True, message, payload=report, kind=type(command).__name__)
                    answer(result)
            except StoreError as exc:  # its answer could not be recorded: nothing of it was written
                results.append(Result(command.request_id, False, f"nothing imported: {exc}",
                                      snapshot_version=desk.version, kind=type(command).__name__))
                continue
            except (VenueError, ValueError) as exc:
                result = Result(command.request_id, False, str(exc), snapshot_version=desk.version,
                                kind=type(command).__name__)
                with contextlib.suppress(StoreError), writing():
                    answer(result)
                results.append(result)
                continue
            desk.reload()
            results.append(replace(result, snapshot_version=desk.version))
        return results

    def close(self) -> None:
        """Stop taking reads; a read in flight is abandoned (its thread ends with its request)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def _read(spec: Any, credentials: Any, base_url: str | None) -> Any:
    from isodesk.venues.client import make_client
    from isodesk.venues.positions import fetch_isolated_positions

    client = make_client(spec, credentials=credentials, base_url=base_url)
    try:
        return fetch_isolated_positions(client)
    finally:
        client.close()
