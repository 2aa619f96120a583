"""The desk forms driven like a user would, against the real desk in its worker thread.

Each test gets a DeskController over a fresh demo database with a scripted feed; at teardown the
thread is joined and the ledger is re-read through a separate Store: the sum over all refs is 0.
"""

from __future__ import annotations

import csv
import re
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import QLocale, Qt

from isodesk.desk.commands import AddCollateral, ReadJournal
from isodesk.desk.session import DeskConfig
from isodesk.desk.setup import shipped_catalog
from isodesk.margin import Position, compute_one
from isodesk.margin.bounds import BoundsError, check_amount, check_text
from isodesk.store import Store
from isodesk.ui.columns import fmt_price
from isodesk.ui.dialogs import ClosePositionDialog, CollateralDialog, FundsDialog, JournalView, OpenPositionDialog
from isodesk.ui.dialogs.amount import AmountError, format_amount, parse_amount, plain_amount
from isodesk.ui.worker import DeskController
from tests.desk.fakes import ScriptedFeed

EN = QLocale("en_US")
DE = QLocale("de_DE")


@dataclass
class SignallingFeed(ScriptedFeed):
    """A scripted feed that tells the test thread when the desk has polled ticks (the step is under way)."""

    polled: threading.Event = field(default_factory=threading.Event, repr=False)

    def poll(self, now: float):
        ticks = super().poll(now)
        if ticks:
            self.polled.set()
        return ticks


@dataclass
class Desk:
    controller: DeskController
    feed: SignallingFeed
    path: Path

    @property
    def snap(self):
        return self.controller.latest

    def pid(self, label: str) -> int:
        book = self.snap.book
        return int(book.position_ids[book.labels.index(label)])

    def row(self, label: str) -> int:
        return self.snap.book.labels.index(label)

    def free(self, account: str) -> float:
        return next(a.free_balance for a in self.snap.accounts if a.name == account)


@pytest.fixture
def desk(qtbot, tmp_path):
    feed = SignallingFeed()
    path = tmp_path / "book.db"
    controller = DeskController(DeskConfig(db=str(path), demo=True, step_ms=20, feed_factory=lambda store: feed))
    with qtbot.waitSignal(controller.snapshot, timeout=5000):
        controller.start()
    yield Desk(controller, feed, path)
    assert controller.shutdown()
    assert controller.thread.isFinished()
    store = Store.open(path)
    try:
        assert sum(store.balances().values(), Decimal(0)) == 0
    finally:
        store.close()


def _dialog(qtbot, cls, desk, **kw):
    dialog = cls(desk.controller, desk.snap, None, theme=None, locale=EN, **kw)
    qtbot.addWidget(dialog)
    dialog.open()
    return dialog


def _type(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def _settled(qtbot, dialog):
    """Wait for the debounced evaluation of what was just typed."""
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)


def _click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _btc_core_long(margin: float) -> Position:
    catalog = shipped_catalog()
    return Position(venue="binance-usdm", side="long", entry_price=62_000.0, quantity=0.5, isolated_margin=margin,
                    leverage=5.0, tiers=catalog.table("binance-usdm", "linear", "BTCUSDT"), symbol="BTCUSDT")


# -- amounts -------------------------------------------------------------------------------------------------------

def _bounds_reason(check, text, field="amount"):
    """What ``isodesk.margin.bounds`` says about ``text``, without the field name."""
    with pytest.raises(BoundsError) as caught:
        check(text, field)
    return str(caught.value).removeprefix(f"{field}: ")


