"""``isodesk status``: every position with its risk figures and level; ``--watch`` refreshes.

The distance to liquidation reads as on the cards and in the table (:mod:`isodesk.formats`):
``3.34 % away``, or ``0.52 % past`` once the mark has crossed the liquidation price. The JSON gives
it as ``distance_pct`` (the unsigned percent shown, two decimals) and ``distance_past`` (true once
crossed), beside the engine's signed ``distance_frac``. Positions the trader closed are not listed
(the desk keeps the recent ones for the app's "closed" filter).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from isodesk.cli.common import add_db_options, distance_text, json_number, money, price_text, store_from, table
from isodesk.desk import Desk, Level, Snapshot
from isodesk.desk.funding import COLUMNS as FUNDING_COLUMNS
from isodesk.desk.ladder import position_ladders
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.venue_sync import reconcile_snapshot
from isodesk.desk.volatility import ODDS_COLUMNS
from isodesk.formats import distance_parts, fmt_pct
from isodesk.venues.reconcile import Reconciliation

FIGURES = ("mark", "notional", "unrealized_pnl", "margin_balance", "maintenance_margin", "margin_ratio",
           "liquidation_price", "bankruptcy_price", "distance_price", "distance_frac", "roe", "effective_leverage",
           "max_removable", "isolated_margin", "quantity", "entry_price", "leverage")


def add_parser(sub: Any) -> None:
    """Register ``status``."""
    p = sub.add_parser("status", help="all positions with their risk figures and level",
                       description="One table of every open (and liquidated) position with its risk figures.")
    add_db_options(p)
    p.add_argument("--json", action="store_true", help="print JSON: positions with every figure, accounts")
    p.add_argument("--watch", action="store_true", help="refresh from the book every --interval seconds")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes with --watch")
    p.add_argument("--count", type=int, default=0, help="with --watch: stop after this many refreshes")
    p.set_defaults(handler=run)


def level_name(snap: Snapshot, row: int) -> str:
    """The level shown for a row: the risk level, or ``stale``."""
    if snap.stale[row]:
        return "stale"
    return Level(int(snap.level[row])).label


def listed_rows(snap: Snapshot) -> list[int]:
    """The rows ``status`` lists, riskiest first: open and liquidated positions (not the closed ones)."""
    return [int(row) for row in snap.order_by_risk if snap.book.statuses[int(row)] != "closed"]


def positions_json(snap: Snapshot, recon: Mapping[int, Reconciliation] | None = None,
                   ladders: Mapping[int, list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
    """The positions of a snapshot as JSON objects (riskiest first), every engine figure included, and
    the reconciliation with the venue's liquidation price where a venue import reported one.

    ``ladder``: the position's liquidation ladder from ``ladders`` (:func:`isodesk.desk.ladder.position_ladders`:
    each rung's mark, share removed, loss, margin after and the rest's new liquidation price; one
    rung for a position that goes at once; empty where not given or not open).

    ``sigma_distance``, ``liq_prob_1h``, ``liq_prob_24h`` (:mod:`isodesk.desk.volatility`): the
    distance to liquidation in daily standard deviations of the log price and the probabilities
    (0…1) of touching the liquidation price within 1 h and 24 h; null until the market has a
    realized volatility (the desk folds in the stored prices of the last few half-lives).

    ``adl_rank``: the venue's auto-deleveraging rank at the last import, 0–5 (Bybit
    ``adlRankIndicator``, OKX ``adl``); null where never imported or not said.

    ``distance_pct``: the distance to liquidation as shown (unsigned percent of the mark, two
    decimals; null when unknown); ``distance_past``: true once the mark has crossed the liquidation
    price (null when unknown)."""
    out = []
    info = snap.book
    for row in listed_rows(snap):
        item: dict[str, Any] = {
            "id": int(info.position_ids[row]), "label": info.labels[row], "symbol": info.symbols[row],
            "venue": info.venues[row], "contract": info.contracts[row], "side": info.sides[row],
            "account": info.accounts[row], "currency": info.currencies[row], "status": info.statuses[row],
            "level": level_name(snap, row), "stale": bool(snap.stale[row]),
        }
        item.update({name: json_number(float(snap.cols[name][row])) for name in FIGURES})
        parts = distance_parts(float(snap.cols["distance_frac"][row]))
        item["distance_pct"] = None if parts is None else parts[0]
        item["distance_past"] = None if parts is None else parts[1]
        r = (recon or {}).get(item["id"])
        item["venue_liquidation_price"] = None if r is None else r.venue_liquidation_price
        item["reconcile_diff_pct"] = None if r is None else json_number(r.diff_pct)
        item["reconcile_flag"] = None if r is None else r.flagged
        item["ladder"] = (ladders or {}).get(item["id"], [])
        for name in FUNDING_COLUMNS:  # desk.funding: since open (− paid), next payment and time, liq drift %/day
            item[name] = json_number(float(snap.cols[name][row])) if name in snap.cols else None
        for name in ODDS_COLUMNS:  # desk.volatility: distance in daily σ, P(liquidated within 1 h / 24 h)
            item[name] = json_number(float(snap.cols[name][row])) if name in snap.cols else None
        item["adl_rank"] = info.adl_rank[row] if row < len(info.adl_rank) else None  # the venue's, 0–5
        out.append(item)
    return out


def accounts_json(snap: Snapshot) -> list[dict[str, Any]]:
    """Account totals as JSON objects."""
    return [{"name": a.name, "venue": a.venue, "currency": a.currency, "free_balance": a.free_balance,
             "total_isolated_margin": a.total_isolated_margin, "unrealized_pnl": a.unrealized_pnl,
             "equity": a.equity, "realized_loss": a.realized_loss, "open_positions": a.open_positions}
            for a in snap.accounts]


def reconcile_text(r: Reconciliation | None) -> str:
    """The venue column: the venue's liquidation price and the difference, ``!`` beyond the tolerance."""
    if r is None:
        return ""
    price = price_text(r.venue_liquidation_price) if r.venue_liquidation_price is not None else "none"
    diff = "" if r.diff_pct is None else f" {r.diff_pct:+.2f} %"
    return f"{price}{diff}{' !' if r.flagged else ''}"


