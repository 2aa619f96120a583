"""The venues' tier answers, parsed: raw JSON bodies in, one :class:`VenueTierTable` per symbol out.

Pure functions (no ccxt, no network, no database): ``isodesk tiers refresh`` parses what
:mod:`isodesk.venues.tier_fetch` brought back, ``isodesk tiers import`` parses the same bodies saved
to files. Numbers may be JSON numbers or strings (the venues send both); every one is kept as the
exact decimal text it was written as (:func:`exact`). A body that does not parse raises one
:class:`TierBodyError` naming the venue, the endpoint and the field path, e.g.
``bybit risk-limit: result.list[3].maintenanceMargin: 'x' is not a number``; nothing is returned
for a body with any bad field. Unknown fields are ignored.

What each venue sends, and how a row ``[floor, cap, maintenance rate, deduction, max leverage]`` is
read from it (sources per venue in the functions below):

- **Bybit** ``GET /v5/market/risk-limit`` (linear and inverse): per symbol a list of tiers in
  order; ``riskLimitValue`` is the tier's cap (position value, quote for linear, coin for inverse),
  the floor is the previous cap; ``id`` is not the tier number.
- **OKX** ``GET /api/v5/public/position-tiers`` (SWAP): tiers by position size in **contracts**
  (``minSz``/``maxSz``), no deduction; the contract value ``ctVal`` comes from
  ``GET /api/v5/public/instruments``.
- **Hyperliquid** ``meta``: each asset's ``marginTableId`` names one of ``marginTables``; rate
  ``1/(2·maxLeverage)``, deduction by the documented recurrence; ids below 50 are one tier.
- **Binance USDⓈ-M** ``GET /fapi/v1/leverageBracket``: ``notionalFloor``/``notionalCap``/``cum``.
- **Binance COIN-M** ``GET /dapi/v2/leverageBracket``: ``qtyFloor``/``qtyCap``, which Binance
  documents as the "upper edge of base asset quantity", i.e. the position's value in the coin
  (the notional of an inverse position); the last cap 9223372036854775807 (2^63−1) means unbounded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from isodesk.margin.tiers import UNBOUNDED_CAP as _UNBOUNDED_INT
from isodesk.margin.tiers import TierError, TierTable
from isodesk.margin.tiers import hyperliquid_rows as tiers_hyperliquid_rows

VENUES = ("bybit", "okx", "hyperliquid", "binance-usdm", "binance-coinm")
ENDPOINTS = {"bybit": "risk-limit", "okx": "position-tiers", "hyperliquid": "meta",
             "binance-usdm": "leverageBracket", "binance-coinm": "leverageBracket"}

#: Binance's "no upper bound" cap: 2^63 − 1, sent as an integer (a float cannot hold it exactly).
UNBOUNDED_CAP = Decimal(_UNBOUNDED_INT)

#: Hyperliquid docs "Margin tiers": "For IDs less than 50, there is a single tier with max leverage
#: equal to the ID."
HYPERLIQUID_SINGLE_TIER_BELOW = 50

ExactRow = tuple[str, str | None, str, str | None, str | None]


class TierBodyError(ValueError):
    """A venue body that does not parse; the message names the venue, endpoint and field path."""


@dataclass(frozen=True)
class VenueTierTable:
    """One symbol's tier table as the venue publishes it.

    ``symbol`` is the venue's own symbol as its positions carry it (Bybit ``BTCUSDT``/``BTCUSD``/
    ``BTCPERP``, OKX ``BTC-USDT-SWAP``, Binance ``BTCUSDT``, COIN-M ``BTCUSD_PERP``, Hyperliquid
    ``BTC`` or ``dex:COIN``). ``rows`` are the exact decimal texts
    ``(floor, cap|None, rate, deduction|None, max_leverage|None)``; ``table`` the same as a
    :class:`TierTable`. ``basis``: what floors and caps count (``"notional"``: the position value
    in ``settlement``; ``"contracts"``: OKX's size in contracts). ``contract_value``: base units per
    contract of a linear contract-sized table (OKX ``ctVal``), else 1. ``contract_size``: USD per
    contract of an inverse contract (None for linear). ``strict_isolated``: the venue lets no
    margin be removed from an isolated position of this asset (Hyperliquid).
    """

    venue: str
    contract: str
    symbol: str
    rows: tuple[ExactRow, ...]
    basis: str
    settlement: str
    contract_value: Decimal = Decimal(1)
    contract_size: Decimal | None = None
    strict_isolated: bool = False
    table: TierTable = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = f"{self.venue} {self.contract} {self.symbol}"
        if self.venue not in VENUES:
            raise TierBodyError(f"{name}: venue {self.venue!r} is not one of {', '.join(VENUES)}")
        if self.contract not in ("linear", "inverse"):
            raise TierBodyError(f"{name}: contract {self.contract!r} is neither linear nor inverse")
        if not self.symbol or not self.settlement:
            raise TierBodyError(f"{name}: symbol and settlement currency must not be empty")
        if (self.contract == "inverse") != (self.contract_size is not None):
            raise TierBodyError(f"{name}: an inverse table needs a contract size and a linear one has none")
        try:
            table = TierTable.from_rows([[_float(v) for v in row] for row in self.rows], name=name,
                                        basis=self.basis, contract_value=float(self.contract_value))
        except (TierError, ValueError) as exc:
            raise TierBodyError(str(exc)) from None
        if self.contract_size is not None and not (self.contract_size.is_finite() and self.contract_size > 0):
            raise TierBodyError(f"{name}: contract size {self.contract_size} is not a positive number")
        object.__setattr__(self, "table", table)

    def to_json(self) -> dict[str, Any]:
        """The table as a JSON object of exact texts (what a queued command carries); :func:`table_from_json`
        reads it back."""
        return {"venue": self.venue, "contract": self.contract, "symbol": self.symbol,
                "rows": [list(r) for r in self.rows], "basis": self.basis, "settlement": self.settlement,
                "contract_value": str(self.contract_value),
                "contract_size": None if self.contract_size is None else str(self.contract_size),
                "strict_isolated": self.strict_isolated}


def table_from_json(doc: Mapping[str, Any]) -> VenueTierTable:
    """The table :meth:`VenueTierTable.to_json` wrote, validated again (``TierBodyError`` naming the field)."""
    if not isinstance(doc, Mapping):
        raise TierBodyError(f"tier table: expected an object, got {type(doc).__name__}")
    where = f"tier table {doc.get('venue')!r} {doc.get('symbol')!r}"
    raw_rows = doc.get("rows")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise TierBodyError(f"{where}: rows: expected a non-empty list")
    rows = []
    for i, row in enumerate(raw_rows):
        if not isinstance(row, list) or len(row) != 5:
            raise TierBodyError(f"{where}: rows[{i}]: expected 5 values")
        cells = [None if v is None else exact(v, f"{where}: rows[{i}][{j}]") for j, v in enumerate(row)]
        if cells[0] is None or cells[2] is None:
            raise TierBodyError(f"{where}: rows[{i}]: floor and rate are required")
        rows.append((cells[0], cells[1], cells[2], cells[3], cells[4]))
    size = doc.get("contract_size")
    strict = doc.get("strict_isolated", False)
    if not isinstance(strict, bool):
        raise TierBodyError(f"{where}: strict_isolated: {strict!r} is not true or false")
    for key in ("venue", "contract", "symbol", "basis", "settlement"):
        if not isinstance(doc.get(key), str):
            raise TierBodyError(f"{where}: {key}: {doc.get(key)!r} is not text")
    return VenueTierTable(
        venue=doc["venue"], contract=doc["contract"], symbol=doc["symbol"], rows=tuple(rows), basis=doc["basis"],
        settlement=doc["settlement"], contract_value=Decimal(exact(doc.get("contract_value", "1"), where)),
        contract_size=None if size is None else Decimal(exact(size, f"{where}: contract_size")),
        strict_isolated=strict)


# -- numbers -----------------------------------------------------------------------------------------


def exact(value: object, path: str) -> str:
    """The exact decimal text of a number the venue sent as a JSON number or a string.

    Canonical form (no exponent, no trailing zeros: ``"100.00"`` → ``"100"``), so the same
    number sent two ways compares equal. ``TierBodyError`` naming ``path`` for anything else.
    """
    return canonical(_decimal(value, path))


def canonical(value: Decimal) -> str:
    """``value`` as plain decimal text without trailing zeros (``2E+6`` → ``2000000``)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _decimal(value: object, path: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise TierBodyError(f"{path}: {value!r} is not a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise TierBodyError(f"{path}: {value!r} is not a finite number")
        number = Decimal(repr(value))  # the shortest text of the float: what the venue wrote
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise TierBodyError(f"{path}: {value!r} is not a number") from None
    else:
        raise TierBodyError(f"{path}: {value!r} is not a number")
    if not number.is_finite():
        raise TierBodyError(f"{path}: {value!r} is not a finite number")
    if number < 0:
        raise TierBodyError(f"{path}: {value!r} is negative")
    return number


def _float(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text))


def _field(record: Mapping[str, Any], key: str, path: str) -> object:
    if key not in record:
        raise TierBodyError(f"{path}.{key}: missing")
    return record[key]


def _text(record: Mapping[str, Any], key: str, path: str) -> str:
    value = _field(record, key, path)
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or not value.isprintable():
        raise TierBodyError(f"{path}.{key}: {value!r} is not a symbol")
    return value.strip()


def _object(value: object, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TierBodyError(f"{path}: expected an object, got {_kind(value)}")
    return value


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise TierBodyError(f"{path}: expected a list, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _rate(value: object, path: str) -> Decimal:
    rate = _decimal(value, path)
    if not rate < 1:
        raise TierBodyError(f"{path}: {value!r} is not a rate below 1")
    return rate


# -- the entry points ----------------------------------------------------------------------------------


def parse_tier_body(venue: str, body: Any, *, instruments: Sequence[Any] | None = None) -> list[VenueTierTable]:
    """Every symbol's table in one raw body of ``venue``'s tier endpoint (see the module docstring).

    ``instruments``: OKX ``/api/v5/public/instruments`` bodies (required for OKX: ``ctVal``);
    for Binance COIN-M, optionally ``/dapi/v1/exchangeInfo`` bodies (``contractSize``).
    """
    return parse_tier_bodies(venue, [body], instruments=instruments)


def parse_tier_bodies(venue: str, bodies: Sequence[Any], *,
                      instruments: Sequence[Any] | None = None) -> list[VenueTierTable]:
    """Every symbol's table in several bodies of one venue (Bybit pages and categories, OKX
    families, Hyperliquid dexes), in the order met; a symbol split over two pages is joined.

    Raises :class:`TierBodyError` for the first bad field of any body (nothing is returned), or
    when two bodies give the same symbol twice (other than Bybit pages continuing a symbol).
    """
    if venue not in VENUES:
        raise TierBodyError(f"venue {venue!r} has no tier parser; use one of {', '.join(VENUES)}")
    if isinstance(bodies, (str, bytes)) or not isinstance(bodies, Sequence):
        raise TierBodyError(f"{venue} {ENDPOINTS[venue]}: expected a list of bodies")
    if venue == "bybit":
        return _bybit(bodies)
    if venue == "okx":
        return _okx(bodies, instruments)
    if venue == "hyperliquid":
        return _unique(venue, [t for i, b in enumerate(bodies) for t in _hyperliquid(b, _prefix(venue, i, bodies))])
    contract_sizes = _coinm_sizes(instruments) if venue == "binance-coinm" else {}
    return _unique(venue, [t for i, b in enumerate(bodies)
                           for t in _binance(venue, b, _prefix(venue, i, bodies), contract_sizes)])


def _prefix(venue: str, index: int, bodies: Sequence[Any]) -> str:
    base = f"{venue} {ENDPOINTS[venue]}"
    return base if len(bodies) == 1 else f"{base} body {index + 1}"


def _unique(venue: str, tables: list[VenueTierTable]) -> list[VenueTierTable]:
    seen: set[tuple[str, str]] = set()
    for t in tables:
        key = (t.contract, t.symbol)
        if key in seen:
            raise TierBodyError(f"{venue} {ENDPOINTS[venue]}: {t.symbol} ({t.contract}) is given twice")
        seen.add(key)
    return tables


# -- Bybit ---------------------------------------------------------------------------------------------


def bybit_settlement(category: str, symbol: str) -> str:
    """Bybit's settlement coin of a symbol: linear ``…USDT…`` in USDT, other linear symbols
    (``BTCPERP``, ``BTC-26DEC25``) in USDC; inverse ``BTCUSD``, ``BTCUSDH26`` in the coin before
    ``USD`` (Bybit help "Introduction to USDC Contracts", "Inverse Contracts")."""
    if category == "inverse":
        return symbol.split("USD")[0] or symbol
    return "USDT" if "USDT" in symbol else "USDC"


#: Bybit inverse contracts are 1 USD each (Bybit help "Introduction to Inverse Contracts":
#: "the contract value of each inverse contract is 1 USD").
BYBIT_INVERSE_CONTRACT_USD = Decimal(1)


def _bybit(bodies: Sequence[Any]) -> list[VenueTierTable]:
    """Bybit V5 ``GET /v5/market/risk-limit`` (bybit-exchange.github.io/docs/v5/market/risk-limit,
    read 2026-06): ``{"retCode": 0, "result": {"category", "list": [...], "nextPageCursor"}}``.

    Per record: ``symbol``, ``riskLimitValue`` (the tier's cap), ``maintenanceMargin`` (rate),
    ``mmDeduction`` (deduction; ``""`` on the first tier), ``maxLeverage``, ``initialMargin``.
    Tiers are in list order (``id`` is not the tier number: ETHUSDT runs 11–45). The v5 answers
    give rates as fractions (``"0.005"``); the documentation's 2022 inverse example gives percents
    (``"maintenanceMargin": "0.5"`` with ``"initialMargin": "1"`` at 100×): a record whose
    initial rate × max leverage is about 100 is read as percents.
    """
    grouped: dict[tuple[str, str], list[tuple[Mapping[str, Any], str]]] = {}
    for index, body in enumerate(bodies):
        where = _prefix("bybit", index, bodies)
        answer = _object(body, where)
        code = _field(answer, "retCode", where)
        if str(code).strip() != "0":
            raise TierBodyError(f"{where}: retCode: {code!r} is not 0 ({answer.get('retMsg', '')})")
        result = _object(_field(answer, "result", where), f"{where}: result")
        category = _field(result, "category", f"{where}: result")
        if category not in ("linear", "inverse"):
            raise TierBodyError(f"{where}: result.category: {category!r} is neither linear nor inverse")
        records = _list(_field(result, "list", f"{where}: result"), f"{where}: result.list")
        for i, record in enumerate(records):
            path = f"{where}: result.list[{i}]"
            record = _object(record, path)
            symbol = _text(record, "symbol", path)
            grouped.setdefault((str(category), symbol), []).append((record, path))
    return [_bybit_table(category, symbol, records) for (category, symbol), records in grouped.items()]


def _bybit_table(category: str, symbol: str, records: list[tuple[Mapping[str, Any], str]]) -> VenueTierTable:
    rows: list[ExactRow] = []
    floor = Decimal(0)
    deductions = [r.get("mmDeduction") for r, _ in records]
    derive = all(d is None for d in deductions)
    for k, (record, path) in enumerate(records):
        cap = _decimal(_field(record, "riskLimitValue", path), f"{path}.riskLimitValue")
        if not cap > floor:
            raise TierBodyError(f"{path}.riskLimitValue: {record['riskLimitValue']!r} is not above the previous "
                                f"tier's {canonical(floor)}")
        max_lev = _decimal(_field(record, "maxLeverage", path), f"{path}.maxLeverage")
        mmr = _decimal(_field(record, "maintenanceMargin", path), f"{path}.maintenanceMargin")
        if "initialMargin" in record and max_lev > 0:
            imr = _decimal(record["initialMargin"], f"{path}.initialMargin")
            if 50 <= imr * max_lev <= 150:  # percents (see the docstring)
                mmr /= 100
        if not mmr < 1:
            raise TierBodyError(f"{path}.maintenanceMargin: {record['maintenanceMargin']!r} is not a rate below 1")
        deduction: str | None = None
        if not derive:
            raw = record.get("mmDeduction")
            if raw is None or (isinstance(raw, str) and raw.strip() == ""):
                if k != 0:
                    raise TierBodyError(f"{path}.mmDeduction: {raw!r} is empty on tier {k + 1}")
                deduction = "0"
            else:
                deduction = exact(raw, f"{path}.mmDeduction")
        rows.append((canonical(floor), canonical(cap), canonical(mmr), deduction,
                     canonical(max_lev) if max_lev > 0 else None))
        floor = cap
    inverse = category == "inverse"
    return VenueTierTable("bybit", category, symbol, tuple(rows), "notional", bybit_settlement(category, symbol),
                          contract_size=BYBIT_INVERSE_CONTRACT_USD if inverse else None)


# -- OKX -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OkxInstrument:
    """What the tiers need of one OKX swap: its id, contract type, ``ctVal`` and settlement coin."""

    inst_id: str
    contract: str
    ct_val: Decimal
    settlement: str


def okx_instruments(bodies: Iterable[Any]) -> dict[str, OkxInstrument]:
    """Instrument family → its SWAP instrument, from ``GET /api/v5/public/instruments?instType=SWAP``
    bodies (www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments: ``instId``,
    ``instFamily``, ``ctType`` linear/inverse, ``ctVal`` — base coin per contract for linear, USD
    per contract for inverse — and ``settleCcy``). Other instrument types are skipped."""
    found: dict[str, OkxInstrument] = {}
    for b, body in enumerate(bodies):
        where = f"okx instruments body {b + 1}"
        answer = _object(body, where)
        if str(answer.get("code", "0")).strip() != "0":
            raise TierBodyError(f"{where}: code: {answer.get('code')!r} is not 0 ({answer.get('msg', '')})")
        for i, item in enumerate(_list(_field(answer, "data", where), f"{where}: data")):
            path = f"{where}: data[{i}]"
            item = _object(item, path)
            if item.get("instType", "SWAP") != "SWAP" or item.get("ctType") not in ("linear", "inverse"):
                continue
            family = _text(item, "instFamily", path) if item.get("instFamily") else _text(item, "uly", path)
            ct_val = _decimal(_field(item, "ctVal", path), f"{path}.ctVal")
            if ct_val <= 0:
                raise TierBodyError(f"{path}.ctVal: {item['ctVal']!r} is not a positive number")
            found[family] = OkxInstrument(_text(item, "instId", path), str(item["ctType"]), ct_val,
                                          _text(item, "settleCcy", path))
    return found


def _okx(bodies: Sequence[Any], instruments: Sequence[Any] | None) -> list[VenueTierTable]:
    """OKX ``GET /api/v5/public/position-tiers?instType=SWAP`` (www.okx.com/docs-v5/en/
    #public-data-rest-api-get-position-tiers, read 2026-06): ``{"code": "0", "data": [...]}``,
    per record ``instFamily`` (or ``uly``), ``tier``, ``minSz``/``maxSz`` (position size in
    contracts), ``mmr`` (rate), ``maxLever``. The rate applies to the whole position with no
    deduction (OKX help "Tiered maintenance margin ratio rules", updated 2025-05-16: the rate jumps
    from tier to tier). A row is written ``[previous maxSz, maxSz]``: on the contracts basis a row
    holds ``floor < size <= cap`` (:class:`~isodesk.margin.tiers.TierTable`), so a size of exactly
    ``maxSz`` 1,000 is tier 1 and the next ``minSz`` 1,000.01 (one lot above) tier 2.
    """
    if not instruments:
        raise TierBodyError("okx position-tiers: the contract values (ctVal) come from /api/v5/public/instruments;"
                            " give its answer too (isodesk tiers import okx FILE --instruments FILE)")
    known = okx_instruments(instruments)
    grouped: dict[str, list[tuple[int, Mapping[str, Any], str]]] = {}
    for index, body in enumerate(bodies):
        where = _prefix("okx", index, bodies)
        answer = _object(body, where)
        code = _field(answer, "code", where)
        if str(code).strip() != "0":
            raise TierBodyError(f"{where}: code: {code!r} is not 0 ({answer.get('msg', '')})")
        for i, record in enumerate(_list(_field(answer, "data", where), f"{where}: data")):
            path = f"{where}: data[{i}]"
            record = _object(record, path)
            family = _text(record, "instFamily", path) if record.get("instFamily") else _text(record, "uly", path)
            tier = _decimal(_field(record, "tier", path), f"{path}.tier")
            grouped.setdefault(family, []).append((int(tier), record, path))
    return [_okx_table(family, records, known) for family, records in grouped.items()]


def _okx_table(family: str, records: list[tuple[int, Mapping[str, Any], str]],
               known: Mapping[str, OkxInstrument]) -> VenueTierTable:
    instrument = known.get(family)
    if instrument is None:
        raise TierBodyError(f"okx position-tiers: {records[0][2]}.instFamily: {family!r} has no SWAP instrument "
                            "with a ctVal in the instruments answer")
    records = sorted(records, key=lambda r: r[0])
    parsed = []
    for _, record, path in records:
        low = _decimal(_field(record, "minSz", path), f"{path}.minSz")
        high = _decimal(_field(record, "maxSz", path), f"{path}.maxSz")
        mmr = _rate(_field(record, "mmr", path), f"{path}.mmr")
        lever = _decimal(_field(record, "maxLever", path), f"{path}.maxLever")
        parsed.append((low, high, mmr, lever, path))
    if parsed[0][0] != 0:
        raise TierBodyError(f"{parsed[0][4]}.minSz: {canonical(parsed[0][0])} is not 0 on the first tier")
    rows: list[ExactRow] = []
    floor = Decimal(0)
    for low, high, mmr, lever, path in parsed:
        if not (high > low >= floor):
            raise TierBodyError(f"{path}.maxSz: the tier {canonical(low)}–{canonical(high)} does not follow the "
                                f"previous tier's maxSz {canonical(floor)}")
        rows.append((canonical(floor), canonical(high), canonical(mmr), "0", canonical(lever) if lever > 0 else None))
        floor = high
    linear = instrument.contract == "linear"
    return VenueTierTable("okx", instrument.contract, instrument.inst_id, tuple(rows), "contracts",
                          instrument.settlement, contract_value=instrument.ct_val if linear else Decimal(1),
                          contract_size=None if linear else instrument.ct_val)


# -- Hyperliquid ---------------------------------------------------------------------------------------


def hyperliquid_exact_rows(tiers: Sequence[tuple[Decimal, Decimal]]) -> tuple[ExactRow, ...]:
    """Rows of a Hyperliquid margin table from ``(lowerBound, maxLeverage)`` pairs (USDC notional),
    by the one definition of the rule, :func:`isodesk.margin.tiers.hyperliquid_rows` (rate
    ``1/(2·maxLeverage)``, deduction by the documented recurrence, left to
    :meth:`~isodesk.margin.tiers.TierTable.from_rows`), as texts (a rate as its float's shortest text)."""
    rows = tiers_hyperliquid_rows([(float(lower), float(lev)) for lower, lev in tiers])
    return tuple((canonical(tiers[k][0]), None if r[1] is None else canonical(tiers[k + 1][0]),
                  exact(r[2], "rate"), None, canonical(tiers[k][1])) for k, r in enumerate(rows))


def _hyperliquid(body: Any, where: str) -> list[VenueTierTable]:
    """Hyperliquid ``POST /info {"type": "meta"}`` (and ``"dex": NAME`` for a HIP-3 dex; the
    ``[meta, assetCtxs]`` pair of ``metaAndAssetCtxs`` too) — hyperliquid.gitbook.io/
    hyperliquid-docs/for-developers/api/info-endpoint/perpetuals, read 2026-06: ``universe`` (per
    asset ``name``, ``maxLeverage``, ``marginTableId``, ``marginMode`` — ``strictIsolated`` means
    margin cannot be removed; older answers say ``onlyIsolated: true``) and ``marginTables``
    (``[[id, {"marginTiers": [{"lowerBound", "maxLeverage"}]}]]``). An asset without a
    ``marginTableId`` (the documentation's own example) has the single tier of its ``maxLeverage``.
    HIP-3 assets arrive named ``dex:COIN`` and keep that name. Settlement in USDC.
    """
    if isinstance(body, list) and body and isinstance(body[0], Mapping) and "universe" in body[0]:
        body = body[0]
    meta = _object(body, where)
    universe = _list(_field(meta, "universe", where), f"{where}: universe")
    tables: dict[int, tuple[ExactRow, ...]] = {}
    for i, entry in enumerate(_list(meta.get("marginTables", []), f"{where}: marginTables")):
        path = f"{where}: marginTables[{i}]"
        pair = _list(entry, path)
        if len(pair) != 2:
            raise TierBodyError(f"{path}: expected [id, table], got {len(pair)} values")
        table_id = _integer(pair[0], f"{path}[0]")
        tiers = _list(_field(_object(pair[1], f"{path}[1]"), "marginTiers", f"{path}[1]"), f"{path}[1].marginTiers")
        if not tiers:
            raise TierBodyError(f"{path}[1].marginTiers: empty")
        bounds: list[tuple[Decimal, Decimal]] = []
        for k, tier in enumerate(tiers):
            tpath = f"{path}[1].marginTiers[{k}]"
            tier = _object(tier, tpath)
            lower = _decimal(_field(tier, "lowerBound", tpath), f"{tpath}.lowerBound")
            lev = _decimal(_field(tier, "maxLeverage", tpath), f"{tpath}.maxLeverage")
            if lev <= 0:
                raise TierBodyError(f"{tpath}.maxLeverage: {tier['maxLeverage']!r} is not a positive leverage")
            if (k == 0 and lower != 0) or (k > 0 and lower <= bounds[-1][0]):
                raise TierBodyError(f"{tpath}.lowerBound: {tier['lowerBound']!r} does not continue the tiers "
                                    "(0 first, then rising)")
            bounds.append((lower, lev))
        tables[table_id] = hyperliquid_exact_rows(bounds)
    out = []
    for i, asset in enumerate(universe):
        path = f"{where}: universe[{i}]"
        asset = _object(asset, path)
        name = _text(asset, "name", path)
        rows = _asset_rows(asset, path, tables)
        mode = asset.get("marginMode")
        strict = mode == "strictIsolated" or asset.get("onlyIsolated") is True
        out.append(VenueTierTable("hyperliquid", "linear", name, rows, "notional", "USDC", strict_isolated=strict))
    return out


def _asset_rows(asset: Mapping[str, Any], path: str, tables: Mapping[int, tuple[ExactRow, ...]]
                ) -> tuple[ExactRow, ...]:
    """The rows of one Hyperliquid asset: its margin table, the single tier of an id below 50, or
    (no ``marginTableId``) the single tier of its ``maxLeverage``."""
    if "marginTableId" not in asset:
        lev = _integer(_field(asset, "maxLeverage", path), f"{path}.maxLeverage")
        if lev <= 0:
            raise TierBodyError(f"{path}.maxLeverage: {lev} is not a leverage")
        return hyperliquid_exact_rows([(Decimal(0), Decimal(lev))])
    table_id = _integer(asset["marginTableId"], f"{path}.marginTableId")
    if 0 < table_id < HYPERLIQUID_SINGLE_TIER_BELOW:
        return hyperliquid_exact_rows([(Decimal(0), Decimal(table_id))])
    if table_id not in tables:
        raise TierBodyError(f"{path}.marginTableId: {table_id} is not in marginTables")
    return tables[table_id]


def _integer(value: object, path: str) -> int:
    number = _decimal(value, path)
    if number != number.to_integral_value():
        raise TierBodyError(f"{path}: {value!r} is not a whole number")
    return int(number)


# -- Binance -------------------------------------------------------------------------------------------


def binance_settlement(venue: str, symbol: str) -> str:
    """Binance's margin asset of a symbol: COIN-M ``BTCUSD_PERP`` in the coin before ``USD``;
    USDⓈ-M ``…USDC`` in USDC, otherwise USDT (quarterlies ``BTCUSDT_250328`` too)."""
    head = symbol.split("_")[0]
    if venue == "binance-coinm":
        return head.split("USD")[0] or head
    return "USDC" if head.endswith("USDC") else "USDT"


def binance_coinm_contract_size(symbol: str) -> Decimal:
    """USD per COIN-M contract when ``exchangeInfo`` is not given: 100 for BTC (``BTCUSD_…``),
    10 for every other coin (Binance COIN-M contract specifications; ``contractSize`` of
    ``GET /dapi/v1/exchangeInfo`` is the authority and overrides this)."""
    return Decimal(100) if symbol.split("_")[0] == "BTCUSD" else Decimal(10)


def _coinm_sizes(bodies: Sequence[Any] | None) -> dict[str, Decimal]:
    """symbol → ``contractSize`` from ``GET /dapi/v1/exchangeInfo`` bodies (``symbols[i]``)."""
    sizes: dict[str, Decimal] = {}
    for b, body in enumerate(bodies or ()):
        where = f"binance-coinm exchangeInfo body {b + 1}"
        for i, item in enumerate(_list(_field(_object(body, where), "symbols", where), f"{where}: symbols")):
            path = f"{where}: symbols[{i}]"
            item = _object(item, path)
            if "contractSize" in item:
                size = _decimal(item["contractSize"], f"{path}.contractSize")
                if size <= 0:
                    raise TierBodyError(f"{path}.contractSize: {item['contractSize']!r} is not a positive number")
                sizes[_text(item, "symbol", path)] = size
    return sizes


def _binance(venue: str, body: Any, where: str, contract_sizes: Mapping[str, Decimal]) -> list[VenueTierTable]:
    """Binance USDⓈ-M ``GET /fapi/v1/leverageBracket`` (developers.binance.com/docs/derivatives/
    usds-margined-futures/account/rest-api/Notional-and-Leverage-Brackets) and COIN-M
    ``GET /dapi/v2/leverageBracket`` (…/coin-margined-futures/account/rest-api/
    Notional-Bracket-for-Symbol), read 2026-06: a list of ``{"symbol", "brackets": [...]}`` (one
    object when a symbol was asked). USDⓈ-M brackets: ``notionalFloor``/``notionalCap`` (USDT),
    ``maintMarginRatio``, ``cum`` (the deduction), ``initialLeverage``. COIN-M: ``qtyFloor``/
    ``qtyCap`` — "upper edge of base asset quantity" (the v1 page), the position's value in the coin,
    as the cum recurrence in coin shows (Binance FAQ ceccfcfb4e3a45e3b48b0b1bb1a8ae46: 300 BTC →
    12.5 %, 11.81 BTC) — so the basis is the notional in the coin; the last ``qtyCap``
    9223372036854775807 is unbounded. ``notionalCoef`` ("the multiple of the user's bracket
    relative to the default", shown only when it differs) is not applied: the brackets are stored
    as Binance returns them for the account whose keys asked.
    """
    items = [body] if isinstance(body, Mapping) else _list(body, where)
    coinm = venue == "binance-coinm"
    low_key, high_key = ("qtyFloor", "qtyCap") if coinm else ("notionalFloor", "notionalCap")
    out = []
    for i, item in enumerate(items):
        path = where if isinstance(body, Mapping) else f"{where}: [{i}]"
        item = _object(item, path)
        if coinm and "pair" in item and "symbol" not in item:
            raise TierBodyError(f"{path}.pair: this is /dapi/v1/leverageBracket (brackets per pair); "
                                "use /dapi/v2/leverageBracket (per symbol)")
        symbol = _text(item, "symbol", path)
        brackets = _list(_field(item, "brackets", path), f"{path}.brackets")
        if not brackets:
            raise TierBodyError(f"{path}.brackets: empty")
        rows: list[ExactRow] = []
        previous_cap = Decimal(0)
        for k, bracket in enumerate(brackets):
            bpath = f"{path}.brackets[{k}]"
            bracket = _object(bracket, bpath)
            floor = _decimal(_field(bracket, low_key, bpath), f"{bpath}.{low_key}")
            cap = _decimal(_field(bracket, high_key, bpath), f"{bpath}.{high_key}")
            if floor != previous_cap:
                raise TierBodyError(f"{bpath}.{low_key}: {bracket[low_key]!r} does not continue the previous "
                                    f"bracket's cap {canonical(previous_cap)}")
            if not cap > floor:
                raise TierBodyError(f"{bpath}.{high_key}: {bracket[high_key]!r} is not above the floor")
            unbounded = cap >= UNBOUNDED_CAP
            if unbounded and k + 1 < len(brackets):
                raise TierBodyError(f"{bpath}.{high_key}: unbounded before the last bracket")
            mmr = _rate(_field(bracket, "maintMarginRatio", bpath), f"{bpath}.maintMarginRatio")
            cum = exact(_field(bracket, "cum", bpath), f"{bpath}.cum")
            lev = _decimal(_field(bracket, "initialLeverage", bpath), f"{bpath}.initialLeverage")
            rows.append((canonical(floor), None if unbounded else canonical(cap), canonical(mmr), cum,
                         canonical(lev) if lev > 0 else None))
            previous_cap = cap
        size = None
        if coinm:
            size = contract_sizes.get(symbol, binance_coinm_contract_size(symbol))
        out.append(VenueTierTable(venue, "inverse" if coinm else "linear", symbol, tuple(rows), "notional",
                                  binance_settlement(venue, symbol), contract_size=size))
    return out


__all__ = ["ENDPOINTS", "VENUES", "TierBodyError", "VenueTierTable", "bybit_settlement", "canonical", "exact",
           "hyperliquid_exact_rows", "okx_instruments", "parse_tier_bodies", "parse_tier_body", "table_from_json"]
