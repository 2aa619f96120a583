"""A seeded, offline price source: a geometric random walk with occasional jumps, one tick per
symbol every ``interval_s`` seconds.

Each symbol has its own random streams, derived from ``(seed, crc32(symbol))``, and draws the
same numbers per step whatever the poll cadence: the same seed gives the same path whether the
app polls every 0.1 s or every 2 s, and adding a symbol later does not change the others' paths.

Per step of market time ``dt = interval_s × speed`` seconds, with ``σ`` the symbol's volatility
per √second::

    log p += (drift − σ²/2)·dt + σ·√dt·Z  +  J
    J = ±jump_size × U(0.5, 1.5) with probability 1 − (1 − jump_prob)^speed, else 0

so jumps average ``jump_size`` in log price, come up or down with equal odds, and arrive on
average once every ``interval_s / jump_prob`` market seconds per symbol. The walk is held inside
the prices isodesk accepts (10^-12 … 10^12): a month of alt volatility at 100× speed would
otherwise leave them, and the guard would refuse every later tick of that market.

Demo defaults (the app starts on this feed with the demo book, whose positions sit 1–7 % from
their liquidation prices): ``interval_s = 0.25`` (4 ticks/s per symbol, smooth cards),
volatility by family 0.0015 /√s for BTC, 0.002 for ETH, 0.003 for every other coin (roughly 15–20×
real crypto volatility: a 1σ move over 5 minutes is 2.6 % for BTC and 5.2 % for an alt), and a
jump of ~4 % (2–6 %) once every ~2 minutes per symbol (``jump_prob = 0.002`` per step). Measured
over 40 seeds, the median wait for a 3 % fall is 1.6–3 minutes per symbol and for a 5 % fall 4–7
minutes, so a demo book whose positions sit 2–5 % from liquidation shows level changes within
the first minute and a liquidation within a few minutes: what a demo of a liquidation monitor
needs. Use ``speed`` to go faster or slower, or a replay file for a scripted path.

Venues. Given ``venues`` (market → the venues that hold it), the feed publishes each venue's own
mark of the market (ticks with ``venue`` set) instead of the market's reference price: the
common walk above times ``exp(b)``, where ``b`` is the venue's basis in log price, an
Ornstein–Uhlenbeck process that starts at 0 (every venue's first tick is the start price) and
reverts to 0::

    b ← φ·b + s·√(1 − φ²)·Z,   φ = 2^(−dt / half_life)

with stationary standard deviation ``s = basis_bps`` (default 3 bps) and a half-life of
``basis_half_life_s`` market seconds (default 60 s): the few-bps, slowly changing gaps seen
between venues' marks of one coin. Each (market, venue) draws from its own stream, derived from
``(seed, crc32(market), crc32(venue))``, so the common path and the other venues' marks do not
change when a venue is added. A market no venue is listed for keeps its reference ticks.

Funding. Every (market, venue) the feed is told of (``venues``, :meth:`set_venues` or
:meth:`follow_book`, whether or not per-venue marks are on) has a funding rate, quoted by
:meth:`funding` for the next funding time on the venue's grid (:func:`~isodesk.margin.funding.next_funding_ts`;
8 h, Hyperliquid 1 h, or ``funding_intervals[venue]`` seconds). The rate applied at the funding time
``t = k × interval`` is::

    rate = scale · (m + d_k),   m ~ N(funding_mean, funding_sd) once per series,  d_k ~ N(0, funding_sd / 2)
    scale = interval / 8 h

clipped to ±:data:`~isodesk.margin.funding.MAX_FUNDING_RATE`, ``m`` drawn from the stream
``(seed, crc32(market), crc32(venue), 0xF)`` and ``d_k`` from ``(seed, crc32(market), crc32(venue), 1, k)``:
the same seed gives the same rates at the same funding times, whatever the polls (defaults: mean
+0.01 % per 8 h, the venues' usual base rate, with a spread of 0.02 %, so some markets pay shorts).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from isodesk.feeds.base import FeedHealth, FundingQuote, Tick, tick_age
from isodesk.feeds.guard import DEFAULT_JUMP_BAND, TickGuard
from isodesk.margin.bounds import MAX_PRICE, MIN_PRICE
from isodesk.margin.funding import MAX_FUNDING_RATE, funding_rule, next_funding_ts

DEFAULT_INTERVAL_S = 0.25
DEFAULT_BASIS_BPS = 3.0
DEFAULT_BASIS_HALF_LIFE_S = 60.0
DEFAULT_JUMP_PROB = 0.002
DEFAULT_JUMP_SIZE = 0.04
DEFAULT_FUNDING_MEAN = 0.0001  # per 8 hours
DEFAULT_FUNDING_SD = 0.0002  # per 8 hours
_EIGHT_HOURS_S = 8 * 3600.0
MAX_CATCH_UP_STEPS = 50
MAX_SPEED = 100.0
MIN_SPEED = 0.01

#: Volatility (fraction per √second) by base coin; every other coin gets :data:`ALT_VOL_PER_SQRT_S`.
FAMILY_VOL_PER_SQRT_S: Mapping[str, float] = {"BTC": 0.0015, "WBTC": 0.0015, "ETH": 0.002, "WETH": 0.002,
                                              "STETH": 0.002}
ALT_VOL_PER_SQRT_S = 0.003
_QUOTES = ("USDT", "USDC", "BUSD", "USD")
# the walk stays inside the guard's price bounds (10^-12 … 10^12), a hair within them
_LOG_FLOOR = math.log(float(MIN_PRICE)) + 1e-9
_LOG_CEILING = math.log(float(MAX_PRICE)) - 1e-9
_MIN_MARK, _MAX_MARK = math.exp(_LOG_FLOOR), math.exp(_LOG_CEILING)


def base_coin(symbol: str) -> str:
    """The base coin of a market name: ``BTCUSDT`` → ``BTC``, ``ETH-USDT-SWAP`` → ``ETH``, ``SOL`` → ``SOL``."""
    s = symbol.upper()
    for sep in ("-", "_", "/", ":"):
        if sep in s:
            return s.split(sep)[0]
    for quote in _QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            return s[: -len(quote)]
    return s


def default_vol_per_sqrt_s(symbol: str) -> float:
    """The demo volatility of ``symbol`` in fraction per √second (BTC 0.0015, ETH 0.002, alts 0.003)."""
    return FAMILY_VOL_PER_SQRT_S.get(base_coin(symbol), ALT_VOL_PER_SQRT_S)


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: {value!r} must be a positive finite number")
    return value


@dataclass
class _Walk:
    log_price: float
    start_price: float
    vol: float
    normals: np.random.Generator
    uniforms: np.random.Generator
    fresh: bool = True  # the next step emits the start price unchanged
    venues: dict[str, _Basis] | None = None  # venue -> its basis; None: reference ticks


@dataclass
class _Basis:
    value: float  # log-price basis of the venue's mark over the common walk
    normals: np.random.Generator
    fresh: bool = True  # the next step publishes basis 0
    mark: float = math.nan  # the last mark published (quote per coin)


class SimulatedFeed:
    """Seeded geometric random walk with jumps (see the module docstring for the model and defaults).

    ``symbols`` maps market name → start price (quote per coin). ``vol_per_sqrt_s`` is a fraction
    per √second: one float for every symbol, a mapping per symbol, or None for the family defaults
    (:func:`default_vol_per_sqrt_s`; also used for symbols a mapping leaves out). ``jump_prob`` is
    the probability of a jump per step per symbol at speed 1; ``jump_size`` the mean jump in log
    price; ``drift`` the log drift per market second. ``start_ts`` is the Unix time (s) of the
    first step (default: the first poll's ``now``). ``venues`` (market → venue names) turns on
    per-venue marks with a basis of ``basis_bps`` (basis points, stationary standard deviation)
    reverting with a half-life of ``basis_half_life_s`` market seconds; None keeps reference ticks
    for every market and ignores the venues :meth:`follow_book` is told of.
    """

    clock_from_ticks = False
    writes_prices_table = False

    def __init__(self, symbols: Mapping[str, float], *, seed: int = 7, interval_s: float = DEFAULT_INTERVAL_S,
                 vol_per_sqrt_s: Mapping[str, float] | float | None = None, jump_prob: float = DEFAULT_JUMP_PROB,
                 jump_size: float = DEFAULT_JUMP_SIZE, drift: float = 0.0, start_ts: float | None = None,
                 max_catch_up: int = MAX_CATCH_UP_STEPS, band: float = DEFAULT_JUMP_BAND, name: str = "simulated",
                 venues: Mapping[str, Iterable[str]] | None = None, basis_bps: float = DEFAULT_BASIS_BPS,
                 basis_half_life_s: float = DEFAULT_BASIS_HALF_LIFE_S,
                 funding_intervals: Mapping[str, float] | None = None, funding_mean: float = DEFAULT_FUNDING_MEAN,
                 funding_sd: float = DEFAULT_FUNDING_SD):
        self.name = name
        self.seed = int(seed)
        self.interval_s = _positive("interval_s", interval_s)
        if not 0.0 <= jump_prob <= 1.0:
            raise ValueError(f"jump_prob: {jump_prob!r} must be a probability in [0, 1]")
        if not (math.isfinite(jump_size) and 0.0 <= jump_size < 1.0):
            raise ValueError(f"jump_size: {jump_size!r} must be a fraction in [0, 1)")
        if not math.isfinite(drift):
            raise ValueError(f"drift: {drift!r} must be finite")
        if max_catch_up < 1:
            raise ValueError(f"max_catch_up: {max_catch_up!r} must be >= 1")
        if isinstance(vol_per_sqrt_s, Mapping):
            for sym, vol in vol_per_sqrt_s.items():
                if not (math.isfinite(vol) and vol >= 0):
                    raise ValueError(f"vol_per_sqrt_s[{sym!r}]: {vol!r} must be >= 0")
        elif vol_per_sqrt_s is not None and not (math.isfinite(vol_per_sqrt_s) and vol_per_sqrt_s >= 0):
            raise ValueError(f"vol_per_sqrt_s: {vol_per_sqrt_s!r} must be >= 0")
        if not (math.isfinite(basis_bps) and 0.0 <= basis_bps <= 10_000.0):
            raise ValueError(f"basis_bps: {basis_bps!r} must be between 0 and 10,000 basis points")
        self.basis_frac = float(basis_bps) / 10_000.0
        if not (math.isfinite(funding_mean) and abs(funding_mean) <= MAX_FUNDING_RATE):
            raise ValueError(f"funding_mean: {funding_mean!r} must be a rate within ±{MAX_FUNDING_RATE:g}")
        if not (math.isfinite(funding_sd) and 0.0 <= funding_sd <= MAX_FUNDING_RATE):
            raise ValueError(f"funding_sd: {funding_sd!r} must be between 0 and {MAX_FUNDING_RATE:g}")
        self.funding_mean, self.funding_sd = float(funding_mean), float(funding_sd)
        self.funding_intervals = {str(v): _positive(f"funding interval of {v}", s)
                                  for v, s in (funding_intervals or {}).items()}
        self._funding_series: dict[tuple[str, str], float] = {}  # (venue, market) -> its mean m
        self._rates: dict[tuple[str, str, int], float] = {}  # (venue, market, k) -> rate: one draw per funding time
        self.basis_half_life_s = _positive("basis_half_life_s", basis_half_life_s)
        self.per_venue = venues is not None
        self.vol_per_sqrt_s = vol_per_sqrt_s
        self.jump_prob = float(jump_prob)
        self.jump_size = float(jump_size)
        self.drift = float(drift)
        self.max_catch_up = int(max_catch_up)
        self.guard = TickGuard(band, feed_name=name)
        self._walks: dict[str, _Walk] = {}
        self._origin: float | None = None if start_ts is None else float(start_ts)
        self._next_k = 0
        self._speed = 1.0
        self._paused = False
        self._rebase = False
        self._closed = False
        self.market_time_s = 0.0
        self.skipped_steps = 0
        self.set_symbols(symbols)
        if venues is not None:
            self.set_venues(venues)

    # -- configuration ----------------------------------------------------------------------------

    def vol_of(self, symbol: str) -> float:
        """The volatility used for ``symbol``, fraction per √second of market time."""
        if isinstance(self.vol_per_sqrt_s, Mapping):
            vol = self.vol_per_sqrt_s.get(symbol)
            return default_vol_per_sqrt_s(symbol) if vol is None else float(vol)
        if self.vol_per_sqrt_s is None:
            return default_vol_per_sqrt_s(symbol)
        return float(self.vol_per_sqrt_s)

    def set_symbols(self, symbols: Mapping[str, float]) -> None:
        """Add the symbols not yet simulated, each starting at its given price (quote per coin).

        Symbols already simulated keep their path (their price here is ignored); none is removed.
        A new symbol's first tick, at the next step, is its start price.
        """
        for symbol, price in symbols.items():
            start = _positive(f"start price of {symbol}", price)
            if symbol in self._walks:
                continue
            seq = np.random.SeedSequence([self.seed & 0xFFFFFFFF, zlib.crc32(symbol.encode())])
            normals, uniforms = (np.random.default_rng(s) for s in seq.spawn(2))
            self._walks[symbol] = _Walk(math.log(start), start, self.vol_of(symbol), normals, uniforms)

    def set_venues(self, venues: Mapping[str, Iterable[str]]) -> None:
        """Publish each listed venue's own mark of each market (market → venues) from the next step;
        a market must already be simulated (ValueError otherwise). Venues already listed keep their
        basis; none is removed. Turns per-venue marks on."""
        self.per_venue = True
        for symbol, names in venues.items():
            walk = self._walks.get(symbol)
            if walk is None:
                raise ValueError(f"venues: {symbol!r} is not a simulated market; give its start price first")
            names = list(names)
            self.set_funding_venues({symbol: names})
            if walk.venues is None:
                walk.venues = {}
            for venue in names:
                if venue and venue not in walk.venues:
                    seq = np.random.SeedSequence([self.seed & 0xFFFFFFFF, zlib.crc32(symbol.encode()),
                                                  zlib.crc32(venue.encode())])
                    walk.venues[venue] = _Basis(0.0, np.random.default_rng(seq))

    def follow_book(self, series: Mapping[tuple[str, str], float]) -> None:
        """Price what the book holds: ``{(venue, market): start price}``. A new market starts at its
        price; with per-venue marks on, a new venue of a market gets its own mark from the next step."""
        self.set_symbols({market: price for (_venue, market), price in series.items()
                          if market not in self._walks and math.isfinite(price) and price > 0})
        funded: dict[str, list[str]] = {}
        for venue, market in series:
            if venue and market in self._walks:
                funded.setdefault(market, []).append(venue)
        self.set_funding_venues(funded)
        if self.per_venue:
            wanted: dict[str, list[str]] = {}
            for venue, market in series:
                if venue and market in self._walks:
                    wanted.setdefault(market, []).append(venue)
            self.set_venues(wanted)

    def set_funding_venues(self, venues: Mapping[str, Iterable[str]]) -> None:
        """Quote a funding rate for each listed (market, venue) (market → venues) from now on; none is removed."""
        for symbol, names in venues.items():
            for venue in names:
                if venue and (venue, symbol) not in self._funding_series:
                    rng = np.random.default_rng(np.random.SeedSequence([*self._funding_key(symbol, venue), 0xF]))
                    self._funding_series[(venue, symbol)] = float(rng.normal(self.funding_mean, self.funding_sd))

    def _funding_key(self, symbol: str, venue: str) -> list[int]:
        return [self.seed & 0xFFFFFFFF, zlib.crc32(symbol.encode()), zlib.crc32(venue.encode())]

    def funding_interval_s(self, venue: str) -> float:
        """Seconds between two funding payments of ``venue``: the override, else the venue's rule."""
        return self.funding_intervals.get(venue) or funding_rule(venue).interval_s

    def funding_rate_at(self, venue: str, symbol: str, ts: float) -> float:
        """The rate (fraction per interval) applied at the funding time ``ts`` (Unix s, on the venue's grid)
        to ``symbol`` on ``venue``; ValueError for a series the feed does not quote."""
        mean = self._funding_series.get((venue, symbol))
        if mean is None:
            raise ValueError(f"funding: {venue} {symbol} is not a simulated series")
        interval = self.funding_interval_s(venue)
        k = round(ts / interval)
        rate = self._rates.get((venue, symbol, k))
        if rate is None:
            rng = np.random.default_rng(np.random.SeedSequence([*self._funding_key(symbol, venue), 1, k & 0xFFFFFFFF]))
            rate = interval / _EIGHT_HOURS_S * (mean + float(rng.normal(0.0, self.funding_sd / 2)))
            rate = min(max(rate, -MAX_FUNDING_RATE), MAX_FUNDING_RATE)
            if len(self._rates) >= 4096:
                self._rates.clear()
            self._rates[(venue, symbol, k)] = rate
        return rate

    def funding(self, now: float) -> list[FundingQuote]:
        """The funding quote of every simulated (venue, market) at Unix time ``now`` (s): the rate that
        will be applied at the next funding time after ``now``. Deterministic per seed; empty once closed."""
        if self._closed or not math.isfinite(now):
            return []
        out = []
        for venue, symbol in self._funding_series:
            interval = self.funding_interval_s(venue)
            t = next_funding_ts(now, interval)
            out.append(FundingQuote(venue, symbol, self.funding_rate_at(venue, symbol, t), t, interval, float(now)))
        return out

    def venues_of(self, symbol: str) -> list[str]:
        """The venues whose own mark of ``symbol`` is published, in order of addition (empty: reference ticks)."""
        walk = self._walks.get(symbol)
        return list(walk.venues) if walk is not None and walk.venues else []

    @property
    def symbols(self) -> list[str]:
        """The simulated symbols, in the order their ticks are emitted within one step."""
        return list(self._walks)

    @property
    def speed(self) -> float:
        """Market seconds per wall second."""
        return self._speed

    def set_speed(self, speed: float) -> float:
        """Make market time run ``speed`` times faster (clamped to [0.01, 100]); returns the speed used.

        Ticks keep coming every ``interval_s`` wall seconds stamped with wall time; each step covers
        ``interval_s × speed`` seconds of market movement. Applies from the next step.
        """
        speed = _positive("speed", speed)
        self._speed = min(max(speed, MIN_SPEED), MAX_SPEED)
        return self._speed

    def pause(self) -> None:
        """Stop emitting; :meth:`resume` continues from the current time without catching up."""
        self._paused = True

    def resume(self) -> None:
        """Resume after :meth:`pause`: the next poll emits only the current step."""
        if self._paused:
            self._paused = False
            self._rebase = True

    def prices(self) -> dict[str, float]:
        """The current common (reference) price of every symbol (quote per coin)."""
        return {s: math.exp(w.log_price) for s, w in self._walks.items()}

    def venue_prices(self) -> dict[tuple[str, str], float]:
        """The last mark published of every (venue, market) (quote per coin; none before its first step)."""
        return {(v, s): b.mark for s, w in self._walks.items() for v, b in (w.venues or {}).items()
                if math.isfinite(b.mark)}

    # -- the feed ---------------------------------------------------------------------------------

    def poll(self, now: float) -> list[Tick]:
        """The ticks of every step due at Unix time ``now`` (s) since the last poll, oldest first.

        Steps fall at ``start_ts + k × interval_s``; at most ``max_catch_up`` steps are emitted per
        poll (the older due steps are skipped: the market stands still while the app was away).
        """
        if self._closed or self._paused or not math.isfinite(now):
            return []
        if self._origin is None:
            self._origin = float(now)
        last_due = math.floor((now - self._origin) / self.interval_s + 1e-9)
        n = last_due - self._next_k + 1
        if n <= 0:
            return []
        limit = 1 if self._rebase else self.max_catch_up
        self._rebase = False
        if n > limit:
            self.skipped_steps += n - limit
            self._next_k += n - limit
            n = limit
        stamps = self._origin + (self._next_k + np.arange(n)) * self.interval_s
        self._next_k += n
        columns = [self._advance(walk, n) for walk in self._walks.values()]
        self.market_time_s += n * self.interval_s * self._speed
        series = [(symbol, venue, col) for (symbol, walk), common in zip(self._walks.items(), columns, strict=True)
                  for venue, col in self._marks(walk, common)]
        ticks = [Tick(symbol, float(ts), float(col[i]), venue)
                 for i, ts in enumerate(stamps) for symbol, venue, col in series]
        return self.guard.check(ticks, now)

    def _marks(self, walk: _Walk, common: np.ndarray) -> list[tuple[str | None, np.ndarray]]:
        """The columns a walk publishes: its common prices as reference ticks, or each venue's mark."""
        if not walk.venues:
            return [(None, common)]
        n = common.size
        phi = 2.0 ** (-self.interval_s * self._speed / self.basis_half_life_s)
        scale = self.basis_frac * math.sqrt(1.0 - phi * phi)
        out: list[tuple[str | None, np.ndarray]] = []
        for venue, basis in walk.venues.items():
            z = basis.normals.standard_normal(n)
            values = np.empty(n)
            b = basis.value
            for i in range(n):
                if i or not basis.fresh:  # a venue's first step publishes the common price itself
                    b = phi * b + scale * float(z[i])
                values[i] = b
            marks = np.clip(common * np.exp(values), _MIN_MARK, _MAX_MARK)
            basis.value, basis.fresh, basis.mark = b, False, float(marks[-1])
            out.append((venue, marks))
        return out

    def _advance(self, walk: _Walk, n: int) -> np.ndarray:
        dt = self.interval_s * self._speed
        z = walk.normals.standard_normal(n)
        u = walk.uniforms.random((n, 3))
        p_jump = 1.0 - (1.0 - self.jump_prob) ** self._speed
        sign = np.where(u[:, 2] < 0.5, -1.0, 1.0)
        jumps = np.where(u[:, 0] < p_jump, sign * self.jump_size * (0.5 + u[:, 1]), 0.0)
        steps = (self.drift - 0.5 * walk.vol**2) * dt + walk.vol * math.sqrt(dt) * z + jumps
        fresh, walk.fresh = walk.fresh, False
        if fresh:
            steps[0] = 0.0
        # summed one step at a time from the current level, so any batching gives the same floats
        path = np.cumsum(np.concatenate(([walk.log_price], steps)))[1:]
        if path.min() < _LOG_FLOOR or path.max() > _LOG_CEILING:  # held inside the prices isodesk accepts
            level = walk.log_price
            for i, step in enumerate(steps):
                level = min(max(level + float(step), _LOG_FLOOR), _LOG_CEILING)
                path[i] = level
        walk.log_price = float(path[-1])
        prices: np.ndarray = np.exp(path)
        if fresh:
            prices[0] = walk.start_price
        return prices

    def health(self, now: float) -> FeedHealth:
        """Connected until closed; tick counts and the age (s) of the last accepted tick at ``now``."""
        g = self.guard
        return FeedHealth(source=self.name, connected=not self._closed, last_tick_ts=g.last_tick_ts,
                          last_tick_age_s=tick_age(g.last_tick_ts, now), accepted=g.accepted,
                          rejected=g.rejected, rejected_by_reason=g.rejected_by_reason, last_error=None,
                          finished=False)

    def close(self) -> None:
        """Stop emitting ticks."""
        self._closed = True
