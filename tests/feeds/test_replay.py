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


def test_rows_play_in_file_order_and_out_of_order_rows_are_rejected_and_listed(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n"
                           f"{T0},XRPUSDT,0.6\n{T0},DOGEUSDT,0.15\n{T0 + 10},BTCUSDT,60000\n"
                           f"{T0 + 5},ETHUSDT,3000\n{T0 + 10},AAAUSDT,1\n{T0 + 20},XRPUSDT,0.61\n")
    feed = ReplayFeed(path)
    assert [(x.ts - T0, x.symbol) for x in feed.played_ticks] == [
        (0, "XRPUSDT"), (0, "DOGEUSDT"), (10, "BTCUSDT"), (10, "AAAUSDT"), (20, "XRPUSDT")]
    assert [(r.line, r.reason, r.symbol) for r in feed.bad_rows] == [(5, "time_backwards", "ETHUSDT")]
    polls = [[x.symbol for x in feed.poll(0.0)] for _ in range(4)]
    assert polls == [["XRPUSDT", "DOGEUSDT"], ["BTCUSDT", "AAAUSDT"], ["XRPUSDT"], []]
    assert feed.rejected_rows == feed.bad_rows
    assert dict(feed.health(0.0).rejected_by_reason) == {"time_backwards": 1}


def test_header_in_any_order_extra_columns_blank_and_comment_lines(tmp_path):
    path = write(tmp_path, "\ufeffSymbol, TS ,price,note\n"
                           "BTCUSDT,2024-06-01T00:00:00Z,60000,start\n"
                           "\n"
                           "# a comment\n"
                           "BTCUSDT,2024-06-01T00:01:00Z,59000,\n")
    assert [(x.ts, x.price) for x in ReplayFeed(path).ticks] == [(T0, 60000.0), (T0 + 60, 59000.0)]


@pytest.mark.parametrize(("line", "reason", "detail"), [
    ("2024-06-01T00:00:05Z,BTCUSDT,abc", "malformed", "column price: 'abc' is not a number"),
    ("2024-06-01T00:00:05Z,BTCUSDT,-5", "non_positive", "price -5.0 is not above 0"),
    ("2024-06-01T00:00:05Z,BTCUSDT,nan", "not_finite", "price nan is not a finite number"),
    ("2024-06-01T00:00:05Z,BTCUSDT,1e-300", "out_of_bounds", "price 1e-300 is outside 10^-12 to 10^12"),
    ("2024-06-01T00:00:05Z,BTCUSDT,", "malformed", "column price: '' is not a number"),
    ("2024-13-01T00:00:05Z,BTCUSDT,1", "malformed", "column ts: '2024-13-01T00:00:05Z' is neither"),
    ("inf,BTCUSDT,1", "not_finite", "ts inf is not a finite time"),
    (",BTCUSDT,1", "malformed", "column ts: is empty"),
    ("2024-06-01T00:00:05Z,,1", "malformed", "column symbol: '' is not a symbol"),
    ("2024-06-01T00:00:05Z,BTCUSDT", "malformed", "2 columns, expected 3"),
    ("2024-06-01T00:00:05Z,BTCUSDT,1,2", "malformed", "4 columns, expected 3"),
    ("1717200005000,BTCUSDT,60000", "ts_milliseconds", "ts 1717200005000 is after the year 5138 as seconds"),
])
def test_a_bad_line_is_skipped_and_listed_by_line_and_strict_refuses_the_file(tmp_path, line, reason, detail):
    path = write(tmp_path, f"ts,symbol,price\n2024-06-01T00:00:00Z,BTCUSDT,60000\n{line}\n"
                           "2024-06-01T00:00:09Z,BTCUSDT,60000\n", name="crash.csv")
    feed = ReplayFeed(path)
    [bad] = feed.bad_rows
    assert (bad.line, bad.reason) == (3, reason)
    assert bad.detail.startswith(detail)
    got = [x.price for _ in range(3) for x in feed.poll(0.0)]
    assert got == [60000.0, 60000.0]  # the good rows on either side play
    assert feed.finished and feed.rejected_rows == [bad]
    health = feed.health(0.0)
    assert (health.accepted, health.rejected, dict(health.rejected_by_reason)) == (2, 1, {reason: 1})
    with pytest.raises(FeedError) as info:
        ReplayFeed(path, strict=True)
    assert str(info.value).startswith("crash.csv: 1 of 3 rows are bad; the whole path is refused (strict):\n"
                                      f"  line 3: {reason}: ")
    assert detail in str(info.value)


