"""`isodesk calc` as a user runs it: a readable table, JSON, the cases file, clear errors."""

import json
import subprocess
import sys

import pytest

from isodesk.cli import main
from tests.margin.reference import DATA, load, within


def _run(capsys, *argv):
    code = main(["calc", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_readable_table_for_the_design_card(capsys):
    code, out, _ = _run(capsys, "--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long",
                        "--entry", "60000", "--qty", "0.5", "--margin", "3000", "--mark", "55000")
    assert code == 0
    assert "liquidation price    54,216.87" in out
    assert "margin ratio         22.00 %" in out
    assert "783.13 away (-1.42 % move of the mark)" in out
    assert "ROE                  -83.33 %" in out


def test_json_output_has_every_figure(capsys):
    code, out, _ = _run(capsys, "--venue", "hyperliquid", "--symbol", "BTC", "--side", "short", "--entry", "60000",
                        "--qty", "1", "--margin", "6000", "--mark", "61000", "--leverage", "10", "--json")
    doc = json.loads(out)
    assert code == 0
    # Hyperliquid BTC: 40x max → maintenance 1.25 %; short liq = (W + Q·E)/(Q·(1 + r))
    assert doc["liquidation_price"] == pytest.approx((6000 + 60000) / 1.0125, rel=1e-12)
    assert doc["unrealized_pnl"] == -1000.0
    # what stays must cover max(n/L, 10 % of n) = 6,100 > balance 5,000: nothing can be removed
    assert doc["max_removable"] == 0.0


def test_cases_file_matches_every_expectation(tmp_path):
    cases = load()
    proc = subprocess.run([sys.executable, "-m", "isodesk", "calc", "--cases", str(DATA / "margin-cases.json")],
                          capture_output=True, text=True, check=True)
    results = {r["id"]: r for r in json.loads(proc.stdout)}
    assert len(results) == len(cases)
    for case in cases:
        for figure, want in case["expected"].items():
            assert within(results[case["id"]][figure], want, case["tolerance"]), (case["id"], figure)


def test_bad_case_gets_an_error_entry_and_the_rest_are_computed(tmp_path, capsys):
    good = load()[0]
    bad = {"id": "broken", "venue": "binance-usdm", "contract": "linear", "side": "long",
           "inputs": {"entry_price": "sixty", "quantity": 1, "isolated_margin": 10, "mmr": 0.01}}
    path = tmp_path / "cases.json"
    path.write_text(json.dumps([bad, good]))
    code, out, err = _run(capsys, "--cases", str(path))
    results = json.loads(out)
    assert code == 0
    assert results[0] == {"id": "broken", "error": "inputs.entry_price: 'sixty' is not a finite number"}
    assert results[1]["id"] == good["id"] and "liquidation_price" in results[1]
    assert "case broken: inputs.entry_price" in err


def test_unreadable_cases_file_exits_nonzero(tmp_path, capsys):
    path = tmp_path / "cases.json"
    path.write_text('{"not": "a list"}')
    code, out, err = _run(capsys, "--cases", str(path))
    assert code == 2 and out == ""
    assert "not a list of cases" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--venue", "binance-usdm", "--symbol", "BTCUSDX", "--side", "long", "--entry", "1", "--qty", "1",
          "--margin", "1"], "'BTCUSDX' is not a binance-usdm linear symbol (did you mean BTCUSDT"),
        (["--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--entry", "60000", "--qty", "0",
          "--margin", "100"], "--qty: 0 must be greater than 0"),
        (["--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long"], "missing --entry, --qty, --margin"),
        (["--venue", "custom", "--side", "long", "--entry", "1", "--qty", "1", "--margin", "1"],
         "venue custom needs --mmr or --tiers"),
        (["--venue", "binance-usdm", "--symbol", "BTCUSDT", "--side", "long", "--entry", "60000", "--qty", "1",
          "--margin", "100", "--leverage", "200"], "--leverage: 200x is above the 150x maximum"),
    ],
)
def test_user_errors_are_one_clear_line(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err
    assert "Traceback" not in err


def test_custom_venue_with_one_rate(capsys):
    code, out, _ = _run(capsys, "--venue", "custom", "--side", "short", "--entry", "100", "--qty", "2",
                        "--margin", "20", "--mmr", "0.01", "--json")
    assert code == 0
    assert json.loads(out)["liquidation_price"] == pytest.approx((20 + 200) / (2 * 1.01))


# -- issue 11: the venue's rule, the close fee on its own key, numbers through the bounds ----------

BYBIT = ["--venue", "bybit", "--side", "long", "--entry", "60000", "--qty", "1", "--margin", "6000", "--mmr", "0.005",
         "--fee", "0.00055"]


def test_bybit_default_is_the_unified_account_rule_with_the_fee_on_its_own_key(capsys):
    code, out, _ = _run(capsys, *BYBIT, "--mark", "58000", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["formula"] == "uta"
    # fee to close at the fee-inclusive bankruptcy price: W + Q(P_b − E) = f·Q·P_b
    bankrupt = (60_000 - 6_000) / (1 - 0.00055)
    fee = 0.00055 * bankrupt
    assert doc["maintenance_margin"] == pytest.approx(58_000 * 0.005, rel=1e-12)  # at the mark, no fee in it
    assert doc["close_fee"] == pytest.approx(fee, rel=1e-12)
    assert doc["bankruptcy_price"] == pytest.approx(bankrupt, rel=1e-12)
    # W + Q(P − E) = Q·P·r + fee
    assert doc["liquidation_price"] == pytest.approx((60_000 - 6_000 + fee) / (1 - 0.005), rel=1e-12)
    assert doc["margin_ratio"] == pytest.approx((58_000 * 0.005 + fee) / 4_000, rel=1e-12)


def test_bybit_older_calculator_is_selectable_by_name(capsys):
    code, out, _ = _run(capsys, *BYBIT, "--mark", "58000", "--variant", "entry_mm", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["formula"] == "entry_mm"
    assert doc["maintenance_margin"] == pytest.approx(60_000 * 0.005, rel=1e-12) and doc["close_fee"] == 0.0
    assert doc["liquidation_price"] == pytest.approx(60_000 - (6_000 - 300), rel=1e-12)


def test_okx_size_tiers_from_a_tier_file_in_contracts(tmp_path, capsys):
    path = tmp_path / "okx.json"
    path.write_text(json.dumps({"basis": "contracts", "contract_value": 0.01,
                                "rows": [[0, 1000, 0.004, None, 100], [1000, 5000, 0.005, None, 66.66],
                                         [5000, None, 0.0075, None, 50]]}))
    for qty, rate in (("10", 0.004), ("10.0001", 0.005)):  # 1,000 and 1,000.01 contracts of 0.01 BTC
        code, out, err = _run(capsys, "--venue", "okx", "--side", "long", "--entry", "60000", "--qty", qty,
                              "--margin", "12000", "--fee", "0.0005", "--tiers", str(path), "--mark", "59000",
                              "--json")
        assert code == 0, err
        doc = json.loads(out)
        q = float(qty)
        assert doc["liquidation_price"] == pytest.approx((12_000 - q * 60_000) / (q * (rate + 0.0005 - 1)), rel=1e-12)
        assert doc["maintenance_margin"] == pytest.approx(q * 59_000 * rate, rel=1e-12)
        assert doc["close_fee"] == pytest.approx(q * 59_000 * 0.0005, rel=1e-12)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--entry", "60000,5", "--entry: '60000,5' has a comma"),
    ("--entry", "NaN", "--entry: 'NaN' is not a decimal number"),
    ("--mark", "inf", "--mark: 'inf' is not a decimal number"),
    ("--mark", "1e13", "--mark: 10000000000000 is outside the prices"),
    ("--qty", "-1", "--qty: -1 must be greater than 0"),
    ("--margin", "1e13", "--margin: 10000000000000 is more than the largest amount"),
    ("--leverage", "500", "--leverage: 500× is outside 1× to 200×"),
    ("--mmr", "1.5", "--mmr: 1.5 is not a fraction in [0, 1)"),
    ("--fee", "0,0005", "--fee: '0,0005' has a comma"),
])
def test_numbers_are_read_through_the_bounds_in_one_line(capsys, option, value, message):
    argv = {"--venue": "okx", "--side": "long", "--entry": "60000", "--qty": "1", "--margin": "6000",
            "--mmr": "0.005"}
    argv[option] = value
    code, out, err = _run(capsys, *[x for kv in argv.items() for x in kv])
    assert code == 2 and out == ""
    assert err.startswith(f"isodesk calc: {message}")
    assert err.count("\n") == 1 and "usage:" not in err and "Traceback" not in err


def test_an_unknown_variant_names_the_choices(capsys):
    code, _, err = _run(capsys, *BYBIT, "--variant", "classic")
    assert code == 2
    assert "--variant: 'classic' is not one of uta, uta_entry, entry_mm, exact_mm" in err