def test_forms_read_numbers_exactly_as_the_bounds_do():
    assert parse_amount("1234.5") == Decimal("1234.5")
    assert parse_amount("0.00000001") == Decimal("0.00000001")
    assert parse_amount("12500") == Decimal("12500") and str(parse_amount("12500")) == "12500"
    assert parse_amount("1e3") == Decimal("1000")  # what bounds.parse_decimal reads, the forms read
    assert parse_amount("0.000000000001", kind="price") == Decimal("1E-12")
    for text, kind, why in (("1,234.5", "amount", "has a comma"), ("1.234,5", "amount", "has a comma"),
                            ("1,5", "price", "1,5 is not read as 1.5 or as 15"),
                            ("0.123456789", "amount", "more than 8 decimal places"),
                            ("-5", "amount", "must be greater than 0"), ("0", "amount", "must be greater than 0"),
                            ("abc", "amount", "is not a decimal number"), ("NaN", "amount", "is not a decimal number"),
                            ("", "amount", "is empty"),
                            ("1E+999999999", "amount", "more than the largest amount isodesk keeps"),
                            ("1E+400", "amount", "more than the largest amount isodesk keeps"),
                            ("1E-21", "amount", "more than 8 decimal places"),
                            ("1E-21", "price", "outside the prices isodesk accepts"),
                            ("1E+13", "quantity", "more than 10^12"), ("500", "leverage", "outside 1× to 200×")):
        with pytest.raises(AmountError, match=re.escape(why)):
            parse_amount(text, kind=kind)
    # the refusal is the bounds' own sentence
    with pytest.raises(AmountError) as caught:
        parse_amount("1,5")
    assert str(caught.value) == _bounds_reason(check_amount, "1,5")
    # the locale formats figures for display only; a field holds text every locale reads back
    assert format_amount(Decimal("1234.50000000"), DE, group=True) == "1.234,5"
    assert plain_amount(Decimal("1234.50000000")) == "1234.5"
    for value in (Decimal("0.1"), Decimal("1E+3"), Decimal("0.00000001"), Decimal("123456789012.12345678")):
        assert parse_amount(plain_amount(value)) == value


# -- collateral ----------------------------------------------------------------------------------------------------

def test_removal_above_max_removable_is_refused_in_the_form(qtbot, desk):
    pid = desk.pid("btc-scalp-short")
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=pid, mode="remove")
    assert dialog.limits["remove"] == Decimal(21)  # Binance: min(W − MM, B − n/L) at mark 60,000
    _type(qtbot, dialog.amount, "21.5")
    _settled(qtbot, dialog)
    assert not dialog.confirm_button.isEnabled()
    assert "max removable" in dialog.reason_label.text()
    assert dialog.reason_label.text() == dialog.problem()
    # Max fills exactly what the venue allows; that leaves the short at WARNING: it needs the tick
    _click(qtbot, dialog.quick_buttons["Max"])
    assert dialog.amount.value() == Decimal(21)
    assert dialog.accept_risk.isVisible()
    assert dialog.accept_risk.text() == "I accept that this leaves the position at WARNING"
    assert not dialog.confirm_button.isEnabled() and "tick the box" in dialog.problem()
    _click(qtbot, dialog.accept_risk)
    _settled(qtbot, dialog)
    assert dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].accepted
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: desk.snap.cols["isolated_margin"][desk.row("btc-scalp-short")] == 580.0)


def test_text_that_is_not_an_amount_is_explained_inline(qtbot, desk):
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=desk.pid("btc-core-long"))
    for text, why in (("12,50", "has a comma"), ("1.123456789", "more than 8 decimal places"),
                      ("abc", "not a decimal number"), ("20000", "max addable")):
        _type(qtbot, dialog.amount, text)
        _settled(qtbot, dialog)
        assert why in dialog.reason_label.text()
        assert not dialog.confirm_button.isEnabled()


