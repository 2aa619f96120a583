"""The trader's risk settings: one table of keys with their units, defaults and ranges, read by the
desk, the command line (``isodesk config``) and the settings dialog alike.

Every setting lives in the book's ``settings`` table, so the CLI and the app see the same values,
and every change goes through the desk as a :class:`SetSettings` command (validated here, written in
one transaction, in effect at once in the running desk). No Qt, no database access outside
:func:`load_settings` / :func:`stored_changes`.

Keys (see :data:`SPECS` for each one's range; ``config get`` prints them all):

- ``levels.warning_pct`` (%, default 10), ``levels.danger_pct`` (%, 3), ``levels.hysteresis_pct``
  (%, 0.5): the level thresholds, distances from the mark to the liquidation price;
- ``levels.dwell_s`` (s, 5): how long a milder level must hold before an easing is reported;
- ``desk.stale_after_s`` (s, 60): a position with no price for this long is stale;
- ``venues.reconcile_tolerance_pct`` (%, 0.5): the venue-vs-isodesk liquidation price gap flagged;
- ``prices.retention_s`` (s, 86400): prices kept tick by tick, older ones one per market per minute;
- ``alerts.sound`` (on/off, off): a sound with the notification on danger and liquidation;
- ``odds.half_life_s`` (s, 3600): the half-life of the realized-volatility estimate behind the odds
  of liquidation (:mod:`isodesk.desk.volatility`);
- ``odds.alert_pct`` (%, 20): an ``odds`` alert when a position's probability of liquidation within
  24 h rises past this, whatever its level.

The three level thresholds are stored together under ``desk.thresholds`` as fractions of the mark
(``{"warning": 0.1, "danger": 0.03, "hysteresis": 0.005}``, the format :class:`SetThresholds`
always wrote); the trader reads and writes them in percent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Literal

from isodesk.desk.commands import new_request_id
from isodesk.desk.levels import Thresholds
from isodesk.store.store import DEFAULT_PRICE_RETENTION_S, PRICE_RETENTION_KEY
from isodesk.venues.reconcile import DEFAULT_TOLERANCE_PCT, TOLERANCE_KEY

if TYPE_CHECKING:
    from isodesk.store import Store

log = logging.getLogger("isodesk.desk")

THRESHOLDS_KEY = "desk.thresholds"
STALE_KEY = "desk.stale_after_s"
DWELL_KEY = "levels.dwell_s"
SOUND_KEY = "alerts.sound"
RETENTION_KEY = PRICE_RETENTION_KEY  # the key Store.compact_prices reads

DEFAULT_STALE_AFTER_S = 60.0
DEFAULT_DWELL_S = 5.0
MAX_DECIMALS = 6
_UNIT_WORDS = {"%": "percent", "s": "seconds", "": "units"}
_TRUE = ("on", "true", "yes", "1")
_FALSE = ("off", "false", "no", "0")


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One setting: its key, unit, default, allowed range and where it is stored.

    ``attr``: the :class:`DeskSettings` field; ``low``/``high`` bound a number, exclusive where
    ``low_open``/``high_open``; ``stored``/``part``/``scale``: the settings-table key, the field
    inside its JSON object (None: the whole value) and the factor from the trader's unit to the
    stored one (percent → fraction is 0.01).
    """

    key: str
    attr: str
    kind: Literal["number", "switch"]
    unit: str
    label: str
    help: str
    low: float = 0.0
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    stored: str = ""
    part: str | None = None
    scale: float = 1.0

    @property
    def storage_key(self) -> str:
        """The key of the settings table holding this value."""
        return self.stored or self.key

    def unit_text(self, value: float | bool) -> str:
        """``10 %``, ``60 s`` or ``on``: the value as the trader reads it, with its unit."""
        if self.kind == "switch":
            return "on" if value else "off"
        return f"{number_text(float(value))} {self.unit}"

    def range_text(self) -> str:
        """The allowed range in words, e.g. ``greater than 0 % and less than 100 %``."""
        low = f"{'greater than' if self.low_open else 'at least'} {number_text(self.low)} {self.unit}"
        if math.isinf(self.high):
            return low
        high = f"{'less than' if self.high_open else 'at most'} {number_text(self.high)} {self.unit}"
        return f"{low} and {high}"


