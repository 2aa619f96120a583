"""ReplayFeed: timestamps in both forms, strict parsing, grouping by instant, speed, finished."""

import math
from datetime import UTC, datetime

import pytest

from isodesk.feeds import Feed, FeedError, ReplayFeed, Tick
from isodesk.feeds.replay import parse_ts

T0 = 1_717_200_000  # 2024-06-01T00:00:00Z


def write(tmp_path, text, name="path.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def drain(feed, nows):
    return [feed.poll(now) for now in nows]


def test_parse_ts_forms():
    assert parse_ts("1717200000") == 1717200000.0
    assert parse_ts("1717200000.25") == 1717200000.25
    assert parse_ts("2024-06-01T00:00:00Z") == T0
    assert parse_ts("2024-06-01T00:00:00") == T0  # naive = UTC
    assert parse_ts("2024-06-01 02:00:00+02:00") == T0
    assert parse_ts("2024-06-01T00:00:01.500+00:00") == T0 + 1.5
    with pytest.raises(ValueError, match="neither Unix seconds nor an ISO 8601"):
        parse_ts("yesterday")


def test_iso_and_unix_rows_in_one_file(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n"
                           "2024-06-01T00:00:00Z,BTCUSDT,60000\n"
                           f"{T0},ETHUSDT,3000.5\n"
                           "2024-06-01T00:00:05,BTCUSDT,59900.5\n"
                           f"{T0 + 5}.0,ETHUSDT,2990\n"
                           "2024-06-01T02:00:10+02:00,SOLUSDT,150\n")
    feed = ReplayFeed(path)
    assert isinstance(feed, Feed)
    assert feed.name == "replay:path.csv"
    assert feed.clock_from_ticks is True and feed.writes_prices_table is False
    assert feed.ticks == [Tick("BTCUSDT", T0, 60000.0), Tick("ETHUSDT", T0, 3000.5),
                          Tick("BTCUSDT", T0 + 5, 59900.5), Tick("ETHUSDT", T0 + 5, 2990.0),
                          Tick("SOLUSDT", T0 + 10, 150.0)]
    assert feed.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    assert feed.first_prices() == {"BTCUSDT": 60000.0, "ETHUSDT": 3000.5, "SOLUSDT": 150.0}


def test_rows_are_sorted_by_time_stably(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n"
                           f"{T0 + 10},BTCUSDT,3\n{T0},XRPUSDT,0.6\n{T0},DOGEUSDT,0.15\n{T0 + 10},AAAUSDT,1\n")
    assert [(x.ts - T0, x.symbol) for x in ReplayFeed(path).ticks] == [
        (0, "XRPUSDT"), (0, "DOGEUSDT"), (10, "BTCUSDT"), (10, "AAAUSDT")]


def test_header_in_any_order_extra_columns_blank_and_comment_lines(tmp_path):
    path = write(tmp_path, "\ufeffSymbol, TS ,price,note\n"
                           "BTCUSDT,2024-06-01T00:00:00Z,60000,start\n"
                           "\n"
                           "# a comment\n"
                           "BTCUSDT,2024-06-01T00:01:00Z,59000,\n")
    assert [(x.ts, x.price) for x in ReplayFeed(path).ticks] == [(T0, 60000.0), (T0 + 60, 59000.0)]


@pytest.mark.parametrize(("line", "message"), [
    ("2024-06-01T00:00:05Z,BTCUSDT,abc", "crash.csv line 3, column price: 'abc' is not a number"),
    ("2024-06-01T00:00:05Z,BTCUSDT,-5", "crash.csv line 3, column price: '-5' is not a positive finite price"),
    ("2024-06-01T00:00:05Z,BTCUSDT,nan", "crash.csv line 3, column price: 'nan' is not a positive finite price"),
    ("2024-06-01T00:00:05Z,BTCUSDT,", "crash.csv line 3, column price: '' is not a number"),
    ("2024-13-01T00:00:05Z,BTCUSDT,1", "crash.csv line 3, column ts: '2024-13-01T00:00:05Z' is neither"),
    ("inf,BTCUSDT,1", "crash.csv line 3, column ts: 'inf' is not a finite time"),
    (",BTCUSDT,1", "crash.csv line 3, column ts: is empty"),
    ("2024-06-01T00:00:05Z,,1", "crash.csv line 3, column symbol: '' is not a symbol"),
    ("2024-06-01T00:00:05Z,BTCUSDT", "crash.csv line 3: 2 columns, expected 3"),
    ("2024-06-01T00:00:05Z,BTCUSDT,1,2", "crash.csv line 3: 4 columns, expected 3"),
])
def test_malformed_line_names_file_line_and_column(tmp_path, line, message):
    path = write(tmp_path, f"ts,symbol,price\n2024-06-01T00:00:00Z,BTCUSDT,60000\n{line}\n"
                           "2024-06-01T00:00:09Z,BTCUSDT,60000\n", name="crash.csv")
    with pytest.raises(FeedError) as info:
        ReplayFeed(path)
    assert str(info.value).startswith(message)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n\n\n1,BTCUSDT,1\n\n1,BTCUSDT,abc\n", name="crash.csv")
    with pytest.raises(FeedError, match=r"^crash.csv line 6, column price: 'abc' is not a number$"):
        ReplayFeed(path)


@pytest.mark.parametrize(("text", "message"), [
    ("", "x.csv: empty file"),
    ("ts,symbol\n1,BTCUSDT\n", "x.csv line 1: header 'ts,symbol' lacks price"),
    ("ts,symbol,price\n", "x.csv: no rows after the header"),
])
def test_bad_files_are_refused(tmp_path, text, message):
    with pytest.raises(FeedError, match="^" + message):
        ReplayFeed(write(tmp_path, text, name="x.csv"))


def test_missing_file_is_a_feed_error(tmp_path):
    with pytest.raises(FeedError, match=r"nope\.csv: cannot open"):
        ReplayFeed(tmp_path / "nope.csv")


def test_without_speed_each_poll_is_one_instant(tmp_path):
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60000), (T0, "ETHUSDT", 3000), (T0 + 30, "BTCUSDT", 59000),
                                 (T0 + 30.5, "ETHUSDT", 2950), (T0 + 30.5, "BTCUSDT", 58000)], name="p")
    assert feed.name == "replay:p"
    polls = drain(feed, [0.0, 0.0, 0.0, 0.0, 0.0])
    assert [[(x.symbol, x.ts - T0) for x in poll] for poll in polls] == [
        [("BTCUSDT", 0), ("ETHUSDT", 0)], [("BTCUSDT", 30)], [("ETHUSDT", 30.5), ("BTCUSDT", 30.5)], [], []]
    assert feed.finished
    health = feed.health(T0 + 31)
    assert health.finished and health.accepted == 5 and health.last_tick_ts == T0 + 30.5
    assert health.last_tick_age_s == pytest.approx(0.5)
    assert health.source == "replay:p"