def test_preview_equals_the_engine_and_a_top_up_reaches_the_book_and_the_journal(qtbot, desk):
    pid = desk.pid("btc-core-long")
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=pid)
    _type(qtbot, dialog.amount, "1000.5")
    qtbot.keyClicks(dialog.reason_edit, "top-up before CPI")
    _settled(qtbot, dialog)
    mark = float(desk.snap.cols["mark"][desk.row("btc-core-long")])
    expected = compute_one(_btc_core_long(7_200.5), mark)
    assert dialog.after_risk.liquidation_price == pytest.approx(expected.liquidation_price, rel=1e-12)
    assert dialog.preview.after_text("liquidation_price") == fmt_price(expected.liquidation_price)
    assert dialog.preview.tone == "safer"
    assert dialog.preview.after["liquidation_price"].styleSheet().endswith(f"{dialog.theme.safe.name()};")
    before = float(desk.snap.cols["liquidation_price"][desk.row("btc-core-long")])
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000):
        _click(qtbot, dialog.confirm_button)
    qtbot.waitUntil(lambda: desk.snap.cols["isolated_margin"][desk.row("btc-core-long")] == 7_200.5)
    after = float(desk.snap.cols["liquidation_price"][desk.row("btc-core-long")])
    assert after < before
    assert after == pytest.approx(expected.liquidation_price, rel=1e-12)

    with qtbot.waitSignal(desk.controller.result, timeout=5000,
                          check_params_cb=lambda r: r.payload is not None) as blocker:
        desk.controller.send(ReadJournal(position_id=pid))
    entry = blocker.args[0].payload.entries[-1]
    assert (entry.kind, entry.amount, entry.reason) == ("add", Decimal("1000.5"), "top-up before CPI")
    assert entry.after["liquidation_price"] == pytest.approx(expected.liquidation_price, rel=1e-12)


