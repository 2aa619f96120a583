"""The outcome per account and per currency, and the one-paragraph headline above them.

Rendered from the desk's :class:`~isodesk.margin.scenario.Outcome` with the texts and figures of
``isodesk whatif`` (account table: equity now, isolated lost/loss/equity/needs, cross state, loss,
equity, pool needed; totals per settlement currency: money is never summed across currencies).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from isodesk.desk.settings import DEFAULTS
from isodesk.margin.scenario import Outcome
from isodesk.ui.columns import fmt_money
from isodesk.ui.theme import Theme
from isodesk.ui.whatif.common import Row, RowsModel, account_colour, escape, tint

ACCOUNT_HEADERS = ("Account", "Equity now", "Iso lost", "Iso loss", "Iso equity", "Iso needs", "Cross",
                   "Cross loss", "Cross equity", "Cross needs")
ACCOUNT_TIPS = ("venue account (settlement currency)", "free + isolated margins + uPnL at the marks",
                "positions liquidated under isolated margin / positions held",
                "what the isolated positions lose", "equity after the scenario, isolated as held",
                "the sum of what its positions need to survive", "the account as one cross pool",
                "what the cross pool loses (all of it when liquidated)", "equity after the scenario, cross",
                "the smallest cross pool that survives the scenario")
ACCOUNT_SAMPLES = ("binance-usdm:USDT", "100,000.00", "13/13", "10,000.00", "10,000.00", "10,000.00",
                   "LIQUIDATED @99", "10,000.00", "10,000.00", "10,000.00")
TOTAL_HEADERS = ("Currency", "Equity now", "Isolated loss", "Isolated equity", "Cross loss", "Cross equity")
TOTAL_SAMPLES = ("USDT", "100,000.00", "100,000.00", "100,000.00", "100,000.00", "100,000.00")


def accounts_model(theme: Theme, parent: QWidget) -> RowsModel:
    """The (empty) accounts table model."""
    return RowsModel(ACCOUNT_HEADERS, right={1, 2, 3, 4, 5, 7, 8, 9}, font=theme.font, parent=parent,
                     tips=ACCOUNT_TIPS)


def totals_model(theme: Theme, parent: QWidget) -> RowsModel:
    """The (empty) totals-per-currency table model."""
    return RowsModel(TOTAL_HEADERS, right={1, 2, 3, 4, 5}, font=theme.font, parent=parent,
                     tips=("settlement currency: amounts in different currencies are never added",))


def render_accounts(model: RowsModel, outcome: Outcome, theme: Theme) -> None:
    """One row per venue account: isolated as held beside cross."""
    book, iso, cross, t = outcome.book, outcome.isolated, outcome.cross, theme
    many = outcome.steps > 1
    dying = tint(t.danger, 44)
    rows = []
    for a, name in enumerate(book.accounts):
        ccy = book.currencies[a]
        step = int(cross.liquidated_step[a])
        lost, held = int(iso.positions_lost[a]), int(cross.open_positions[a])
        rows.append(Row(
            cells=[name, fmt_money(float(outcome.equity_now[a]), ccy), f"{lost}/{held}",
                   fmt_money(float(iso.account_loss[a]), ccy), fmt_money(float(iso.equity_after[a]), ccy),
                   fmt_money(float(iso.account_margin_needed[a]), ccy),
                   ("LIQUIDATED" + (f" @{step}" if many else "")) if step else "survives",
                   fmt_money(float(cross.loss[a]), ccy), fmt_money(float(cross.equity_after[a]), ccy),
                   fmt_money(float(cross.pool_needed[a]), ccy)],
            raw=[name, float(outcome.equity_now[a]), lost, float(iso.account_loss[a]), float(iso.equity_after[a]),
                 float(iso.account_margin_needed[a]), step, float(cross.loss[a]), float(cross.equity_after[a]),
                 float(cross.pool_needed[a])],
            background=dying if step else None,
            foreground={0: account_colour(t, a), 2: t.danger if lost else t.text, 6: t.danger if step else t.safe,
                        9: t.danger if cross.pool_needed[a] > cross.pool[a] else t.text},
            bold=frozenset({0, 6}) | (frozenset({2}) if lost else frozenset()),
            tips={1: ccy, 6: f"cross pool {fmt_money(float(cross.pool[a]), ccy)} {ccy}",
                  9: f"the pool holds {fmt_money(float(cross.pool[a]), ccy)} {ccy}"}))
    model.set_font(t.font)
    model.set_rows(rows)


def render_totals(model: RowsModel, outcome: Outcome, theme: Theme) -> None:
    """One row per settlement currency."""
    iso, cross = outcome.isolated, outcome.cross
    totals = {k: outcome.totals(v) for k, v in (("now", outcome.equity_now), ("iso_loss", iso.account_loss),
                                                 ("iso_eq", iso.equity_after), ("cross_loss", cross.loss),
                                                 ("cross_eq", cross.equity_after))}
    keys = ("now", "iso_loss", "iso_eq", "cross_loss", "cross_eq")
    model.set_font(theme.font)
    model.set_rows([
        Row(cells=[c, *(fmt_money(totals[k][c], c) for k in keys)], raw=[c, *(totals[k][c] for k in keys)],
            bold=frozenset({0}))
        for c in dict.fromkeys(outcome.book.currencies)])


def odds_headline(outcome: Outcome, theme: Theme, odds_alert_pct: float) -> str:
    """The odds after the scenario in one short sentence ("2 positions above 20 % odds of liquidation
    within 24 h after the shock"), "" when no position has odds (no realized volatility yet)."""
    if not np.isfinite(outcome.isolated.liq_prob_24h).any():
        return ""
    count = outcome.odds_above(odds_alert_pct)
    after = "after the shock" if outcome.steps == 1 else "at this step"
    colour = theme.danger if count else theme.safe
    noun = "position" if count == 1 else "positions"
    return (f'<b>Odds:</b> <span style="color:{colour.name()}"><b>{count}</b> {noun} above '
            f"{odds_alert_pct:g} % odds of liquidation within 24 h</span> {after}.")


def headline(outcome: Outcome, theme: Theme, where: str = "", *,
             odds_alert_pct: float = DEFAULTS.odds_alert_pct) -> str:
    """The outcome in one rich-text paragraph: positions liquidated and money lost under isolated
    margin, accounts liquidated under cross, how many positions cross would have saved, and how many
    survivors are above ``odds_alert_pct`` (percent) odds of liquidation within 24 h after it."""
    book, iso, cross, t = outcome.book, outcome.isolated, outcome.cross, theme
    dead = int(iso.liquidated.sum())
    loss = outcome.totals(iso.account_loss)
    money = " + ".join(f"{fmt_money(v, c)} {c}" for c, v in loss.items() if v > 0) or "nothing"
    iso_col = t.danger if dead else t.safe
    parts = [f'<b>Isolated:</b> <span style="color:{iso_col.name()}"><b>{dead} of {len(book)}</b> positions '
             f"liquidated</span>, loss {money}."]
    dead_acc = [a for a in range(len(book.accounts)) if cross.liquidated[a]]
    if dead_acc:
        names = ", ".join(f"{book.accounts[a]} (loses {fmt_money(float(cross.pool[a]), book.currencies[a])} "
                          f"{book.currencies[a]})" for a in dead_acc)
        parts.append(f'<b>Cross:</b> <span style="color:{t.danger.name()}"><b>{len(dead_acc)} of '
                     f"{len(book.accounts)}</b> accounts liquidated whole</span>: {escape(names)}.")
    else:
        parts.append(f'<b>Cross:</b> <span style="color:{t.safe.name()}">every account survives</span>.')
    saved = sum(1 for r in range(len(book)) if iso.liquidated[r] and not cross.liquidated[book.account_index[r]])
    if saved:
        parts.append(f"Cross margin would have saved {saved} of the {dead} liquidated positions.")
    odds = odds_headline(outcome, theme, odds_alert_pct)
    if odds:
        parts.append(odds)
    return " ".join(parts) + (f" {where}" if where else "")
