"""Scenario inputs from a store: the open book, the current marks, the accounts' free balances.

Read-only: nothing here writes the database. The current mark of a market is its latest stored
price, else the entry price of its first open position (:func:`starting_prices`), so a fresh
book can be shocked before any tick arrives. No Qt.

Odds and funding after the scenario (:mod:`isodesk.margin.scenario`) need two things the store alone
does not give: the realized volatility per market and the latest funding quote. The desk passes its
own volatility (:class:`~isodesk.desk.volatility.Volatility`, what the live table's odds use) and its
quotes; a command without a desk (``isodesk whatif``) seeds a volatility from the stored prices of
the last few half-lives, as the desk does at start (:meth:`Volatility.seed`), and reads the quotes a
writing desk stored (``funding_quotes``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from isodesk.desk.book import LoadedBook, load_book
from isodesk.desk.funding import quote_of, read_quotes
from isodesk.desk.session import starting_prices
from isodesk.desk.settings import load_settings
from isodesk.desk.setup import shipped_catalog
from isodesk.desk.volatility import Volatility
from isodesk.feeds.base import FundingQuote
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.funding import funding_rule
from isodesk.margin.ladder import procedure_codes
from isodesk.margin.markets import REFERENCE
from isodesk.margin.scenario import Outcome, Scenario, ScenarioBook, evaluate
from isodesk.store import Store
from isodesk.store.tier_tables import catalog_for


def scenario_book(store: Store, catalog: TierCatalog | None = None, *, volatility: Volatility | None = None,
                  seed_now: float | None = None,
                  quotes: Mapping[tuple[str, str], FundingQuote] | None = None) -> ScenarioBook:
    """The store's open positions, marks and free balances as a :class:`ScenarioBook`.

    Every account of the store is listed (also those without open positions); money is in each
    account's settlement currency as float64, prices in quote per coin. ``auto_add`` per position:
    its latest venue report says the venue adds margin by itself (False where no report says so).

    ``sigma`` per position (log price per √second): from ``volatility`` (the desk's, only read), each
    row the volatility of its venue's own series, else of its market's reference, as the live table
    takes it (:meth:`Volatility.rows`); or, with ``seed_now`` (Unix seconds) instead, from a
    volatility seeded with the stored prices before that time at the book's ``odds.half_life_s``;
    NaN with neither. Funding per position: the quote of its series in ``quotes`` (default: the
    book's ``funding_quotes`` table), its venue's own else the market's (:func:`quote_of`), and its
    venue's settlement rule (:func:`~isodesk.margin.funding.funding_rule`); NaN rate without a quote.
    """
    if volatility is not None and seed_now is not None:
        raise ValueError("scenario_book: give a volatility or a time to seed one at, not both")
    catalog = catalog_for(store, catalog or shipped_catalog())  # the book's own tier tables first
    accounts = store.accounts()
    records = store.positions(("open",))
    loaded = load_book(records, accounts, catalog, {})
    prices = starting_prices(store)
    names = tuple(a.name for a in accounts)
    reports = store.latest_venue_reports()
    flagged = {pid for pid, r in reports.items() if r.auto_add_margin}
    if seed_now is not None:
        volatility = stored_volatility(store, loaded, seed_now)
    sigma = volatility.rows(loaded, None) if volatility is not None else np.full(len(loaded), np.nan)
    rate, interval, settles = _funding_rows(loaded, read_quotes(store) if quotes is None else quotes)
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
        sigma=sigma, funding_rate=rate, funding_interval_s=interval, funding_settles=settles,
    )


def stored_volatility(store: Store, book: LoadedBook, now: float) -> Volatility:
    """A volatility estimate (per √second) of the book's series (own and reference) seeded from the
    stored prices of the last few half-lives before ``now`` (Unix seconds), at the book's
    ``odds.half_life_s``: what a desk without a feed (``isodesk status``) starts from."""
    volatility = Volatility(load_settings(store).odds_half_life_s)
    volatility.seed(store, [*book.series, *((REFERENCE, m) for m in book.markets)], now)
    return volatility


def _funding_rows(book: LoadedBook, quotes: Mapping[tuple[str, str], FundingQuote]
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``book``: funding rate (fraction per interval, NaN = no quote), interval (s) and the
    venue's :class:`~isodesk.margin.funding.Settles` code, as the desk's funding columns take them."""
    n = len(book)
    rate, interval = np.full(n, np.nan), np.full(n, np.nan)
    settles = np.zeros(n, dtype=np.int8)
    for row in range(n):
        venue, market = book.series[int(book.series_index[row])]
        settles[row] = funding_rule(venue).settles
        quote = quote_of(quotes, venue, market)
        if quote is not None:
            rate[row], interval[row] = quote.rate, quote.interval_s
    return rate, interval, settles


def run_scenario(store: Store, scenario: Scenario, catalog: TierCatalog | None = None) -> Outcome:
    """Evaluate ``scenario`` on the store's current book (reads only)."""
    return evaluate(scenario_book(store, catalog), scenario)