def test_line_numbers_count_blank_lines(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n\n\n1,BTCUSDT,1\n\n1,BTCUSDT,abc\n", name="crash.csv")
    with pytest.raises(FeedError, match=r"^crash.csv: 1 of 2 rows are bad; the whole path is refused \(strict\):\n"
                                        r"  line 6: malformed: BTCUSDT column price: 'abc' is not a number$"):
        ReplayFeed(path, strict=True)
    assert [r.line for r in ReplayFeed(path).bad_rows] == [6]


def test_a_path_with_no_playable_row_is_refused_with_every_line(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n1,BTCUSDT,abc\n2,BTCUSDT,nan\n3000000000000,BTCUSDT,1\n", name="x.csv")
    with pytest.raises(FeedError) as info:
        ReplayFeed(path)
    assert str(info.value) == ("x.csv: none of its 3 rows can be played:\n"
                               "  line 2: malformed: BTCUSDT column price: 'abc' is not a number\n"
                               "  line 3: not_finite: BTCUSDT price nan is not a finite number\n"
                               "  line 4: ts_milliseconds: BTCUSDT ts 3000000000000 is after the year 5138 as "
                               "seconds: milliseconds (it would be 2065-01-24T05:20:00Z); write Unix seconds")


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
    rows = [(T0, "BTCUSDT", 1), (T0, "BTCUSDT", "abc"), (T0, "BTCUSDT", -3.0), (T0, "BTCUSDT")]
    assert [(r.line, r.reason) for r in ReplayFeed.from_rows(rows, name="what-if").bad_rows] == [
        (2, "malformed"), (3, "non_positive"), (4, "malformed")]
    with pytest.raises(FeedError) as info:
        ReplayFeed.from_rows(rows, name="what-if", strict=True)
    assert str(info.value) == ("what-if: 3 of 4 rows are bad; the whole path is refused (strict):\n"
                               "  line 2: malformed: BTCUSDT column price: 'abc' is not a number\n"
                               "  line 3: non_positive: BTCUSDT price -3.0 is not above 0\n"
                               "  line 4: malformed: expected (ts, [venue,] symbol, price), got "
                               "(1717200000, 'BTCUSDT')")
    with pytest.raises(FeedError, match="no rows"):
        ReplayFeed.from_rows([], name="what-if")


def test_close_stops_playing():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 1.0), (T0 + 1, "BTCUSDT", 1.0)])
    feed.close()
    assert feed.poll(0.0) == []
    assert feed.health(0.0).connected is False


def test_a_crash_bar_the_next_price_confirms_is_played_a_lone_spike_is_not(tmp_path):
    path = write(tmp_path, "ts,symbol,price\n"
                           f"{T0},BTCUSDT,60000\n{T0},ETHUSDT,3000\n"
                           f"{T0 + 60},BTCUSDT,20400\n{T0 + 60},ETHUSDT,300\n"  # BTC -66 % (real), ETH -90 % (spike)
                           f"{T0 + 120},BTCUSDT,20100\n{T0 + 120},ETHUSDT,2990\n")
    feed = ReplayFeed(path)
    polls = [[(x.symbol, x.ts - T0, x.price) for x in feed.poll(0.0)] for _ in range(3)]
    assert polls == [[("BTCUSDT", 0, 60000.0), ("ETHUSDT", 0, 3000.0)],
                     [],  # both big moves held until the next price of their market
                     [("BTCUSDT", 60, 20400.0), ("BTCUSDT", 120, 20100.0), ("ETHUSDT", 120, 2990.0)]]
    assert [(r.line, r.reason, r.symbol, r.price) for r in feed.rejected_rows] == [(5, "jump", "ETHUSDT", 300.0)]
    assert feed.rejected_rows[0].detail == "a -90.0% move from 3000 that the next price 2990 did not confirm"
    health = feed.health(T0 + 120)
    assert (health.accepted, health.rejected, health.finished) == (5, 1, True)


