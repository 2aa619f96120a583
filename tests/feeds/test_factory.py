"""make_feed: the specs of the command line."""

import pytest

from isodesk.feeds import FeedError, ReplayFeed, SimulatedFeed, SqlitePricesFeed, make_feed
from isodesk.feeds.factory import split_speed

SYMBOLS = {"BTCUSDT": 60000.0, "ETHUSDT": 3000.0}


def test_simulated_uses_the_symbols_and_the_seed():
    feed = make_feed("simulated", symbols=SYMBOLS, seed=3)
    assert isinstance(feed, SimulatedFeed)
    assert feed.symbols == ["BTCUSDT", "ETHUSDT"] and feed.seed == 3
    twin = make_feed("simulated", symbols=SYMBOLS, seed=3)
    assert [twin.poll(t) for t in (0.0, 1.0)] == [feed.poll(0.0), feed.poll(1.0)]


def test_replay_with_and_without_speed(tmp_path):
    path = tmp_path / "p@home.csv"
    path.write_text("ts,symbol,price\n1,BTCUSDT,60000\n2,BTCUSDT,59000\n")
    feed = make_feed(f"replay:{path}", symbols={})
    assert isinstance(feed, ReplayFeed) and feed.speed is None and feed.name == "replay:p@home.csv"
    assert make_feed(f"replay:{path}@10", symbols={}).speed == 10.0
    assert make_feed(f"replay:{path}@2.5x", symbols={}).speed == 2.5


def test_replay_finds_the_shipped_paths_by_name():
    feed = make_feed("replay:crash-30pct-rebound.csv@60", symbols={})
    assert isinstance(feed, ReplayFeed) and feed.speed == 60.0
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT"} <= set(feed.symbols)
    assert make_feed("replay:slow-bleed", symbols={}).name == "replay:slow-bleed.csv"


def test_replay_errors():
    with pytest.raises(FeedError, match="replay needs a file"):
        make_feed("replay:", symbols={})
    with pytest.raises(FeedError, match=r"no-such-file\.csv: cannot open"):
        make_feed("replay:no-such-file.csv", symbols={})
    with pytest.raises(FeedError, match="positive"):
        make_feed("replay:x.csv@0", symbols={})


def test_split_speed():
    assert split_speed("a.csv") == ("a.csv", None)
    assert split_speed("a.csv@4") == ("a.csv", 4.0)
    assert split_speed("me@host/a.csv") == ("me@host/a.csv", None)


def test_sqlite_uses_db_path_or_its_own(tmp_path):
    feed = make_feed("sqlite", symbols=SYMBOLS, db_path=tmp_path / "a.db")
    assert isinstance(feed, SqlitePricesFeed) and feed.path == tmp_path / "a.db"
    assert make_feed(f"sqlite:{tmp_path / 'b.db'}", symbols=SYMBOLS).path == tmp_path / "b.db"
    with pytest.raises(FeedError, match="sqlite needs a database"):
        make_feed("sqlite", symbols=SYMBOLS)


def test_live_needs_the_extra(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ccxt" else real(name, *a))
    with pytest.raises(FeedError) as refused:
        make_feed("live:binance", symbols=SYMBOLS)
    assert str(refused.value) == "live:binance: live feeds need ccxt: pip install 'isodesk[live]' (ccxt)"


def test_in_the_bundle_the_advice_is_pipx_not_pip(monkeypatch):
    """A frozen bundle cannot pip-install into itself: the advice names the pipx installation."""
    import importlib.util
    import sys

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ccxt" else real(name, *a))
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    with pytest.raises(FeedError) as refused:
        make_feed("live:binance", symbols=SYMBOLS)
    assert str(refused.value) == ("live:binance: live feeds need ccxt: this isodesk bundle was built without live "
                                  "venues (ccxt): install isodesk with pipx install 'isodesk[live]' for them")


@pytest.mark.parametrize("spec", ["", "random", "simulate", "csv:x.csv", "simulated:fast"])
def test_unknown_specs_list_the_valid_ones(spec):
    with pytest.raises(FeedError) as info:
        make_feed(spec, symbols=SYMBOLS)
    if spec != "simulated:fast":
        assert "simulated, replay:PATH[@SPEED], sqlite" in str(info.value)
