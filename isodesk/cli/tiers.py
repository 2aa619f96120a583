"""``isodesk tiers refresh|import|show``: the venues' tier tables kept in the book.

``refresh`` fetches each venue's current tables through ccxt (:mod:`isodesk.venues.tier_fetch`),
``import`` reads the same answers saved to files; both parse them
(:mod:`isodesk.venues.tier_bodies`) in this process and hand the tables to the book's desk as one
:class:`~isodesk.desk.commands.StoreTierTables` command, like every other write (queued to the
running app's desk when it holds the book). ``show`` prints the table in use and where it came from.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.cli.common import add_db_options, store_from, table
from isodesk.cli.deliver import add_request_id_option, send
from isodesk.cli.errors import UserError
from isodesk.desk.commands import Reply, Result, StoreTierTables
from isodesk.margin.catalog import UnknownSymbol
from isodesk.store.tier_tables import catalog_for
from isodesk.venues.tier_bodies import VENUES, TierBodyError, parse_tier_bodies

INSTRUMENTS_VENUES = {"okx": "the /api/v5/public/instruments?instType=SWAP answer (ctVal)",
                      "binance-coinm": "the /dapi/v1/exchangeInfo answer (contractSize)"}


def add_parser(sub: Any) -> None:
    """Register ``tiers`` and its actions."""
    p = sub.add_parser("tiers", help="the venues' tier tables in the book: refresh, import, show",
                       description="Keep each venue's own maintenance-margin tier tables in the book: fetched from "
                                   "the venue (refresh) or read from its saved answers (import). Every command "
                                   "that computes uses the book's table first and the shipped snapshot second.")
    actions = p.add_subparsers(dest="tiers_action", metavar="ACTION", required=True)

    r = actions.add_parser("refresh", help="fetch the venues' current tier tables into the book",
                           description="Fetch every symbol's tier table from the venues (all of them when none is "
                                       f"named: {', '.join(VENUES)}) and store them in the book. Binance needs the "
                                       "read-only API keys kept in the keyring (`isodesk keys set binance-usdm`).")
    r.add_argument("venues", nargs="*", metavar="VENUE", help=f"one or more of {', '.join(VENUES)}")
    r.add_argument("--base-url", metavar="URL", help=argparse.SUPPRESS)  # a local recorded venue (tests), a proxy
    add_db_options(r, demo=False)
    r.set_defaults(handler=run_refresh)

    i = actions.add_parser("import", help="store tier tables from a venue's answer saved to a file",
                           description="Read a venue's raw tier answer from FILE (Bybit /v5/market/risk-limit, OKX "
                                       "/api/v5/public/position-tiers, Hyperliquid meta, Binance /fapi/v1/"
                                       "leverageBracket or /dapi/v2/leverageBracket; one body or a JSON list of "
                                       "bodies) and store every symbol's table in the book. Nothing is stored if "
                                       "any field does not parse.")
    i.add_argument("venue", choices=VENUES, metavar="VENUE", help=f"one of {', '.join(VENUES)}")
    i.add_argument("file", metavar="FILE", help="the venue's JSON answer")
    i.add_argument("--instruments", metavar="FILE",
                   help="okx: " + INSTRUMENTS_VENUES["okx"] + "; binance-coinm: " + INSTRUMENTS_VENUES["binance-coinm"])
    add_db_options(i, demo=False)
    add_request_id_option(i)
    i.set_defaults(handler=run_import)

    s = actions.add_parser("show", help="print the tier table in use for a symbol and where it came from")
    s.add_argument("venue", metavar="VENUE")
    s.add_argument("symbol", metavar="SYMBOL", help="the venue's own symbol (BTCUSDT, BTC-USDT-SWAP, BTC…)")
    s.add_argument("--contract", choices=("linear", "inverse"), help="default: as the venue lists the symbol")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    add_db_options(s, demo=False)
    s.set_defaults(handler=run_show)


# -- refresh --------------------------------------------------------------------------------------------


def run_refresh(args: argparse.Namespace) -> int:
    """Fetch, parse and store each venue's tables; one line per venue (and one per alert)."""
    from isodesk.venues.errors import MissingKeys, VenueError

    unknown = [v for v in args.venues if v not in VENUES]
    if unknown:
        raise UserError(f"VENUE: {', '.join(map(repr, unknown))} has no tier tables to refresh; use "
                        f"{', '.join(VENUES)}")
    named = bool(args.venues)
    failed = 0
    for venue in dict.fromkeys(args.venues or VENUES):
        try:
            fetched = _fetch(venue, args.base_url)
        except MissingKeys as exc:
            print(f"{venue}: skipped: {str(exc).removeprefix(f'{venue}: ')}")
            failed += int(named)
            continue
        except VenueError as exc:
            print(f"{venue}: not refreshed: {str(exc).removeprefix(f'{venue}: ')}", file=sys.stderr)
            failed += 1
            continue
        try:
            tables = parse_tier_bodies(venue, fetched.tiers, instruments=fetched.instruments or None)
        except TierBodyError as exc:
            print(f"{venue}: nothing stored: {exc}", file=sys.stderr)
            failed += 1
            continue
        result = send(args, StoreTierTables(venue, "refresh", tuple(t.to_json() for t in tables),
                                            float(fetched.fetched_at), complete=True))
        if not result.accepted:
            print(f"{venue}: nothing stored: {result.reason}", file=sys.stderr)
            failed += 1
            continue
        print(_said(result))
    return 2 if failed else 0


def _fetch(venue: str, base_url: str | None) -> Any:
    from isodesk.venues.tier_fetch import fetch_tier_bodies

    return fetch_tier_bodies(venue, base_url=base_url)


