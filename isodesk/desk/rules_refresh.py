"""Refreshing the venues' tier tables from the app without stalling the desk.

:class:`RefreshVenueRules` is a desk job: the venues are read (network, seconds to a minute for
OKX) by a one-worker executor, each venue's answer is parsed off the desk thread, and the desk
then stores each venue's tables through its own command :class:`~isodesk.desk.commands.StoreTierTables`
(one transaction per venue, alerts on the open positions whose table changed, a recompute). The
command line does the same with ``isodesk tiers refresh``; both end in the same command.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from isodesk.desk.commands import CommandRejected, Result, StoreTierTables, new_request_id

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk


@dataclass(frozen=True, slots=True)
class RefreshVenueRules:
    """Fetch the current tier tables of ``venues`` (empty: every venue the book holds open
    positions on) and store them. The first answer is "started"; the final one, with the same
    request id, says per venue what changed, what was skipped (Binance without keys) and why."""

    venues: tuple[str, ...] = ()
    base_url: str | None = None
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class VenueAnswer:
    """One venue's refreshed tables (as ``to_json`` documents), or why there are none."""

    venue: str
    tables: tuple[dict[str, Any], ...] = ()
    fetched_at: float = 0.0
    problem: str = ""


class RulesRefresh:
    """The desk's background refresh of tier tables: at most one at a time."""

    def __init__(self) -> None:
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._running: tuple[RefreshVenueRules, concurrent.futures.Future[list[VenueAnswer]]] | None = None

    def start(self, desk: Desk, command: RefreshVenueRules) -> Result:
        """Start fetching; rejected at once for an unknown venue, a refresh already running, or a
        book with no venue to refresh."""
        from isodesk.venues.tier_fetch import VENUES

        if self._running is not None:
            raise CommandRejected("a refresh of the venues' rules is already running")
        unknown = [v for v in command.venues if v not in VENUES]
        if unknown:
            raise CommandRejected(f"venue: {', '.join(map(repr, unknown))} has no tier tables to refresh "
                                  f"(venues: {', '.join(VENUES)})")
        held = {v for v, s in zip(desk.book.info.venues, desk.book.info.statuses, strict=True) if s == "open"}
        venues = tuple(dict.fromkeys(command.venues)) or tuple(v for v in VENUES if v in held)
        if not venues:
            raise CommandRejected("no open position on a venue with tier tables; name the venues to refresh")
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules-read")
        future = self._executor.submit(fetch_venues, venues, command.base_url)
        self._running = (command, future)
        return Result(command.request_id, True, f"reading the rules of {', '.join(venues)}…",
                      snapshot_version=desk.version)

    def finish(self, desk: Desk) -> Result | None:
        """Store a finished refresh through the desk's own command; its final result (None while running)."""
        if self._running is None or not self._running[1].done():
            return None
        command, future = self._running
        self._running = None
        try:
            answers = future.result()
        except Exception as exc:
            return Result(command.request_id, False, f"the venues' rules could not be read: {exc}",
                          kind=type(command).__name__, snapshot_version=desk.version)
        lines, stored = [], 0
        for answer in answers:
            if answer.problem:
                lines.append(f"{answer.venue}: {answer.problem}")
                continue
            result = desk.apply(StoreTierTables(answer.venue, "refresh", answer.tables, answer.fetched_at,
                                                complete=True), origin="app rules refresh")
            stored += int(result.accepted)
            lines.append(result.reason if result.accepted else f"{answer.venue}: nothing stored: {result.reason}")
        return Result(command.request_id, stored > 0, "\n".join(lines), kind=type(command).__name__,
                      snapshot_version=desk.version)

    def close(self) -> None:
        """Stop taking refreshes; a read in flight is abandoned."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def fetch_venues(venues: tuple[str, ...], base_url: str | None = None) -> list[VenueAnswer]:
    """Fetch and parse each venue's tier tables (network; off the desk thread); one answer per venue."""
    from isodesk.venues.errors import MissingKeys, VenueError
    from isodesk.venues.tier_bodies import TierBodyError, parse_tier_bodies
    from isodesk.venues.tier_fetch import fetch_tier_bodies

    answers = []
    for venue in venues:
        try:
            fetched = fetch_tier_bodies(venue, base_url=base_url)
            tables = parse_tier_bodies(venue, fetched.tiers, instruments=fetched.instruments or None)
        except MissingKeys as exc:
            answers.append(VenueAnswer(venue, problem=f"skipped: {str(exc).removeprefix(f'{venue}: ')}"))
            continue
        except (VenueError, TierBodyError) as exc:
            answers.append(VenueAnswer(venue, problem=f"not refreshed: {str(exc).removeprefix(f'{venue}: ')}"))
            continue
        if not tables:
            answers.append(VenueAnswer(venue, problem="not refreshed: the venue listed no symbol"))
            continue
        answers.append(VenueAnswer(venue, tuple(t.to_json() for t in tables), float(fetched.fetched_at or time.time())))
    return answers
