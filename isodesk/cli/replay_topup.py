"""``isodesk replay PATH --auto-add`` / ``--top-up POLICY``: the path replayed with top-ups, and what they saved.

The path is played twice on two working copies of the book, on the step desk (the fast replay
assumes a fixed book between instants; a top-up changes it): once as held, once with the top-ups
(:mod:`isodesk.desk.topup`: the trader's policy before the desk would liquidate, the venues'
auto-add at their trigger for positions whose latest venue report flags it). The second run's
events are printed as JSON lines (the top-ups as ``{"event": "top_up", …}``), then the summary of
its final book with a ``top_ups`` section: positions saved (liquidated in the first run, alive in
the second), positions lost anyway (liquidated in both), what the policy and the auto-add spent
per account, the days the policy's daily cap bound. The real book never receives a top-up:
``--commit`` is refused with these options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from isodesk.cli.common import store_from
from isodesk.cli.errors import UserError
from isodesk.desk import Desk
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.topup import TopUpRunner
from isodesk.feeds.base import FeedError
from isodesk.feeds.chunks import SeriesTable
from isodesk.feeds.replay import ReplayFeed
from isodesk.margin.bounds import plain
from isodesk.margin.topup import PolicyError, TopUpPolicy, parse_policy


def add_options(p: Any) -> None:
    """Add ``--auto-add`` and ``--top-up POLICY`` to the ``replay`` parser."""
    p.add_argument("--auto-add", action="store_true",
                   help="simulate the venues' auto-add margin for positions whose latest venue import flags it "
                        "(Bybit autoAddMargin, Binance isAutoAddMargin): the position's initial margin from the free "
                        "balance at its liquidation trigger. Plays the path twice on the step desk (slow) and "
                        "reports the positions saved")
    p.add_argument("--top-up", metavar="POLICY",
                   help="a top-up policy of your own, e.g. below=3%%,to=8%%,cap=500,reserve=2000 (distances in "
                        "%% of the mark; cap per account per UTC day and reserve per account in the account's "
                        "currency; optional currency=USDT): applied before the desk would liquidate. Plays the "
                        "path twice on the step desk (slow) and reports the positions saved, the cost and the "
                        "days the cap bound; never with --commit")


def wanted(args: argparse.Namespace) -> bool:
    """True when the replay asks for top-ups."""
    return bool(getattr(args, "auto_add", False) or getattr(args, "top_up", None))


def _policy(args: argparse.Namespace) -> TopUpPolicy | None:
    if not args.top_up:
        return None
    try:
        return parse_policy(args.top_up)
    except PolicyError as exc:
        raise UserError(f"--top-up: {exc}") from None


def _feed(files: Any, args: argparse.Namespace) -> ReplayFeed:
    try:
        if not files.klines[0]:
            return ReplayFeed(files.paths[0], speed=None, strict=args.strict)
        return ReplayFeed(files.name, speed=None, strict=args.strict, _rows=files.rows(), _name=files.name)
    except (FeedError, OSError) as exc:
        raise UserError(str(exc)) from None


def _play(store: Any, feed: ReplayFeed, args: argparse.Namespace, runner: TopUpRunner | None,
          emit: bool) -> tuple[Desk, dict[str, str]]:
    """Step a desk on ``store`` through the path; with ``runner``, top-ups before each instant.
    Prints the events when ``emit``. Returns the desk (open: the caller closes it) and the status
    of every position by label at the end."""
    from isodesk.cli.replay import _print_events

    desk = Desk(store, runner.wrap(feed) if runner is not None else feed, catalog=shipped_catalog(),
                stale_after_s=args.stale_after)
    if runner is not None:
        runner.desk = desk
    while True:
        snap = desk.step()
        events = desk.drain_events()
        if emit:
            if runner is not None:
                for top_up in runner.drain():
                    print(json.dumps(top_up.as_json()), flush=True)
            _print_events(events)
        if snap.feed.finished:
            break
    return desk, {p.label: p.status for p in store.positions(statuses=None)}


def _day(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def top_up_summary(runner: TopUpRunner, without: dict[str, str], with_: dict[str, str]) -> dict[str, Any]:
    """The ``top_ups`` section: positions saved and lost anyway (labels), the exact amounts spent per
    source and account, the days (UTC, ISO) the policy's cap bound, per position what it received."""
    saved = sorted(label for label, status in with_.items()
                   if without.get(label) == "liquidated" and status != "liquidated")
    lost = sorted(label for label, status in with_.items() if status == "liquidated"
                  and without.get(label) == "liquidated")

    def amounts(by_account: dict[str, Decimal]) -> dict[str, str]:
        return {name: format(v, "f") for name, v in sorted(by_account.items())}

    labels = _labels(runner)
    return {"auto_add": runner.auto_add, "policy": runner.policy.as_text() if runner.policy else None,
            "saved": saved, "lost_anyway": lost,
            "spent": {"policy": amounts(runner.spent["policy"]), "auto_add": amounts(runner.spent["auto_add"])},
            "cap_bound_days": [{"account": name, "day": _day(day)} for name, day in runner.cap_days()],
            "positions": [{"label": labels.get(pid, str(pid)), **{k: format(v, "f") for k, v in sorted(src.items())}}
                          for pid, src in sorted(runner.per_position.items())],
            "refused": list(runner.refused)}


