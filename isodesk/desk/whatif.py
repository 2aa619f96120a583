"""Scenario inputs from a store: the open book, the current marks, the accounts' free balances.

Read-only: nothing here writes the database. The current mark of a market is its latest stored
price, else the entry price of its first open position (:func:`starting_prices`), so a fresh
book can be shocked before any tick arrives. No Qt.
"""

from __future__ import annotations

import numpy as np

from isodesk.desk.book import load_book
from isodesk.desk.session import starting_prices
from isodesk.desk.setup import shipped_catalog
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.ladder import procedure_codes
from isodesk.margin.scenario import Outcome, Scenario, ScenarioBook, evaluate
from isodesk.store import Store
from isodesk.store.tier_tables import catalog_for


def scenario_book(store: Store, catalog: TierCatalog | None = None) -> ScenarioBook:
    """The store's open positions, marks and free balances as a :class:`ScenarioBook`.

    Every account of the store is listed (also those without open positions); money is in each
    account's settlement currency as float64, prices in quote per coin. ``auto_add`` per position:
    its latest venue report says the venue adds margin by itself (False where no report says so).
    """
    catalog = catalog_for(store, catalog or shipped_catalog())  # the book's own tier tables first
    accounts = store.accounts()
    records = store.positions(("open",))
    loaded = load_book(records, accounts, catalog, {})
    prices = starting_prices(store)
    names = tuple(a.name for a in accounts)
    reports = store.latest_venue_reports()
    flagged = {pid for pid, r in reports.items() if r.auto_add_margin}
    return ScenarioBook(
        batch=loaded.batch,
        position_ids=np.array(loaded.info.position_ids, dtype=np.int64),
        labels=loaded.info.labels,
        markets=loaded.markets,
        market_index=loaded.market_index,
        marks=np.array([prices[m] for m in loaded.markets], dtype=np.float64),
        accounts=names,
        currencies=tuple(a.currency for a in accounts),
        account_index=np.array([names.index(n) for n in loaded.info.accounts], dtype=np.intp),
        free=np.array([float(store.free_balance(a.id)) for a in accounts], dtype=np.float64),
        no_removal=np.array([catalog.strict_isolated(v, s) for v, s in zip(loaded.info.venues, loaded.info.symbols,
                                                                          strict=True)], dtype=bool),
        procedure=procedure_codes(loaded.info.venues),  # at once or in steps (isodesk.margin.ladder)
        auto_add=np.array([int(pid) in flagged for pid in loaded.info.position_ids], dtype=bool),
    )


def run_scenario(store: Store, scenario: Scenario, catalog: TierCatalog | None = None) -> Outcome:
    """Evaluate ``scenario`` on the store's current book (reads only)."""
    return evaluate(scenario_book(store, catalog), scenario)