@dataclass(frozen=True, slots=True)
class DeskSettings:
    """Every risk setting with its value (units in the names: ``_pct`` percent, ``_s`` seconds)."""

    warning_pct: float = 10.0
    danger_pct: float = 3.0
    hysteresis_pct: float = 0.5
    dwell_s: float = DEFAULT_DWELL_S
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    reconcile_tolerance_pct: float = DEFAULT_TOLERANCE_PCT
    price_retention_s: float = DEFAULT_PRICE_RETENTION_S
    sound: bool = False
    odds_half_life_s: float = 3600.0
    odds_alert_pct: float = 20.0

    @property
    def thresholds(self) -> Thresholds:
        """The level thresholds as the desk classifies with them (fractions of the mark)."""
        return Thresholds(self.warning_pct / 100.0, self.danger_pct / 100.0, self.hysteresis_pct / 100.0)

    def value(self, key: str) -> float | bool:
        """The value of the setting called ``key`` (:class:`SettingError` for an unknown key)."""
        value: float | bool = getattr(self, spec_of(key).attr)
        return value


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("levels.warning_pct", "warning_pct", "number", "%", "Warning within",
                "a position turns WARNING when the mark is this close to its liquidation price (% of the mark)",
                low=0.0, high=100.0, low_open=True, high_open=True, stored=THRESHOLDS_KEY, part="warning",
                scale=0.01),
    SettingSpec("levels.danger_pct", "danger_pct", "number", "%", "Danger within",
                "a position turns DANGER when the mark is this close to its liquidation price (% of the mark)",
                low=0.0, high=100.0, low_open=True, high_open=True, stored=THRESHOLDS_KEY, part="danger", scale=0.01),
    SettingSpec("levels.hysteresis_pct", "hysteresis_pct", "number", "%", "Hysteresis",
                "a level eases only once the distance clears its threshold by this much (% of the mark)",
                low=0.0, high=100.0, high_open=True, stored=THRESHOLDS_KEY, part="hysteresis", scale=0.01),
    SettingSpec(DWELL_KEY, "dwell_s", "number", "s", "Dwell before easing",
                "seconds a milder level must hold before the easing is reported", low=0.0, high=3600.0),
    SettingSpec(STALE_KEY, "stale_after_s", "number", "s", "Stale after",
                "a position whose price is older than this is marked stale (never liquidated on it)",
                low=5.0, high=86400.0),
    SettingSpec(TOLERANCE_KEY, "reconcile_tolerance_pct", "number", "%", "Reconciliation tolerance",
                "isodesk's liquidation price may differ from the venue's by this much before it is flagged",
                low=0.0, high=50.0),
    SettingSpec(RETENTION_KEY, "price_retention_s", "number", "s", "Price retention",
                "prices younger than this are kept tick by tick; older ones one per market per minute",
                low=60.0, high=366 * 86400.0),
    SettingSpec(SOUND_KEY, "sound", "switch", "", "Sound on danger and liquidation",
                "play a sound with the notification when a position turns DANGER or is liquidated"),
    SettingSpec("odds.half_life_s", "odds_half_life_s", "number", "s", "Volatility half-life",
                "half-life of the realized volatility behind the odds of liquidation (older marks weigh less)",
                low=10.0, high=30 * 86400.0),
    SettingSpec("odds.alert_pct", "odds_alert_pct", "number", "%", "Alert on 24 h liquidation odds above",
                "an alert when a position's probability of liquidation within 24 h rises past this",
                low=0.0, high=100.0, low_open=True, high_open=True),
)
BY_KEY: Mapping[str, SettingSpec] = {s.key: s for s in SPECS}
DEFAULTS = DeskSettings()


class SettingError(ValueError):
    """A setting key or value the rules refuse; the message is one line naming the key and the unit."""


def spec_of(key: str) -> SettingSpec:
    """The spec of ``key``; :class:`SettingError` listing the known keys when there is none."""
    spec = BY_KEY.get(key.strip())
    if spec is None:
        raise SettingError(f"{key!r} is not a setting; the settings are {', '.join(BY_KEY)}")
    return spec