def test_a_big_move_on_the_last_row_is_rejected_as_unconfirmed_when_the_file_ends():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60000.0), (T0 + 1, "BTCUSDT", 60100.0), (T0 + 2, "BTCUSDT", 6000.0)])
    assert [(r.line, r.reason) for r in feed.bad_rows] == [(3, "unconfirmed")]
    got = [x.price for _ in range(3) for x in feed.poll(0.0)]
    assert got == [60000.0, 60100.0]
    assert feed.finished
    assert [(r.line, r.reason) for r in feed.rejected_rows] == [(3, "unconfirmed")]
    assert dict(feed.health(0.0).rejected_by_reason) == {"unconfirmed": 1}


def test_a_millisecond_row_does_not_block_the_rows_after_it():
    rows = [(T0, "BTCUSDT", 60000.0), ((T0 + 10) * 1000, "BTCUSDT", 59000.0)]
    rows += [(T0 + 10 * k, "BTCUSDT", 60000.0 - 500 * k) for k in range(2, 12)]
    feed = ReplayFeed.from_rows(rows)
    got = [x for _ in range(20) for x in feed.poll(0.0)]
    assert [x.price for x in got] == [60000.0] + [60000.0 - 500 * k for k in range(2, 12)]
    assert [(r.line, r.reason) for r in feed.rejected_rows] == [(2, "ts_milliseconds")]


def test_bad_rows_are_met_on_the_way_with_a_speed():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60000.0), (T0 + 1, "BTCUSDT", "nan"), (T0 + 5, "BTCUSDT", 0),
                                 (T0 + 10, "BTCUSDT", 60010.0)], speed=1.0)
    assert [x.price for x in feed.poll(100.0)] == [60000.0]
    assert [x.price for x in feed.poll(105.0)] == []
    assert [(r.line, r.reason) for r in feed.rejected_rows] == [(2, "not_finite"), (3, "non_positive")]
    assert [x.price for x in feed.poll(110.0)] == [60010.0]
    assert feed.finished


def test_rewind_plays_again_with_fresh_counts_and_an_empty_list():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", 60000.0), (T0 + 1, "BTCUSDT", -1.0), (T0 + 2, "BTCUSDT", 60010.0)])
    while not feed.finished:
        feed.poll(0.0)
    assert len(feed.rejected_rows) == 1
    feed.rewind()
    assert feed.rejected_rows == [] and feed.health(0.0).rejected == 0
    assert [x.price for _ in range(3) for x in feed.poll(0.0)] == [60000.0, 60010.0]
    assert [r.line for r in feed.rejected_rows] == [2]


def test_facts_about_the_path_leave_bad_rows_out():
    feed = ReplayFeed.from_rows([(T0, "BTCUSDT", "nan"), (T0, "BTCUSDT", 60000.0), (T0 + 5, "SOLUSDT", 150.0),
                                 (T0 + 9, "BTCUSDT", "abc")])
    assert feed.first_prices() == {"BTCUSDT": 60000.0, "SOLUSDT": 150.0}
    assert (feed.first_ts, feed.last_ts) == (T0, T0 + 5)
    assert feed.symbols == ["BTCUSDT", "SOLUSDT"]


# -- the venue column -----------------------------------------------------------------------------------

