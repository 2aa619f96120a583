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