def test_top_up_racing_a_liquidation_is_refused_by_the_desk_and_the_form_says_why(qtbot, desk):
    pid = desk.pid("sol-degen-long")  # liquidation ≈ 147.24 at mark 150
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=pid)
    _type(qtbot, dialog.amount, "10")
    _settled(qtbot, dialog)
    assert dialog.confirm_button.isEnabled()
    desk.feed.polled.clear()
    desk.feed.push("SOLUSDT", 140.0, time.time())
    # the desk thread is inside the step that liquidates; the form still shows the older snapshot
    assert desk.feed.polled.wait(5)
    with qtbot.waitSignal(dialog.command_rejected, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    reason = blocker.args[0].reason
    assert reason == "position 'sol-degen-long' was liquidated; it holds no collateral any more"
    assert dialog.isVisible()
    assert dialog.desk_message() == f"The desk refused: {reason}"
    # and once the form has the new snapshot it refuses by itself
    qtbot.waitUntil(lambda: "liquidated" in dialog.problem(), timeout=3000)
    assert not dialog.confirm_button.isEnabled()


# -- positions -----------------------------------------------------------------------------------------------------

def _no_popup(dialog):
    """The completer's popup window warns on the offscreen platform (raise, keyboard grab): test it apart."""
    completer = dialog.symbol.completer()
    completer.setCompletionPrefix("btcu")
    found = {completer.completionModel().index(i, 0).data() for i in range(completer.completionCount())}
    dialog.symbol.setCompleter(None)
    return found


def test_symbol_completion_comes_from_the_tier_tables(qtbot, desk):
    dialog = _dialog(qtbot, OpenPositionDialog, desk)
    assert {"BTCUSDT", "BTCUSDC"} <= _no_popup(dialog)
    hyper = _dialog(qtbot, OpenPositionDialog, desk, venue="hyperliquid")
    completer = hyper.symbol.completer()
    completer.setCompletionPrefix("ET")
    assert completer.completionModel().index(0, 0).data() == "ETH"
    hyper.symbol.setCompleter(None)


def test_open_position_form_refuses_what_the_venue_would(qtbot, desk):
    dialog = _dialog(qtbot, OpenPositionDialog, desk)
    _no_popup(dialog)
    qtbot.keyClicks(dialog.symbol, "BTCUSDX")
    _settled(qtbot, dialog)
    assert "is not a binance-usdm linear symbol" in dialog.problem() and "BTCUSDT" in dialog.problem()
    assert not dialog.confirm_button.isEnabled()
    _type(qtbot, dialog.symbol, "BTCUSDT")
    _type(qtbot, dialog.quantity, "0.1")
    _settled(qtbot, dialog)
    assert dialog.entry.value() == Decimal(60000)  # defaulted from the mark
    _type(qtbot, dialog.leverage, "200")
    _settled(qtbot, dialog)
    assert "leverage" in dialog.problem() and "maximum" in dialog.problem()
    _type(qtbot, dialog.leverage, "10")
    _settled(qtbot, dialog)
    assert dialog.margin.value() == Decimal(600)  # defaulted from the leverage
    _type(qtbot, dialog.margin, "599.99")
    _settled(qtbot, dialog)
    assert "below the initial margin 600" in dialog.problem()
    _type(qtbot, dialog.margin, "20000")
    _settled(qtbot, dialog)
    assert "more than the free balance" in dialog.problem()
    _type(qtbot, dialog.margin, "800")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    assert dialog.label_edit.text() == "btcusdt-long"
    catalog = shipped_catalog()
    expected = compute_one(Position(venue="binance-usdm", side="long", entry_price=60_000.0, quantity=0.1,
                                    isolated_margin=800.0, leverage=10.0,
                                    tiers=catalog.table("binance-usdm", "linear", "BTCUSDT")), 60_000.0)
    assert dialog.preview.before["liquidation_price"].text() == fmt_price(expected.liquidation_price)
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    pid = blocker.args[0].position_id
    qtbot.waitUntil(lambda: desk.snap.book.row_of(pid) is not None)
    row = desk.snap.book.row_of(pid)
    assert desk.snap.cols["liquidation_price"][row] == pytest.approx(expected.liquidation_price, rel=1e-12)
    assert desk.free("binance-usdm:USDT") == pytest.approx(12_500 - 800)


def test_open_position_needs_an_account_funded_first(qtbot, desk):
    dialog = _dialog(qtbot, OpenPositionDialog, desk, venue="gate")
    dialog.symbol.setCompleter(None)
    qtbot.keyClicks(dialog.symbol, "BTC_USDT")
    _type(qtbot, dialog.quantity, "0.01")
    _type(qtbot, dialog.entry, "60000")
    _settled(qtbot, dialog)
    assert "no gate:USDT account yet" in dialog.problem()
    funds = _dialog(qtbot, FundsDialog, desk, mode="deposit")
    funds.account_box.setCurrentIndex(funds.account_box.findData("gate:USDT"))
    _type(qtbot, funds.amount, "1000")
    _settled(qtbot, funds)
    with qtbot.waitSignal(funds.command_accepted, timeout=5000):
        _click(qtbot, funds.confirm_button)
    qtbot.waitUntil(lambda: dialog.problem() == "", timeout=3000)
    assert dialog.confirm_button.isEnabled()


def test_close_at_a_price_realizes_pnl_into_the_free_balance(qtbot, desk):
    pid = desk.pid("btc-scalp-short")  # 0.2 BTC short at 60,100 holding 601
    free_before = desk.free("binance-usdm:USDT")
    dialog = _dialog(qtbot, ClosePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.price, "59100")
    _settled(qtbot, dialog)
    assert dialog.realized == Decimal("200")
    assert dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert "realized +200" in blocker.args[0].reason
    qtbot.waitUntil(lambda: desk.snap.book.statuses[desk.snap.book.row_of(pid)] == "closed")
    assert desk.free("binance-usdm:USDT") == pytest.approx(free_before + 601 + 200)


def test_withdraw_is_limited_to_the_free_balance(qtbot, desk):
    dialog = _dialog(qtbot, FundsDialog, desk, mode="withdraw", account="bybit:BTC")
    _type(qtbot, dialog.amount, "0.20000001")
    _settled(qtbot, dialog)
    assert "more than the free balance 0.2 of bybit:BTC" in dialog.problem()
    _click(qtbot, dialog.max_button)
    assert dialog.amount.value() == Decimal("0.2")
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000):
        _click(qtbot, dialog.confirm_button)
    qtbot.waitUntil(lambda: desk.free("bybit:BTC") == 0.0)


# -- bounds: the forms refuse what the command line, import and the desk refuse --------------------------------------

