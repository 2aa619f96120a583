"""Import from a venue as a desk job: the read runs off the desk thread, the desk writes it."""

from __future__ import annotations

import time

from isodesk.desk import Desk
from isodesk.desk.venue_jobs import ImportFromVenue


def _wait_for_final(desk, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        desk.step()
        results = desk.drain_results()
        if results:
            return results
        time.sleep(0.02)
    raise AssertionError("the venue read never finished")


def test_import_job_writes_through_the_desk(binance, binance_keys, store, catalog):
    desk = Desk(store, None, catalog=catalog)
    command = ImportFromVenue("binance-usdm", base_url=binance.url)
    started = desk.apply(command)
    assert started.accepted and started.reason == "reading binance-usdm…"
    assert store.positions() == []  # nothing written yet: the read is in flight
    (final,) = _wait_for_final(desk)
    assert final.request_id == command.request_id and final.accepted, final.reason
    assert final.reason.startswith("binance-usdm: ") and "new" in final.reason
    created = {s.label for s in final.payload.created}
    assert created and created == {p.label for p in store.positions()}
    assert set(desk.snapshot.book.labels) == created  # the desk reloaded its book
    rows = [desk.snapshot.book.row_of(p.id) for p in store.positions()]
    assert all(desk.snapshot.cols["venue_liquidation_price"][r] > 0 for r in rows)
    desk.close()


def test_import_job_without_keys_is_refused_at_once(binance, memory_keyring, store, catalog):
    desk = Desk(store, None, catalog=catalog)
    result = desk.apply(ImportFromVenue("binance-usdm", base_url=binance.url))
    assert not result.accepted and "isodesk keys set binance-usdm" in result.reason
    assert desk.drain_results() == []
    desk.close()


def test_unreachable_venue_answers_with_a_clear_rejection(binance, binance_keys, store, catalog):
    desk = Desk(store, None, catalog=catalog)
    url = binance.url
    binance.stop()
    desk.apply(ImportFromVenue("binance-usdm", base_url=url))
    (final,) = _wait_for_final(desk)
    assert not final.accepted and "binance-usdm" in final.reason
    assert store.positions() == []
    desk.close()


def _queue(store, command):
    """Queue ``command`` in the book as the CLI does when the app holds the book."""
    from isodesk.desk import registry
    from isodesk.store import command_log

    kind, body = registry.encode(command)
    now = time.time()
    command_log.submit(store, request_id=command.request_id, kind=kind, body=body, origin="cli test", ts=now,
                       expires_at=now + 60)


def test_a_queued_venue_import_commits_with_its_answer(binance, binance_keys, store, catalog):
    from isodesk.store import command_log

    desk = Desk(store, None, catalog=catalog)
    command = ImportFromVenue("binance-usdm", base_url=binance.url)
    _queue(store, command)
    (final,) = _wait_for_final(desk)
    assert final.accepted, final.reason
    row = command_log.find(store, command.request_id)
    assert row is not None and row.state == "done" and row.accepted
    assert {p.label for p in store.positions()} == {s.label for s in final.payload.created}
    desk.close()


def test_a_queued_venue_import_whose_answer_cannot_be_recorded_writes_nothing(binance, binance_keys, store, catalog):
    """Its answer and its positions are one transaction: if the answer cannot be recorded (here the
    row was answered meanwhile), no position is written either; the command ran at most once."""
    from isodesk.store import command_log

    desk = Desk(store, None, catalog=catalog)
    command = ImportFromVenue("binance-usdm", base_url=binance.url)
    _queue(store, command)
    desk.step()  # takes the command: the venue read starts, the row is 'running'
    assert command_log.find(store, command.request_id).state == "running"
    with store.transaction():
        store.db.conn.execute("UPDATE commands SET state = 'done', accepted = 0 WHERE request_id = ?",
                              [command.request_id])
    (final,) = _wait_for_final(desk)
    assert not final.accepted and final.reason.startswith("nothing imported: ")
    assert store.positions() == []
    assert sum(store.balances().values()) == 0
    desk.close()
