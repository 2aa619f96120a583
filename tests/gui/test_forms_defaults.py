"""Forms that respect their own defaults, driven like a user would against the real desk in its thread.

A form never pre-fills a value it then refuses (the open form's entry from the mark, "Max"); a
preview turns to the danger colour whenever the form refuses; a close can be partial (a quantity
or a share), with the realized PnL in the desk's answer and in the journal's own column; a close
price far from the mark needs a tick. Every ledger is re-read at teardown: it sums to 0.
"""

from __future__ import annotations

import csv
import time
from decimal import ROUND_DOWN, Decimal

import pytest
from PySide6.QtCore import QLocale, Qt

from isodesk.desk.commands import CloseReport, Deposit, ReadJournal
from isodesk.desk.rules import removable_limit
from isodesk.desk.session import DeskConfig
from isodesk.store import Store
from isodesk.ui.dialogs import ClosePositionDialog, CollateralDialog, FundsDialog, JournalView, OpenPositionDialog
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

EN = QLocale("en_US")


class Desk:
    """The controller of a demo desk with a scripted feed."""

    def __init__(self, controller: DeskController, feed: ScriptedFeed):
        self.controller, self.feed = controller, feed

    @property
    def snap(self):
        return self.controller.latest

    def row(self, label: str) -> int:
        return self.snap.book.labels.index(label)

    def pid(self, label: str) -> int:
        return int(self.snap.book.position_ids[self.row(label)])

    def free(self, account: str) -> float:
        return next(a.free_balance for a in self.snap.accounts if a.name == account)

    def push(self, qtbot, prices: dict[str, float]) -> None:
        """Reference prices for markets; waits until every position of the market shows it."""
        now = time.time()
        for symbol, price in prices.items():
            self.feed.push(symbol, price, now)

        def arrived():
            from isodesk.margin.markets import market_of

            book = self.snap.book
            for symbol, price in prices.items():
                rows = [r for r in range(len(book)) if book.statuses[r] == "open"
                        and market_of(book.venues[r], book.symbols[r]) == symbol]
                assert rows and all(self.snap.cols["mark"][r] == price for r in rows)
        qtbot.waitUntil(arrived, timeout=5000)

    def answer(self, qtbot, command):
        with qtbot.waitSignal(self.controller.result, timeout=5000,
                              check_params_cb=lambda r: r.request_id == command.request_id) as blocker:
            self.controller.send(command)
        return blocker.args[0]


@pytest.fixture
def desk(qtbot, tmp_path):
    feed = ScriptedFeed()
    path = tmp_path / "book.db"
    controller = DeskController(DeskConfig(db=str(path), demo=True, step_ms=20, feed_factory=lambda store: feed))
    with qtbot.waitSignal(controller.snapshot, timeout=5000):
        controller.start()
    yield Desk(controller, feed)
    assert controller.shutdown()
    store = Store.open(path)
    try:
        assert sum(store.balances().values(), Decimal(0)) == 0
    finally:
        store.close()


def _dialog(qtbot, cls, desk, **kw):
    dialog = cls(desk.controller, desk.snap, None, locale=EN, **kw)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def _type(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def _settled(qtbot, dialog):
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)


def _click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _colour(label) -> str:
    return label.styleSheet()


# -- the open form accepts its own default ---------------------------------------------------------------------

@pytest.mark.parametrize(("venue", "symbol", "quantity", "expected"), [
    ("binance-usdm", "DOGEUSDT", "1000", Decimal("0.146842")),  # 6 significant figures (no tick kept)
    ("hyperliquid", "DOGE", "1000", Decimal("0.14684")),         # Hyperliquid: 5 significant figures
    ("binance-usdm", "BTCUSDT", "0.01", Decimal("59536.3")),
    ("hyperliquid", "BTC", "0.01", Decimal("59536")),            # integers always allowed, 5 figures
])
def test_the_open_form_prefills_the_mark_at_the_venues_precision_and_accepts_it(qtbot, desk, venue, symbol,
                                                                                 quantity, expected):
    # raw marks as a feed delivers them: 17 significant digits
    desk.push(qtbot, {"DOGEUSDT": 0.14684212345678912, "BTCUSDT": 59536.32292465656})
    dialog = _dialog(qtbot, OpenPositionDialog, desk, venue=venue)
    dialog.symbol.setCompleter(None)
    qtbot.keyClicks(dialog.symbol, symbol)
    _type(qtbot, dialog.quantity, quantity)
    _settled(qtbot, dialog)
    assert dialog.entry.value() == expected
    assert dialog.entry.error() == ""
    assert dialog.problem() == "", dialog.problem()
    assert dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].accepted


# -- "Max" fills what the form accepts ---------------------------------------------------------------------------

