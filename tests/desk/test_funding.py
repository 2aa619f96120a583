"""The desk settles funding by each venue's rule (isodesk.desk.funding): ledger entries that keep the
sum over accounts at zero, one settlement per (position, funding time) across restarts and
processes, and a settlement that leaves a position below maintenance is liquidated by the next
fresh tick, alone."""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk import Deposit, Desk, OpenPosition
from isodesk.desk.funding import funding_amount, funding_since_open, settle_one
from isodesk.desk.setup import shipped_catalog
from isodesk.feeds.base import FundingQuote
from isodesk.margin.funding import HOUR_S, Settles, liq_drift_pct_day
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, position_ref
from tests.desk.fakes import ManualClock, ScriptedFeed

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
T8 = 1_700_006_400.0  # the next 8-hour funding time, 2023-11-15 00:00 UTC
BN = "binance-usdm"


@dataclass
class FundedFeed(ScriptedFeed):
    """A scripted feed that also quotes funding: ``rates[(venue, market)] = (rate, next_ts, interval_s)``."""

    rates: dict[tuple[str, str], tuple[float, float, float]] = field(default_factory=dict)

    def funding(self, now: float) -> list[FundingQuote]:
        return [FundingQuote(v, m, r, t, i, now) for (v, m), (r, t, i) in self.rates.items()]


def _open(desk: Desk, label: str, venue: str, side: str, qty: str, margin: str, *, account: str,
          symbol: str = "BTCUSDT", price: str = "60000", leverage: str = "10") -> int:
    result = desk.apply(OpenPosition(label=label, venue=venue, symbol=symbol, side=side, quantity=Decimal(qty),
                                     entry_price=Decimal(price), leverage=Decimal(leverage), margin=Decimal(margin),
                                     account=account))
    assert result.accepted, result.reason
    record = desk.store.position_by_label(label)
    assert record is not None
    return record.id


def _book(tmp: Path, feed: ScriptedFeed, clock: ManualClock) -> Desk:
    return Desk(Store.open(tmp / "book.db"), feed, catalog=shipped_catalog(), clock=clock)


def _ledger_sum(store: Store) -> Decimal:
    return sum(store.balances().values(), Decimal(0))


