"""Degenerate and bad positions get defined answers or messages naming the field and position."""

import math

import pytest

from isodesk.margin import Position, PositionError, TierError, TierTable, check, compute_one

BTC = TierTable.from_rows([[0, 50_000, 0.004, 0, 125], [50_000, 250_000, 0.005, 50, 100],
                           [250_000, 1_000_000, 0.01, 1_300, 50]])


def _pos(**kw):
    base = dict(venue="binance-usdm", side="long", entry_price=60_000.0, quantity=0.5, isolated_margin=3_000.0,
                leverage=10.0, tiers=BTC, symbol="BTCUSDT", label="btc-long")
    base.update(kw)
    return Position(**base)


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"quantity": 0.0}, "quantity", "must be a positive finite number"),
        ({"entry_price": -5.0}, "entry_price", "-5.0 must be a positive"),
        ({"isolated_margin": math.nan}, "isolated_margin", "nan must be a positive"),
        ({"leverage": 0.0}, "leverage", "0.0 must be a positive"),
        ({"leverage": 130.0}, "leverage", "130x is above the 125x maximum"),
        ({"side": "sideways"}, "side", "'sideways' is neither long nor short"),
        ({"venue": "ftx"}, "venue", "unknown venue 'ftx'"),
        ({"contract": "inverse"}, "contract", "binance-usdm has no inverse contracts"),
        ({"venue": "bybit", "formula_variant": "guess"}, "formula_variant", "'guess' is not one of"),
    ],
)
def test_bad_field_is_named_with_the_position(change, field, fragment):
    with pytest.raises(PositionError) as exc:
        check(_pos(**change))
    assert exc.value.position == "'btc-long'"
    fields = dict(exc.value.problems)
    assert field in fields and fragment in fields[field]
    assert str(exc.value).startswith("position 'btc-long': ")


def test_every_bad_field_is_listed_at_once():
    with pytest.raises(PositionError) as exc:
        check(_pos(quantity=-1.0, entry_price=0.0))
    assert [f for f, _ in exc.value.problems] == ["entry_price", "quantity"]


def test_leverage_cap_follows_the_bracket_of_the_entry_notional():
    check(_pos(quantity=0.5, leverage=100.0))  # 30k notional: first bracket, 125x allowed
    check(_pos(quantity=5.0, isolated_margin=6_000.0, leverage=50.0))  # 300k notional: third bracket, 50x
    with pytest.raises(PositionError, match="100x is above the 50x maximum"):
        check(_pos(quantity=5.0, isolated_margin=3_000.0, leverage=100.0))


def test_a_long_that_cannot_be_liquidated_reports_no_price():
    risk = compute_one(_pos(isolated_margin=40_000.0, leverage=1.0), 10.0)
    assert risk.liquidation_price is None
    assert risk.bankruptcy_price is None
    assert risk.distance_frac is None


def test_without_a_mark_only_price_levels_are_given():
    risk = compute_one(_pos())
    assert risk.liquidation_price == pytest.approx(54_216.867469879, rel=1e-12)
    assert risk.mark is None and risk.margin_ratio is None and risk.unrealized_pnl is None


def test_margin_ratio_undefined_when_balance_is_gone():
    risk = compute_one(_pos(), 50_000.0)  # balance 3,000 − 5,000 < 0
    assert risk.margin_balance == -2_000.0
    assert risk.margin_ratio is None and risk.effective_leverage is None
    assert risk.distance_frac < 0


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([], "no tier rows"),
        ([[10, None, 0.01, 0, 10]], "must start at notional 0"),
        ([[0, 100, 0.01, 0, 10], [150, None, 0.02, None, 5]], "not contiguous"),
        ([[0, 100, 0.01, 0, 10], [100, None, 0.02, None, 5]], "in every row or in none"),
        ([[0, None, 1.5, 0, 10]], "not in [0, 1)"),
        ([[0, None, "x", 0, 10]], "'x' is not a finite number"),
    ],
)
def test_bad_tier_tables_are_refused(rows, fragment):
    with pytest.raises(TierError, match=None) as exc:
        TierTable.from_rows(rows, name="t")
    assert fragment in str(exc.value)


def test_notional_beyond_the_last_cap_stays_in_the_last_bracket():
    risk = compute_one(_pos(quantity=100.0, isolated_margin=6_000_000.0, leverage=1.0), 60_000.0)
    assert risk.tier == 2
    assert risk.maintenance_margin == pytest.approx(6_000_000 * 0.01 - 1_300)
