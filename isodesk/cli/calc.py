"""``isodesk calc``: the liquidation calculator, and ``--cases`` for reference-case files.

Numbers on the command line are read by :mod:`isodesk.margin.bounds` (a ``.`` decimal point; a
comma, ``NaN``, ``inf`` or a value out of bounds is refused in one line naming the option, exit
status 2). ``--json`` prints ``maintenance_margin`` without any fee and the fee to close the
venue's rule counts under ``close_fee``; the liquidation price is where the margin balance meets
their sum (``formula`` names the rule: ``--variant`` picks Bybit's).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.cli.errors import UserError
from isodesk.cli.resources import catalog
from isodesk.margin import Position, PositionError, Risk, TierError, TierTable, check, compute_one
from isodesk.margin.bounds import (
    MAX_AMOUNT,
    BoundsError,
    check_amount,
    check_leverage,
    check_price,
    check_quantity,
    parse_decimal,
)
from isodesk.margin.cases import evaluate_case
from isodesk.margin.catalog import TierCatalog, UnknownSymbol
from isodesk.margin.venues import VENUES, CloseFee


def add_parser(sub: Any) -> None:
    """Register ``calc`` on the subcommand parser."""
    p = sub.add_parser("calc", help="liquidation calculator for one position, or a file of reference cases",
                       description="Compute every risk figure of one isolated position, or of each case in "
                                   "a margin-cases JSON file (--cases).")
    p.add_argument("--cases", metavar="FILE.json", help="read cases (margin-cases.json format), print JSON results")
    p.add_argument("--venue", choices=sorted(VENUES))
    p.add_argument("--symbol", help="venue symbol, e.g. BTCUSDT (picks the venue's tier table)")
    p.add_argument("--contract", choices=("linear", "inverse"), help="default: as the venue lists the symbol")
    p.add_argument("--side", choices=("long", "short"))
    p.add_argument("--entry", metavar="PRICE", help="average entry price")
    p.add_argument("--qty", metavar="SIZE", help="linear: base units; inverse: number of contracts")
    p.add_argument("--margin", metavar="AMOUNT", help="isolated margin in the settlement currency")
    p.add_argument("--mark", metavar="PRICE", help="mark price for PnL, ratio and max removable")
    p.add_argument("--leverage", metavar="X", help="the position's leverage setting (default: entry notional ÷ margin)")
    p.add_argument("--contract-size", metavar="USD", help="inverse: USD per contract (default: venue's)")
    p.add_argument("--mmr", metavar="RATE", help="one maintenance rate for any notional instead of the venue's tiers")
    p.add_argument("--maintenance-amount", metavar="AMOUNT", help="with --mmr: the amount deducted (default 0)")
    p.add_argument("--tiers", metavar="FILE.json",
                   help="a JSON list of tier rows [floor, cap, mmr, amount, max_lev], or an object with 'rows', "
                        "'basis' (notional or contracts) and 'contract_value'")
    p.add_argument("--fee", metavar="RATE", help="taker fee rate where the rule counts the fee to close "
                                                 "(default: the venue's)")
    p.add_argument("--variant", "--bybit-variant", dest="variant", metavar="NAME",
                   help="the venue's rule to use; bybit: " + ", ".join(VENUES["bybit"].variants)
                        + " (default uta: the unified account's isolated rule)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--db", metavar="PATH", help="take the tier table from this book first (its `isodesk tiers` "
                                                "refresh or import), the shipped snapshot second")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the figures of one position, or of every case of ``--cases``."""
    if args.cases:
        return _run_cases(Path(args.cases))
    numbers = _numbers(args)
    position = _position(args, numbers)
    risk = compute_one(position, numbers.get("mark"))
    if args.json:
        print(json.dumps({"venue": position.venue, "symbol": position.symbol, "contract": position.contract,
                          "side": position.side, "formula": position.formula.name,
                          "taker_fee_rate": position.counted_fee_rate, **_figures(risk)}, indent=2))
    else:
        print(render(position, risk, settlement=_settlement(args, position)))
    return 0


def _fraction(below: float) -> Callable[[object, str], Decimal]:
    """A check for a rate: a written decimal in ``[0, below)``."""
    def read(value: object, field: str) -> Decimal:
        number = parse_decimal(str(value), field)
        if not 0 <= number < Decimal(str(below)):
            raise BoundsError(field, f"{number} is not a fraction in [0, {below:g})")
        return number
    return read


def _deduction(value: object, field: str) -> Decimal:
    """A maintenance amount: a written decimal from 0 to 10^12."""
    number = parse_decimal(str(value), field)
    if not 0 <= number <= MAX_AMOUNT:
        raise BoundsError(field, f"{number} is not an amount from 0 to 10^12")
    return number