def test_binance_longs_pay_from_the_isolated_margin_at_the_funding_time(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
        tight = _open(desk, "tight", BN, "long", "0.5", "3000", account="binance-usdm:USDT")
        loose = _open(desk, "loose", BN, "long", "0.1", "2000", account="binance-usdm:USDT")
        feed.rates[(BN, "BTCUSDT")] = (0.0001, T8, 8 * HOUR_S)
        snap = desk.step()  # takes the quote; nothing due yet
        row = snap.book.row_of(tight)
        # next payment at the mark: 0.5 × 60,000 × 0.01 % = 3 USDT paid
        assert snap.cols["next_funding_amount"][row] == pytest.approx(-3.0)
        assert snap.cols["next_funding_ts"][row] == T8
        assert snap.cols["funding_since_open"][row] == 0.0
        clock.now = T8 - 1
        desk.step()
        assert desk.store.db.conn.execute("SELECT count(*) FROM funding").fetchall()[0][0] == 0
        clock.now = T8 + 5
        feed.push("BTCUSDT", 60_000.0, clock.now)
        snap = desk.step()
        store = desk.store
        # Binance (conservative rule): paid from the isolated margin, the free balance untouched
        assert store.balance(position_ref(tight)) == Decimal("2997")
        assert store.balance(position_ref(loose)) == Decimal("1999.4")
        assert store.free_balance(1) == Decimal("5000")
        entries = [e for e in store.ledger() if e.kind == "funding"]
        assert sorted((e.source, e.dest, e.amount, e.position_id) for e in entries) == sorted([
            (position_ref(tight), EXTERNAL, Decimal("3"), tight),
            (position_ref(loose), EXTERNAL, Decimal("0.6"), loose)])
        assert _ledger_sum(store) == 0
        assert snap.cols["funding_since_open"][snap.book.row_of(tight)] == pytest.approx(-3.0)
        assert snap.cols["isolated_margin"][snap.book.row_of(tight)] == pytest.approx(2997.0)
        rows = store.db.conn.execute("SELECT position_id, ts, rate, price, amount, rule FROM funding "
                                     "ORDER BY position_id").fetchall()
        assert rows == [(tight, T8, "0.0001", "60000.0", "-3.00000000", "ISOLATED_PAY"),
                        (loose, T8, "0.0001", "60000.0", "-0.60000000", "ISOLATED_PAY")]
        # the next quote is for the next funding time: nothing more is settled until then
        feed.rates[(BN, "BTCUSDT")] = (0.0001, T8 + 8 * HOUR_S, 8 * HOUR_S)
        clock.now = T8 + 60
        desk.step()
        desk.step()
        assert store.db.conn.execute("SELECT count(*) FROM funding").fetchall()[0][0] == 2
    finally:
        desk.close()


def test_a_restart_never_settles_a_payment_twice(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    pid = _open(desk, "p", BN, "long", "0.5", "3000", account="binance-usdm:USDT")
    feed.rates[(BN, "BTCUSDT")] = (0.0001, T8, 8 * HOUR_S)
    desk.step()
    clock.now = T8 + 1
    desk.step()
    desk.close()
    desk.store.close()
    # a new desk on the same book with the same (now past) quote: the payment is in the table already
    desk = _book(tmp_path, feed, clock)
    try:
        for _ in range(3):
            clock.advance(1)
            desk.step()
        assert desk.store.db.conn.execute("SELECT count(*) FROM funding").fetchall()[0][0] == 1
        assert desk.store.balance(position_ref(pid)) == Decimal("2997")
        record = desk.store.position(pid)
        with desk.store.transaction():
            assert settle_one(desk.store, record, T8, 0.0001, 60_000.0, now=clock.now) is None
        # and the table itself refuses a second row for the same payment
        with pytest.raises(Exception, match="UNIQUE"):
            desk.store.db.conn.execute(
                "INSERT INTO funding (position_id, account_id, ts, rate, price, amount, to_margin, to_free, rule,"
                " settled_at) VALUES (?, 1, ?, '0.0001', '60000', '-3', '-3', '0', 'ISOLATED_PAY', 0)", [pid, T8])
    finally:
        desk.close()
        desk.store.close()


_SETTLE_SCRIPT = """
import sys
from isodesk.store import Store
from isodesk.desk.funding import settle_one
store = Store.open(sys.argv[1])
record = store.position(int(sys.argv[2]))
done = 0
for k in range(20):
    with store.transaction():
        done += settle_one(store, record, float(sys.argv[3]) + k * 28800, 0.0001, 60000.0, now=1.0) is not None
print(done)
"""


def test_two_processes_settling_the_same_payments_settle_each_once(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    pid = _open(desk, "p", BN, "long", "0.5", "3000", account="binance-usdm:USDT")
    desk.close()
    desk.store.close()
    args = [sys.executable, "-c", _SETTLE_SCRIPT, str(tmp_path / "book.db"), str(pid), str(T8)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert sum(int(out) for out, _ in outs) == 20  # 20 payments, each settled by exactly one process
    with Store.open(tmp_path / "book.db") as store:
        assert store.db.conn.execute("SELECT count(*) FROM funding").fetchall()[0][0] == 20
        assert store.balance(position_ref(pid)) == Decimal("3000") - 20 * Decimal("3")
        assert _ledger_sum(store) == 0


def test_bybit_takes_the_free_balance_first_and_okx_credits_the_margin(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("3004"), account="bybit:USDT", venue="bybit", currency="USDT")).accepted
        assert desk.apply(Deposit(Decimal("3000"), account="okx:USDT", venue="okx", currency="USDT")).accepted
        by = _open(desk, "by", "bybit", "short", "0.5", "3000", account="bybit:USDT")  # 4 USDT left free
        ok = _open(desk, "ok", "okx", "short", "0.5", "3000", account="okx:USDT", symbol="BTC-USDT-SWAP")
        by_acct, ok_acct = desk.store.position(by).account_id, desk.store.position(ok).account_id
        # Bybit: rate −0.02 % → the short pays 0.5 × 60,000 × 0.0002 = 6: 4 from free, 2 from the margin.
        # OKX: rate +0.01 % → the short receives 3, into its isolated margin.
        feed.rates[("bybit", "BTCUSDT")] = (-0.0002, T8, 8 * HOUR_S)
        feed.rates[("okx", "BTCUSDT")] = (0.0001, T8, 8 * HOUR_S)
        desk.step()
        clock.now = T8
        feed.push("BTCUSDT", 60_000.0, clock.now)
        snap = desk.step()
        store = desk.store
        assert store.free_balance(by_acct) == 0
        assert store.balance(position_ref(by)) == Decimal("2998")
        assert store.balance(position_ref(ok)) == Decimal("3003")
        assert store.free_balance(ok_acct) == 0
        assert snap.cols["funding_since_open"][snap.book.row_of(by)] == pytest.approx(-6.0)
        assert snap.cols["funding_since_open"][snap.book.row_of(ok)] == pytest.approx(3.0)
        assert _ledger_sum(store) == 0
        from isodesk.store.integrity import check_book

        report = check_book(tmp_path / "book.db")  # the book's own checks accept every kind of funding entry
        assert report.ok and report.findings == () and report.pending_migrations == ()
    finally:
        desk.close()


def _funded_long(desk, feed, clock):
    """Open a Binance BTCUSDT long (0.5 at 3,000 of margin) with a funding rate of 0.03 % every 8 h
    quoted; its position id and the snapshot of the step that takes the rate."""
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    pid = _open(desk, "p", BN, "long", "0.5", "3000", account="binance-usdm:USDT")
    feed.rates[(BN, "BTCUSDT")] = (0.0003, T8, 8 * HOUR_S)
    return pid, desk.step()


def _pure_drift(desk, snap, rate):
    """The pure engine's liquidation drift (% a day) of every row of ``snap`` at ``rate`` every 8 h."""
    return liq_drift_pct_day(desk.book.batch, np.asarray(snap.cols["mark"]), np.full(len(snap), rate),
                             8 * HOUR_S, np.full(len(snap), Settles.ISOLATED_PAY))

def test_snapshot_drift_is_the_pure_figure_of_the_book(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        pid, snap = _funded_long(desk, feed, clock)
        row = snap.book.row_of(pid)
        assert snap.cols["liq_drift_pct_day"][row] == pytest.approx(_pure_drift(desk, snap, 0.0003)[row])
        # by hand: a day pays 3 × 0.5 × 60,000 × 0.03 % = 27 USDT; Binance long liq moves by
        # 27 / (Q·(1 − mmr)) with the tier's mmr (0.4 % under 50,000 notional: tier 1 of BTCUSDT)
        liq = snap.cols["liquidation_price"][row]
        assert snap.cols["liq_drift_pct_day"][row] > 0
        assert snap.cols["liq_drift_pct_day"][row] == pytest.approx(27 / (0.5 * (1 - 0.004)) / 60_000 * 100, rel=0.05)
        assert liq > 0
    finally:
        desk.close()


def test_a_settlement_below_maintenance_is_liquidated_by_the_next_fresh_tick_alone(tmp_path) -> None:
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
        thin = _open(desk, "thin", BN, "long", "1", "1000", account="binance-usdm:USDT", leverage="60")
        other = _open(desk, "other", BN, "long", "0.1", "2000", account="binance-usdm:USDT")
        # 1 BTC at 60,000, MM ≈ 0.4 % of 60,000 = 240; a rate of 1.5 % takes 900 of the 1,000 margin
        feed.rates[(BN, "BTCUSDT")] = (0.015, T8, 8 * HOUR_S)
        desk.step()
        clock.now = T8 + 1
        snap = desk.step()  # the settlement step: no fresh tick, so no liquidation
        store = desk.store
        assert store.balance(position_ref(thin)) == Decimal("100")
        assert store.position(thin).status == "open"
        row = snap.book.row_of(thin)
        assert snap.cols["margin_ratio"][row] > 1.0  # below maintenance now
        free_before, other_before = store.free_balance(1), store.balance(position_ref(other))
        clock.advance(1)
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert store.position(thin).status == "liquidated"
        assert store.position(other).status == "open"
        assert store.balance(position_ref(other)) == other_before and store.free_balance(1) == free_before
        assert _ledger_sum(store) == 0
    finally:
        desk.close()


def test_funding_amount_inverse_in_coin() -> None:
    @dataclass
    class Rec:
        side: str = "short"
        contract: str = "inverse"
        quantity: Decimal = Decimal("10")
        contract_size: Decimal | None = Decimal("100")

    # COIN-M: 10 contracts × 100 USD / 50,000 = 0.02 BTC; a short at +0.01 % receives 0.000002 BTC
    assert funding_amount(Rec(), Decimal("50000"), Decimal("0.0001")) == Decimal("0.00000200")  # type: ignore[arg-type]
    # rounding goes against the holder: a payment of 1/3 × 10⁻⁸ more rounds up to 10⁻⁸
    assert funding_amount(Rec(side="long", quantity=Decimal("1")), Decimal("30000000"), Decimal("0.001")) == \
        Decimal("-0.00000001")  # type: ignore[arg-type]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["by", "ok", "bn"]), st.integers(-30, 30), st.integers(50_000, 70_000)),
                min_size=1, max_size=30))
def test_the_ledger_sums_to_zero_after_many_settlements(payments) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(T0)
        desk = _book(Path(tmp), ScriptedFeed(), clock)
        try:
            for venue in ("bybit", "okx", BN):
                assert desk.apply(Deposit(Decimal("100"), account=f"{venue}:USDT", venue=venue,
                                          currency="USDT")).accepted
            ids = {"by": _open(desk, "by", "bybit", "long", "0.01", "60", account="bybit:USDT"),
                   "ok": _open(desk, "ok", "okx", "short", "0.01", "60", account="okx:USDT", symbol="BTC-USDT-SWAP"),
                   "bn": _open(desk, "bn", BN, "long", "0.01", "60", account=f"{BN}:USDT")}
            store = desk.store
            start = {k: store.balance(position_ref(p)) for k, p in ids.items()}
            moved = dict.fromkeys(ids, Decimal(0))
            for k, (who, rate_bp, price) in enumerate(payments):
                record = store.position(ids[who])
                with store.transaction():
                    done = settle_one(store, record, T8 + k * 8 * HOUR_S, rate_bp / 10_000, float(price), now=T0)
                if done is not None:
                    moved[who] += done.to_margin
                    assert done.to_margin + done.to_free == done.amount or done.amount < 0
                assert _ledger_sum(store) == 0
            for who, pid in ids.items():
                assert store.balance(position_ref(pid)) == start[who] + moved[who]
                assert store.balance(position_ref(pid)) >= 0
                assert store.free_balance(store.position(pid).account_id) >= 0
            # what funding moved is exactly what left (entered) the outside world beyond the deposits
            total = sum(funding_since_open(store).values(), Decimal(0))
            assert total == -store.balance(EXTERNAL) - Decimal(300)
        finally:
            desk.close()
            desk.store.close()


def test_the_funding_line() -> None:
    from isodesk.desk.funding import fmt_until, funding_text

    cols = {"funding_since_open": np.array([-12.4, 0.0, 0.0]), "next_funding_amount": np.array([-1.2, np.nan, 3.0]),
            "next_funding_ts": np.array([T0 + 3 * 3600 + 12 * 60 + 5, np.nan, T0 + 30]),
            "liq_drift_pct_day": np.array([0.4, np.nan, -0.123])}
    assert funding_text(cols, 0, "USDT", T0) == \
        "funding −12.40 since open · next −1.20 in 3 h 12 m · liq moves +0.40 %/day towards mark"
    assert funding_text(cols, 0, "USDT", T0, short=True) == "funding −12.40 · liq +0.40 %/day"
    assert funding_text(cols, 1, "USDT", T0) == ""
    assert funding_text(cols, 2, "BTC", T0) == "next +3.00000000 in 30 s · liq moves −0.12 %/day away from mark"
    assert funding_text({}, 0, "USDT", T0) == ""
    assert (fmt_until(0), fmt_until(59.9), fmt_until(61), fmt_until(math.nan)) == ("now", "59 s", "1 m", "—")


def test_status_json_and_the_table_show_the_funding_figures(tmp_path) -> None:
    from isodesk.cli.status import positions_json

    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
        pid = _open(desk, "p", BN, "long", "0.5", "3000", account="binance-usdm:USDT")
        feed.rates[(BN, "BTCUSDT")] = (0.0001, T8, 8 * HOUR_S)
        desk.step()
        clock.now = T8 + 1
        feed.rates[(BN, "BTCUSDT")] = (0.0002, T8 + 8 * HOUR_S, 8 * HOUR_S)
        desk.step()  # settles T8 at 0.01 %, takes the next quote
        snap = desk.step()
        (item,) = positions_json(snap)
        assert item["id"] == pid
        assert item["funding_since_open"] == pytest.approx(-3.0)
        assert item["next_funding_amount"] == pytest.approx(-6.0)  # 0.5 × 60,000 × 0.02 %
        assert item["next_funding_ts"] == T8 + 8 * HOUR_S
        assert item["liq_drift_pct_day"] == pytest.approx(float(snap.cols["liq_drift_pct_day"][0]))
        assert item["liq_drift_pct_day"] > 0
        # a desk without a feed (isodesk status) shows the quote the writing desk stored
        observer = Desk(desk.store, None, catalog=shipped_catalog(), clock=clock, observe_only=True)
        (seen,) = positions_json(observer.step())
        assert seen["next_funding_amount"] == pytest.approx(-6.0)
        assert seen["next_funding_ts"] == T8 + 8 * HOUR_S
        assert seen["funding_since_open"] == pytest.approx(-3.0)
        assert desk.store.db.conn.execute("SELECT count(*) FROM funding").fetchall()[0][0] == 1
        pytest.importorskip("PySide6")
        from isodesk.ui.columns import figure

        assert figure("funding_since_open", snap, 0) == "−3.00"
        assert figure("next_funding_amount", snap, 0) == "−6.00"
        assert figure("liq_drift_pct_day", snap, 0).endswith(" %/day")
    finally:
        desk.close()


def test_a_replay_file_with_funding_rates_settles_them_and_the_next_tick_liquidates(tmp_path) -> None:
    import json

    db = tmp_path / "book.db"
    desk = Desk(Store.open(db), None, catalog=shipped_catalog(), clock=lambda: T0 - 10_000)
    assert desk.apply(Deposit(Decimal("10000"), account="binance-usdm:USDT")).accepted
    _open(desk, "thin", BN, "long", "1", "1000", account="binance-usdm:USDT", leverage="60")
    _open(desk, "other", BN, "long", "0.1", "2000", account="binance-usdm:USDT")
    desk.close()
    desk.store.close()
    path = tmp_path / "path.csv"
    # 22:00 the rate is 1.5 % (quoted for 00:00 UTC); 00:00 the payment: 1 × 60,000 × 1.5 % = 900 of the
    # thin position's 1,000 (MM ≈ 240); the tick at 00:00:05 liquidates it; the other pays 90 and stays.
    path.write_text("ts,venue,symbol,price,funding_rate\n"
                    "2023-11-14T22:00:00Z,binance-usdm,BTCUSDT,60000,0.015\n"
                    "2023-11-14T23:00:00Z,binance-usdm,BTCUSDT,60000,\n"
                    "2023-11-15T00:00:00Z,binance-usdm,BTCUSDT,60000,\n"
                    "2023-11-15T00:00:05Z,binance-usdm,BTCUSDT,60000,\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "isodesk", "replay", str(path), "--db", str(db), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    positions = {p["label"]: p for p in lines[-1]["summary"]["positions"]}
    assert positions["thin"]["status"] == "liquidated"
    assert positions["other"]["status"] == "open"
    assert Decimal(positions["other"]["isolated_margin"]) == Decimal("2000") - Decimal("90")
    assert [e["label"] for e in lines[:-1] if e.get("event") == "liquidation"] == ["thin"]


def test_payments_due_are_each_open_row_of_a_due_series_in_row_order(tmp_path) -> None:
    """The payments a step settles: for every open row whose quote (its venue's own, else the market's
    shared one re-timed on the venue's grid) is due, each funding time up to the clock after it
    opened, at the row's mark — the rule applied row by row over the whole book, in row order."""
    from isodesk.desk.funding import quote_of  # the rule's own quote lookup

    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)
    try:
        feed.push("BTCUSDT", 60_000.0, clock.now)
        feed.push("ETHUSDT", 3_000.0, clock.now)
        desk.step()
        for venue in ("bybit", "okx", BN):
            assert desk.apply(Deposit(Decimal("5000"), account=f"{venue}:USDT", venue=venue, currency="USDT")).accepted
        _open(desk, "bn-btc", BN, "long", "0.01", "100", account=f"{BN}:USDT")
        _open(desk, "by-btc", "bybit", "short", "0.01", "100", account="bybit:USDT")
        _open(desk, "ok-btc", "okx", "long", "0.01", "100", account="okx:USDT", symbol="BTC-USDT-SWAP")
        _open(desk, "bn-eth", BN, "short", "0.1", "50", account=f"{BN}:USDT", symbol="ETHUSDT", price="3000")
        _open(desk, "by-eth", "bybit", "long", "0.1", "50", account="bybit:USDT", symbol="ETHUSDT", price="3000")
        feed.rates[(BN, "BTCUSDT")] = (0.0001, T8, 8 * HOUR_S)       # own quote, due at T8
        feed.rates[("", "BTCUSDT")] = (0.0003, T8, 8 * HOUR_S)       # shared: serves bybit and okx BTC
        feed.rates[(BN, "ETHUSDT")] = (-0.0002, T8 + 3600, 8 * HOUR_S)  # not due by T8 + 60
        desk.step()  # takes the quotes
        book, at = desk.book, T8 + 60
        marks = desk._marks()[0]
        expected = []
        for row in range(len(book)):
            record = book.records[row]
            quote = quote_of(desk.funding.quotes, record.venue, book.series[book.series_index[row]][1])
            if not book.open_rows[row] or quote is None:
                continue
            ts = quote.next_ts
            while ts <= at:
                if record.opened_at < ts:
                    expected.append((record.id, ts, quote.rate, float(marks[row])))
                ts += quote.interval_s
        due = [(record.id, ts, rate, price) for record, ts, rate, price in desk.funding._due(desk, at)]
        assert due == expected
        ids = {desk.store.position_by_label(label).id for label in ("bn-btc", "by-btc", "ok-btc")}
        assert {pid for pid, *_ in due} == ids  # the ETH quote is not due; bybit ETH has none
        assert desk.funding._due(desk, T8 - 1) == []
    finally:
        desk.close()


def test_the_drift_follows_a_moving_mark_at_most_once_a_second(tmp_path, monkeypatch) -> None:
    """A mark moving past the tolerance re-solves the drift once DRIFT_EVERY_S of desk clock passed
    since the last solve (until then the last solve's figure is shown); a rate change re-solves at once."""
    from isodesk.desk import funding as desk_funding

    solves: list[np.ndarray] = []  # the marks each solve was given

    def counted(batch, mark, *args, **kwargs):
        solves.append(np.array(mark, copy=True))
        return liq_drift_pct_day(batch, mark, *args, **kwargs)

    monkeypatch.setattr(desk_funding, "liq_drift_pct_day", counted)
    clock, feed = ManualClock(T0), FundedFeed()
    desk = _book(tmp_path, feed, clock)

    try:
        pid, first = _funded_long(desk, feed, clock)
        row = first.book.row_of(pid)
        assert first.cols["liq_drift_pct_day"][row] == pytest.approx(_pure_drift(desk, first, 0.0003)[row])
        assert solves[-1][row] == 60_000.0
        count = len(solves)
        clock.now += desk_funding.DRIFT_EVERY_S / 2
        feed.push("BTCUSDT", 57_000.0, clock.now)  # 5 %: far past the tolerance, but within the second
        snap = desk.step()
        assert len(solves) == count  # not solved again: the figure of the 60,000 mark is shown
        assert float(snap.cols["liq_drift_pct_day"][row]) == float(first.cols["liq_drift_pct_day"][row])
        clock.now += desk_funding.DRIFT_EVERY_S
        feed.push("BTCUSDT", 57_000.0, clock.now)
        snap = desk.step()
        assert len(solves) == count + 1 and solves[-1][row] == 57_000.0
        assert snap.cols["liq_drift_pct_day"][row] == pytest.approx(_pure_drift(desk, snap, 0.0003)[row])
        feed.rates[(BN, "BTCUSDT")] = (0.0006, T8, 8 * HOUR_S)  # a new rate: solved at once
        clock.now += 0.1
        snap = desk.step()
        assert len(solves) == count + 2
        assert snap.cols["liq_drift_pct_day"][row] == pytest.approx(_pure_drift(desk, snap, 0.0006)[row])
    finally:
        desk.close()
