"""Import and export of positions as CSV or JSON (chosen by the file suffix).

Columns: ``label, venue, symbol, contract, side, quantity, entry_price, leverage, isolated_margin``
plus the optional ``account``, ``contract_size`` and ``mmr``. ``contract`` defaults to the venue's only
kind (Binance COIN-M: ``inverse``), else ``linear``.
``mmr`` is the trader's own maintenance rate for the position (a fraction: ``0.01`` = 1 %), for a
symbol whose venue table the book lacks: it is kept in the book (``position_rates``, see
:mod:`isodesk.store.tier_tables`) and used as the position's single-tier table from then on.
``quantity``: linear, base units; inverse, the number of contracts, each ``contract_size`` USD (left
empty, the caller fills in the venue's contract size before importing)
(required for inverse rows, refused for linear ones). Prices are quote per coin; ``isolated_margin``
is in the settlement currency. Numbers are read from their text into ``Decimal`` exactly (JSON
numbers too) and written back as exact strings.

Every cell is held to the bounds of ``isodesk.margin.bounds`` (the rules the command line, the forms
and the desk use): ``quantity`` and ``contract_size`` as quantities, ``entry_price`` as a price,
``leverage`` as a leverage, ``isolated_margin`` as an amount (finite, in range, at most the 8
decimals the ledger keeps; a decimal comma is refused with the reason), and ``label``, ``symbol``
and ``account`` as printable text (no NUL, no escape sequences).

Reading validates every row before returning anything; a file with any bad row raises
:class:`ImportProblems` listing all of them, each with the row number a user sees (CSV: the header
is row 1, data starts at row 2; JSON: items count from 1).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.margin.bounds import (
    MAX_LABEL,
    BoundsError,
    check_amount,
    check_leverage,
    check_price,
    check_quantity,
    check_text,
    parse_decimal,
    printable,
)
from isodesk.margin.venues import VENUES as VENUE_RULES
from isodesk.store import ledger as refs
from isodesk.store.records import CONTRACTS, SIDES, VENUES, PositionRecord
from isodesk.store.store import Store
from isodesk.store.tier_tables import set_position_rate

REQUIRED = ("label", "venue", "symbol", "side", "quantity", "entry_price", "leverage", "isolated_margin")
OPTIONAL = ("contract", "account", "contract_size", "mmr")
COLUMNS = (
    "label", "venue", "symbol", "contract", "side", "quantity", "entry_price", "leverage", "isolated_margin",
    "account", "contract_size", "mmr",
)  # fmt: skip
#: The largest number of decimals of an ``mmr`` cell (Bybit publishes 0.0056, Hyperliquid 1/6…).
MMR_DECIMALS = 12


def check_rate(value: object, field: str = "mmr") -> Decimal:
    """A maintenance rate written as a fraction: an exact decimal in (0, 1), at most
    :data:`MMR_DECIMALS` decimals (``0.01`` = 1 %); ``BoundsError`` naming the field otherwise."""
    text = str(value).strip()
    rate = parse_decimal(text, field)
    if not rate.is_finite() or not 0 < rate < 1:
        raise BoundsError(field, f"{text!r} must be a rate between 0 and 1 (0.01 = 1 %)")
    exponent = rate.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MMR_DECIMALS:
        raise BoundsError(field, f"{text!r} has more than {MMR_DECIMALS} decimals")
    return rate


NUMBERS: dict[str, Callable[[object, str], Decimal]] = {
    "quantity": check_quantity, "entry_price": check_price, "leverage": check_leverage,
    "isolated_margin": check_amount, "contract_size": check_quantity, "mmr": check_rate,
}  # fmt: skip
TEXTS = ("label", "symbol", "account")

Validator = Callable[[dict[str, Any]], list[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class PositionSpec:
    """One position as a file describes it; amounts exact. ``row`` is where it came from (not compared)."""

    label: str
    venue: str
    symbol: str
    contract: str
    side: str
    quantity: Decimal
    entry_price: Decimal
    leverage: Decimal
    isolated_margin: Decimal
    account: str | None = None
    contract_size: Decimal | None = None
    mmr: Decimal | None = None
    row: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an import file: the row a user sees, the column ("" for the whole row/file)."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        """One line; a column name or message from the file is shown through ``bounds.printable``."""
        where = "file" if self.row <= 0 else f"row {self.row}"
        column, message = printable(self.column), printable(self.message)
        return f"{where}, column {column}: {message}" if self.column else f"{where}: {message}"


class ImportProblems(ValueError):
    """An import file with bad rows; ``problems`` lists every one, ``str()`` one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


# -- reading ----------------------------------------------------------------------------------------