def test_max_removable_fills_the_figure_shown_and_the_desk_takes_it(qtbot, desk):
    desk.push(qtbot, {"BTCUSDT": 59_876.54321})
    row = desk.row("btc-hedge-short")
    limit = removable_limit(desk.snap, row)
    exact = Decimal(repr(limit))
    assert exact != exact.quantize(Decimal("0.01"))  # a limit with more decimals than the currency shows
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=desk.pid("btc-hedge-short"), mode="remove")
    _click(qtbot, dialog.quick_buttons["Max"])
    _settled(qtbot, dialog)
    assert dialog.amount.value() == exact.quantize(Decimal("0.01"), rounding=ROUND_DOWN)  # cents, as shown
    assert dialog.removable_label.text().startswith(f"{dialog.amount.value():,.2f} USDC")
    if dialog.accept_risk.isVisible():
        _click(qtbot, dialog.accept_risk)
        _settled(qtbot, dialog)
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].accepted


def test_withdraw_max_never_asks_for_more_than_the_exact_balance(qtbot, desk):
    """A coin balance with more digits than a float holds: the snapshot's float rounds it *up*
    (82,222,096.50546942 → …43); "Max" must still fill what the desk's exact balance allows."""
    exact = Decimal("82222096.50546942")  # the free balance after the deposit: the demo's 0.2 BTC and this
    assert Decimal(repr(float(exact))) > exact
    assert desk.answer(qtbot, Deposit(exact - Decimal("0.2"), account="bybit:BTC")).accepted
    qtbot.waitUntil(lambda: desk.free("bybit:BTC") > 1)
    dialog = _dialog(qtbot, FundsDialog, desk, mode="withdraw", account="bybit:BTC")
    _click(qtbot, dialog.max_button)
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    assert exact - Decimal("0.00000002") <= dialog.amount.value() <= exact  # never above: within a float's ulp
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].accepted


# -- previews turn red whenever the form refuses ----------------------------------------------------------------

def test_a_refused_top_up_is_previewed_in_the_danger_colour_never_after_safe(qtbot, desk):
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=desk.pid("btc-core-long"))
    danger, safe = dialog.theme.danger.name(), dialog.theme.safe.name()
    _type(qtbot, dialog.amount, "20000")  # more than the 12,500 free
    _settled(qtbot, dialog)
    assert "more than the free balance 12500 USDT of binance-usdm:USDT (max addable)" in dialog.problem()
    assert not dialog.confirm_button.isEnabled()
    for label in dialog.preview.after.values():
        assert danger in _colour(label) and safe not in _colour(label)
    assert dialog.level_label.text().startswith("After: refused")
    assert "SAFE" not in dialog.level_label.text() and danger in _colour(dialog.level_label)
    _type(qtbot, dialog.amount, "1000")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    assert dialog.level_label.text().startswith("After: SAFE · liquidation ") and dialog.level_label.text().endswith(
        " away")
    assert safe in _colour(dialog.preview.after["liquidation_price"])
    # the distance reads as on the cards: unsigned, "away"
    assert dialog.preview.before["distance_frac"].text().endswith(" % away")


def test_a_refused_withdrawal_colours_the_free_balance_line(qtbot, desk):
    dialog = _dialog(qtbot, FundsDialog, desk, mode="withdraw", account="binance-usdm:USDT")
    _type(qtbot, dialog.amount, "12500.01")
    _settled(qtbot, dialog)
    assert dialog.problem() == "amount: 12500.01 USDT is more than the free balance 12500 of binance-usdm:USDT"
    assert dialog.theme.danger.name() in _colour(dialog.free_label)
    _type(qtbot, dialog.amount, "100")
    _settled(qtbot, dialog)
    assert dialog.problem() == "" and dialog.theme.danger.name() not in _colour(dialog.free_label)


def test_the_open_form_preview_turns_red_when_refused(qtbot, desk):
    dialog = _dialog(qtbot, OpenPositionDialog, desk)
    dialog.symbol.setCompleter(None)
    qtbot.keyClicks(dialog.symbol, "BTCUSDT")
    _type(qtbot, dialog.quantity, "0.1")
    _type(qtbot, dialog.margin, "20000")  # beyond the free balance
    _settled(qtbot, dialog)
    assert "more than the free balance" in dialog.problem()
    assert all(dialog.theme.danger.name() in _colour(v) for v in dialog.preview.before.values())
    _type(qtbot, dialog.margin, "800")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    assert dialog.theme.danger.name() not in _colour(dialog.preview.before["notional"])


# -- partial close ------------------------------------------------------------------------------------------------

