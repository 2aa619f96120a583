"""A What-if path replay runs off the desk's thread: the desk answers "started" at once, keeps
watching the live book (takes ticks, liquidates) while the replay runs, then answers with the same
outcome the replay gives when run directly; the book never receives anything of the replay."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from isodesk.desk import Deposit, OpenPosition
from isodesk.desk.commands import Reply
from isodesk.desk.events import EventKind
from isodesk.desk.replay.outcome import path_outcome
from isodesk.desk.scenario_jobs import ReplayPath
from tests.desk.fakes import job_answer

T0 = 1_700_000_000


@pytest.fixture
def live(make_desk, feed, clock, tmp_path):
    """A desk with two BTCUSDT longs at 60,000 (10×, 20×) and a path file that crashes BTC to 52,000."""
    desk = make_desk()
    feed.push("BTCUSDT", 60_000.0, clock.now)
    desk.step()
    assert desk.apply(Deposit(Decimal("100000"), account="binance-usdm:USDT")).accepted
    for label, lev, margin in (("ten", "10", "6000"), ("twenty", "20", "3000")):
        result = desk.apply(OpenPosition(label=label, venue="binance-usdm", symbol="BTCUSDT", side="long",
                                         quantity=Decimal(1), entry_price=Decimal(60_000), leverage=Decimal(lev),
                                         margin=Decimal(margin)))
        assert result.accepted, result.reason
    path = tmp_path / "crash.csv"
    prices = [60_000 - 100 * i for i in range(81)]  # to 52,000, one a second
    path.write_text("ts,symbol,price\n" + "".join(f"{T0 + i},BTCUSDT,{p}\n" for i, p in enumerate(prices)))
    return desk, path


def test_the_desk_answers_started_and_watches_the_book_until_the_outcome_comes(live, feed, clock, store,
                                                                               monkeypatch):
    desk, path = live
    direct = path_outcome(store, [str(path)])
    assert {p.label for p in direct.liquidated} == {"ten", "twenty"}
    gate = threading.Event()
    from isodesk.desk import path_jobs

    real = path_jobs._replay

    def gated(*args):
        assert gate.wait(30), "the test never opened the gate"
        return real(*args)

    monkeypatch.setattr(path_jobs, "_replay", gated)
    ledger_before = [e.id for e in store.ledger()]
    command = ReplayPath((str(path),))
    started = desk.apply(command)
    assert started.accepted and started.reply is Reply.STARTED and started.kind == "ReplayPath"
    assert started.reason == "replaying crash.csv on a copy of the book…"
    again = desk.apply(ReplayPath((str(path),)))
    assert not again.accepted and again.reason == ("a path replay is already running; ask again when it has "
                                                   "answered")
    # the replay waits at the gate: the live desk still takes ticks and liquidates on them
    clock.advance(1)
    feed.push("BTCUSDT", 57_000.0, clock.now)
    snap = desk.step()
    assert snap.cols["mark"][snap.book.row_of(desk.store.position_by_label("twenty").id)] == 57_000.0
    gone = [e for e in desk.drain_events() if e.kind is EventKind.LIQUIDATION]
    assert [e.label for e in gone] == ["twenty"]  # 20× long: liquidation ≈ 57,300
    assert desk.drain_results() == []
    gate.set()
    answer = None
    for _ in range(2000):
        desk.step()
        finished = desk.drain_results()
        if finished:
            (answer,) = finished
            break
        threading.Event().wait(0.005)
    assert answer is not None and answer.request_id == command.request_id
    assert answer.accepted and answer.reply is Reply.ACCEPTED and answer.kind == "ReplayPath"
    outcome = answer.payload
    # the copy was taken when asked, before "twenty" was liquidated: both open on it, both go on the path
    assert [(p.label, p.liquidated_ts) for p in outcome.positions] == [(p.label, p.liquidated_ts)
                                                                        for p in direct.positions]
    assert answer.reason == "crash.csv: 81 ticks, 2 of 2 liquidated"
    # the book got the live liquidation's entries, nothing from the replay
    new = [e for e in store.ledger() if e.id not in ledger_before]
    assert {e.kind for e in new} == {"liquidation"}


def test_refusals_come_at_once_and_a_bad_file_is_a_final_refusal(live, tmp_path):
    desk, _ = live
    bad = desk.apply(ReplayPath(("x.csv",), top_up="below=3%,to=2%,cap=1,reserve=1"))
    assert not bad.accepted and bad.reply is Reply.REJECTED and "must be above the trigger" in bad.reason
    slow = desk.apply(ReplayPath(("x.csv",), stale_after_s=0))
    assert not slow.accepted and slow.reason == "stale_after_s: 0 must be a positive number of seconds"
    missing = job_answer(desk, ReplayPath((str(tmp_path / "nowhere.csv"),)))
    assert not missing.accepted and missing.reply is Reply.REJECTED and "nowhere.csv" in missing.reason


def test_closing_the_desk_with_a_replay_running_leaves_no_copy_behind(live, monkeypatch, tmp_path):
    desk, path = live
    gate = threading.Event()
    from isodesk.desk import path_jobs

    real = path_jobs._replay
    folders = []

    def gated(copy, *args):
        folders.append(copy.parent)
        assert gate.wait(30)
        return real(copy, *args)

    monkeypatch.setattr(path_jobs, "_replay", gated)
    assert desk.apply(ReplayPath((str(path),))).reply is Reply.STARTED
    for _ in range(2000):  # the worker thread reaches the gate
        if folders:
            break
        threading.Event().wait(0.005)
    assert folders and folders[0].is_dir() and (folders[0] / "book.db").is_file()
    desk.close()
    gate.set()
    for _ in range(2000):
        if not folders[0].exists():
            break
        threading.Event().wait(0.005)
    assert not folders[0].exists()
