"""``isodesk allocate``: where to put a budget of free collateral, and, with ``--apply``, put it there.

The plan is computed here from the book (read only; marks are the latest stored prices, else the
entry price, as ``whatif``) by the pure core (:mod:`isodesk.margin.allocate`). ``--apply`` sends
the plan to the book's one writer (the running app's desk when it is open) as one
:class:`~isodesk.desk.allocation.AllocateCollateral` command: every top-up in one transaction, or
none, checked again against the free balance when it runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from isodesk.cli.common import add_db_options, decimal_arg, distance_text, money, price_text, store_from, table
from isodesk.cli.deliver import add_request_id_option, send
from isodesk.cli.errors import UserError
from isodesk.desk.allocation import command_of, plan_from_store
from isodesk.margin.allocate import GOALS, AllocationError, Plan


def add_parser(sub: Any) -> None:
    """Register ``allocate``."""
    p = sub.add_parser(
        "allocate", help="split free collateral over an account's positions (preview; --apply to add it)",
        description="Split AMOUNT of an account's free balance over its open isolated positions. Goal "
                    "'distance' (the default) makes the smallest distance to liquidation as large as possible; "
                    "'survive SCENARIO' lets the most positions survive a saved what-if scenario with the least "
                    "collateral. Marks are the latest stored prices (else the entry price). The plan is only "
                    "printed unless --apply: then every top-up is added in one command, all or nothing.")
    p.add_argument("amount", type=decimal_arg, metavar="AMOUNT", help="the budget, in the account's currency")
    p.add_argument("--account", metavar="NAME", help="the account (may be left out when there is only one)")
    p.add_argument("--goal", nargs="+", default=["distance"], metavar="GOAL",
                   help="distance (default), or: survive SCENARIO (a saved scenario's name)")
    p.add_argument("--apply", action="store_true", help="add the plan's top-ups (one command, all or nothing)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    add_db_options(p)
    add_request_id_option(p)
    p.set_defaults(handler=run)


def _goal(words: list[str]) -> tuple[str, str | None]:
    goal = words[0]
    if goal not in GOALS:
        raise UserError(f"--goal {' '.join(words)}: the goal is one of {', '.join(GOALS)}")
    if goal == "distance":
        if len(words) > 1:
            raise UserError(f"--goal {' '.join(words)}: 'distance' takes no scenario")
        return goal, None
    if len(words) != 2:
        raise UserError(f"--goal {' '.join(words)}: write --goal survive SCENARIO (one saved scenario's name)")
    return goal, words[1]


def render(plan: Plan) -> str:
    """The plan as text: one row per position, then the smallest distance before and after."""
    ccy = plan.currency
    rows = []
    for r in plan.rows:
        row = [r.label, price_text(r.mark), money(float(r.add), ccy) if r.add else "—",
               price_text(r.liquidation_price_before) if r.liquidation_price_before is not None else "none",
               price_text(r.liquidation_price) if r.liquidation_price is not None else "none",
               distance_text(r.distance_frac_before) if r.distance_frac_before is not None else "—",
               distance_text(r.distance_frac) if r.distance_frac is not None else "—"]
        if plan.goal == "survive":
            row.append("survives" if r.survives else "lost")
        rows.append(row)
    headers = ["position", "mark", "add", "liq before", "liq after", "distance before", "distance after"]
    if plan.goal == "survive":
        headers.append(f"in {plan.scenario}")
    lines = [f"{plan.account}: {plan.goal} plan for {money(float(plan.budget), ccy)} {ccy}"
             + (f" (scenario {plan.scenario!r})" if plan.scenario else ""),
             "", table(headers, rows, right={1, 2, 3, 4, 5, 6}), ""]

    def dist(v: float | None) -> str:
        return distance_text(v) if v is not None else "—"

    lines.append(f"adds {money(float(plan.total), ccy)} {ccy} of {money(float(plan.budget), ccy)}; smallest distance "
                 f"to liquidation {dist(plan.min_distance_frac_before)} → {dist(plan.min_distance_frac)}")
    if plan.goal == "survive":
        lines.append(f"survive {plan.scenario!r}: {plan.survivors_before} → {plan.survivors} of {len(plan.rows)} "
                     "positions")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Compute the plan, print it, and apply it with ``--apply``."""
    goal, scenario = _goal(args.goal)
    store = store_from(args)
    try:
        plan = plan_from_store(store, args.amount, account=args.account, goal=goal, scenario_name=scenario)
    except AllocationError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    applied: dict[str, Any] | None = None
    if args.apply:
        if not plan.top_ups:
            applied = {"accepted": True, "request_id": None, "message": "nothing to add: the plan adds nothing"}
        else:
            result = send(args, command_of(plan, request_id=getattr(args, "request_id", None)))
            if not result.accepted:
                raise UserError(f"nothing was added: {result.reason}")
            applied = {"accepted": True, "request_id": result.request_id, "message": result.reason,
                       "repeated": str(result.reply) == "repeated"}
    if args.json:
        doc = plan.to_dict()
        doc["applied"] = applied
        print(json.dumps(doc, allow_nan=False))
    else:
        print(render(plan))
        if applied is not None:
            print(applied["message"])
        elif plan.top_ups:
            print("(preview only: add --apply to add it)")
    return 0
