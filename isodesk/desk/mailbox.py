"""A latest-wins mailbox: the newest snapshot replaces an unread older one (QT-PRACTICES §4.3)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Mailbox(Generic[T]):
    """One slot shared by a producer thread and a consumer thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Store ``item``; True if the slot was empty (the caller should notify the consumer)."""
        with self._lock:
            empty = self._item is None
            if not empty:
                self.dropped += 1
            self._item = item
            return empty

    def take(self) -> T | None:
        """The newest item, emptying the slot (None if nothing arrived since the last take)."""
        with self._lock:
            item, self._item = self._item, None
            return item