def render(snap: Snapshot, recon: Mapping[int, Reconciliation] | None = None) -> str:
    """The status table and the account totals as text.

    Labels, symbols and account names come from the book, which may predate the bounds on text:
    :func:`~isodesk.cli.common.table` shows every cell through ``bounds.printable``, so a stored
    escape sequence is printed as ``\\x1b[2J`` and never drives the terminal (``--json`` escapes
    by itself)."""
    info, cols = snap.book, snap.cols
    recon = recon or {}
    rows = []
    for row in listed_rows(snap):
        rows.append([
            info.labels[row], info.venues[row], info.symbols[row],
            f"{info.sides[row].upper()} {cols['leverage'][row]:g}×", price_text(cols["mark"][row]),
            price_text(cols["liquidation_price"][row]), distance_text(float(cols["distance_frac"][row])),
            fmt_pct(float(cols["margin_ratio"][row]) * 100, ascii=True),  # as the cards and the table
            money(cols["isolated_margin"][row], info.currencies[row]),
            money(cols["unrealized_pnl"][row], info.currencies[row]), info.currencies[row],
            level_name(snap, row).upper(),
        ])
        if recon:
            rows[-1].insert(6, reconcile_text(recon.get(int(info.position_ids[row]))))
    headers = ["position", "venue", "symbol", "side", "mark", "liq price", "to liq", "ratio", "margin", "uPnL",
               "ccy", "level"]
    right = {4, 5, 6, 7, 8, 9}
    if recon:
        headers.insert(6, "venue liq (Δ)")
        right = {4, 5, 6, 7, 8, 9, 10}
    text = table(headers, rows, right=right)
    acct = table(["account", "free", "isolated margin", "uPnL", "equity", "realized loss"],
                 [[a.name, *(money(v, a.currency) for v in (a.free_balance, a.total_isolated_margin, a.unrealized_pnl,
                                                            a.equity, a.realized_loss))] for a in snap.accounts],
                 right={1, 2, 3, 4, 5})
    return f"{text}\n\n{acct}"


def run(args: argparse.Namespace) -> int:
    """Print the book's status once, or every ``--interval`` seconds with ``--watch``."""
    store = store_from(args)
    if getattr(store, "read_only", False):
        print(f"isodesk status: note: {store.path} is read-only ({store.read_only_reason}); showing it as it is, "
              "nothing will be written", file=sys.stderr)
    desk = Desk(store, None, catalog=shipped_catalog(), observe_only=True)
    try:
        shown = 0
        while True:
            snap = desk.snapshot
            recon = reconcile_snapshot(store, snap.book.position_ids, snap.cols["liquidation_price"])
            if args.json:
                ladders = position_ladders(desk.book)
                print(json.dumps({"positions": positions_json(snap, recon, ladders), "accounts": accounts_json(snap)},
                                 allow_nan=False), flush=True)
            else:
                if args.watch:
                    print("\033[2J\033[H", end="")
                    print(time.strftime("%H:%M:%S"), f"(every {args.interval:g} s, Ctrl-C to stop)")
                print(render(snap, recon), flush=True)
            shown += 1
            if not args.watch or (args.count and shown >= args.count):
                return 0
            time.sleep(args.interval)
            desk.refresh_from_store()
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 0
    finally:
        desk.close()