def test_a_deposit_beyond_the_bounds_is_refused_in_the_form_not_previewed(qtbot, desk):
    dialog = _dialog(qtbot, FundsDialog, desk, mode="deposit", account="binance-usdm:USDT")
    _type(qtbot, dialog.amount, "99999999999999999999")
    _settled(qtbot, dialog)
    assert dialog.problem() == "amount: " + _bounds_reason(check_amount, "99999999999999999999")
    assert "more than the largest amount isodesk keeps" in dialog.reason_label.text()
    assert not dialog.confirm_button.isEnabled()
    assert "016,384" not in dialog.free_label.text() and dialog.free_label.text().endswith("→ — USDT")
    for text in ("1E+400", "1E-21", "NaN"):
        _type(qtbot, dialog.amount, text)
        _settled(qtbot, dialog)
        assert dialog.problem() == "amount: " + _bounds_reason(check_amount, text)
        assert not dialog.confirm_button.isEnabled()
    _type(qtbot, dialog.amount, "100.5")
    _settled(qtbot, dialog)
    assert dialog.problem() == "" and dialog.confirm_button.isEnabled()


def test_a_decimal_comma_is_refused_with_the_reason_in_every_locale(qtbot, desk):
    dialog = FundsDialog(desk.controller, desk.snap, None, mode="deposit", account="binance-usdm:USDT", locale=DE)
    qtbot.addWidget(dialog)
    dialog.open()
    _type(qtbot, dialog.amount, "1,5")
    _settled(qtbot, dialog)
    assert dialog.problem() == "amount: " + _bounds_reason(check_amount, "1,5")
    assert "1,5 is not read as 1.5 or as 15" in dialog.reason_label.text()
    assert dialog.amount.value() is None and not dialog.confirm_button.isEnabled()


def test_position_form_holds_quantity_price_leverage_and_label_to_the_bounds(qtbot, desk):
    dialog = _dialog(qtbot, OpenPositionDialog, desk)
    _no_popup(dialog)
    qtbot.keyClicks(dialog.symbol, "BTCUSDT")
    _type(qtbot, dialog.quantity, "0.1")
    _settled(qtbot, dialog)
    for edit, text, why in ((dialog.quantity, "1,5", "quantity: '1,5' has a comma"),
                            (dialog.entry, "1E+400", "entry price: 1E+400 is outside the prices isodesk accepts"),
                            (dialog.leverage, "1E+999999999", "leverage: 1E+999999999× is outside 1× to 200×")):
        before = edit.text()
        _type(qtbot, edit, text)
        _settled(qtbot, dialog)
        assert dialog.problem().startswith(why)
        assert not dialog.confirm_button.isEnabled()
        _type(qtbot, edit, before)
    _type(qtbot, dialog.leverage, "10")
    _type(qtbot, dialog.margin, "800")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    dialog.label_edit.setText("evil\x1b[2J")  # pasted: a terminal escape sequence
    _settled(qtbot, dialog)
    with pytest.raises(BoundsError) as caught:
        check_text("evil\x1b[2J", "label")
    assert dialog.problem() == str(caught.value)
    assert not dialog.confirm_button.isEnabled()


def test_collateral_reason_with_a_control_character_is_refused_in_the_form(qtbot, desk):
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=desk.pid("btc-core-long"))
    _type(qtbot, dialog.amount, "100")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    dialog.reason_edit.setText("top-up\x00")
    _settled(qtbot, dialog)
    assert dialog.problem().startswith("reason: has a control character '\\x00'")
    assert not dialog.confirm_button.isEnabled()


# -- journal -------------------------------------------------------------------------------------------------------