NUMBER_OPTIONS: dict[str, Callable[[object, str], Decimal]] = {
    "entry": check_price, "mark": check_price, "qty": check_quantity, "margin": check_amount,
    "leverage": check_leverage, "contract_size": check_amount, "mmr": _fraction(1.0),
    "maintenance_amount": _deduction, "fee": _fraction(0.1),
}
"""Each number option and the :mod:`isodesk.margin.bounds` check it is read with."""


def _numbers(args: argparse.Namespace) -> dict[str, float]:
    """The number options given, read through the bounds; :class:`UserError` naming the first bad one."""
    out: dict[str, float] = {}
    for name, read in NUMBER_OPTIONS.items():
        text = getattr(args, name)
        if text is None:
            continue
        try:
            out[name] = float(read(text, f"--{name.replace('_', '-')}"))
        except BoundsError as exc:
            raise UserError(str(exc)) from None
    return out


def _run_cases(path: Path) -> int:
    try:
        cases = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"--cases {path}: cannot read a JSON file ({exc})") from None
    if not isinstance(cases, list):
        raise UserError(f"--cases {path}: the file holds a {type(cases).__name__}, not a list of cases")
    results = [evaluate_case(c) for c in cases]
    for r in results:
        if "error" in r:
            print(f"case {r['id']}: {r['error']}", file=sys.stderr)
    print(json.dumps(results, allow_nan=False))
    return 0


def _require(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n.replace('_', '-')}" for n in names if getattr(args, n) is None]
    if missing:
        raise UserError(f"missing {', '.join(missing)} (or give --cases FILE)")


def _tiers(args: argparse.Namespace, contract: str, numbers: dict[str, float]) -> TierTable:
    try:
        if "mmr" in numbers:
            return TierTable.single(numbers["mmr"], numbers.get("maintenance_amount", 0.0))
        if args.tiers:
            return _tier_file(Path(args.tiers))
    except (OSError, ValueError) as exc:
        raise UserError(f"--tiers: {exc}") from None
    if args.venue == "custom":
        raise UserError("venue custom needs --mmr or --tiers FILE")
    _require(args, "symbol")
    try:
        return _catalog(args).table(args.venue, contract, args.symbol)
    except (UnknownSymbol, TierError) as exc:
        raise UserError(str(exc)) from None