def test_a_venue_column_gives_each_row_its_series_and_the_header_decides(tmp_path):
    path = write(tmp_path, "symbol,price,venue,ts\n"
                           f"BTCUSDT,60000,Hyperliquid,{T0}\n"
                           f"BTCUSDT,60010,,{T0}\n"                 # an empty venue: a reference price
                           f"BTCUSDT,60020, binance-usdm ,{T0}\n"
                           f"BTCUSDT,60030,hyperliquid,{T0 + 1}\n")
    feed = ReplayFeed(path)
    assert [(x.venue, x.symbol, x.ts, x.price) for x in feed.played_ticks] == [
        ("hyperliquid", "BTCUSDT", T0, 60000.0), (None, "BTCUSDT", T0, 60010.0),
        ("binance-usdm", "BTCUSDT", T0, 60020.0), ("hyperliquid", "BTCUSDT", T0 + 1, 60030.0)]
    assert feed.series == [("hyperliquid", "BTCUSDT"), ("", "BTCUSDT"), ("binance-usdm", "BTCUSDT")]
    assert feed.symbols == ["BTCUSDT"]
    plain = ReplayFeed(write(tmp_path, f"ts,symbol,price\n{T0},BTCUSDT,60000\n", name="plain.csv"))
    assert plain.played_ticks == [Tick("BTCUSDT", T0, 60000.0)] and plain.series == [("", "BTCUSDT")]


def test_an_unknown_venue_is_a_malformed_row_listed_with_the_venues_isodesk_knows(tmp_path):
    feed = ReplayFeed(write(tmp_path, f"ts,venue,symbol,price\n{T0},binanse,BTCUSDT,60000\n"
                                      f"{T0},bybit,BTCUSDT,60000\n"))
    [bad] = feed.bad_rows
    assert (bad.line, bad.reason, bad.venue, bad.symbol) == (2, "malformed", "binanse", "BTCUSDT")
    assert str(bad).startswith("line 2: malformed: binanse BTCUSDT column venue: venue 'binanse' is not one of "
                               "binance-usdm, binance-coinm, bybit")
    with pytest.raises(FeedError, match="line 2: malformed: binanse BTCUSDT column venue"):
        ReplayFeed(write(tmp_path, f"ts,venue,symbol,price\n{T0},binanse,BTCUSDT,60000\n", name="b.csv"), strict=True)


def test_the_jump_rule_of_a_replay_is_per_venue(tmp_path):
    path = write(tmp_path, "ts,venue,symbol,price\n"
                           f"{T0},bybit,BTCUSDT,60000\n{T0},okx,BTCUSDT,60000\n"
                           f"{T0 + 60},bybit,BTCUSDT,20000\n"     # a lone Bybit wick
                           f"{T0 + 60},okx,BTCUSDT,59900\n"
                           f"{T0 + 120},bybit,BTCUSDT,59800\n{T0 + 120},okx,BTCUSDT,59800\n")
    feed = ReplayFeed(path)
    assert [(r.line, r.reason, r.venue) for r in feed.bad_rows] == [(4, "jump", "bybit")]
    assert [x.price for x in feed.played_ticks if x.venue == "okx"] == [60000.0, 59900.0, 59800.0]


def test_from_rows_takes_a_venue_as_the_second_of_four():
    feed = ReplayFeed.from_rows([(T0, "hyperliquid", "BTCUSDT", 60000.0), (T0, None, "BTCUSDT", 60010.0),
                                 (T0 + 1, "BTCUSDT", 60020.0), Tick("BTCUSDT", T0 + 2, 60030.0, "okx")])
    assert [(x.venue, x.price) for x in feed.played_ticks] == [("hyperliquid", 60000.0), (None, 60010.0),
                                                                (None, 60020.0), ("okx", 60030.0)]


def test_read_path_csv_reads_the_venue_strictly(tmp_path):
    from isodesk.feeds.replay import read_path_csv

    ticks = read_path_csv(write(tmp_path, f"ts,venue,symbol,price\n{T0},OKX,BTCUSDT,60000\n"))
    assert ticks == [Tick("BTCUSDT", T0, 60000.0, "okx")]
    with pytest.raises(FeedError, match=r"path\.csv line 2, column venue: venue 'kraken' is not one of"):
        read_path_csv(write(tmp_path, f"ts,venue,symbol,price\n{T0},kraken,BTCUSDT,60000\n"))