def test_not_finished_until_the_last_instant_is_played():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 1.0), (T0 + 1, "BTCUSDT", 1.0)])
    feed.poll(0.0)
    assert not feed.health(0.0).finished
    feed.poll(0.0)
    assert feed.health(0.0).finished


def test_speed_plays_path_time_against_wall_time():
    rows = [(T0 + s, "BTCUSDT", 60000.0 - s) for s in range(0, 100, 10)]  # every 10 s for 90 s
    feed = ReplayFeed.from_rows(rows, speed=10.0)
    wall = 5_000.0
    assert [x.ts - T0 for x in feed.poll(wall)] == [0]  # the first instant at the first poll
    assert [x.ts - T0 for x in feed.poll(wall + 0.5)] == []  # path time +5 s
    assert [x.ts - T0 for x in feed.poll(wall + 1.0)] == [10]  # +10 s
    assert [x.ts - T0 for x in feed.poll(wall + 3.5)] == [20, 30]  # +35 s
    feed.set_speed(20.0)
    assert [x.ts - T0 for x in feed.poll(wall + 4.5)] == [40, 50]  # +35 + 20 = 55 s
    assert not feed.finished
    assert [x.ts - T0 for x in feed.poll(wall + 100.0)] == [60, 70, 80, 90]
    assert feed.finished and feed.health(T0 + 90).finished
    assert feed.poll(wall + 200.0) == []


def test_pause_stops_path_time():
    feed = ReplayFeed.from_rows([(T0 + s, "BTCUSDT", 100.0) for s in range(10)], speed=1.0)
    feed.poll(0.0)
    feed.pause()
    assert feed.poll(1.0) == []
    feed.resume()
    assert feed.poll(50.0) == []  # the pause's wall time does not count
    assert [x.ts - T0 for x in feed.poll(52.0)] == [1, 2]


def test_switching_from_instant_mode_to_a_speed_continues_where_it_stood():
    feed = ReplayFeed.from_rows([(T0 + s, "BTCUSDT", 100.0) for s in range(0, 60, 10)])
    feed.poll(0.0)
    feed.poll(0.0)  # at T0 + 10
    feed.set_speed(10.0)  # wall time since the last poll (at 0.0) plays at 10×
    assert feed.poll(0.5) == []  # T0 + 15
    assert [x.ts - T0 for x in feed.poll(1.0)] == [20]


def test_bad_speed_is_refused():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 1.0)])
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            feed.set_speed(bad)
    assert feed.set_speed(None) is None


def test_guard_rejections_show_in_health():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60000.0), (T0 + 1, "BTCUSDT", 20000.0), (T0 + 2, "BTCUSDT", 59000.0)])
    got = [x.price for poll in drain(feed, [0, 0, 0]) for x in poll]
    assert got == [60000.0, 59000.0]
    health = feed.health(T0 + 2)
    assert health.rejected == 1 and dict(health.rejected_by_reason) == {"jump": 1}


def test_from_rows_accepts_iso_text_datetimes_and_ticks_and_checks_rows():
    feed = ReplayFeed.from_rows([("2024-06-01T00:00:00Z", "BTCUSDT", "60000"),
                                 (datetime(2024, 6, 1, 0, 0, 1, tzinfo=UTC), "BTCUSDT", 60001),
                                 (datetime(2024, 6, 1, 0, 0, 2), "BTCUSDT", 60002.0),
                                 Tick("BTCUSDT", T0 + 3.0, 60003.0)], name="what-if")
    assert [(x.ts - T0, x.price) for x in feed.ticks] == [(0, 60000), (1, 60001), (2, 60002), (3, 60003)]
    with pytest.raises(FeedError, match=r"^what-if row 2, column price: 'abc' is not a number$"):
        ReplayFeed.from_rows([(T0, "BTCUSDT", 1), (T0, "BTCUSDT", "abc")], name="what-if")
    with pytest.raises(FeedError, match=r"^what-if row 1, column price: -3.0 is not a positive finite price$"):
        ReplayFeed.from_rows([(T0, "BTCUSDT", -3.0)], name="what-if")
    with pytest.raises(FeedError, match=r"^what-if row 1: expected \(ts, symbol, price\)"):
        ReplayFeed.from_rows([(T0, "BTCUSDT")], name="what-if")
    with pytest.raises(FeedError, match="no rows"):
        ReplayFeed.from_rows([], name="what-if")


def test_close_stops_playing():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 1.0), (T0 + 1, "BTCUSDT", 1.0)])
    feed.close()
    assert feed.poll(0.0) == []
    assert feed.health(0.0).connected is False
