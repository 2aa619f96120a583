"""Every reference case of margin-cases.json, within its tolerance, through the engine."""

import pytest

from isodesk.margin.cases import evaluate_case
from tests.margin.reference import load, within

CASES = load()


def test_every_case_has_a_source():
    assert len(CASES) >= 65
    assert all(case["source"] for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case_within_tolerance(case):
    result = evaluate_case(case)
    assert "error" not in result, result.get("error")
    for figure, want in case["expected"].items():
        assert figure in result, f"{figure} not computed"
        assert within(result[figure], want, case["tolerance"]), (
            f"{figure}: got {result[figure]!r}, expected {want!r} within {case['tolerance']}")


def test_engine_view_ignores_expectations():
    case = dict(CASES[0])
    stripped = {k: case[k] for k in ("id", "venue", "contract", "side", "inputs")}
    assert evaluate_case(stripped) == evaluate_case(case)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        ({"venue": "kraken"}, "venue: unknown venue 'kraken'"),
        ({"inputs": {"entry_price": 100.0, "isolated_margin": 5.0, "mmr": 0.01}}, "inputs.quantity: missing"),
        ({"inputs": {"entry_price": -1.0, "quantity": 1.0, "isolated_margin": 5.0, "mmr": 0.01}},
         "inputs.entry_price: -1.0 must be a positive finite number"),
        ({"inputs": {"entry_price": 100.0, "quantity": 1.0, "isolated_margin": 5.0}}, "exactly one of mmr"),
        ({"side": "up"}, "inputs.side: 'up' is neither long nor short"),
    ],
)
def test_bad_case_gets_an_error_naming_the_field(mutation, message):
    case = {"id": "x", "venue": "binance-usdm", "contract": "linear", "side": "long",
            "inputs": {"entry_price": 100.0, "quantity": 1.0, "isolated_margin": 5.0, "mmr": 0.01}}
    case.update(mutation)
    result = evaluate_case(case)
    assert result["id"] == "x"
    assert message in result["error"]
