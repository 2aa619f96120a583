"""The errors of the venue layer; every message is scrubbed of keys and signatures before it is raised."""

from __future__ import annotations


class VenueError(Exception):
    """A venue could not be reached or answered with an error (message safe to show and log)."""


class LiveUnavailable(VenueError):
    """The optional ``live`` extra (ccxt, keyring) is not installed."""


class MissingKeys(VenueError):
    """No API keys for the venue in the operating system's keyring."""


class MalformedResponse(VenueError):
    """A venue answered with data isodesk refuses; the message names the venue, the item and the field."""

    def __init__(self, venue: str, where: str, field: str, problem: str):
        self.venue, self.where, self.field, self.problem = venue, where, field, problem
        super().__init__(f"{venue}: malformed response: {where}: field {field!r} {problem}")
