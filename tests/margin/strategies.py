"""Hypothesis strategies: positions of every venue, contract kind, side, formula and tier basis.

Every venue whose contract kind ships tier files (``resources/tiers``) draws its notional-basis
tables from its own; the others draw from the pool of shipped tables of the same denomination.
Inverse tables are in coin: the pool adds every shipped linear table converted to coin at 50,000
USD per coin (floors, caps and amounts divided by the price; rates and max leverage unchanged).

The tier basis is drawn independently of the venue: contracts-basis tables are OKX's real
position tiers (``data/okx-position-tiers.json``, converted here by OKX's own rule, not by the
catalog), so every venue and formula is exercised on both bases.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

from hypothesis import strategies as st

from isodesk.margin import Position, TierTable
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.venues import VENUES
from isodesk.paths import resource_path

COIN_PRICE = 50_000.0
DATA = Path(__file__).parent / "data"
BASES = ("notional", "contracts")

VENUE_VARIANTS: list[tuple[str, str, str | None]] = [
    (name, contract, variant)
    for name, rule in VENUES.items()
    for contract in sorted(rule.contracts)
    for variant in (rule.variants if len(rule.variants) > 1 else (None,))
]
"""Every venue × contract kind × selectable formula (``None``: a venue with a single formula)."""


@cache
def _catalog() -> TierCatalog:
    return TierCatalog(resource_path("tiers"))


@cache
def shipped(venue: str, contract: str) -> tuple[TierTable, ...]:
    """Every shipped notional-basis table of one venue and contract kind (empty when none ships)."""
    cat = _catalog()
    if contract not in VENUES[venue].contracts:
        return ()
    tables = (cat.table(venue, contract, s) for s in cat.symbols(venue, contract))
    return tuple(t for t in tables if not t.sized)


def _in_coin(table: TierTable) -> TierTable:
    rows = [[f / COIN_PRICE, None if c is None else c / COIN_PRICE, r, a / COIN_PRICE, m]
            for f, c, r, a, m in table.rows()]
    return TierTable.from_rows(rows, name="shipped table in coin")


@cache
def pool(contract: str) -> tuple[TierTable, ...]:
    """Every shipped table usable for a contract kind (linear: quote notional; inverse: coin)."""
    linear = tuple(t for v in VENUES for t in shipped(v, "linear"))
    if contract == "linear":
        return linear
    return tuple(t for v in VENUES for t in shipped(v, "inverse")) + tuple(_in_coin(t) for t in linear)


def okx_rows(records: list[dict[str, str]]) -> list[list[float | None]]:
    """OKX position-tier records as contracts-basis rows: OKX's ``maxSz`` is the largest size of a
    tier (the next tier starts one lot above, ``minSz``), so a row runs from the previous row's
    ``maxSz`` (exclusive) to its own (inclusive); ``mmr`` with no deduction; ``maxLever``."""
    rows: list[list[float | None]] = []
    floor = 0.0
    for r in records:
        cap = float(r["maxSz"])
        rows.append([floor, cap, float(r["mmr"]), None, float(r["maxLever"])])
        floor = cap
    return rows


@cache
def okx_document() -> dict:
    """The OKX fixture: raw position-tier records and the instruments' ``ctVal``."""
    return json.loads((DATA / "okx-position-tiers.json").read_text(encoding="utf-8"))


@cache
def sized_tables(contract: str) -> tuple[TierTable, ...]:
    """OKX's real size tiers as contracts-basis tables: linear with BTC-USDT-SWAP's and
    ETH-USDT-SWAP's contract values (0.01 BTC, 0.1 ETH) and 1; inverse (quantity already in
    contracts) with contract value 100 (BTC-USD-SWAP, USD per contract)."""
    doc = okx_document()
    values = (100.0,) if contract == "inverse" else (0.01, 0.1, 1.0)
    return tuple(TierTable.from_rows(okx_rows(records), name=f"okx {family}", basis="contracts", contract_value=v)
                 for family, records in doc["tiers"].items() for v in values)


def tables_for(venue: str, contract: str, basis: str = "notional") -> tuple[TierTable, ...]:
    """Tables a position draws from: contracts basis, OKX's size tiers; notional basis, the
    venue's own shipped tables, else the pool of its contract kind."""
    if basis == "contracts":
        return sized_tables(contract)
    return shipped(venue, contract) or pool(contract)


def _edges(tiers: TierTable, k: int) -> tuple[float, float]:
    cap = float(tiers.caps[k]) if math.isfinite(tiers.caps[k]) else 10.0 * max(float(tiers.floors[k]), 1.0)
    return max(float(tiers.floors[k]), cap * 1e-4), cap


@st.composite
def positions(draw: st.DrawFn, venues: list[tuple[str, str, str | None]] = VENUE_VARIANTS,
              bases: tuple[str, ...] = BASES) -> Position:
    """A position in a drawn tier of a drawn table (every tier reachable): on the notional basis
    its entry notional lies in the tier, on the contracts basis its size in contracts; priced
    anywhere from 0.001 to 200,000, margined from half to twice its initial margin."""
    venue, contract, variant = draw(st.sampled_from(venues))
    basis = draw(st.sampled_from(bases))
    tables = tables_for(venue, contract, basis)
    tiers = tables[draw(st.integers(0, len(tables) - 1))]  # an index: sampled_from would hash every table per draw
    k = draw(st.integers(0, len(tiers) - 1))
    low, high = _edges(tiers, k)
    within = low + (high - low) * draw(st.floats(0.0, 1.0, exclude_min=tiers.sized, exclude_max=not tiers.sized))
    entry = 10.0 ** draw(st.floats(-3.0, math.log10(200_000.0)))
    max_lev = float(tiers.max_leverage[k]) if math.isfinite(tiers.max_leverage[k]) else 125.0
    leverage = draw(st.floats(1.0, max(max_lev, 1.0)))
    contract_size = draw(st.sampled_from([1.0, 10.0, 100.0])) if contract == "inverse" else 1.0
    if tiers.sized:
        quantity = within if contract == "inverse" else within * tiers.contract_value
    elif contract == "inverse":
        quantity = float(max(1, round(within * entry / contract_size)))
    else:
        quantity = within / entry
    notional = quantity * contract_size / entry if contract == "inverse" else quantity * entry
    return Position(venue=venue, side=draw(st.sampled_from(["long", "short"])), contract=contract,
                    entry_price=entry, quantity=quantity, contract_size=contract_size,
                    isolated_margin=notional / leverage * draw(st.floats(0.5, 2.0)),
                    taker_fee_rate=draw(st.sampled_from([0.0, 0.0002, 0.0005, 0.00055, 0.001])),
                    formula_variant=variant, tiers=tiers, label=f"{venue}-{contract}-{variant}-{basis}")