def read_positions(path: str | Path, validate: Validator | None = None) -> list[PositionSpec]:
    """The positions described by a ``.csv`` or ``.json`` file, in file order.

    ``validate(spec_dict)`` may add semantic ``(column, message)`` problems for a row that parsed
    cleanly. Raises :class:`ImportProblems` if any row is bad, ``ValueError`` for another suffix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, problems = _csv_rows(path)
    elif suffix == ".json":
        rows, problems = _json_rows(path)
    else:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .csv or .json")
    specs: list[PositionSpec] = []
    first_row_of: dict[str, int] = {}
    for number, raw in rows:
        spec, row_problems = _parse_row(number, raw)
        if spec is not None:
            seen = first_row_of.setdefault(spec.label, number)
            if seen != number:
                row_problems.append(Problem(number, "label", f"{spec.label!r} repeats the label of row {seen}"))
            if validate is not None and not row_problems:
                values = {k: v for k, v in asdict(spec).items() if k != "row"}
                row_problems += [Problem(number, col, msg) for col, msg in validate(values)]
            specs.append(spec)
        problems += row_problems
    if problems:
        raise ImportProblems(problems)
    return specs


def _csv_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """CSV data rows as ``(row number, {column: text})``, plus header problems."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return [], [Problem(1, "", "the file is empty; expected a header row")]
        names = [h.strip() for h in header]
        problems = _column_problems(1, names)
        rows = []
        for line in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in line):
                continue
            if len(line) > len(names):
                problems.append(Problem(number, "", f"{len(line)} cells but the header names {len(names)} columns"))
                continue
            rows.append((number, dict(zip(names, line + [""] * (len(names) - len(line)), strict=True))))
        return rows, problems


def _json_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """JSON items as ``(item number from 1, object)``, plus structural problems."""
    try:
        data = json.loads(
            path.read_text(encoding="utf-8-sig"), parse_float=Decimal, parse_int=Decimal, parse_constant=str
        )
    except json.JSONDecodeError as exc:
        return [], [Problem(0, "", f"not valid JSON: {exc}")]
    if not isinstance(data, list):
        return [], [Problem(0, "", f"expected a JSON list of objects, got {type(data).__name__}")]
    rows, problems = [], []
    for number, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            problems.append(Problem(number, "", f"expected an object, got {type(item).__name__}"))
            continue
        problems += _column_problems(number, list(item))
        rows.append((number, item))
    return rows, problems


def _column_problems(row: int, names: list[str]) -> list[Problem]:
    """Missing required, unknown and repeated column names."""
    problems = [Problem(row, col, "required column is missing") for col in REQUIRED if col not in names]
    problems += [
        Problem(row, name, f"unknown column; expected {', '.join(COLUMNS)}") for name in names if name not in COLUMNS
    ]
    repeated = sorted({n for n in names if names.count(n) > 1})
    problems += [Problem(row, name, "column appears twice") for name in repeated]
    return problems


