"""Benchmark: what-if scenarios on a synthetic book.

    python benchmarks/scenario.py --json [--positions 1000] [--shocks 101] [--repeat 15]

Prints ``{"positions", "accounts", "grid_shocks", "grid_ms", "evaluate_ms", "path_ms", "path_steps"}``:
``grid_ms`` the median time of :func:`uniform_grid` over ``--shocks`` uniform shocks from −50 % to
+50 % (isolated and cross, every account), ``evaluate_ms`` one scenario (a market shock with
betas, collateral edits), ``path_ms`` a ``--shocks``-step price path.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from isodesk.margin import Position
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.scenario import Move, Scenario, ScenarioBook, evaluate, uniform_grid
from isodesk.paths import resource_path

MARKETS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "XRPUSDT": 0.6, "DOGEUSDT": 0.15,
           "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LINKUSDT": 14.0, "AVAXUSDT": 30.0, "LTCUSDT": 80.0}


def make_book(n: int, seed: int = 1) -> ScenarioBook:
    """``n`` Binance positions over ten markets and four accounts, 2–20× leverage, both sides."""
    rng = np.random.default_rng(seed)
    cat = TierCatalog(resource_path("tiers"))
    symbols = list(MARKETS)
    positions, accounts = [], []
    for i in range(n):
        symbol = symbols[i % len(symbols)]
        entry = MARKETS[symbol] * float(rng.uniform(0.9, 1.1))
        qty = float(10 ** rng.uniform(2.5, 5.5)) / entry
        lev = float(rng.uniform(2, 20))
        positions.append(Position(venue="binance-usdm", side="long" if rng.random() < 0.6 else "short",
                                  entry_price=entry, quantity=qty, isolated_margin=qty * entry / lev, leverage=lev,
                                  tiers=cat.table("binance-usdm", "linear", symbol), symbol=symbol, label=f"p{i}"))
        accounts.append(f"acct{i % 4}")
    return ScenarioBook.build(positions, marks=MARKETS, accounts=accounts,
                              free={f"acct{k}": 50_000.0 for k in range(4)})


def timed(fn, repeat: int) -> float:
    """Median wall time of ``fn()`` in milliseconds."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON (the only output format)")
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--shocks", type=int, default=101)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    book = make_book(args.positions)
    shocks = np.linspace(-50, 50, args.shocks)
    scenario = Scenario(market_shock=("BTCUSDT", -15.0), betas={"SOLUSDT": 1.4, "DOGEUSDT": 1.6},
                        margin_edits={1: 100.0, 2: 50.0}, leverage_edits={3: 3.0})
    path = Scenario(path=tuple(Move(market_shock=("BTCUSDT", float(s))) for s in np.linspace(0, -40, args.shocks)))
    result = {
        "positions": len(book), "accounts": len(book.accounts), "grid_shocks": len(shocks),
        "grid_ms": round(timed(lambda: uniform_grid(book, shocks), args.repeat), 3),
        "evaluate_ms": round(timed(lambda: evaluate(book, scenario), args.repeat), 3),
        "path_steps": args.shocks,
        "path_ms": round(timed(lambda: evaluate(book, path), args.repeat), 3),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
