"""Benchmark: ``isodesk replay`` at the speed of the data, against the tick-by-tick desk.

    python benchmarks/replay.py --json [--runs 3] [--scenarios demo,1k,10k] [--baseline-ticks 20000]
                                [--compare DIR] [--no-baseline]

Scenarios (one price a second per market, a random walk of about 3 % a day; reference prices):

- ``demo``: 1,000,000 ticks over the demo book's 5 markets, 13 positions;
- ``1k``: 1,000,000 ticks over 10 markets, 1,000 positions 3–30 % from liquidation;
- ``10k``: 4,320,000 ticks (a day of 50 markets), 10,000 positions;
- ``day-1k``: the same day against 1,000 positions (the issue's "done when").

Each fast run plays the whole file as ``isodesk replay`` does (the file read and parsed, the
events encoded as JSON lines) on a fresh copy of the book; the figure is the median of ``--runs``.
The baseline is the tick-by-tick desk (``isodesk replay --step``: a :class:`ReplayFeed` and one
desk step an instant) over the path's first ``--baseline-ticks`` ticks, timed from its second
instant (the first classifies the whole book, which a short sample would over-weigh). ``desk_s`` is
the part of a fast run spent in the desk itself (judging levels and writing alerts, liquidating,
catching up): work the tick-by-tick desk does too, proportional to what happens, not to the
ticks; ``replay_ticks_per_s`` is the rest (reading, parsing, guarding, searching). Prints
``{"benchmark": "replay", "results": [{"scenario", "ticks", "positions", "markets", "fast":
{"ticks_per_s", "seconds_median", "seconds", "desk_s", "replay_ticks_per_s", "cpu_s_median",
"ticks_per_cpu_s"}, "baseline": {"ticks", "ticks_per_s", "ticks_per_cpu_s"}, "speedup",
"speedup_cpu", "work": {…}}]}``.

The ``cpu`` figures count the process's own processor time (``time.process_time``): on a machine
shared with other work the wall-clock figures include the time the process waited for a core,
the processor time does not (it still feels the caches and memory the others share).

``--compare DIR`` (another checkout of isodesk, e.g. the code before a change, copied aside):
each scenario's fast run is also played by that code, before and after alternating run by run, each
in a fresh process, on the same book and path; adds ``"compare": {"before_s", "after_s",
"before_cpu_s", "after_cpu_s", "ratio", "cpu_ratio"}`` (medians; ratio = before / after, above 1:
faster now) and the load average at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from isodesk.desk import Desk
from isodesk.desk.replay import ChunkGuard, FastReplay, InstantFeed
from isodesk.desk.replay.source import opened
from isodesk.desk.setup import open_book, shipped_catalog
from isodesk.feeds.chunks import CsvChunks, SeriesTable
from isodesk.feeds.replay import ReplayFeed
from isodesk.margin.catalog import TierCatalog
from isodesk.paths import resource_path
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, free_ref, position_ref

T0 = 1_717_200_000
VOL_PER_S = 1e-4  # about 3 % a day
SCENARIOS = {"demo": (1_000_000, 13, 5), "1k": (1_000_000, 1_000, 10), "10k": (4_320_000, 10_000, 50),
             "day-1k": (4_320_000, 1_000, 50)}


def markets(n: int) -> dict[str, float]:
    """``n`` Binance USDⓈ-M symbols with a start price each (the demo's five first)."""
    shipped = TierCatalog(resource_path("tiers"))
    demo = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "DOGEUSDT": 0.15, "XRPUSDT": 0.6,
            "BNBUSDT": 600.0, "ADAUSDT": 0.45, "LINKUSDT": 14.0, "AVAXUSDT": 30.0, "LTCUSDT": 80.0}
    out = dict(list(demo.items())[:n])
    rng = np.random.default_rng(3)
    doc = json.loads(resource_path("tiers", "binance-usdm.json").read_text(encoding="utf-8"))
    for symbol in sorted(doc["symbols"]):
        if len(out) >= n:
            break
        if symbol.endswith("USDT") and symbol not in out:
            try:
                shipped.table("binance-usdm", "linear", symbol)
            except Exception:  # a symbol the shipped tables cannot price
                continue
            out[symbol] = float(10 ** rng.uniform(-2, 3))
    return out