def test_a_quarter_of_a_short_is_closed_and_its_pnl_is_booked_and_journaled(qtbot, desk, tmp_path, monkeypatch):
    pid = desk.pid("btc-scalp-short")  # 0.2 BTC short at 60,100 holding 601
    free_before = Decimal(repr(desk.free("binance-usdm:USDT")))
    dialog = _dialog(qtbot, ClosePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.price, "59100")
    _click(qtbot, dialog.quick_buttons["25 %"])
    _settled(qtbot, dialog)
    assert dialog.quantity.value() == Decimal("0.05")
    # by hand: 0.05 × (60,100 − 59,100) = 50 realized; a quarter of 601 = 150.25 released
    assert dialog.realized == Decimal("50")
    assert dialog.figures.released == Decimal("150.25") and dialog.figures.remaining == Decimal("0.15")
    assert dialog.problem() == ""
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    result = blocker.args[0]
    assert result.reason == "closed 0.05 of btc-scalp-short at 59100: realized +50 USDT; 0.15 stay open"
    assert isinstance(result.payload, CloseReport) and result.payload.realized_pnl == Decimal("50")
    qtbot.waitUntil(lambda: desk.snap.cols["quantity"][desk.row("btc-scalp-short")] == 0.15)
    row = desk.row("btc-scalp-short")
    assert desk.snap.book.statuses[row] == "open"
    assert desk.snap.cols["entry_price"][row] == 60_100.0
    assert desk.snap.cols["isolated_margin"][row] == 450.75
    assert Decimal(repr(desk.free("binance-usdm:USDT"))) == free_before + Decimal("150.25") + Decimal("50")

    view = JournalView(desk.controller, desk.snap, None, position_id=pid)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show()
    (entry,) = view.page.entries
    assert view.model.cell(entry, 2) == "Close (part)"
    assert view.model.cell(entry, 4) == "+50 USDT"  # its own column, not only the reason
    assert view.model.cell(entry, 9).endswith(" away → " + view.model.cell(entry, 9).split(" → ")[1])
    target = tmp_path / "journal.csv"
    monkeypatch.setattr(JournalView, "ask_save_path", classmethod(lambda cls, parent, suggested: str(target)))
    view.export()
    with target.open(encoding="utf-8") as handle:
        (line,) = list(csv.DictReader(handle))
    assert line["kind"] == "close"
    assert [Decimal(line[k]) for k in ("amount", "realized_pnl", "closed_quantity")] == [
        Decimal("150.25"), Decimal("50"), Decimal("0.05")]


def test_all_of_it_closes_the_position_and_more_is_refused_with_the_desks_sentence(qtbot, desk):
    from isodesk.desk.commands import ClosePosition

    pid = desk.pid("btc-scalp-short")
    dialog = _dialog(qtbot, ClosePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.quantity, "0.3")
    _settled(qtbot, dialog)
    refused = desk.answer(qtbot, ClosePosition(pid, quantity=Decimal("0.3")))
    assert not refused.accepted and dialog.problem() == refused.reason
    assert refused.reason == "quantity: 0.3 is more than the position's 0.2; close at most all of it"
    _click(qtbot, dialog.quick_buttons["100 %"])
    _settled(qtbot, dialog)
    assert dialog.quantity.value() == Decimal("0.2") and dialog.problem() == ""
    assert dialog.build_command().quantity is None  # all of it: a full close
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].payload.remaining == 0
    qtbot.waitUntil(lambda: desk.snap.book.statuses[desk.snap.book.row_of(pid)] == "closed")


def test_a_close_price_far_from_the_mark_needs_a_tick(qtbot, desk):
    pid = desk.pid("btc-scalp-short")  # mark 60,000
    dialog = _dialog(qtbot, ClosePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.price, "59100")  # 1.5 % away: no question
    _settled(qtbot, dialog)
    assert not dialog.accept_price.isVisible() and dialog.problem() == ""
    _type(qtbot, dialog.price, "56000")  # 6.7 % away: a tick
    _settled(qtbot, dialog)
    assert dialog.accept_price.isVisible()
    assert dialog.accept_price.text() == "I accept closing at 56,000, 6.7 % from the mark 60,000"
    assert dialog.problem() == "price: 56000 is 6.7 % from the mark (more than 5 %): tick the box to close there"
    assert not dialog.confirm_button.isEnabled()
    assert dialog.theme.danger.name() in _colour(dialog.pnl_label)  # refused (for now): red
    _click(qtbot, dialog.accept_price)
    _settled(qtbot, dialog)
    assert dialog.problem() == "" and dialog.confirm_button.isEnabled()
    _type(qtbot, dialog.price, "55000")  # a new price asks again
    _settled(qtbot, dialog)
    assert not dialog.accept_price.isChecked() and "tick the box" in dialog.problem()
    _type(qtbot, dialog.price, "100000")  # beyond 50 %: refused, no tick offered
    _settled(qtbot, dialog)
    assert not dialog.accept_price.isVisible() and "a close price must be within 50 % of it" in dialog.problem()


def test_the_journal_shows_the_realized_pnl_of_a_full_close(qtbot, desk):
    pid = desk.pid("btc-core-long")  # 0.5 BTC long from 62,000, margin 6,200
    from isodesk.desk.commands import ClosePosition

    result = desk.answer(qtbot, ClosePosition(pid, price=Decimal("61000")))
    assert result.accepted and result.payload.realized_pnl == Decimal("-500")  # 0.5 × (61,000 − 62,000)
    page = desk.answer(qtbot, ReadJournal(position_id=pid)).payload
    (entry,) = page.entries
    assert entry.realized_pnl == Decimal("-500") and entry.closed_quantity == Decimal("0.5")
