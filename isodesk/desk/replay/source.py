"""Opening a path for the fast replay: the refusals a :class:`~isodesk.feeds.replay.ReplayFeed` makes
before it plays (``strict`` and a bad row; no row that can be played), in its words, without
holding the path in memory; and reading it ahead in a thread (:func:`read_ahead`)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from itertools import chain
from typing import TypeVar

import numpy as np

from isodesk.desk.replay.guard import ChunkGuard
from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import PathChunk, SeriesTable
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, MAX_TS_S
from isodesk.feeds.replay import RejectedRow, _listing
from isodesk.margin.bounds import MAX_PRICE, MIN_PRICE

T = TypeVar("T")

#: Chunks kept while looking for the path's first playable row (beyond: read again).
HEAD_CHUNKS = 8
#: Chunks :func:`read_ahead` parses ahead of the play (each about 2 MB of text: memory stays bounded).
READ_AHEAD_CHUNKS = 2
_POLL_S = 0.05


def read_ahead(chunks: Iterable[T], depth: int = READ_AHEAD_CHUNKS) -> Generator[T, None, None]:
    """The items of ``chunks`` in order (a path's chunks, or what is made of them), read (and so
    parsed) in a thread of their own at most ``depth`` items ahead of the caller, so parsing the
    path overlaps playing it on a second core (most of the parser's numpy work runs without the
    interpreter lock; measured 2026-12-02, the parser still holds it about a third of its time, which
    the play waits for, so the gain needs a free core: with both cores busy it costs some CPU and
    saves no time). An exception of the reading is raised here, in the place of the item it stopped at;
    closing or leaving this iterator stops the thread (it finishes the item it is reading, at most
    one block of the file) and closes ``chunks``. Chunks share one
    :class:`~isodesk.feeds.chunks.SeriesTable`, which is safe across threads."""
    handoff: queue.Queue[tuple[bool, T | None, BaseException | None]] = queue.Queue(maxsize=max(int(depth), 1))
    stop = threading.Event()
    source = iter(chunks)

    def put(item: tuple[bool, T | None, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for chunk in source:
                if not put((False, chunk, None)):
                    return
            put((True, None, None))
        except BaseException as exc:  # handed to the reader, raised there
            put((True, None, exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="isodesk-replay-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            end, chunk, error = handoff.get()
            if error is not None:
                raise error
            if end:
                return
            yield chunk  # type: ignore[misc]  # not the end: an item
    finally:
        stop.set()
        thread.join()


def playable(chunk: PathChunk) -> bool:
    """True if a row of ``chunk`` passes the guard's per-row rules (readable, a price within bounds,
    a finite time in seconds): the first such row of a path is always taken."""
    ts, price = chunk.ts, chunk.price
    ok = (chunk.code >= 0) & (price >= float(MIN_PRICE)) & (price <= float(MAX_PRICE))
    ok &= (ts >= -MAX_TS_S) & (ts <= MAX_TS_S)
    return bool(np.any(ok))


def audit(chunks: Iterable[PathChunk], table: SeriesTable, *, band: float = DEFAULT_JUMP_BAND
          ) -> tuple[list[RejectedRow], int]:
    """Every row a whole play rejects (by line) and the number of rows, from a guard of its own."""
    guard = ChunkGuard(table, band=band)
    rows = 0
    for chunk in chunks:
        rows += len(chunk)
        guard.run(chunk)
    guard.finish()
    return sorted(guard.rejected_rows, key=lambda r: r.line), rows


def opened(chunks: Callable[[], Iterable[PathChunk]], table: SeriesTable, label: str, *,
           band: float = DEFAULT_JUMP_BAND, strict: bool = False) -> Iterator[PathChunk]:
    """The chunks to play, from ``chunks()`` (called again when the path must be read twice).

    Raises :class:`FeedError` as :class:`ReplayFeed` does: with ``strict``, when any row is bad
    (every bad line listed; the path is read once for that, before anything plays); and when no
    row can be played (a summary would read as if the book survived the path)."""
    if strict:
        bad, rows = audit(chunks(), table, band=band)
        if bad:
            raise FeedError(f"{label}: {len(bad)} of {rows} rows are bad; the whole path is refused "
                            f"(strict):\n{_listing(bad)}")
        return iter(chunks())
    it = iter(chunks())
    head: list[PathChunk] = []
    for chunk in it:
        head.append(chunk)
        if playable(chunk):
            return chain(head, it)
        if len(head) > HEAD_CHUNKS:  # a long bad start: look on without keeping it, then read again
            if any(playable(rest) for rest in it):
                return iter(chunks())
            head = []
            break
    bad, rows = audit(head or chunks(), table, band=band)
    raise FeedError(f"{label}: none of its {rows} rows can be played:\n{_listing(bad)}")