def make_book(path: Path, n: int, prices: dict[str, float]) -> None:
    """``n`` Binance positions over ``prices``' markets, alternating sides, 3–30 % from liquidation."""
    store = Store.open(path)
    ts = T0 - 60
    symbols = list(prices)
    with store.transaction():
        account = store.create_account("binance-usdm:USDT", "binance-usdm", "USDT", ts=ts)
        store.transfer(Decimal(10 ** 9), EXTERNAL, free_ref(account.id), kind="deposit", ts=ts, account_id=account.id)
        for i in range(n):
            symbol = symbols[i % len(symbols)]
            price = Decimal(repr(prices[symbol])).quantize(Decimal("0.000001"))
            qty = (Decimal(1000 + 37 * (i % 50)) / price).quantize(Decimal("0.001")) or Decimal("0.001")
            lev = 3 + i % 25
            margin = (qty * price / lev).quantize(Decimal("0.01")) + Decimal("0.01")
            pid = store.insert_position(label=f"p{i:05d}", account_id=account.id, venue="binance-usdm", symbol=symbol,
                                        contract="linear", side="long" if i % 2 else "short", quantity=qty,
                                        contract_size=None, entry_price=price, leverage=Decimal(lev), ts=ts)
            store.transfer(margin, EXTERNAL, position_ref(pid), kind="import", ts=ts, account_id=account.id)
    store.close()


def write_path(path: Path, prices: dict[str, float], ticks: int, seed: int = 1) -> None:
    """One price a second per market, random walks, written in blocks."""
    rng = np.random.default_rng(seed)
    symbols = list(prices)
    m = len(symbols)
    seconds = ticks // m
    level = np.log(np.array([prices[s] for s in symbols]))
    with path.open("w") as out:
        out.write("ts,symbol,price\n")
        block = 20_000
        for start in range(0, seconds, block):
            k = min(block, seconds - start)
            steps = rng.normal(0, VOL_PER_S, (k, m))
            walk = level + np.cumsum(steps, axis=0)
            level = walk[-1]
            values = np.exp(walk)
            lines = []
            for j in range(k):
                ts = T0 + start + j
                lines.append("".join(f"{ts},{s},{v:.6g}\n" for s, v in zip(symbols, values[j], strict=True)))
            out.write("".join(lines))


def fast_run(book: Path, path: Path, work: Path) -> dict[str, float]:
    """One play of ``path`` as ``isodesk replay`` plays it, on a fresh copy of ``book``."""
    db = work / "fast.db"
    shutil.copy(book, db)
    store = Store.open(db)
    store.db.execute("PRAGMA synchronous = OFF")  # as the command does on its working copy
    start = time.perf_counter()
    cpu = time.process_time()
    table = SeriesTable()
    guard = ChunkGuard(table, feed_name="replay:bench")
    feed = InstantFeed("replay:bench", guard)
    desk = Desk(store, feed, catalog=shipped_catalog(), stale_after_s=3600)
    chunks = opened(lambda: CsvChunks(path, table), table, path.name)
    replay = FastReplay(desk, feed, guard, table)
    printed = 0
    for event in replay.play(chunks):
        if event.kind.value in ("level", "liquidation"):
            json.dumps(event.as_json())
            printed += 1
    seconds = time.perf_counter() - start
    out = {"seconds": seconds, "cpu_s": time.process_time() - cpu, "ticks": guard.accepted, "events": printed,
           **{k: float(v) for k, v in replay.stats.items()}}
    out["alerts"] = float(store.db.execute("SELECT count(*) FROM alerts").fetchone()[0])
    desk.close()
    db.unlink()
    return out


def baseline_run(book: Path, path: Path, work: Path, ticks: int) -> dict[str, float]:
    """The tick-by-tick desk over the first ``ticks`` rows of ``path``."""
    sample = work / "sample.csv"
    with path.open() as src, sample.open("w") as dst:
        for i, line in enumerate(src):
            if i > ticks:
                break
            dst.write(line)
    db = work / "step.db"
    shutil.copy(book, db)
    store = Store.open(db)
    store.db.execute("PRAGMA synchronous = OFF")
    feed = ReplayFeed(sample, speed=None)
    desk = Desk(store, feed, catalog=shipped_catalog(), stale_after_s=3600)
    snap = desk.step()  # the first instant: the whole book classified
    desk.drain_events()
    first = snap.feed.accepted
    start = time.perf_counter()
    cpu = time.process_time()
    steps = 0
    while not snap.feed.finished:
        snap = desk.step()
        steps += 1
        for event in desk.drain_events():
            if event.kind.value in ("level", "liquidation"):
                json.dumps(event.as_json())
    seconds = time.perf_counter() - start
    cpu_s = time.process_time() - cpu
    accepted = snap.feed.accepted - first
    desk.close()
    db.unlink()
    return {"ticks": accepted, "seconds": round(seconds, 3), "ticks_per_s": round(accepted / seconds, 1),
            "cpu_s": round(cpu_s, 3), "ticks_per_cpu_s": round(accepted / cpu_s, 1), "steps": steps}