def test_undo_from_the_journal_view_and_csv_export(qtbot, desk, tmp_path, monkeypatch):
    pid = desk.pid("btc-hedge-short")  # Hyperliquid: 360 removable at the demo mark
    with qtbot.waitSignal(desk.controller.result, timeout=5000, check_params_cb=lambda r: r.ledger_entry_id):
        desk.controller.send(AddCollateral(pid, Decimal("100"), reason="test"))
    view = JournalView(desk.controller, desk.snap, None, position_id=pid)
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show()
    assert [e.kind for e in view.page.entries] == ["add"]
    assert view.model.cell(view.page.entries[0], 3) == "+100 USDC"
    assert view.undo_button.isEnabled() and view.undo_button.text() == "Undo the add of 100"
    with qtbot.waitSignal(view.undo_result, timeout=5000) as blocker:
        _click(qtbot, view.undo_button)
    assert blocker.args[0].accepted, blocker.args[0].reason
    qtbot.waitUntil(lambda: view.page is not None and len(view.page.entries) == 2, timeout=5000)
    assert [view.model.rows[i].kind for i in range(2)] == ["undo", "add"]  # newest first
    assert not view.undo_button.isEnabled()
    assert "no collateral adjustment to undo" in view.undo_button.toolTip()

    target = tmp_path / "out" / "journal"
    target.parent.mkdir()
    monkeypatch.setattr(JournalView, "ask_save_path", classmethod(lambda cls, parent, suggested: str(target)))
    written = view.export()
    assert written == target.with_suffix(".csv")
    with written.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["kind"], r["amount"], r["position"]) for r in rows] == [("add", "100", "btc-hedge-short"),
                                                                        ("undo", "100", "btc-hedge-short")]
    assert float(rows[0]["after_isolated_margin"]) == float(rows[0]["before_isolated_margin"]) + 100


def test_account_journal_follows_new_movements(qtbot, desk):
    view = JournalView(desk.controller, desk.snap, None, account="binance-usdm:USDT")
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=5000):
        view.show()
    assert view.model.rowCount() == 0
    assert not view.undo_button.isEnabled()
    with qtbot.waitSignal(view.loaded, timeout=5000):
        desk.controller.send(AddCollateral(desk.pid("eth-big-long"), Decimal("10")))
    assert view.model.rowCount() == 1
    view.table.selectRow(0)
    assert view.target() == desk.pid("eth-big-long")


def test_unknown_account_journal_is_refused(qtbot, desk):
    with qtbot.waitSignal(desk.controller.result, timeout=5000) as blocker:
        desk.controller.send(ReadJournal(account="nope"))
    assert not blocker.args[0].accepted and "no account named 'nope'" in blocker.args[0].reason


# -- one rule for the form and the desk ----------------------------------------------------------------------------

def _desk_answer(qtbot, desk, command):
    """Send ``command`` straight to the desk (no form) and return its Result."""
    with qtbot.waitSignal(desk.controller.result, timeout=5000,
                          check_params_cb=lambda r: r.request_id == command.request_id) as blocker:
        desk.controller.send(command)
    return blocker.args[0]


@pytest.mark.parametrize(("mode", "label", "amount"), [
    ("add", "btc-core-long", "1000000"),        # beyond the free balance
    ("remove", "btc-scalp-short", "21.5"),      # beyond the venue's max removable (21)
    ("remove", "btc-scalp-short", "601"),       # all the margin
    ("add", "btc-core-long", "0.000000001"),    # beyond the store's precision
])
def test_the_form_refuses_with_the_desks_own_sentence(qtbot, desk, mode, label, amount):
    from isodesk.desk.commands import RemoveCollateral

    pid = desk.pid(label)
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=pid, mode=mode)
    _type(qtbot, dialog.amount, amount)
    _settled(qtbot, dialog)
    assert not dialog.confirm_button.isEnabled()
    command = (AddCollateral if mode == "add" else RemoveCollateral)(pid, Decimal(amount))
    result = _desk_answer(qtbot, desk, command)
    assert not result.accepted
    if "decimal places" in result.reason:  # the form's field parser says it before the rules run
        assert "more than 8 decimal places" in dialog.problem()
    else:
        assert dialog.problem() == result.reason


def test_close_price_far_from_the_mark_is_refused_in_the_form_as_by_the_desk(qtbot, desk):
    from isodesk.desk.commands import ClosePosition

    pid = desk.pid("btc-scalp-short")  # mark 60,000
    dialog = _dialog(qtbot, ClosePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.price, "100000")
    _settled(qtbot, dialog)
    assert not dialog.confirm_button.isEnabled()
    assert "67 % away from the mark 60,000" in dialog.problem()
    result = _desk_answer(qtbot, desk, ClosePosition(pid, price=Decimal("100000")))
    assert not result.accepted and dialog.problem() == result.reason
    _type(qtbot, dialog.price, "59100")
    _settled(qtbot, dialog)
    assert dialog.confirm_button.isEnabled()


