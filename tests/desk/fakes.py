"""A scripted feed and a manual clock for driving the desk deterministically."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from isodesk.feeds.base import FeedHealth, Tick


@dataclass
class ScriptedFeed:
    """Hands out the ticks pushed into it; ``clock_from_ticks`` like a replay when asked.

    Safe to push from the test thread while the desk thread polls.
    """

    clock_from_ticks: bool = False
    writes_prices_table: bool = False
    name: str = "scripted"
    pending: list[Tick] = field(default_factory=list)
    accepted: int = 0
    pushed: int = 0
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def push(self, symbol: str, price: float, ts: float, venue: str | None = None) -> None:
        """Queue one tick for the next poll (``venue`` None: a reference price)."""
        with self.lock:
            self.pending.append(Tick(symbol=symbol, ts=ts, price=price, venue=venue))
            self.pushed += 1

    def poll(self, now: float) -> list[Tick]:
        with self.lock:
            ticks, self.pending = self.pending, []
        self.accepted += len(ticks)
        return ticks

    def health(self, now: float) -> FeedHealth:
        return FeedHealth(source=self.name, connected=True, last_tick_ts=None, last_tick_age_s=None,
                          accepted=self.accepted, rejected=0, rejected_by_reason={}, last_error=None, finished=False)

    def close(self) -> None:
        self.closed = True


class ManualClock:
    """A clock tests move by hand (Unix seconds)."""

    def __init__(self, start: float = 1_700_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def job_answer(desk, command, timeout_s: float = 60.0):
    """Send a background-job command (a What-if path replay) to ``desk``: it answers "started" at
    once; step the desk until the job's final result comes out of ``drain_results`` and return it."""
    import time

    from isodesk.desk.commands import Reply

    started = desk.apply(command)
    if started.reply is not Reply.STARTED:
        return started  # refused at once
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        desk.step()
        for result in desk.drain_results():
            if result.request_id == command.request_id:
                return result
        time.sleep(0.005)
    raise AssertionError(f"no final answer to {type(command).__name__} within {timeout_s} s")