# -- import ---------------------------------------------------------------------------------------------


def _read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} {path}: not valid JSON: {exc}") from None


def bodies_of(venue: str, doc: Any) -> list[Any]:
    """The bodies a file holds: one answer, or a JSON list of answers (Bybit pages, OKX families,
    Hyperliquid dexes). A Binance answer is itself a list, so it is always one body."""
    if venue.startswith("binance-") or not isinstance(doc, list):
        return [doc]
    if venue == "hyperliquid" and not all(isinstance(d, dict) and "universe" in d for d in doc):
        return [doc]  # metaAndAssetCtxs: [meta, assetCtxs]
    return list(doc)


def run_import(args: argparse.Namespace) -> int:
    """Parse a saved venue answer and store its tables through the book's desk."""
    instruments = None
    if args.instruments:
        if args.venue not in INSTRUMENTS_VENUES:
            raise UserError(f"--instruments: only okx and binance-coinm take one, not {args.venue}")
        doc = _read_json(args.instruments, "--instruments")
        instruments = doc if isinstance(doc, list) and args.venue == "okx" else [doc]
    bodies = bodies_of(args.venue, _read_json(args.file, "FILE"))
    try:
        tables = parse_tier_bodies(args.venue, bodies, instruments=instruments)
    except TierBodyError as exc:
        raise UserError(f"{args.file}: nothing stored: {exc}") from None
    if not tables:
        raise UserError(f"{args.file}: nothing stored: the answer lists no symbol")
    result = send(args, StoreTierTables(args.venue, "import", tuple(t.to_json() for t in tables), time.time()))
    if not result.accepted:
        raise UserError(f"{args.file}: nothing stored: {result.reason}")
    print(_said(result))
    return 0


def _said(result: Result) -> str:
    if result.reply is Reply.REPEATED:
        return f"{result.reason} (answered before under request {result.request_id}; nothing done again)"
    return result.reason


# -- show -----------------------------------------------------------------------------------------------


def run_show(args: argparse.Namespace) -> int:
    """Print the table in use for one symbol, where it came from and when."""
    store = store_from(args)
    try:
        catalog = catalog_for(store)
        try:
            contract = args.contract or catalog.contract_of(args.venue, args.symbol)
            tiers = catalog.table(args.venue, contract, args.symbol)
            source = catalog.source(args.venue, contract, args.symbol)
        except (UnknownSymbol, ValueError) as exc:
            raise UserError(str(exc).removeprefix("symbol: ")) from None
        stored = catalog.book_table(args.venue, contract, args.symbol)
        settlement = catalog.settlement(args.venue, contract, args.symbol)
        size = catalog.contract_size(args.venue, contract, args.symbol) if contract == "inverse" else None
        strict = catalog.strict_isolated(args.venue, args.symbol)
    finally:
        store.close()
    rows: list[list[str | None]] = ([list(r) for r in stored.rows] if stored is not None
                                    else [[None if v is None else _text(v) for v in r] for r in tiers.rows()])
    if args.json:
        print(json.dumps({
            "venue": args.venue, "symbol": args.symbol, "contract": contract, "basis": tiers.basis,
            "settlement": settlement, "contract_value": _text(tiers.contract_value),
            "contract_size": None if size is None else _text(size), "strict_isolated": strict,
            "source": {"kind": source.kind, "at": source.at, "as_of": source.as_of, "detail": source.detail,
                       "changed_at": source.changed_at, "removed_at": source.removed_at},
            "columns": ["floor", "cap", "maintenance_margin_rate", "maintenance_amount", "max_leverage"],
            "rows": rows}, indent=2))
        return 0
    unit = (f"position size in contracts (1 contract = {_text(tiers.contract_value)} base units)"
            if tiers.basis == "contracts" and contract == "linear"
            else "position size in contracts" if tiers.basis == "contracts" else f"position value in {settlement}")
    print(f"{args.venue} {args.symbol} · {contract}, settled in {settlement} · tiers by {unit}"
          + (f" · {_text(size)} USD a contract" if size is not None else ""))
    print(f"source: {source.describe()}"
          + (f"; rows last changed {_utc(source.changed_at)}" if source.changed_at is not None else ""))
    if strict:
        print("strict isolated: the venue lets no margin be removed from a position of this symbol")
    amounts = [float(a) for a in tiers.amounts]
    body = [[str(k + 1), _num(r[0]), "unbounded" if r[1] is None else _num(r[1]), _pct(r[2]),
             _num(r[3]) if r[3] is not None else f"{amounts[k]:,.8g} (derived)",
             "—" if r[4] is None else f"{_num(r[4])}×"] for k, r in enumerate(rows)]
    print(table(["tier", "floor", "cap", "maintenance", "deduction", "max leverage"], body, {0, 1, 2, 3, 4, 5}))
    return 0


def _text(value: float) -> str:
    """A float from a table as its shortest decimal text (``0.005``, ``2000000``)."""
    number = Decimal(repr(float(value)))
    return format(number.normalize(), "f") if number == number.to_integral_value() else repr(float(value))


def _num(text: str | None) -> str:
    if text is None:
        return "—"
    number = Decimal(text)
    whole, _, frac = format(number, "f").partition(".")
    return f"{int(whole):,}" + (f".{frac}" if frac else "")


def _pct(text: str | None) -> str:
    if text is None:
        return "—"
    value = float(Decimal(text)) * 100
    return f"{value:.4g} %" if math.isfinite(value) else "—"


def _utc(ts: float | None) -> str:
    from isodesk.margin.catalog import utc_text

    return utc_text(ts)