def test_an_unknown_outcome_offers_only_to_send_the_same_request_again(qtbot, desk, monkeypatch):
    """The desk commits the top-up and then fails before answering: the form says the outcome is
    unknown, locks its inputs, and "Send again" resends the same request id; the desk answers
    "repeated" and the money moved once."""
    from isodesk.desk.commands import Reply
    from isodesk.desk.desk import Desk as RealDesk

    real_apply = RealDesk.apply
    calls: list[str] = []

    def apply_then_fail_once(self, command, *args, **kwargs):
        result = real_apply(self, command, *args, **kwargs)
        calls.append(command.request_id)
        if len(calls) == 1:
            raise OSError("disk went away after the commit")
        return result

    pid = desk.pid("btc-core-long")
    free_before = desk.free("binance-usdm:USDT")
    dialog = _dialog(qtbot, CollateralDialog, desk, position_id=pid)
    _type(qtbot, dialog.amount, "250")
    _settled(qtbot, dialog)
    monkeypatch.setattr(RealDesk, "apply", apply_then_fail_once)
    with qtbot.waitSignal(dialog.command_rejected, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].reply == Reply.UNKNOWN
    assert dialog.isVisible()
    assert dialog.desk_message().startswith("Outcome unknown: the desk failed while running this command")
    assert dialog.confirm_button.text() == "Send again" and dialog.confirm_button.isEnabled()
    assert not dialog.amount.isEnabled()  # a changed amount would be a new request that could run twice
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert blocker.args[0].reply == Reply.REPEATED
    assert calls == [calls[0], calls[0]]  # the very same request id both times
    qtbot.waitUntil(lambda: desk.snap.cols["isolated_margin"][desk.row("btc-core-long")] == 6_450.0)
    assert desk.free("binance-usdm:USDT") == pytest.approx(free_before - 250)


def test_the_form_uses_the_books_tables_an_isolated_only_asset_refuses_removal(qtbot, tmp_path):
    """The tables stored in the book (here: SOL isolated-only on Hyperliquid) reach the form
    through the snapshot; the form refuses what the desk refuses, with its sentence."""
    from isodesk.desk.setup import open_book
    from isodesk.store.tier_tables import save_tier_tables
    from isodesk.venues.tier_bodies import parse_tier_body

    path = tmp_path / "book.db"
    store = open_book(path, demo=True, ts=time.time())
    meta = {"universe": [{"name": "SOL", "szDecimals": 2, "maxLeverage": 20, "marginTableId": 20,
                          "marginMode": "strictIsolated"}], "marginTables": []}
    save_tier_tables(store, parse_tier_body("hyperliquid", meta), "import", time.time())
    store.close()
    feed = SignallingFeed()
    controller = DeskController(DeskConfig(db=str(path), demo=True, step_ms=20, feed_factory=lambda store: feed))
    with qtbot.waitSignal(controller.snapshot, timeout=5000):
        controller.start()
    try:
        desk = Desk(controller, feed, path)
        assert desk.snap.catalog.strict_isolated("hyperliquid", "SOL")
        dialog = _dialog(qtbot, CollateralDialog, desk, position_id=desk.pid("sol-hl-short"), mode="remove")
        _type(qtbot, dialog.amount, "1")
        _settled(qtbot, dialog)
        assert not dialog.confirm_button.isEnabled()
        assert dialog.problem() == ("sol-hl-short: SOL is isolated-only on its venue, which lets no margin be "
                                    "removed from it (add margin, or close part of the position)")
        dialog.set_mode("add")
        _settled(qtbot, dialog)
        assert dialog.problem() == "" and dialog.confirm_button.isEnabled()
        dialog.close()
    finally:
        assert controller.shutdown()