def _labels(runner: TopUpRunner) -> dict[int, str]:
    assert runner.desk is not None
    return {p.id: p.label for p in runner.desk.store.positions(statuses=None)}


def readable_top_ups(section: dict[str, Any]) -> str:
    """The ``top_ups`` section as lines for a reader."""
    lines = []
    saved, lost = section["saved"], section["lost_anyway"]
    lines.append(f"top-ups saved {len(saved)} position{'s' if len(saved) != 1 else ''}"
                 + (f" ({', '.join(saved)})" if saved else "")
                 + f"; lost anyway: {', '.join(lost) if lost else 'none'}")
    for source, name in (("policy", "the policy"), ("auto_add", "venue auto-add")):
        for account, amount in section["spent"][source].items():
            lines.append(f"{name} spent {plain(Decimal(amount))} from {account}")
    for hit in section["cap_bound_days"]:
        lines.append(f"the daily cap bound on {hit['day']} ({hit['account']})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Replay the path without and with top-ups on working copies; print the second run and the summary."""
    from isodesk.cli.replay import PathFiles, _working_copy, held_series, readable, summary, unknown_symbols

    if args.commit:
        raise UserError("--commit: a replay with --auto-add or --top-up never writes the real book; "
                        "drop --commit (the replay runs on copies)")
    policy = _policy(args)
    files = PathFiles(args, SeriesTable())
    runner = TopUpRunner(policy=policy, auto_add=bool(args.auto_add))
    with tempfile.TemporaryDirectory(prefix="isodesk-replay-topup-") as tmp:
        base_dir, with_dir = Path(tmp) / "without", Path(tmp) / "with"
        base_dir.mkdir()
        with_dir.mkdir()
        base_store = store_from(_working_copy(args, base_dir))
        base_store.db.execute("PRAGMA synchronous = OFF")
        desk, without = _play(base_store, _feed(files, args), args, None, emit=False)
        desk.close()
        store = store_from(_working_copy(args, with_dir))
        store.db.execute("PRAGMA synchronous = OFF")
        held = held_series(store)
        feed = _feed(files, args)
        desk, with_ = _play(store, feed, args, runner, emit=True)
        try:
            out = summary(desk, desk.snapshot, feed.rejected_rows, unknown_symbols(feed.series, held))
            section = top_up_summary(runner, without, with_)
            out["summary"]["top_ups"] = section
            print(json.dumps(out, allow_nan=False))
            if not args.json:
                text = readable(feed.path.name if feed.path is not None else feed.name, feed.rejected_rows,
                                unknown_symbols(feed.series, held))
                if text:
                    print(text)
                print(readable_top_ups(section))
        finally:
            desk.close()
    return 0


__all__ = ["add_options", "readable_top_ups", "run", "top_up_summary", "wanted"]
