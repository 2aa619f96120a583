"""The fast replay's search over many small windows gives the tick-by-tick desk's events and book.

The search reads a path's ticks in windows that start small and double (``_FIRST_WINDOW`` up to
``_MAX_WINDOW`` ticks, :meth:`FastReplay._search`); the random paths of ``test_fast_replay`` hold at most
a few hundred ticks, one window at the sizes the replay uses. Here the windows are a few ticks, so
every path crosses many window edges (each ending on an instant's end, the skipped windows' last
prices and clock carried to the next), and the result must still be the step desk's, exactly.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isodesk.desk.replay import engine
from tests.desk.test_fast_replay import LEVELS, books, compare, paths


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(positions=books(), rows=paths(), stale_after=st.sampled_from([30.0, 60.0, 3600.0]),
       first=st.sampled_from([1, 2, 5]), most=st.sampled_from([4, 16, 64]), venue_column=st.booleans(),
       levels=LEVELS)
def test_small_search_windows_give_the_tick_by_tick_desks_events_and_book(tmp_path, positions, rows, stale_after,
                                                                          first, most, venue_column, levels):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_FIRST_WINDOW", first)
        patch.setattr(engine, "_MAX_WINDOW", max(first, most))
        compare(tmp_path, positions, rows, stale_after=stale_after, venue_column=venue_column, levels=levels)
