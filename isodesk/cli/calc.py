"""``isodesk calc``: the liquidation calculator, and ``--cases`` for reference-case files."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from isodesk.cli.errors import UserError
from isodesk.cli.resources import catalog
from isodesk.margin import Position, PositionError, Risk, TierError, TierTable, check, compute_one
from isodesk.margin.cases import evaluate_case
from isodesk.margin.catalog import UnknownSymbol
from isodesk.margin.venues import VENUES


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
    p.add_argument("--entry", type=float, metavar="PRICE", help="average entry price")
    p.add_argument("--qty", type=float, metavar="SIZE", help="linear: base units; inverse: number of contracts")
    p.add_argument("--margin", type=float, metavar="AMOUNT", help="isolated margin in the settlement currency")
    p.add_argument("--mark", type=float, metavar="PRICE", help="mark price for PnL, ratio and max removable")
    p.add_argument("--leverage", type=float, help="the position's leverage setting (default: entry notional ÷ margin)")
    p.add_argument("--contract-size", type=float, metavar="USD", help="inverse: USD per contract (default: venue's)")
    p.add_argument("--mmr", type=float, help="one maintenance rate for any notional instead of the venue's tiers")
    p.add_argument("--maintenance-amount", type=float, default=0.0, help="with --mmr: the amount deducted")
    p.add_argument("--tiers", metavar="FILE.json", help="a JSON list of tier rows [floor, cap, mmr, amount, max_lev]")
    p.add_argument("--fee", type=float, metavar="RATE", help="okx/gate: taker fee rate counted in the requirement")
    p.add_argument("--bybit-variant", choices=("entry_mm", "exact_mm"), default="entry_mm",
                   help="bybit: maintenance valued at entry (its calculator, default) or at the liquidation price")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the figures of one position, or of every case of ``--cases``."""
    if args.cases:
        return _run_cases(Path(args.cases))
    position = _position(args)
    risk = compute_one(position, args.mark)
    if args.json:
        print(json.dumps({"venue": position.venue, "symbol": position.symbol, "contract": position.contract,
                          "side": position.side, **_figures(risk)}, indent=2))
    else:
        print(render(position, risk, settlement=_settlement(args, position)))
    return 0


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


def _tiers(args: argparse.Namespace, contract: str) -> TierTable:
    try:
        if args.mmr is not None:
            return TierTable.single(args.mmr, args.maintenance_amount)
        if args.tiers:
            rows = json.loads(Path(args.tiers).read_text(encoding="utf-8"))
            return TierTable.from_rows(rows, name=args.tiers)
    except (OSError, ValueError) as exc:
        raise UserError(f"tiers: {exc}") from None
    if args.venue == "custom":
        raise UserError("venue custom needs --mmr or --tiers FILE")
    _require(args, "symbol")
    try:
        return catalog().table(args.venue, contract, args.symbol)
    except (UnknownSymbol, TierError) as exc:
        raise UserError(str(exc)) from None


def _position(args: argparse.Namespace) -> Position:
    _require(args, "venue", "side", "entry", "qty", "margin")
    contract = args.contract
    if contract is None:
        try:
            contract = catalog().contract_of(args.venue, args.symbol) if args.symbol else "linear"
        except UnknownSymbol as exc:
            if args.mmr is None and not args.tiers:
                raise UserError(str(exc)) from None
            contract = "linear"
    tiers = _tiers(args, contract)
    size = args.contract_size if args.contract_size is not None else (
        catalog().contract_size(args.venue, contract, args.symbol) if args.symbol else 1.0)
    fee = args.fee if args.fee is not None else catalog().taker_fee(args.venue, contract)
    leverage = args.leverage
    face = args.qty * size
    if leverage is None and args.margin and args.entry and args.qty:
        notional = face / args.entry if contract == "inverse" else args.qty * args.entry
        leverage = notional / args.margin
    position = Position(
        venue=args.venue, side=args.side, contract=contract, entry_price=args.entry, quantity=args.qty,
        contract_size=size, isolated_margin=args.margin, leverage=math.nan if leverage is None else leverage,
        taker_fee_rate=fee, formula_variant=args.bybit_variant if args.venue == "bybit" else None,
        tiers=tiers, symbol=args.symbol or "", label=args.symbol or "calc")
    if args.mark is not None and not (math.isfinite(args.mark) and args.mark > 0):
        raise UserError(f"--mark: {args.mark!r} must be a positive price")
    try:
        return check(position)
    except PositionError as exc:
        raise UserError("; ".join(f"--{_flag(f)}: {m}" for f, m in exc.problems)) from None


def _flag(field: str) -> str:
    return {"entry_price": "entry", "quantity": "qty", "isolated_margin": "margin",
            "taker_fee_rate": "fee", "formula_variant": "bybit-variant"}.get(field, field).replace("_", "-")


def _settlement(args: argparse.Namespace, position: Position) -> str:
    if position.venue == "custom" or not position.symbol:
        return "(settlement)"
    return catalog().settlement(position.venue, position.contract, position.symbol)


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
        f"  size                 {position.quantity:,.8g} {size_unit}",
        f"  entry price          {position.entry_price:{price_digits}}",
        f"  isolated margin      {position.isolated_margin:,.8g} {cur}   (= max loss)",
        f"  liquidation price    {_fmt(risk.liquidation_price, price_digits) if risk.liquidation_price else no_liq}",
        f"  bankruptcy price     {_fmt(risk.bankruptcy_price, price_digits) if risk.bankruptcy_price else no_liq}",
    ]
    if risk.mark is not None:
        if risk.distance_frac is None:
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
            f"  margin ratio         {_pct(risk.margin_ratio, '.2f')}"
            "   (maintenance ÷ margin balance; 100 % = liquidation)",
            f"  to liquidation       {distance}",
            f"  ROE                  {_pct(risk.roe, '+.2f')}",
            f"  effective leverage   {_fmt(risk.effective_leverage, '.2f', '×')}",
            f"  max removable        {_fmt(risk.max_removable, ',.8g')} {cur}"
            + ("" if risk.max_removable is not None else "   (the venue publishes no rule)"),
        ]
    else:
        lines.append("  (give --mark PRICE for PnL, margin ratio, distance and max removable)")
    return "\n".join(lines)
