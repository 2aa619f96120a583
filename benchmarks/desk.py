"""Benchmark: ticks per second through the desk (store + recompute + levels + snapshot).

    python benchmarks/desk.py --json [--sizes 1000,10000] [--seconds 5]

Each tick moves every market of the book (10 markets); one desk step takes one tick. Prints
``{"results": [{"positions", "ticks_per_s", "prices_per_s", "step_ms_median", "step_ms_p99"}]}``.
Prices move ±0.2 % around their start so the book stays open (liquidations would shrink it).
"""

from __future__ import annotations

import argparse
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
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FeedHealth, Tick
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
    args = parser.parse_args(argv)
    tune_allocator()
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="isodesk-deskbench-") as tmp:
            db = Path(tmp) / "bench.db"
            make_book(db, n)
            desk = Desk(Store.open(db), EveryMarketFeed(), catalog=shipped_catalog())
            for _ in range(5):
                desk.step()
            times = []
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                desk.step()
                times.append(time.perf_counter() - t0)
            open_left = int((np.asarray(desk.snapshot.book.statuses) == "open").sum())
            desk.close()
        total = sum(times)
        times.sort()
        results.append({"positions": n, "ticks_per_s": round(len(times) / total, 1),
                        "prices_per_s": round(len(times) * len(SYMBOLS) / total, 1),
                        "step_ms_median": round(statistics.median(times) * 1000, 3),
                        "step_ms_p99": round(times[int(0.99 * (len(times) - 1))] * 1000, 3),
                        "steps": len(times), "open_positions_at_end": open_left})
    doc = {"benchmark": "desk", "markets": len(SYMBOLS), "results": results}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