def _tier_file(path: Path) -> TierTable:
    """``--tiers FILE``: a list of rows (notional basis), or ``{"rows": [...], "basis": ...,
    "contract_value": ...}``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(doc, dict):
        rows = doc.get("rows")
        if not isinstance(rows, list):
            raise ValueError(f"{path}: the object needs 'rows', a list of tier rows")
        return TierTable.from_rows(rows, name=str(path), basis=doc.get("basis", "notional"),
                                   contract_value=doc.get("contract_value", 1.0))
    if not isinstance(doc, list):
        raise ValueError(f"{path}: expected a list of tier rows or an object with 'rows'")
    return TierTable.from_rows(doc, name=str(path))


def _position(args: argparse.Namespace, numbers: dict[str, float]) -> Position:
    _require(args, "venue", "side", "entry", "qty", "margin")
    entry, qty, margin = numbers["entry"], numbers["qty"], numbers["margin"]
    contract = args.contract
    if contract is None:
        try:
            contract = _catalog(args).contract_of(args.venue, args.symbol) if args.symbol else "linear"
        except UnknownSymbol as exc:
            if args.mmr is None and not args.tiers:
                raise UserError(str(exc)) from None
            contract = "linear"
    tiers = _tiers(args, contract, numbers)
    size = numbers["contract_size"] if "contract_size" in numbers else (
        _catalog(args).contract_size(args.venue, contract, args.symbol) if args.symbol else 1.0)
    fee = numbers["fee"] if "fee" in numbers else _catalog(args).taker_fee(args.venue, contract)
    leverage = numbers.get("leverage")
    if leverage is None:
        leverage = (qty * size / entry if contract == "inverse" else qty * entry) / margin
    position = Position(
        venue=args.venue, side=args.side, contract=contract, entry_price=entry, quantity=qty,
        contract_size=size, isolated_margin=margin, leverage=leverage, taker_fee_rate=fee,
        formula_variant=args.variant, tiers=tiers, symbol=args.symbol or "", label=args.symbol or "calc")
    try:
        return check(position)
    except PositionError as exc:
        raise UserError("; ".join(f"--{_flag(f)}: {m}" for f, m in exc.problems)) from None


def _flag(field: str) -> str:
    return {"entry_price": "entry", "quantity": "qty", "isolated_margin": "margin",
            "taker_fee_rate": "fee", "formula_variant": "variant"}.get(field, field).replace("_", "-")


def _settlement(args: argparse.Namespace, position: Position) -> str:
    if position.venue == "custom" or not position.symbol:
        return "(settlement)"
    return _catalog(args).settlement(position.venue, position.contract, position.symbol)


def _catalog(args: argparse.Namespace) -> TierCatalog:
    """The tier catalog of ``--db`` (the book's tables first; the file must exist), else the shipped one."""
    if not getattr(args, "db", None):
        return catalog()
    found: TierCatalog | None = getattr(args, "book_catalog", None)
    if found is None:
        from isodesk.store import Store, StoreError
        from isodesk.store.tier_tables import catalog_for

        try:
            store = Store.open(args.db, create=False)
        except (StoreError, OSError) as exc:
            raise UserError(f"--db {args.db}: {exc}") from None
        try:
            found = catalog_for(store, catalog())
        finally:
            store.close()
        args.book_catalog = found
    return found


def _figures(risk: Risk) -> dict[str, float | int | None]:
    return {k: getattr(risk, k) for k in risk.__dataclass_fields__}


def _fmt(value: float | None, spec: str = ",.2f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{suffix}"


def _pct(fraction: float | None, spec: str) -> str:
    return _fmt(None if fraction is None else fraction * 100, spec, " %")


def render(position: Position, risk: Risk, *, settlement: str) -> str:
    """A readable table of every figure of one position."""
    cur = settlement
    size_unit = "contracts" if position.contract == "inverse" else "base units"
    no_liq = "none (the margin covers any move)"
    price_digits = ",.2f" if position.entry_price >= 1 else ",.6f"
    lines = [
        f"{position.symbol or 'position'}  {position.venue} {position.contract} · {position.side.upper()}"
        f"  {_fmt(position.leverage, '.4g', '×')}",
        "",
        *([f"  rule                 {position.formula.name} (--variant; {', '.join(VENUES[position.venue].variants)})"]
          if len(VENUES[position.venue].variants) > 1 else []),
        f"  size                 {position.quantity:,.8g} {size_unit}",
        f"  entry price          {position.entry_price:{price_digits}}",
        f"  isolated margin      {position.isolated_margin:,.8g} {cur}   (= max loss)",
        f"  liquidation price    {_fmt(risk.liquidation_price, price_digits) if risk.liquidation_price else no_liq}",
        f"  bankruptcy price     {_fmt(risk.bankruptcy_price, price_digits) if risk.bankruptcy_price else no_liq}",
    ]
    if risk.mark is not None:
        if risk.distance_frac is None or risk.liquidation_price is None or risk.distance_price is None:
            distance = "—"
        elif risk.distance_frac <= 0:
            distance = (f"CROSSED: the mark is {-risk.distance_frac * 100:.2f} % past the liquidation price; "
                        "the venue liquidates this position")
        else:
            move = (risk.liquidation_price - risk.mark) / risk.mark * 100
            distance = f"{abs(risk.distance_price):{price_digits}} away ({move:+.2f} % move of the mark)"
        lines += [
            f"  mark price           {risk.mark:{price_digits}}",
            f"  notional             {_fmt(risk.notional, ',.8g')} {cur}",
            f"  unrealized PnL       {_fmt(risk.unrealized_pnl, ',.8g')} {cur}",
            f"  margin balance       {_fmt(risk.margin_balance, ',.8g')} {cur}",
            f"  maintenance margin   {_fmt(risk.maintenance_margin, ',.8g')} {cur}   (bracket {risk.tier + 1})",
            *([f"  close fee            {_fmt(risk.close_fee, ',.8g')} {cur}   (fee to close at "
               f"{'the bankruptcy price' if position.formula.close_fee == CloseFee.AT_BANKRUPTCY else 'the mark'}, "
               f"{position.counted_fee_rate * 100:g} %, counted in the requirement)"]
              if position.formula.counts_fee else []),
            f"  margin ratio         {_pct(risk.margin_ratio, '.2f')}"
            + ("   ((maintenance + close fee) ÷ margin balance; 100 % = liquidation)" if position.formula.counts_fee
               else "   (maintenance ÷ margin balance; 100 % = liquidation)"),
            f"  to liquidation       {distance}",
            f"  ROE                  {_pct(risk.roe, '+.2f')}",
            f"  effective leverage   {_fmt(risk.effective_leverage, '.2f', '×')}",
            f"  max removable        {_fmt(risk.max_removable, ',.8g')} {cur}"
            + ("" if risk.max_removable is not None else "   (the venue publishes no rule)"),
        ]
    else:
        lines.append("  (give --mark PRICE for PnL, margin ratio, distance and max removable)")
    return "\n".join(lines)
