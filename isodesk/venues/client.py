"""ccxt clients for the live venues, pointed at the venue or at a given base URL, and the one
wrapper every call goes through so that no key, secret or request signature escapes in an error
or a log line (the rule: :mod:`isodesk.venues.scrub`).

ccxt is optional (``pip install isodesk[live]``) and imported only when a client is made.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from isodesk.paths import live_install_hint
from isodesk.venues.errors import LiveUnavailable, VenueError
from isodesk.venues.registry import VenueSpec
from isodesk.venues.scrub import Scrubber

log = logging.getLogger("isodesk.venues")
http_log = logging.getLogger("isodesk.venues.http")

DEFAULT_TIMEOUT_MS = 10_000
T = TypeVar("T")

class _ScrubbingLogger:
    """What ccxt logs through (it logs request headers at DEBUG): formatted, scrubbed, then forwarded."""

    def __init__(self, scrub: Scrubber):
        self._scrub = scrub

    def _emit(self, level: int, msg: object, *args: object, **_: object) -> None:
        if not http_log.isEnabledFor(level):
            return
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(str(a) for a in (msg, *args))
        http_log.log(level, "%s", self._scrub(text))

    def debug(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.DEBUG, msg, *args, **kw)

    def info(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.INFO, msg, *args, **kw)

    def warning(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.WARNING, msg, *args, **kw)

    def error(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.ERROR, msg, *args, **kw)

    def exception(self, msg: object, *args: object, **kw: object) -> None:
        self._emit(logging.ERROR, msg, *args, **kw)


def ccxt_module() -> Any:
    """The ccxt package; :class:`LiveUnavailable` saying what to install when it is missing."""
    try:
        import ccxt
    except ImportError:
        raise LiveUnavailable(f"live venues need the optional extra: {live_install_hint('ccxt, keyring')}") from None
    return ccxt


def point_at(urls: Any, base_url: str) -> Any:
    """``urls`` (a URL or a nested dict of URLs) with every scheme and host replaced by ``base_url``."""
    base = base_url.rstrip("/")
    if isinstance(urls, str):
        return re.sub(r"^[a-z]+://[^/]+", base, urls)
    if isinstance(urls, Mapping):
        return {k: point_at(v, base) for k, v in urls.items()}
    return urls


class VenueClient:
    """A ccxt exchange for one venue plus the scrubber of its secrets; :meth:`call` wraps every request."""

    def __init__(self, spec: VenueSpec, exchange: Any, scrub: Scrubber):
        self.spec = spec
        self.exchange = exchange
        self.scrub = scrub

    @property
    def venue(self) -> str:
        return self.spec.venue

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``; any failure becomes a :class:`VenueError` with a scrubbed message.

        Our own errors (a :class:`~isodesk.venues.errors.MalformedResponse` quoting a field of the
        answer) are scrubbed too and keep their type. The error is raised outside the ``except``
        block, so it carries no ``__context__`` that could hold the unscrubbed original.
        """
        try:
            return fn(*args, **kwargs)
        except VenueError as exc:  # our own: may quote the venue's answer
            error = exc.scrubbed(self.scrub)
        except Exception as exc:  # ccxt errors, and parse errors on malformed bodies
            error = VenueError(f"{self.venue}: {what} failed: {_describe(exc, self.scrub)}")
        raise error

    def load_markets(self) -> dict[str, Any]:
        """The venue's markets (loaded once per client)."""
        markets = self.call("loading markets", self.exchange.load_markets)
        if not isinstance(markets, dict) or not markets:
            raise VenueError(f"{self.venue}: loading markets failed: the venue listed no markets")
        return markets

    def close(self) -> None:
        """Close the HTTP session."""
        session = getattr(self.exchange, "session", None)
        if session is not None:
            with contextlib.suppress(Exception):  # closing is best effort
                session.close()


def _describe(exc: Exception, scrub: Scrubber) -> str:
    names = [c.__name__ for c in type(exc).__mro__]
    if "NetworkError" in names:
        kind = "network error (timeout, refused or dropped connection)"
        if "RequestTimeout" in names:
            kind = "timed out"
        elif "DDoSProtection" in names or "RateLimitExceeded" in names:
            kind = "rate limited by the venue"
    elif "AuthenticationError" in names or "PermissionDenied" in names:
        kind = "the venue refused the API key (check it with `isodesk keys set VENUE`)"
    elif "BaseError" in names:
        kind = "the venue answered with an error"
    else:
        kind = f"unexpected response ({type(exc).__name__})"
    detail = scrub(exc)
    if len(detail) > 300:
        detail = detail[:300] + "…"
    return f"{kind}: {detail}" if detail else kind


def make_client(spec: VenueSpec, *, credentials: Mapping[str, str] | None = None, base_url: str | None = None,
                timeout_ms: int = DEFAULT_TIMEOUT_MS, rate_limit: bool = True) -> VenueClient:
    """A ccxt client of ``spec``'s venue; ``base_url`` (tests, proxies) replaces the venue's hosts.

    ``rate_limit`` keeps ccxt's own throttle on (each venue's published limit); ``credentials`` maps
    ccxt credential names (apiKey, secret, password, walletAddress) to values.
    """
    ccxt = ccxt_module()
    creds = {k: v for k, v in (credentials or {}).items() if v}
    config: dict[str, Any] = {"enableRateLimit": bool(rate_limit), "timeout": int(timeout_ms),
                              "options": dict(spec.options), **creds}
    exchange = getattr(ccxt, spec.ccxt_id)(config)
    scrub = Scrubber(creds.values())
    exchange.verbose = False
    exchange.logger = _ScrubbingLogger(scrub)
    exchange.has = {**exchange.has, "fetchCurrencies": False}  # a private call isodesk does not need
    if base_url:
        exchange.urls = {**exchange.urls, "api": point_at(exchange.urls["api"], base_url)}
        for name in ("test", "demo", "apiBackup"):
            exchange.urls.pop(name, None)
    return VenueClient(spec, exchange, scrub)
