"""Benchmark: a full recompute of every figure for N mixed positions, batch vs plain Python.

    python benchmarks/engine.py --json [--sizes 1000,10000,100000,1000000] [--repeat 15]

Prints ``{"results": [{"n", "batch_ms", "baseline_ms", "speedup", ...}]}``. The baseline computes
the same figures position by position in plain Python (the same formulas, scalar floats),
timed on a sample of ``--baseline-sample`` positions and scaled to N.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from isodesk.margin import Position, PositionBatch, TierTable, compute
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import mark_figures, price_levels
from isodesk.margin.venues import VENUES, RemovableRule, Requirement
from isodesk.paths import resource_path
from isodesk.runtime import tune_allocator

VENUE_MIX = [("binance-usdm", "linear", None), ("hyperliquid", "linear", None), ("bybit", "linear", "entry_mm"),
             ("bybit", "inverse", "exact_mm"), ("okx", "linear", None), ("binance-coinm", "inverse", None)]


def make_book(n: int, seed: int = 1) -> tuple[list[Position], np.ndarray]:
    """N positions over many Binance symbols and brackets plus the other venues; marks near entry."""
    rng = np.random.default_rng(seed)
    cat = TierCatalog(resource_path("tiers"))
    binance = [cat.table("binance-usdm", "linear", s) for s in cat.symbols("binance-usdm", "linear")[:300]]
    generic = [TierTable.from_rows([[0, 50_000, 0.004, None, 125], [50_000, 250_000, 0.005, None, 100],
                                    [250_000, 1_000_000, 0.01, None, 50], [1_000_000, None, 0.025, None, 20]]),
               TierTable.from_rows([[0, 5, 0.005, None, 125], [5, 10, 0.01, None, 100], [10, None, 0.02, None, 50]])]
    book = []
    for i in range(n):
        venue, contract, variant = VENUE_MIX[i % len(VENUE_MIX)]
        entry = float(rng.choice([0.2, 3.0, 150.0, 3000.0, 60000.0])) * float(rng.uniform(0.8, 1.2))
        lev = float(rng.uniform(2, 20))
        if contract == "linear":
            notional = float(10 ** rng.uniform(2, 7))
            tiers = binance[i % len(binance)] if venue == "binance-usdm" else generic[0]
            qty, size = notional / entry, 1.0
        else:
            qty, size, tiers = float(rng.integers(1, 50_000)), 100.0, generic[1]
            notional = qty * size / entry
        book.append(Position(venue=venue, side="long" if rng.random() < 0.5 else "short", contract=contract,
                             entry_price=entry, quantity=qty, contract_size=size,
                             isolated_margin=notional / lev, leverage=lev, taker_fee_rate=0.0005,
                             formula_variant=variant, tiers=tiers))
    marks = np.array([p.entry_price * float(rng.uniform(0.9, 1.1)) for p in book])
    return book, marks


def _scalar_mm(t: TierTable, notional: float) -> float:
    k = bisect.bisect_right(t.floors.tolist(), notional) - 1
    return notional * float(t.mmr[k]) - float(t.amounts[k])


def scalar_figures(p: Position, mark: float) -> dict[str, float]:
    """The baseline: every figure of one position in plain Python floats (same formulas as the
    engine's, written out scalar for timing only; the tests check the engine, not this)."""
    s, t = p.sign, p.tiers
    inverse = p.contract == "inverse"
    fee = p.taker_fee_rate if VENUES[p.venue].fee_in_requirement else 0.0
    entry_term = p.size / p.entry_price if inverse else p.size * p.entry_price
    c1 = -s if inverse else s
    c0 = p.isolated_margin - c1 * entry_term
    liq_x = math.nan
    at_entry = p.requirement == Requirement.MM_AT_ENTRY
    if at_entry:
        liq_x = (_scalar_mm(t, entry_term) - c0) / (c1 - fee)
    else:
        for k in range(len(t)):
            r, a, lo, hi = float(t.mmr[k]), float(t.amounts[k]), float(t.floors[k]), float(t.caps[k])
            denom = r + fee - c1
            x = (c0 + a) / denom if denom else math.nan
            if lo <= x < hi:
                liq_x = x
                break
    def price(x: float) -> float:
        if not x > 0:
            return math.nan
        return p.size / x if inverse else x / p.size
    notional = p.size / mark if inverse else p.size * mark
    upnl = s * p.size * (1 / p.entry_price - 1 / mark) if inverse else s * p.size * (mark - p.entry_price)
    balance = p.isolated_margin + upnl
    mm = _scalar_mm(t, entry_term if at_entry else notional)
    liq = price(liq_x)
    out = {"liq": liq, "bankrupt": price(-c0 / c1), "notional": notional, "upnl": upnl, "balance": balance,
           "mm": mm, "ratio": (mm + fee * notional) / balance if balance > 0 else math.nan,
           "distance": s * (mark - liq) / mark, "roe": upnl / p.isolated_margin,
           "lev": notional / balance if balance > 0 else math.nan}
    rule = VENUES[p.venue].removable
    im = notional / p.leverage
    if rule == RemovableRule.BINANCE:
        out["removable"] = max(0.0, min(p.isolated_margin - mm, balance - im))
    elif rule == RemovableRule.HYPERLIQUID:
        out["removable"] = max(0.0, balance - max(im, 0.1 * notional))
    return out


def median_ms(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline-sample", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--default-allocator", action="store_true",
                        help="do not tune glibc malloc as the app does (isodesk.runtime.tune_allocator)")
    args = parser.parse_args(argv)
    tuned = False if args.default_allocator else tune_allocator()
    sizes = [int(s) for s in args.sizes.split(",")]
    base_book, base_marks = make_book(min(args.baseline_sample, max(sizes)), seed=2)
    pairs = list(zip(base_book, base_marks.tolist(), strict=True))
    per_position_ms = median_ms(lambda: [scalar_figures(p, m) for p, m in pairs],
                                3) / len(base_book)
    results = []
    for n in sizes:
        book, marks = make_book(min(n, 20_000))
        small = PositionBatch.from_positions(book, validate=False)
        reps = -(-n // len(book))
        batch = small.replace(**{name: np.tile(getattr(small, name), reps)[:n] for name in
                                 ("side", "inverse", "size", "entry", "margin", "leverage", "fee_rate",
                                  "requirement", "removable", "table")})
        marks_n = np.tile(marks, reps)[:n]
        batch_ms = median_ms(lambda b=batch, m=marks_n: compute(b, m), args.repeat if n < 1_000_000 else 5)
        levels = price_levels(batch)
        tick_ms = median_ms(lambda b=batch, m=marks_n, lv=levels: mark_figures(b, m, lv),
                            args.repeat if n < 1_000_000 else 5)
        baseline_ms = per_position_ms * n
        results.append({"n": n, "batch_ms": round(batch_ms, 3), "baseline_ms": round(baseline_ms, 1),
                        "speedup": round(baseline_ms / batch_ms, 1), "baseline_sampled": len(base_book),
                        "mark_only_ms": round(tick_ms, 3),
                        "ns_per_position": round(batch_ms * 1e6 / n, 1)})
    doc = {"benchmark": "engine", "repeat": args.repeat, "allocator_tuned": tuned, "results": results}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
