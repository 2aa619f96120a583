"""``isodesk whatif``: shock prices (and edit collateral or leverage) on a copy of the book and
print the outcome under isolated margin, as held, and as if each account were cross margin.

Reads the database and closes it; never writes it.

After the scenario each surviving position also gets its odds of liquidation (distance in daily σ,
probability of touching its liquidation price within 1 h and 24 h from the scenario's marks) and its
funding (next payment, liquidation price's drift per day at the latest stored funding quote). With
no desk running here, the realized volatility is seeded from the stored prices of the last few
half-lives before now, as a desk does at start (:func:`isodesk.desk.whatif.stored_volatility`); a
market without enough of them shows none (``—``, JSON ``null``), as does a market without a quote.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from isodesk.cli.common import add_db_options, money, price_text, store_from, table
from isodesk.cli.errors import UserError
from isodesk.desk.settings import load_settings
from isodesk.desk.whatif import scenario_book
from isodesk.formats import fmt_pct
from isodesk.margin.bounds import (
    BoundsError,
    check_amount,
    check_leverage,
    check_move_pct,
    check_price,
    parse_decimal,
    printable,
)
from isodesk.margin.scenario import Move, Outcome, Scenario, ScenarioBook, ScenarioError, Shock, evaluate


def add_parser(sub: Any) -> None:
    """Register ``whatif``."""
    p = sub.add_parser(
        "whatif", help="shock prices on a copy of the book: isolated vs cross outcome",
        description="Apply price shocks (and collateral or leverage edits) to a copy of the open book and show "
                    "who is liquidated and what is lost under isolated margin, as held, and as if every venue "
                    "account were one cross-margin pool. The database is only read. Shocks are relative to the "
                    "latest stored price (the entry price where none is stored).")
    add_db_options(p)
    p.add_argument("--shock", action="append", default=[], metavar="SYMBOL=MOVE",
                   help="a market's move: percent of the current mark (BTCUSDT=-15%%) or a price (BTC=52000); "
                        "repeatable")
    p.add_argument("--market", metavar="SYMBOL=MOVE%",
                   help="a market shock on a reference symbol, applied to every other market times its beta "
                        "unless it has its own --shock")
    p.add_argument("--beta", action="append", default=[], metavar="SYMBOL=BETA",
                   help="a market's beta to the --market shock (default 1.0); repeatable")
    p.add_argument("--margin", action="append", default=[], metavar="POSITION=AMOUNT",
                   help="add (+) or remove (-) isolated margin of a position (label or id) first; repeatable")
    p.add_argument("--leverage", action="append", default=[], metavar="POSITION=LEVERAGE",
                   help="set a position's leverage first: its isolated margin becomes entry notional / leverage")
    p.add_argument("--step", action="append", default=[], metavar="SYMBOL=MOVE[,SYMBOL=MOVE…]",
                   help="a price path instead of one jump: each --step is one state (moves from the current "
                        "marks); positions are liquidated at the first step that crosses")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    p.set_defaults(handler=run)


def parse_shock(text: str, option: str = "--shock") -> tuple[str, Shock]:
    """``SYMBOL=-15%`` (percent of the current mark) or ``SYMBOL=52000`` (a price), each within
    the bounds (``isodesk.margin.bounds``: a move above −100 %, a price from 10^-12 to 10^12); a
    decimal comma (``-1,5%``) is refused with the reason, never read as −15 %."""
    symbol, value = _split(text, option)
    pct = value.endswith("%")
    number = _bounded(value.removesuffix("%").strip(), text, option, check_move_pct if pct else check_price)
    try:
        return symbol, Shock.pct(float(number)) if pct else Shock.price(float(number))
    except ScenarioError as exc:
        raise UserError(f"{option} {text}: {exc}") from None


def _split(text: str, option: str) -> tuple[str, str]:
    symbol, sep, value = text.partition("=")
    if not sep or not symbol.strip() or not value.strip():
        raise UserError(f"{option} {text!r}: expected NAME=VALUE")
    return symbol.strip(), value.strip()


def _bounded(raw: str, text: str, option: str, check: Callable[[Decimal, str], Decimal] | None = None) -> Decimal:
    """``raw`` read by ``bounds.parse_decimal`` (and held to ``check``); :class:`UserError` naming
    ``OPTION TEXT`` otherwise."""
    field = f"{option} {text}"
    try:
        value = parse_decimal(raw, field)
        return check(value, field) if check is not None else value
    except BoundsError as exc:
        raise UserError(str(exc)) from None


def _number(raw: str, text: str, option: str) -> float:
    """A plain number (a beta) as a float: written as ``bounds.parse_decimal`` reads it, finite as a float."""
    value = float(_bounded(raw, text, option))
    if not math.isfinite(value):
        raise UserError(f"{option} {text}: {raw!r} is too large")
    return value


def _margin_edit(raw: str, text: str) -> float:
    """``+500`` / ``-500``: a signed amount whose size is an amount within the bounds."""
    return float(_bounded(raw, text, "--margin", lambda value, field: check_amount(abs(value), field).copy_sign(value)))


def _position_id(book: ScenarioBook, name: str, option: str) -> int:
    if name in book.labels:
        return int(book.position_ids[book.labels.index(name)])
    if name.lstrip("#").isdigit() and int(name.lstrip("#")) in set(book.position_ids.tolist()):
        return int(name.lstrip("#"))
    raise UserError(f"{option} {name}: no open position with that label or id")


def build_scenario(args: argparse.Namespace, book: ScenarioBook) -> Scenario:
    """The scenario the options describe, checked against the book (:class:`UserError` if bad)."""
    shocks = dict(parse_shock(s) for s in args.shock)
    market = None
    if args.market:
        symbol, value = _split(args.market, "--market")
        if not value.endswith("%"):
            raise UserError(f"--market {args.market}: the market shock is a percent (e.g. {symbol}=-15%)")
        market = (symbol, float(_bounded(value.removesuffix("%").strip(), args.market, "--market", check_move_pct)))
    betas = {}
    for text in args.beta:
        symbol, value = _split(text, "--beta")
        betas[symbol] = _number(value, text, "--beta")
    margin_edits: dict[int, float] = {}
    for text in args.margin:
        name, value = _split(text, "--margin")
        pid = _position_id(book, name, "--margin")
        margin_edits[pid] = margin_edits.get(pid, 0.0) + _margin_edit(value, text)
    leverage_edits = {}
    for text in args.leverage:
        name, value = _split(text, "--leverage")
        leverage_edits[_position_id(book, name, "--leverage")] = float(
            _bounded(value.rstrip("xX×"), text, "--leverage", check_leverage))
    path = None
    if args.step:
        if shocks or market:
            raise UserError("--step: a path replaces --shock and --market; give the moves in each --step")
        path = tuple(Move(dict(_step(step))) for step in args.step)
    return Scenario(shocks=shocks, market_shock=market, betas=betas, margin_edits=margin_edits,
                    leverage_edits=leverage_edits, path=path)


def _step(step: str) -> list[tuple[str, Shock]]:
    """One ``--step``: moves separated by commas, so a decimal comma cannot be written in one."""
    items = [item.strip() for item in step.split(",") if item.strip()]
    for item in items:
        if "=" not in item:
            raise UserError(f"--step {step}: {item!r} is not SYMBOL=MOVE; a comma separates the moves of a step, "
                            "so write decimals with '.' (1.5 %, not 1,5 %)")
    return [parse_shock(item, "--step") for item in items]


def odds_sentence(outcome: Outcome, alert_pct: float) -> str:
    """One line on the odds after the scenario: how many survivors have a 24 h probability of
    liquidation above ``alert_pct`` (percent), or that none is known (no volatility yet)."""
    p = outcome.isolated.liq_prob_24h
    if not np.isfinite(p).any():
        return "Odds of liquidation: no realized volatility in the stored prices yet."
    count = outcome.odds_above(alert_pct)
    after = "after the shock" if outcome.steps == 1 else "at the end of the path"
    return (f"{count} position{'' if count == 1 else 's'} above {alert_pct:g} % odds of liquidation within 24 h "
            f"{after}.")


def render(outcome: Outcome, alert_pct: float = 20.0) -> str:
    """The outcome as text: positions, then accounts, then totals per currency, then the odds line
    (``alert_pct``: the odds alert line in percent, the book's ``odds.alert_pct``)."""
    book, iso, cross = outcome.book, outcome.isolated, outcome.cross
    rows = []
    for r in range(len(book)):
        a, m = int(book.account_index[r]), int(book.market_index[r])
        ccy = book.currencies[a]
        step = int(iso.liquidated_step[r])
        state = ("LIQUIDATED" + (f" @{step}" if outcome.steps > 1 else "")) if step else "ok"
        ratio = iso.margin_ratio[r]
        rows.append([book.labels[r], book.accounts[a], price_text(book.marks[m]), price_text(iso.shocked_mark[r]),
                     f"{(iso.shocked_mark[r] / book.marks[m] - 1) * 100:+.2f} %", price_text(iso.liquidation_price[r]),
                     "—" if not math.isfinite(ratio) else f"{ratio * 100:.1f} %", money(iso.margin[r], ccy),
                     money(iso.unrealized_pnl[r], ccy), state, money(iso.loss[r], ccy),
                     fmt_pct(float(iso.liq_prob_24h[r]) * 100, ascii=True),
                     fmt_pct(float(iso.liq_drift_pct_day[r]), signed=True, ascii=True),
                     money(iso.margin_needed[r], ccy), ccy])
    # the last two columns stay "needs" and "ccy": scripts read the table from the right
    positions = table(["position", "account", "mark", "shocked", "move", "liq price", "ratio", "margin", "uPnL",
                       "isolated", "loss", "24h odds", "drift/day", "needs", "ccy"], rows,
                      right={2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13})
    acc_rows = []
    for a, name in enumerate(book.accounts):
        ccy = book.currencies[a]
        step = int(cross.liquidated_step[a])
        state = ("LIQUIDATED" + (f" @{step}" if outcome.steps > 1 else "")) if step else "ok"
        acc_rows.append([name, ccy, money(outcome.equity_now[a], ccy),
                         f"{int(iso.positions_lost[a])}/{int(cross.open_positions[a])}",
                         money(iso.account_loss[a], ccy),
                         money(iso.equity_after[a], ccy), state, money(cross.loss[a], ccy),
                         money(cross.equity_after[a], ccy), money(iso.account_margin_needed[a], ccy),
                         money(cross.pool_needed[a], ccy) + (" (has " + money(cross.pool[a], ccy) + ")")])
    accounts = table(["account", "ccy", "equity now", "iso lost", "iso loss", "iso equity", "cross", "cross loss",
                      "cross equity", "iso needs", "cross needs"], acc_rows, right={2, 3, 4, 5, 7, 8, 9, 10})
    currencies = list(dict.fromkeys(book.currencies))
    totals = {k: outcome.totals(v) for k, v in (("now", outcome.equity_now), ("iso_loss", iso.account_loss),
                                                 ("iso_eq", iso.equity_after), ("cross_loss", cross.loss),
                                                 ("cross_eq", cross.equity_after))}
    total_rows = [[c, *(money(totals[k][c], c) for k in ("now", "iso_loss", "iso_eq", "cross_loss", "cross_eq"))]
                  for c in currencies]
    total = table(["currency", "equity now", "isolated loss", "isolated equity", "cross loss", "cross equity"],
                  total_rows, right={1, 2, 3, 4, 5})
    if outcome.steps == 1:
        moves = _moves(book, outcome.prices[0]) or "no price moves"
    else:
        moves = "; ".join(f"step {i + 1}: {_moves(book, row) or 'no move'}" for i, row in enumerate(outcome.prices))
    return (f"Scenario: {printable(moves)}\n\n{positions}\n\n{accounts}\n\n{total}\n\n"
            f"{odds_sentence(outcome, alert_pct)}\n"
            "Losses are positive, in each account's currency: a liquidated position loses its isolated margin, "
            "an open one its unrealized loss;\ncross margin pools each account (never across venues) and a "
            "liquidated pool loses all of it. 'needs' = collateral to survive the scenario.\n"
            "'24h odds' = chance the mark touches the liquidation price within 24 h of the scenario's marks at the "
            "realized volatility of the stored prices;\n'drift/day' = how far one day of funding at the latest "
            "quote moves the liquidation price, % of mark, + towards it.")


def _moves(book: ScenarioBook, prices: Any) -> str:
    return ", ".join(f"{mk} {price_text(p)} ({(p / book.marks[j] - 1) * 100:+.2f} %)"
                     for j, (mk, p) in enumerate(zip(book.markets, prices, strict=True)) if p != book.marks[j])


def run(args: argparse.Namespace) -> int:
    """Evaluate the scenario on the book and print it."""
    store = store_from(args)
    try:
        book = scenario_book(store, seed_now=time.time())  # no desk here: volatility from the stored prices
        alert_pct = load_settings(store).odds_alert_pct
    finally:
        store.close()
    try:
        outcome = evaluate(book, build_scenario(args, book))
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(outcome.to_dict(), allow_nan=False))
    else:
        print(render(outcome, alert_pct))
    return 0

