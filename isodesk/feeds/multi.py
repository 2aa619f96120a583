"""Several feeds polled as one: ``--feed live`` runs one live feed per venue, all at once.

A :class:`FeedGroup` hands out the ticks of all its members in one poll and reports each member's
health on its own (:attr:`FeedHealth.parts`), so the status bar can say which venue is quiet. The
members keep everything of their own: a live feed its thread, its guard (the guard works per
series anyway) and its back-off. A venue that goes quiet only stops its own ticks, so only the
positions its price marks turn stale (the desk's rule: a position is marked by its own venue).

Built with ``make_member``, the group follows the book: :meth:`FeedGroup.follow_book` adds a member
for a venue the book newly holds (a position opened on OKX while the app runs) and passes the
markets on to the members. A venue no member can serve (no live connection, e.g. ``custom``) is
named in the health's ``last_error``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

from isodesk.feeds.base import Feed, FeedError, FeedHealth, FundingQuote, Tick, funding_quotes, tick_age

#: ``make_member(venue, markets)``: the member feed for a venue, or FeedError saying why there is none.
MemberFactory = Callable[[str, list[str]], Feed]


class FeedGroup:
    """The feeds of ``members`` (venue → feed) polled as one feed named ``name``.

    ``make_member`` builds the feed of a venue the book holds later (see the module docstring).
    ``unavailable`` maps a venue to the reason it has no member (shown in ``health().last_error``).
    """

    clock_from_ticks = False
    writes_prices_table = False

    def __init__(self, members: Mapping[str, Feed], *, name: str = "live", make_member: MemberFactory | None = None,
                 unavailable: Mapping[str, str] | None = None):
        for feed in members.values():
            if feed.clock_from_ticks or feed.writes_prices_table:
                raise FeedError(f"{name}: {feed.name} cannot be grouped (only wall-clock feeds the desk stores)")
        self.name = name
        self.members: dict[str, Feed] = dict(members)
        self.unavailable: dict[str, str] = dict(unavailable or {})
        self._make_member = make_member
        self._closed = False

    def poll(self, now: float) -> list[Tick]:
        """Every member's new ticks (each member's in its own order: time order per series)."""
        if self._closed:
            return []
        ticks: list[Tick] = []
        for feed in list(self.members.values()):
            ticks += feed.poll(now)
        return ticks

    def funding(self, now: float) -> list[FundingQuote]:
        """Every member's funding quotes at Unix time ``now`` (s) (none from a member without funding)."""
        return [] if self._closed else [q for feed in list(self.members.values()) for q in funding_quotes(feed, now)]

    def health(self, now: float) -> FeedHealth:
        """Each member's health in ``parts``; together: connected when every member is, the newest
        tick, summed counts, and every member's error (and every venue without a member) in
        ``last_error``, each prefixed with its source."""
        parts = tuple(feed.health(now) for feed in self.members.values())
        stamps = [p.last_tick_ts for p in parts if p.last_tick_ts is not None and math.isfinite(p.last_tick_ts)]
        last = max(stamps) if stamps else None
        reasons: dict[str, int] = {}
        for part in parts:
            for reason, count in part.rejected_by_reason.items():
                reasons[reason] = reasons.get(reason, 0) + count
        errors = [f"{p.source}: {p.last_error}" for p in parts if p.last_error]
        errors += [f"{venue}: {why}" for venue, why in sorted(self.unavailable.items())]
        return FeedHealth(source=self.name, connected=bool(parts) and all(p.connected for p in parts)
                          and not self._closed, last_tick_ts=last, last_tick_age_s=tick_age(last, now),
                          accepted=sum(p.accepted for p in parts), rejected=sum(p.rejected for p in parts),
                          rejected_by_reason=reasons, last_error="; ".join(errors) or None, finished=False,
                          parts=parts)

    def follow_book(self, series: Mapping[tuple[str, str], float]) -> None:
        """Tell every member what the book holds, and add a member for each new venue (when the group
        can make one); ``series`` is ``{(venue, market): price}``."""
        if self._closed:
            return
        wanted: dict[str, list[str]] = {}
        for venue, market in series:
            if venue:
                wanted.setdefault(venue, []).append(market)
        if self._make_member is not None:
            for venue, markets in wanted.items():
                if venue in self.members or venue in self.unavailable:
                    continue
                try:
                    self.members[venue] = self._make_member(venue, sorted(set(markets)))
                except FeedError as exc:
                    self.unavailable[venue] = str(exc)
        for feed in self.members.values():
            hook = getattr(feed, "follow_book", None)
            if hook is not None:
                hook(series)

    def close(self) -> None:
        """Close every member. Idempotent."""
        self._closed = True
        for feed in self.members.values():
            feed.close()


def venues_of(series: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """venue → its markets (sorted) of ``series`` ``(venue, market)``, reference series left out."""
    out: dict[str, set[str]] = {}
    for venue, market in series:
        if venue:
            out.setdefault(venue, set()).add(market)
    return {venue: sorted(markets) for venue, markets in sorted(out.items())}