def _parse_row(number: int, raw: dict[str, Any]) -> tuple[PositionSpec | None, list[Problem]]:
    """A row's values checked and typed; the spec is None if any value is unusable."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}

    def bad(column: str, message: str) -> None:
        problems.append(Problem(number, column, message))

    for column in COLUMNS:
        value = raw.get(column)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if column in REQUIRED and column in raw:
                bad(column, "is empty")
            values[column] = None
            continue
        if column in NUMBERS:
            values[column] = _number(value, column, bad)
        elif isinstance(value, str) and column in TEXTS:
            values[column] = _text(value, column, bad)
        elif isinstance(value, str):
            values[column] = value
        else:
            bad(column, f"{value!r} must be text")
            values[column] = None
    contract = values["contract"] or _default_contract(values["venue"])
    values["contract"] = contract
    for column, choices in (("venue", VENUES), ("contract", CONTRACTS), ("side", SIDES)):
        if values[column] is not None and values[column] not in choices:
            bad(column, f"{values[column]!r} is not one of {', '.join(choices)}")
    if contract == "linear" and values["contract_size"] is not None:
        bad("contract_size", "applies to inverse contracts only; leave it empty for linear")
    if problems or any(values[c] is None for c in REQUIRED):
        return None, problems
    return PositionSpec(**values, row=number), problems


def _default_contract(venue: object) -> str:
    """The contract kind of a row that names none: the venue's only kind (Binance COIN-M: inverse),
    else ``linear``."""
    rule = VENUE_RULES.get(venue) if isinstance(venue, str) else None
    if rule is not None and len(rule.contracts) == 1:
        return next(iter(rule.contracts))
    return "linear"


def _named(problems: list[Problem]) -> set[str]:
    return {p.column for p in problems}


def _number(value: Any, column: str, bad: Callable[[str, str], None]) -> Decimal | None:
    """``value`` (text, or a Decimal from JSON) as a Decimal within the column's bounds, else None
    after reporting why (in the bounds' words)."""
    if not isinstance(value, (str, Decimal)):
        bad(column, f"{_shown(value)} is not a number")
        return None
    try:
        return NUMBERS[column](value, column)
    except BoundsError as exc:
        bad(column, _reason(exc))
        return None


def _text(value: str, column: str, bad: Callable[[str, str], None]) -> str | None:
    """A text cell as printable text of at most 64 characters, else None after reporting why."""
    try:
        return check_text(value, column, max_length=MAX_LABEL)
    except BoundsError as exc:
        bad(column, _reason(exc))
        return None


def _reason(exc: BoundsError) -> str:
    """A bounds refusal without its leading ``column:`` (a :class:`Problem` names the column)."""
    return str(exc).removeprefix(f"{exc.field}: ")


def _shown(value: Any) -> str:
    """How a message quotes a cell: its text in quotes, whatever the file held."""
    return repr(value if isinstance(value, str) else str(value))


# -- writing ----------------------------------------------------------------------------------------


def write_positions(path: str | Path, positions: list[PositionRecord], account_names: Mapping[int, str],
                    rates: Mapping[int, Decimal] | None = None) -> None:
    """Write ``positions`` to a ``.csv`` or ``.json`` file in the import columns, amounts as exact
    strings, each position's account by name and its own maintenance rate (``rates``: position id →
    rate, see :func:`isodesk.store.tier_tables.position_rates`) in ``mmr``. ``ValueError`` for
    another suffix."""
    path = Path(path)
    rows = [_export_row(p, account_names, rates or {}) for p in positions]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    elif suffix == ".json":
        path.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    else:
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .csv or .json")


def _export_row(p: PositionRecord, account_names: Mapping[int, str],
                rates: Mapping[int, Decimal]) -> dict[str, str | None]:
    return {
        "label": p.label,
        "venue": p.venue,
        "symbol": p.symbol,
        "contract": p.contract,
        "side": p.side,
        "quantity": str(p.quantity),
        "entry_price": str(p.entry_price),
        "leverage": str(p.leverage),
        "isolated_margin": str(p.isolated_margin),
        "account": account_names.get(p.account_id),
        "contract_size": None if p.contract_size is None else str(p.contract_size),
        "mmr": str(rates[p.id]) if p.id in rates else None,
    }


# -- into the store ---------------------------------------------------------------------------------


def import_positions(store: Store, specs: list[PositionSpec], *, ts: float, default_account: str,
                     currency_of: Callable[[PositionSpec], str]) -> list[int]:
    """Insert ``specs`` as open positions, each funded with its isolated margin by a ledger entry
    ``external → position:<id>`` of kind ``import``, all in one transaction; return the new ids. A
    spec's ``mmr`` is kept as the position's own maintenance rate (:func:`set_position_rate`).

    Rows without an account go to ``default_account``; a missing account is created on the row's
    venue in the settlement currency ``currency_of(spec)`` gives (the venue's tier catalog knows it).
    Raises :class:`ImportProblems` (writing nothing) if a label already exists or an account's venue
    differs from a row's.
    """
    with store.transaction():
        problems: list[Problem] = []
        venues: dict[str, str] = {a.name: a.venue for a in store.accounts()}
        for spec in specs:
            name = spec.account or default_account
            if store.position_by_label(spec.label) is not None:
                problems.append(Problem(spec.row, "label", f"{spec.label!r} already exists in the book"))
            venue = venues.setdefault(name, spec.venue)
            if venue != spec.venue:
                problems.append(
                    Problem(spec.row, "venue", f"{spec.venue!r} differs from account {name!r}'s venue {venue!r}")
                )
        if problems:
            raise ImportProblems(problems)
        ids = []
        for spec in specs:
            name = spec.account or default_account
            account = store.account(name) or store.create_account(name, spec.venue, currency_of(spec), ts=ts)
            pid = store.insert_position(
                label=spec.label, account_id=account.id, venue=spec.venue, symbol=spec.symbol,
                contract=spec.contract, side=spec.side, quantity=spec.quantity,
                contract_size=spec.contract_size, entry_price=spec.entry_price, leverage=spec.leverage, ts=ts,
            )  # fmt: skip
            store.transfer(
                spec.isolated_margin, refs.EXTERNAL, refs.position_ref(pid),
                kind="import", ts=ts, account_id=account.id, memo=f"imported {spec.label}",
            )  # fmt: skip
            if spec.mmr is not None:
                set_position_rate(store, pid, spec.mmr, at=ts)
            ids.append(pid)
        return ids
