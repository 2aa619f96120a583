"""The errors of the venue layer; every message is scrubbed of keys and signatures before it is raised
(:meth:`VenueError.scrubbed`, called by :meth:`~isodesk.venues.client.VenueClient.call`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self


class VenueError(Exception):
    """A venue could not be reached or answered with an error (message safe to show and log)."""

    def scrubbed(self, scrub: Callable[[object], str]) -> Self:
        """The same error (same type) with its message passed through ``scrub``."""
        return type(self)(scrub(self))


class LiveUnavailable(VenueError):
    """The optional ``live`` extra (ccxt, keyring) is not installed."""


class MissingKeys(VenueError):
    """No API keys for the venue in the operating system's keyring."""


class MalformedResponse(VenueError):
    """A venue answered with data isodesk refuses; the message names the venue, the item and the field."""

    def __init__(self, venue: str, where: str, field: str, problem: str):
        self.venue, self.where, self.field, self.problem = venue, where, field, problem
        super().__init__(f"{venue}: malformed response: {where}: field {field!r} {problem}")

    def scrubbed(self, scrub: Callable[[object], str]) -> Self:
        return type(self)(self.venue, scrub(self.where), self.field, scrub(self.problem))
