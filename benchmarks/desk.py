"""Benchmark: ticks per second through the desk (store + recompute + levels + snapshot).

    python benchmarks/desk.py --json [--sizes 1000,10000] [--seconds 5] [--feed bench|simulated] [--hz 10]
                              [--profile FILE]

``--feed bench`` (default): each tick moves every market of the book (10 markets); one desk step
takes one tick, steps run back to back. Prices move ±0.2 % around their start so the book stays
open (liquidations would shrink it). ``--feed simulated``: the desk of ``benchmarks/gui.py``
without the window: the simulated feed (seed 3) ticking at ``--hz``, one step every 1/hz seconds of
wall time (jumps, level changes, liquidations and alerts happen as in the app). Prints
``{"results": [{"positions", "ticks_per_s", "prices_per_s", "step_ms_median", "step_ms_p99"}]}``;
step times are milliseconds of wall time per ``Desk.step()``; ``quiet_step_ms_*`` only the steps
that liquidated nothing, ``liquidation_steps`` how many did (and their median). ``--profile FILE`` writes a
cProfile of the timed steps of the last size.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bookgen import SYMBOLS, make_book

from isodesk.desk import Desk
from isodesk.desk.events import EventKind
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedHealth, Tick
from isodesk.feeds.simulated import SimulatedFeed
from isodesk.runtime import tune_allocator
from isodesk.store import Store


class EveryMarketFeed:
    """One tick per market per poll, a small random move each time."""

    clock_from_ticks = False
    writes_prices_table = False
    name = "bench"

    def __init__(self, seed: int = 5):
        self.rng = np.random.default_rng(seed)
        self.accepted = 0

    def poll(self, now: float) -> list[Tick]:
        moves = self.rng.uniform(-0.002, 0.002, len(SYMBOLS))
        self.accepted += len(SYMBOLS)
        return [Tick(s, now, p * (1 + m)) for (s, p), m in zip(SYMBOLS.items(), moves, strict=True)]

    def health(self, now: float) -> FeedHealth:
        return FeedHealth("bench", True, now, 0.0, self.accepted, 0)

    def close(self) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--feed", choices=("bench", "simulated"), default="bench")
    parser.add_argument("--hz", type=float, default=10.0)
    parser.add_argument("--profile", default="")
    args = parser.parse_args(argv)
    tune_allocator()
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="isodesk-deskbench-") as tmp:
            db = Path(tmp) / "bench.db"
            make_book(db, n)
            interval = 1.0 / args.hz
            feed = EveryMarketFeed() if args.feed == "bench" else SimulatedFeed(SYMBOLS, seed=3, interval_s=interval)
            desk = Desk(Store.open(db), feed, catalog=shipped_catalog())
            for _ in range(5):
                desk.step()
            times = []
            liquidating: list[bool] = []  # per timed step: did it liquidate a position
            profiler = cProfile.Profile() if args.profile else None
            if profiler is not None:
                profiler.enable()
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                desk.step()
                took = time.perf_counter() - t0
                events = desk.drain_events()
                times.append(took)
                liquidating.append(any(e.kind is EventKind.LIQUIDATION for e in events))
                if args.feed == "simulated":
                    time.sleep(max(0.0, interval - took))
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            open_left = int((np.asarray(desk.snapshot.book.statuses) == "open").sum())
            desk.close()
        total = sum(times)
        quiet = sorted(t for t, liq in zip(times, liquidating, strict=True) if not liq)
        loud = sorted(t for t, liq in zip(times, liquidating, strict=True) if liq)
        times.sort()
        results.append({"positions": n, "ticks_per_s": round(len(times) / total, 1),
                        "prices_per_s": round(len(times) * len(SYMBOLS) / total, 1),
                        "step_ms_median": round(statistics.median(times) * 1000, 3),
                        "step_ms_p99": round(times[int(0.99 * (len(times) - 1))] * 1000, 3),
                        "steps": len(times), "open_positions_at_end": open_left,
                        # steps that liquidated nothing, and those that did (how many, their median)
                        "quiet_step_ms_median": round(statistics.median(quiet) * 1000, 3) if quiet else None,
                        "quiet_step_ms_p99": round(quiet[int(0.99 * (len(quiet) - 1))] * 1000, 3) if quiet else None,
                        "liquidation_steps": len(loud),
                        "liquidation_step_ms_median": round(statistics.median(loud) * 1000, 3) if loud else None})
    doc = {"benchmark": "desk", "markets": len(SYMBOLS), "results": results}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