def number_text(value: float) -> str:
    """A setting's number as the trader writes it: ``10``, ``0.5``, ``86400`` (no exponent, no ``.0``)."""
    text = format(Decimal(repr(round(float(value), MAX_DECIMALS))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_value(key: str, text: object) -> float | bool:
    """The value ``text`` gives the setting ``key``, checked against its range.

    Numbers are written with a ``.`` decimal point, at most :data:`MAX_DECIMALS` decimals, and may
    carry the setting's unit (``10 %``, ``30s``); switches take on/off (true/false, yes/no, 1/0);
    ``default`` is the default value. Raises :class:`SettingError` with one line naming the key.
    """
    spec = spec_of(key)
    raw = str(text).strip()
    if raw.lower() == "default":
        return spec_default(spec)
    if spec.kind == "switch":
        if isinstance(text, bool):
            return text
        word = raw.lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise SettingError(f"{spec.key}: {raw!r} must be on or off")
    if isinstance(text, bool):
        raise SettingError(f"{spec.key}: {text!r} is not a number of {_UNIT_WORDS[spec.unit]}")
    if spec.unit and raw.endswith(spec.unit):
        raw = raw[: -len(spec.unit)].strip()
    try:
        exact = Decimal(raw)
    except InvalidOperation:
        raise SettingError(f"{spec.key}: {str(text).strip()!r} is not a number of {_UNIT_WORDS[spec.unit]} "
                           f"(written with a '.' decimal point, e.g. {number_text(spec_default_number(spec))})") \
            from None
    if not exact.is_finite():
        raise SettingError(f"{spec.key}: {raw!r} is not a finite number of {_UNIT_WORDS[spec.unit]}")
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
        raise SettingError(f"{spec.key}: {raw} has more than {MAX_DECIMALS} decimals")
    value = float(exact)
    below = value <= spec.low if spec.low_open else value < spec.low
    above = value >= spec.high if spec.high_open else value > spec.high
    if below or above:
        raise SettingError(f"{spec.key}: {number_text(value)} {spec.unit} is out of range; it must be "
                           f"{spec.range_text()}")
    return value


def spec_default(spec: SettingSpec) -> float | bool:
    """The default value of one setting."""
    value: float | bool = getattr(DEFAULTS, spec.attr)
    return value


def spec_default_number(spec: SettingSpec) -> float:
    """The default of a number setting (0 for a switch)."""
    value = spec_default(spec)
    return float(value) if spec.kind == "number" else 0.0


def settings_problem(settings: DeskSettings) -> str:
    """Why these values cannot stand together (one line naming the key), or ``""``.

    The thresholds must keep 0 < danger < warning < 100 % and 0 ≤ hysteresis < danger, the rule of
    :class:`~isodesk.desk.levels.Thresholds`, said in the trader's percent.
    """
    s = settings
    if not s.danger_pct < s.warning_pct:
        return (f"levels.danger_pct: {number_text(s.danger_pct)} % must be less than levels.warning_pct "
                f"({number_text(s.warning_pct)} %)")
    if not s.hysteresis_pct < s.danger_pct:
        return (f"levels.hysteresis_pct: {number_text(s.hysteresis_pct)} % must be less than levels.danger_pct "
                f"({number_text(s.danger_pct)} %)")
    try:
        s.thresholds  # noqa: B018 - the one rule of the desk's levels, checked once more
    except ValueError as exc:
        return str(exc)
    return ""


def apply_changes(current: DeskSettings, changes: Iterable[tuple[str, object]]) -> DeskSettings:
    """``current`` with ``changes`` (key, text) applied, every value and the whole checked;
    :class:`SettingError` (one line) on the first problem."""
    values: dict[str, Any] = {}
    for key, text in changes:
        spec = spec_of(key)
        values[spec.attr] = parse_value(spec.key, text)
    if not values:
        raise SettingError("no setting to change")
    new = replace(current, **values)
    problem = settings_problem(new)
    if problem:
        raise SettingError(problem)
    return new


def changed_keys(old: DeskSettings, new: DeskSettings) -> list[str]:
    """The keys whose values differ between two settings, in table order."""
    return [s.key for s in SPECS if getattr(old, s.attr) != getattr(new, s.attr)]


def describe_changes(old: DeskSettings, new: DeskSettings) -> str:
    """One line for the trader: ``levels.warning_pct 10 % → 8 %; alerts.sound off → on``."""
    parts = [f"{k} {BY_KEY[k].unit_text(old.value(k))} → {BY_KEY[k].unit_text(new.value(k))}"
             for k in changed_keys(old, new)]
    return "; ".join(parts) if parts else "settings unchanged"


# -- the book's settings table ----------------------------------------------------------------------


def from_stored(stored: Mapping[str, Any]) -> DeskSettings:
    """Settings from the settings table's values (``{storage key: JSON value}``); a value missing,
    malformed or out of range falls back to its default (logged), so a bad row never stops a desk."""
    values: dict[str, Any] = {}
    for spec in SPECS:
        raw = stored.get(spec.storage_key)
        if raw is None:
            continue
        if spec.part is not None:
            if not isinstance(raw, Mapping) or spec.part not in raw:
                log.warning("setting %s: stored %r has no %r; using the default", spec.key, raw, spec.part)
                continue
            raw = raw[spec.part]
        try:
            if spec.kind == "switch":
                if not isinstance(raw, bool):
                    raise SettingError(f"{spec.key}: stored {raw!r} is not true or false")
                values[spec.attr] = raw
            else:
                if isinstance(raw, bool) or not isinstance(raw, int | float | str):
                    raise SettingError(f"{spec.key}: stored {raw!r} is not a number")
                number = float(raw) * (1.0 / spec.scale)
                values[spec.attr] = parse_value(spec.key, number_text(number))
        except (SettingError, ValueError) as exc:
            log.warning("setting %s: %s; using the default", spec.key, exc)
    settings = replace(DEFAULTS, **values)
    problem = settings_problem(settings)
    if problem:
        log.warning("stored thresholds refused (%s); using the defaults", problem)
        settings = replace(settings, warning_pct=DEFAULTS.warning_pct, danger_pct=DEFAULTS.danger_pct,
                           hysteresis_pct=DEFAULTS.hysteresis_pct)
    return settings


def load_settings(store: Store) -> DeskSettings:
    """The book's settings (defaults where none is stored)."""
    keys = dict.fromkeys(s.storage_key for s in SPECS)
    return from_stored({k: store.get_setting(k) for k in keys})


def stored_changes(old: DeskSettings, new: DeskSettings) -> dict[str, Any]:
    """``{storage key: JSON value}`` to write so the table holds ``new`` (only what changed;
    the thresholds as one object of fractions)."""
    out: dict[str, Any] = {}
    for key in changed_keys(old, new):
        spec = BY_KEY[key]
        if spec.part is not None:
            t = new.thresholds
            out[spec.storage_key] = {"warning": t.warning, "danger": t.danger, "hysteresis": t.hysteresis}
        else:
            out[spec.storage_key] = getattr(new, spec.attr)
    return out


def save_settings(store: Store, old: DeskSettings, new: DeskSettings) -> list[str]:
    """Write what changed from ``old`` to ``new`` (inside the caller's transaction); the keys changed."""
    for key, value in stored_changes(old, new).items():
        store.set_setting(key, value)
    return changed_keys(old, new)


# -- the command ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SetSettings:
    """Change one or more settings: ``changes`` is ``((key, value text), …)`` as the trader wrote
    them (``"8"``, ``"on"``, ``"default"``); the desk parses and checks them with this module's rules
    and writes them in one transaction, or refuses the whole command with the first problem."""

    changes: tuple[tuple[str, str], ...]
    request_id: str = field(default_factory=new_request_id)

    def __post_init__(self) -> None:
        # a queued command comes back from JSON as lists; keep the frozen, hashable form
        pairs: Any = self.changes
        if isinstance(pairs, Mapping):
            pairs = pairs.items()
        normal = tuple((str(k), str(v)) for k, v in pairs)
        object.__setattr__(self, "changes", normal)


def as_json(settings: DeskSettings) -> dict[str, Any]:
    """``{key: value}`` of every setting (numbers in the key's unit, the switch as a bool)."""
    return {s.key: getattr(settings, s.attr) for s in SPECS}


__all__ = [
    "BY_KEY", "DEFAULTS", "SPECS", "DeskSettings", "SetSettings", "SettingError", "SettingSpec", "apply_changes",
    "as_json", "describe_changes", "from_stored", "load_settings", "number_text", "parse_value", "save_settings",
    "settings_problem", "spec_of", "stored_changes",
]
