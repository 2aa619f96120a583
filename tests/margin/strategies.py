"""Hypothesis strategies: positions of every venue, contract kind, side and variant on shipped tier tables.

Every venue whose contract kind ships tier files (``resources/tiers``) draws from its own tables;
the others (OKX, Binance COIN-M, Gate inverse, ``custom``) draw from the pool of shipped tables of
the same denomination. Inverse tables are in coin: the only shipped one is Bybit's BTCUSD first
tier, so the pool adds every shipped linear table converted to coin at 50,000 USD per coin
(floors, caps and amounts divided by the price; rates and max leverage unchanged).
"""

from __future__ import annotations

import math
from functools import cache

from hypothesis import strategies as st

from isodesk.margin import Position, TierTable
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.venues import BYBIT_VARIANTS, VENUES
from isodesk.paths import resource_path

COIN_PRICE = 50_000.0

VENUE_VARIANTS: list[tuple[str, str, str | None]] = [
    (name, contract, variant)
    for name, rule in VENUES.items()
    for contract in sorted(rule.contracts)
    for variant in (tuple(BYBIT_VARIANTS) if name == "bybit" else (None,))
]


@cache
def _catalog() -> TierCatalog:
    return TierCatalog(resource_path("tiers"))


@cache
def shipped(venue: str, contract: str) -> tuple[TierTable, ...]:
    """Every shipped table of one venue and contract kind (empty when none ships)."""
    cat = _catalog()
    if contract not in VENUES[venue].contracts:
        return ()
    return tuple(cat.table(venue, contract, s) for s in cat.symbols(venue, contract))


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


def tables_for(venue: str, contract: str) -> tuple[TierTable, ...]:
    """The venue's own shipped tables, else the pool of its contract kind."""
    return shipped(venue, contract) or pool(contract)


@st.composite
def positions(draw: st.DrawFn, venues: list[tuple[str, str, str | None]] = VENUE_VARIANTS) -> Position:
    """A position whose entry notional lies in a drawn tier of a shipped table (every tier reachable),
    priced anywhere from 0.001 to 200,000, margined from half to twice its initial margin."""
    venue, contract, variant = draw(st.sampled_from(venues))
    tables = tables_for(venue, contract)
    tiers = tables[draw(st.integers(0, len(tables) - 1))]  # an index: sampled_from would hash every table per draw
    k = draw(st.integers(0, len(tiers) - 1))
    cap = float(tiers.caps[k]) if math.isfinite(tiers.caps[k]) else 10.0 * max(float(tiers.floors[k]), 1.0)
    floor = max(float(tiers.floors[k]), cap * 1e-4)
    notional = floor + (cap - floor) * draw(st.floats(0.0, 1.0, exclude_max=True))
    entry = 10.0 ** draw(st.floats(-3.0, math.log10(200_000.0)))
    max_lev = float(tiers.max_leverage[k]) if math.isfinite(tiers.max_leverage[k]) else 125.0
    leverage = draw(st.floats(1.0, max(max_lev, 1.0)))
    if contract == "inverse":
        contract_size = draw(st.sampled_from([1.0, 10.0, 100.0]))
        quantity = float(max(1, round(notional * entry / contract_size)))
        notional = quantity * contract_size / entry
    else:
        contract_size, quantity = 1.0, notional / entry
    return Position(venue=venue, side=draw(st.sampled_from(["long", "short"])), contract=contract,
                    entry_price=entry, quantity=quantity, contract_size=contract_size,
                    isolated_margin=notional / leverage * draw(st.floats(0.5, 2.0)),
                    taker_fee_rate=draw(st.sampled_from([0.0, 0.0002, 0.0005, 0.001])),
                    formula_variant=variant, tiers=tiers, label=f"{venue}-{contract}-{variant}")
