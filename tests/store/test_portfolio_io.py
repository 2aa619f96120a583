"""Import and export of positions as CSV and JSON."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from isodesk.desk.setup import shipped_catalog
from isodesk.store import ImportProblems, PositionSpec, Problem, import_positions, read_positions, write_positions

CATALOG = shipped_catalog()


def CURRENCY(spec):
    return CATALOG.settlement(spec.venue, spec.contract, spec.symbol)


GOOD_CSV = """label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin,account,contract_size
btc-long,bybit,BTCUSDT,linear,long,0.12345678,50012.500000000001,10,500.25,main,
eth-short,bybit,ETHUSDT,,short,3,3000,5,1800,,
btc-inv,binance-coinm,BTCUSD_PERP,inverse,short,7,60000,20,0.0006,coin,100
"""

EXPECTED = [
    PositionSpec("btc-long", "bybit", "BTCUSDT", "linear", "long", Decimal("0.12345678"),
                 Decimal("50012.500000000001"), Decimal("10"), Decimal("500.25"), "main", None),
    PositionSpec("eth-short", "bybit", "ETHUSDT", "linear", "short", Decimal("3"), Decimal("3000"), Decimal("5"),
                 Decimal("1800"), None, None),
    PositionSpec("btc-inv", "binance-coinm", "BTCUSD_PERP", "inverse", "short", Decimal("7"), Decimal("60000"),
                 Decimal("20"), Decimal("0.0006"), "coin", Decimal("100")),
]  # fmt: skip


def test_reads_a_good_csv(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(GOOD_CSV)
    specs = read_positions(path)
    assert specs == EXPECTED
    assert [s.row for s in specs] == [2, 3, 4]


def test_reads_a_good_json_with_exact_numbers(tmp_path):
    path = tmp_path / "book.json"
    path.write_text(
        """[
  {"label": "btc-long", "venue": "bybit", "symbol": "BTCUSDT", "side": "long", "account": "main",
   "quantity": 0.12345678, "entry_price": 50012.500000000001, "leverage": 10, "isolated_margin": "500.25"},
  {"label": "eth-short", "venue": "bybit", "symbol": "ETHUSDT", "contract": "linear", "side": "short",
   "quantity": 3, "entry_price": 3000, "leverage": 5, "isolated_margin": 1800, "contract_size": null},
  {"label": "btc-inv", "venue": "binance-coinm", "symbol": "BTCUSD_PERP", "contract": "inverse", "side": "short",
   "quantity": 7, "entry_price": 60000, "leverage": 20, "isolated_margin": 0.0006, "account": "coin",
   "contract_size": 100}
]"""
    )
    specs = read_positions(path)
    assert specs == EXPECTED
    assert [s.row for s in specs] == [1, 2, 3]


def test_a_bad_file_lists_every_problem_and_writes_nothing(store, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin\n"
        "ok-1,bybit,BTCUSDT,linear,long,0.5,50000,10,2500\n"
        "neg,bybit,BTCUSDT,linear,long,-1,50000,10,2500\n"
        "venue,kraken,XBTUSD,linear,sideways,1,abc,10,\n"
        "ok-1,okx,BTC-USDT-SWAP,inverse,short,2,50000,10,1\n"
    )
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert caught.value.problems == [
        Problem(3, "quantity", "-1 must be greater than 0"),
        Problem(4, "entry_price", "'abc' is not a decimal number"),
        Problem(4, "isolated_margin", "is empty"),
        Problem(
            4, "venue", "'kraken' is not one of binance-usdm, binance-coinm, bybit, okx, gate, hyperliquid, custom"
        ),
        Problem(4, "side", "'sideways' is not one of long, short"),
        Problem(5, "label", "'ok-1' repeats the label of row 2"),
    ]
    message = str(caught.value)
    assert message.splitlines()[0] == "row 3, column quantity: -1 must be greater than 0"
    assert len(message.splitlines()) == 6
    assert store.positions(None) == [] and store.ledger() == [] and store.accounts() == []


def test_duplicate_labels_unknown_and_missing_columns(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text("label,venue,symbol,side,quantity,entry_price,leverage,colour\na,okx,X,long,1,1,1,red\n")
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert [(p.row, p.column) for p in caught.value.problems] == [(1, "isolated_margin"), (1, "colour")]
    path = tmp_path / "dup.json"
    row = {"label": "a", "venue": "okx", "symbol": "X", "side": "long", "quantity": 1, "entry_price": 1,
           "leverage": 1, "isolated_margin": 1}  # fmt: skip
    path.write_text(json.dumps([row, {**row, "quantity": True}, row]))
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert caught.value.problems == [
        Problem(2, "quantity", "'True' is not a number"),
        Problem(3, "label", "'a' repeats the label of row 1"),
    ]


def test_semantic_validator_adds_problems(tmp_path):
    path = tmp_path / "book.csv"
    path.write_text(GOOD_CSV)

    def max_leverage_10(spec):
        return [("leverage", f"{spec['leverage']}x exceeds 10x on {spec['venue']}")] if spec["leverage"] > 10 else []

    with pytest.raises(ImportProblems, match=r"^row 4, column leverage: 20x exceeds 10x on binance-coinm$"):
        read_positions(path, validate=max_leverage_10)


def test_unknown_suffix_and_broken_json(tmp_path):
    with pytest.raises(ValueError, match=r"unknown file type '\.xlsx'; use \.csv or \.json"):
        read_positions(tmp_path / "book.xlsx")
    path = tmp_path / "broken.json"
    path.write_text('[{"label": "a",')
    with pytest.raises(ImportProblems, match=r"^file: not valid JSON"):
        read_positions(path)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_import_then_export_then_import_is_exact(store, tmp_path, suffix):
    source = tmp_path / "book.csv"
    source.write_text(GOOD_CSV)
    ids = import_positions(store, read_positions(source), ts=100.0, default_account="main", currency_of=CURRENCY)
    assert [p.id for p in store.positions()] == ids
    assert store.account("main").venue == "bybit" and store.account("coin").currency == "BTC"
    assert store.position_by_label("btc-long").isolated_margin == Decimal("500.25")
    names = {a.id: a.name for a in store.accounts()}
    exported = tmp_path / f"out{suffix}"
    write_positions(exported, store.positions(), names)
    again = read_positions(exported)
    assert again == [
        PositionSpec(
            **{**{f: getattr(s, f) for f in PositionSpec.__slots__ if f != "row"}, "account": s.account or "main"}
        )
        for s in EXPECTED
    ]


def test_import_refuses_labels_already_in_the_book(store, tmp_path):
    source = tmp_path / "book.csv"
    source.write_text(GOOD_CSV)
    import_positions(store, read_positions(source), ts=1.0, default_account="main", currency_of=CURRENCY)
    before = (store.positions(None), store.ledger())
    with pytest.raises(ImportProblems, match="row 2, column label: 'btc-long' already exists in the book"):
        import_positions(store, read_positions(source), ts=2.0, default_account="main", currency_of=CURRENCY)
    assert (store.positions(None), store.ledger()) == before


# -- bounds (issue 10, finding 6): every cell of every row is held to isodesk.margin.bounds --------------------------

HEADER = "label,venue,symbol,contract,side,quantity,entry_price,leverage,isolated_margin,account\n"
ROW = {"label": "ok", "venue": "bybit", "symbol": "BTCUSDT", "contract": "linear", "side": "long", "quantity": "0.5",
       "entry_price": "50000", "leverage": "10", "isolated_margin": "2500", "account": "main"}  # fmt: skip


def _csv(path, *rows):
    path.write_text(HEADER + "".join(",".join(row[c] for c in HEADER.strip().split(",")) + "\n" for row in rows),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize(("column", "cell", "message"), [
    ("isolated_margin", "1E+308", "1E+308 is more than the largest amount isodesk keeps (10^12)"),
    ("isolated_margin", "1E+999999999", "1E+999999999 is more than the largest amount isodesk keeps (10^12)"),
    ("isolated_margin", "1E-21", "0.000000000000000000001 has more than 8 decimal places (the ledger keeps "
                                 "0.00000001)"),
    ("quantity", "1E+400", "1E+400 is more than 10^12"),
    ("quantity", '"1,5"', "'1,5' has a comma; write the decimal point as '.' and no thousands separators (1,5 is not "
                          "read as 1.5 or as 15)"),
    ("entry_price", "1E-21", "0.000000000000000000001 is outside the prices isodesk accepts (10^-12 to 10^12)"),
    ("entry_price", "NaN", "'NaN' is not a decimal number"),
    ("leverage", "1000", "1000× is outside 1× to 200× (no venue offers more)"),
    ("label", "a\x00b", "has a control character '\\x00' at position 2; only printable text is kept"),
    ("label", "evil\x1b[2J", "has a control character '\\x1b' at position 5; only printable text is kept"),
    ("label", "x" * 65, "is 65 characters long; at most 64"),
    ("symbol", "BTC\x07USDT", "has a control character '\\x07' at position 4; only printable text is kept"),
    ("account", "main\x1b]0;pwned\x07", "has a control character '\\x1b' at position 5; only printable text is kept"),
])
def test_every_cell_is_held_to_the_bounds(store, tmp_path, column, cell, message):
    path = _csv(tmp_path / "bad.csv", ROW, {**ROW, "label": "bad", column: cell})
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert caught.value.problems == [Problem(3, column, message)]
    text = str(caught.value)
    assert text.startswith(f"row 3, column {column}: ") and "\x00" not in text and "\x1b" not in text
    assert store.positions(None) == [] and store.ledger() == [] and store.accounts() == []


def test_json_numbers_and_text_are_held_to_the_same_bounds(tmp_path):
    path = tmp_path / "bad.json"
    row = {**ROW, "quantity": 0.5, "entry_price": 50000, "leverage": 10, "isolated_margin": 2500}
    bad = json.dumps({**row, "label": "huge\x00", "isolated_margin": 1}).replace('"isolated_margin": 1,',
                                                                                  '"isolated_margin": 1E+308,')
    assert "1E+308" in bad and "\\u0000" in bad
    path.write_text(f"[{json.dumps(row)}, {bad}]")
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert caught.value.problems == [
        Problem(2, "label", "has a control character '\\x00' at position 5; only printable text is kept"),
        Problem(2, "isolated_margin", "1E+308 is more than the largest amount isodesk keeps (10^12)"),
    ]


def test_a_problem_shows_a_header_with_an_escape_sequence_escaped(tmp_path):
    path = tmp_path / "cols.csv"
    path.write_text(HEADER.strip() + ",\x1b[2Jcolour\n" + ",".join(ROW.values()) + ",red\n")
    with pytest.raises(ImportProblems) as caught:
        read_positions(path)
    assert str(caught.value).startswith("row 1, column \\x1b[2Jcolour: unknown column")
    assert "\x1b" not in str(caught.value)


def test_a_row_without_contract_takes_its_venues_only_kind(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("label,venue,symbol,side,quantity,entry_price,leverage,isolated_margin,contract_size\n"
                    "coinm,binance-coinm,BTCUSD_PERP,long,100,60000,10,0.017,100\n"
                    "usdm,binance-usdm,BTCUSDT,long,0.1,60000,10,600,\n", encoding="utf-8")
    coinm, usdm = read_positions(path)
    assert (coinm.contract, coinm.contract_size) == ("inverse", Decimal(100))  # COIN-M lists inverse only
    assert (usdm.contract, usdm.contract_size) == ("linear", None)