_ONE_RUN = """
import json, sys
from pathlib import Path
sys.path[:0] = [sys.argv[1] + "/benchmarks", sys.argv[1]]
import replay
out = replay.fast_run(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
print(json.dumps({"seconds": out["seconds"], "cpu_s": out["cpu_s"], "events": out["events"]}))
"""


def one_run(root: Path, book: Path, path: Path, work: Path) -> dict[str, float]:
    """A fast run of ``path`` on a copy of ``book`` by the code of the checkout ``root``, in a process
    of its own (its wall and processor seconds, the events it printed)."""
    scratch = work / f"run-{root.name}"
    scratch.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", _ONE_RUN, str(root), str(book), str(path), str(scratch)],
                          check=True, capture_output=True, text=True)
    shutil.rmtree(scratch)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(before: Path, book: Path, path: Path, work: Path, runs: int) -> dict[str, object]:
    """Medians of ``runs`` fast runs each by the checkout ``before`` and by this one, alternating."""
    here = Path(__file__).resolve().parent.parent
    old: list[dict[str, float]] = []
    new: list[dict[str, float]] = []
    for _ in range(runs):
        old.append(one_run(before, book, path, work))
        new.append(one_run(here, book, path, work))
    if any(a["events"] != b["events"] for a, b in zip(old, new, strict=True)):
        raise SystemExit("--compare: the two checkouts print different numbers of events")

    def median(runs_: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs_)

    return {"before_s": round(median(old, "seconds"), 3), "after_s": round(median(new, "seconds"), 3),
            "before_cpu_s": round(median(old, "cpu_s"), 3), "after_cpu_s": round(median(new, "cpu_s"), 3),
            "ratio": round(median(old, "seconds") / median(new, "seconds"), 3),
            "cpu_ratio": round(median(old, "cpu_s") / median(new, "cpu_s"), 3),
            "runs_s": {"before": [round(r["seconds"], 3) for r in old], "after": [round(r["seconds"], 3) for r in new]},
            "loadavg": [round(x, 2) for x in os.getloadavg()]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scenarios", default="demo,1k,10k,day-1k")
    parser.add_argument("--baseline-ticks", type=int, default=20_000)
    parser.add_argument("--ticks-scale", type=float, default=1.0, help="scale every path's length (a quick look)")
    parser.add_argument("--compare", type=Path, default=None, metavar="DIR",
                        help="also play each scenario with the checkout DIR, alternating (before/after)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the tick-by-tick desk (a quick look)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="isodesk-replaybench-") as tmp:
        work = Path(tmp)
        for name in args.scenarios.split(","):
            ticks, positions, n_markets = SCENARIOS[name]
            ticks = int(ticks * args.ticks_scale)
            book = work / f"{name}.db"
            if name == "demo":
                open_book(book, demo=True, ts=T0 - 60).close()
                prices = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0, "DOGEUSDT": 0.15,
                          "XRPUSDT": 0.6}
            else:
                prices = markets(n_markets)
                make_book(book, positions, prices)
            path = work / f"{name}.csv"
            write_path(path, prices, ticks)
            runs = [fast_run(book, path, work) for _ in range(args.runs)]
            seconds = [r["seconds"] for r in runs]
            median = statistics.median(seconds)
            middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
            accepted = int(runs[0]["ticks"])
            base = (None if args.no_baseline else baseline_run(book, path, work, min(args.baseline_ticks, ticks)))
            fast_rate = accepted / median
            cpu_median = statistics.median(r["cpu_s"] for r in runs)
            result: dict[str, object] = {
                "scenario": name, "ticks": accepted, "positions": positions, "markets": len(prices),
                "file_mb": round(path.stat().st_size / 1e6, 1),
                "fast": {"ticks_per_s": round(fast_rate, 1), "seconds_median": round(median, 3),
                         "seconds": [round(s, 3) for s in seconds], "desk_s": round(middle["desk_s"], 3),
                         "replay_ticks_per_s": round(accepted / (middle["seconds"] - middle["desk_s"]), 1),
                         "cpu_s_median": round(cpu_median, 3), "ticks_per_cpu_s": round(accepted / cpu_median, 1)},
                "work": {k: int(runs[0][k]) for k in ("instants", "events", "alerts", "desk_steps", "catch_up_steps",
                                                       "judged", "quiet_false_alarms")},
                "baseline": base, "speedup": None if base is None else round(fast_rate / base["ticks_per_s"], 1),
                "speedup_cpu": None if base is None else round(accepted / cpu_median / base["ticks_per_cpu_s"], 1),
            }
            if args.compare is not None:
                result["compare"] = compare(args.compare.resolve(), book, path, work, args.runs)
            results.append(result)
            path.unlink()
    doc = {"benchmark": "replay", "results": results}
    print(json.dumps(doc) if args.json else json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
