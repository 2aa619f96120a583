"""Benchmark: every figure for N mixed positions, the engine's buffered paths vs plain Python.

    python benchmarks/engine.py --json [--sizes 1000,10000,100000,1000000] [--repeat 15]
                                [--compare OLD_ENGINE.py] [--tune-allocator]

Prints ``{"results": [{"n", "batch_ms", "mark_only_ms", ...}]}``, medians of ``--repeat`` runs (wall
time; ``*_cpu_ms`` the same runs in process CPU time, steadier on a shared machine):

- ``batch_ms``: the full recompute into the engine's buffers (``compute(batch, mark, into=...)``:
  liquidation and bankruptcy prices, then every figure at the marks), the batch already built;
- ``mark_only_ms``: the desk's per-tick path, every mark-dependent figure with the price levels
  kept (``mark_figures(..., into=...)``); ``mark_moving_ms`` the same with the marks alternating by
  ±2 % each call, so that positions cross tier edges every call;
- ``new_book_ms``: the full recompute of a batch the buffers have not seen (a change of book: the
  book's columns derived again, every position's tier looked up);
- ``fresh_ms``: ``compute(batch, mark)`` into new arrays (what a caller without buffers pays);
- ``batch_build_ms``: building the :class:`PositionBatch` from arrays (once per book);
- ``baseline_ms``/``speedup``: the same figures position by position in plain Python (the same
  formulas, scalar floats), timed on a sample of ``--baseline-sample`` positions and scaled to N.

``--compare PATH`` loads another version of ``isodesk/margin/engine.py`` (``git show REV:isodesk/
margin/engine.py > old.py``) and times its ``compute`` and ``mark_figures`` on the same book in the
same minutes, interleaved with the current ones, each into its own buffers when that version has
:class:`RiskBuffers` (like for like; an older one into fresh arrays): ``compare_full_ms``,
``compare_mark_ms`` and the ratios ``full_ratio``/``mark_ratio`` (old ÷ new, in wall and CPU time).
The allocator is glibc's default unless ``--tune-allocator`` (:func:`isodesk.runtime.tune_allocator`).
"""

from __future__ import annotations

import argparse
import bisect
import importlib.util
import json
import math
import statistics
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from isodesk.margin import Position, PositionBatch, TierTable, compute
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.engine import RiskBuffers, mark_figures, price_levels
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


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall time and median process CPU time of ``fn()`` in milliseconds."""
    wall, cpu = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def median_ms(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    return timed(fn, repeat)[0]


def load_engine(path: str):
    """Another version of the engine module, loaded from a file under its own name."""
    spec = importlib.util.spec_from_file_location("engine_compared", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--compare: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["engine_compared"] = module
    spec.loader.exec_module(module)
    return module


def tiled(small, n: int):
    """A batch of ``n`` positions repeating ``small``'s (any PositionBatch class)."""
    reps = -(-n // len(small))
    return small.replace(**{f.name: np.tile(getattr(small, f.name), reps)[:n] for f in fields(small)
                            if f.init and isinstance(getattr(small, f.name), np.ndarray)})


def measure(n: int, repeat: int, old) -> dict[str, float]:
    """Every figure of the module docstring for ``n`` positions (``old``: an engine to compare)."""
    book, marks = make_book(min(n, 20_000))
    batch = tiled(PositionBatch.from_positions(book, validate=False), n)
    marks_n = np.tile(marks, -(-n // len(book)))[:n]
    out: dict[str, float] = {}

    def record(name: str, fn, reps: int = repeat) -> None:
        fn()
        wall, cpu = timed(fn, reps)
        out[f"{name}_ms"], out[f"{name}_cpu_ms"] = round(wall, 3), round(cpu, 3)

    buffers = RiskBuffers()
    record("batch", lambda: compute(batch, marks_n, into=buffers))
    levels = price_levels(batch)
    record("mark_only", lambda: mark_figures(batch, marks_n, levels, into=buffers))
    moving = [marks_n * 0.98, marks_n * 1.02]
    record("mark_moving", lambda: mark_figures(batch, moving.reverse() or moving[0], levels, into=buffers))
    twins = [batch, batch.replace()]  # equal books, distinct batches: each call is a change of book
    record("new_book", lambda: compute(twins.reverse() or twins[0], marks_n, into=buffers))
    record("fresh", lambda: compute(batch, marks_n), max(3, repeat // 3))
    arrays = {f.name: getattr(batch, f.name) for f in fields(batch) if f.init}
    record("batch_build", lambda: PositionBatch.from_arrays(**arrays), max(3, repeat // 3))
    if old is not None:
        old_batch = tiled(old.PositionBatch.from_positions(book, validate=False), n)
        old_levels = old.price_levels(old_batch)
        # like for like: into the old engine's own buffers where it has them (else its fresh arrays)
        kept = {"into": old.RiskBuffers()} if hasattr(old, "RiskBuffers") else {}
        pairs = {"full": (lambda: old.compute(old_batch, marks_n, **kept),
                          lambda: compute(batch, marks_n, into=buffers)),
                 "mark": (lambda: old.mark_figures(old_batch, marks_n, old_levels, **kept),
                          lambda: mark_figures(batch, marks_n, levels, into=buffers))}
        for name, (then, now) in pairs.items():
            samples: dict[str, list[tuple[float, float]]] = {"then": [], "now": []}
            for _ in range(max(3, repeat // 5)):  # interleaved rounds: both see the same load
                samples["then"].append(timed(then, 5))
                samples["now"].append(timed(now, 5))
            then_wall, then_cpu = (statistics.median(x) for x in zip(*samples["then"], strict=True))
            now_wall, now_cpu = (statistics.median(x) for x in zip(*samples["now"], strict=True))
            out[f"compare_{name}_ms"], out[f"compare_{name}_cpu_ms"] = round(then_wall, 3), round(then_cpu, 3)
            out[f"current_{name}_ms"], out[f"current_{name}_cpu_ms"] = round(now_wall, 3), round(now_cpu, 3)
            out[f"{name}_ratio"] = round(then_wall / now_wall, 2)
            out[f"{name}_ratio_cpu"] = round(then_cpu / now_cpu, 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--baseline-sample", type=int, default=5000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--compare", metavar="PATH", help="another engine.py to time on the same books")
    parser.add_argument("--tune-allocator", action="store_true",
                        help="tune glibc malloc as isodesk.runtime.tune_allocator does (not needed by the engine)")
    args = parser.parse_args(argv)
    tuned = tune_allocator() if args.tune_allocator else False
    old = load_engine(args.compare) if args.compare else None
    sizes = [int(s) for s in args.sizes.split(",")]
    base_book, base_marks = make_book(min(args.baseline_sample, max(sizes)), seed=2)
    pairs = list(zip(base_book, base_marks.tolist(), strict=True))
    per_position_ms = median_ms(lambda: [scalar_figures(p, m) for p, m in pairs], 3) / len(base_book)
    results = []
    for n in sizes:
        figures = measure(n, args.repeat if n < 1_000_000 else 5, old)
        baseline_ms = per_position_ms * n
        results.append({"n": n, **figures, "baseline_ms": round(baseline_ms, 1),
                        "speedup": round(baseline_ms / figures["batch_ms"], 1), "baseline_sampled": len(base_book),
                        "ns_per_position": round(figures["batch_ms"] * 1e6 / n, 1)})
    doc = {"benchmark": "engine", "repeat": args.repeat, "allocator_tuned": tuned, "results": results}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
