"""The What-if page shows the odds of liquidation and the funding drift after the scenario.

The page is the real :class:`WhatIfWorkspace`; the desk is a stand-in that evaluates the page's
request on a book carrying a realized volatility and funding quotes (as the desk's own book does,
``isodesk.desk.scenario_jobs.desk_scenario_book``).
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal

from isodesk.desk.commands import Result
from isodesk.desk.scenario_jobs import MarkedBook, RunScenario
from isodesk.formats import fmt_pct
from isodesk.margin import Position
from isodesk.margin.catalog import TierCatalog
from isodesk.margin.funding import Settles
from isodesk.margin.scenario import ScenarioBook, evaluate, uniform_grid
from isodesk.paths import resource_path
from isodesk.ui.theme import light_theme
from isodesk.ui.whatif import WhatIfWorkspace

DAY = 86_400.0
MARKETS = {"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0, "SOLUSDT": 150.0}
DAILY_VOL = {"BTCUSDT": 0.04, "ETHUSDT": 0.06}  # SOL: no volatility yet
RATE = {"BTCUSDT": 0.0001, "SOLUSDT": -0.0003}  # per 8 h; ETH: no quote


class FakeDesk(QObject):
    """Stands in for the DeskController: records what the page sends; the test answers."""

    result = Signal(object)

    def __init__(self):
        super().__init__()
        self.sent = []

    def send(self, command):
        self.sent.append(command)
        return command.request_id

    def answer_run(self, book):
        run = next(c for c in reversed(self.sent) if isinstance(c, RunScenario))
        pinned = book.with_marks(dict(run.marks)) if run.marks else book
        outcome = evaluate(pinned, run.scenario)
        grid = uniform_grid(pinned, np.asarray(run.grid), betas=run.scenario.betas, edits=run.scenario)
        self.result.emit(Result(run.request_id, True, "evaluated with grid", payload=(outcome, grid)))
        return outcome


def odds_book() -> ScenarioBook:
    """Nine Binance positions, three per market: a 12× long, a 5× short, a 25× long; volatility and quotes as above."""
    cat = TierCatalog(resource_path("tiers"))
    positions, accounts = [], []
    for i, (symbol, price) in enumerate([m for m in MARKETS.items() for _ in range(3)]):
        lev = (12.0, 5.0, 25.0)[i % 3]
        qty = 20_000.0 / price
        positions.append(Position(venue="binance-usdm", side="short" if i % 3 == 1 else "long", entry_price=price,
                                  quantity=qty, isolated_margin=qty * price / lev, leverage=lev,
                                  tiers=cat.table("binance-usdm", "linear", symbol), symbol=symbol,
                                  label=f"{symbol[:3].lower()}-{i}"))
        accounts.append("acct")
    book = ScenarioBook.build(positions, marks=MARKETS, accounts=accounts, free={"acct": 10_000.0})
    rows = [book.markets[int(j)] for j in book.market_index]
    sigma = [DAILY_VOL.get(m, math.nan) / math.sqrt(DAY) for m in rows]
    rate = [RATE.get(m, math.nan) for m in rows]
    return book.with_sigma(sigma).with_funding(rate, [8 * 3600.0] * len(rows), [Settles.ISOLATED_PAY] * len(rows))


def test_the_positions_table_shows_the_odds_and_the_drift_after_the_shock(qtbot):
    desk = FakeDesk()
    page = WhatIfWorkspace(desk, theme=light_theme())
    qtbot.addWidget(page)
    page.resize(1280, 720)
    page.show()
    book = odds_book()
    page.take(MarkedBook(book, time.time()))
    page.market_spin.setValue(-4.0)  # every market −4 % (beta 1)
    page.run_now()
    with qtbot.waitSignal(page.outcome_shown, timeout=5000):
        outcome = desk.answer_run(book)
    assert outcome.scenario.market_shock is not None and outcome.scenario.market_shock[1] == -4.0
    model, iso = page.positions, outcome.isolated
    above = 0
    for r in range(len(book)):
        row = model.view_row(int(book.position_ids[r]))
        market = book.markets[int(book.market_index[r])]
        odds, drift = model.text(row, "24 h odds"), model.text(row, "Liq. drift/day")
        if iso.liquidated[r]:
            assert odds == "—" and drift == "—", book.labels[r]
            continue
        # the 24 h odds, worked out here: P = erfc(d / (σ·√(2·86,400))), d = s·ln(mark / liq) at the shocked mark
        if market in DAILY_VOL:
            side = 1.0 if book.batch.side[r] > 0 else -1.0
            d = side * math.log(iso.shocked_mark[r] / iso.liquidation_price[r])
            sigma = DAILY_VOL[market] / math.sqrt(DAY)
            p = math.erfc(d / (sigma * math.sqrt(2 * DAY)))
            assert odds == fmt_pct(p * 100), (book.labels[r], odds, p)
            assert model.value(row, "24 h odds") == iso.liq_prob_24h[r]
            above += p > 0.20
        else:
            assert odds == "—", book.labels[r]
        # the drift per day, as the live table writes it: "+0.04 %/day" (+ towards the mark)
        if market in RATE:
            want = float(iso.liq_drift_pct_day[r])
            assert math.isfinite(want) and drift == fmt_pct(want, signed=True) + "/day", (book.labels[r], drift)
            # a long pays a positive rate from its margin: its liquidation price rises towards the mark
            if RATE[market] > 0 and book.batch.side[r] > 0:
                assert want > 0
        else:
            assert drift == "—", book.labels[r]
    assert above >= 1  # the 12× longs sit close to their liquidation price after −4 %
    # the headline counts them against the 20 % alert line
    noun = "position" if above == 1 else "positions"
    assert f"<b>{above}</b> {noun} above 20 % odds of liquidation within 24 h" in page.headline.text()
    # the riskiest first when sorted by the column; an odds cell above the line is drawn in the danger colour
    page.positions_view.sortByColumn(model.column("24 h odds"), Qt.SortOrder.DescendingOrder)
    order = [int(np.flatnonzero(book.position_ids == model.position_id(v))[0]) for v in range(len(book))]
    dead = [r for r in order if iso.liquidated[r]]
    known = [r for r in order if not iso.liquidated[r] and math.isfinite(iso.liq_prob_24h[r])]
    unknown = [r for r in order if not iso.liquidated[r] and not math.isfinite(iso.liq_prob_24h[r])]
    assert order == dead + known + unknown  # the liquidated first, then by odds, those without odds last
    assert [iso.liq_prob_24h[r] for r in known] == sorted((iso.liq_prob_24h[r] for r in known), reverse=True)
    first = model.view_row(int(book.position_ids[known[0]]))
    cell = model.index(first, model.column("24 h odds"))
    assert model.data(cell, Qt.ItemDataRole.ForegroundRole) == page.theme.danger
