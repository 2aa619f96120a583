"""The add-to-position form: the preview is the desk's arithmetic (averaged entry, the added part's
initial margin) with the liquidation price worked by hand; a size past a tier shows the tier-cliff
warning; a refusal is the desk's own sentence; Confirm sends the command the desk accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest

from isodesk.desk import Deposit
from isodesk.desk.increase import IncreasePosition
from isodesk.formats import fmt_price
from isodesk.store import Store
from isodesk.ui.dialogs import IncreasePositionDialog
from tests.gui.test_dialogs import _click, _desk_answer, _dialog, _settled, _type, desk  # noqa: F401 (fixture)

BTC_TIER_1 = 0.004  # Binance BTCUSDT maintenance rate to 300,000 USDT, amount 0 (shipped table)


def _short_liq(q: float, e: float, w: float, rate: float, amount: float = 0.0) -> float:
    """A short's liquidation price on one tier, solved by hand: w + q(E − P) = rate·q·P − amount."""
    return (w + q * e + amount) / (q * (1 + rate))


def test_the_preview_averages_the_entry_and_brings_the_initial_margin(qtbot, desk):  # noqa: F811
    pid = desk.pid("btc-scalp-short")  # 0.2 BTC short at 60,100, 20×, margin 601; mark 60,000
    row = desk.row("btc-scalp-short")
    assert desk.snap.cols["mark"][row] == 60_000.0
    free = desk.free("binance-usdm:USDT")
    dialog = _dialog(qtbot, IncreasePositionDialog, desk, position_id=pid)
    assert not dialog.confirm_button.isEnabled() and dialog.problem() == "quantity: give the size to add"
    _type(qtbot, dialog.quantity, "0.2")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    # by hand: entry (0.2 × 60,100 + 0.2 × 60,000) / 0.4 = 60,050; margin 0.2 × 60,000 / 20 = 600
    assert dialog.figures.entry_price == Decimal("60050") and dialog.figures.initial_margin == Decimal("600")
    assert dialog.size_label.text() == "0.2 → 0.4"
    assert dialog.entry_label.text() == "60,100.00 → 60,050.00"
    assert dialog.free_label.text() == f"{free - 600:,.2f} USDT"
    liq = _short_liq(0.4, 60_050, 1_201, BTC_TIER_1)
    assert dialog.preview.after_text("liquidation_price") == fmt_price(liq)
    assert dialog.preview.after_text("isolated_margin") == "1,201.00"
    assert dialog.cliff_warning() == ""
    with qtbot.waitSignal(dialog.command_accepted, timeout=5000) as blocker:
        _click(qtbot, dialog.confirm_button)
    assert "size 0.2 → 0.4" in blocker.args[0].reason
    qtbot.waitUntil(lambda: desk.snap.cols["quantity"][desk.snap.book.row_of(pid)] == 0.4, timeout=5000)
    assert desk.snap.cols["liquidation_price"][desk.snap.book.row_of(pid)] == pytest.approx(liq, rel=1e-9)
    store = Store.open(desk.path)
    try:
        held = store.position(pid)
        assert (held.quantity, held.entry_price) == (Decimal("0.4"), Decimal("60050"))
        assert store.journal(position_id=pid)[-1].kind == "increase"
    finally:
        store.close()


def test_a_size_past_the_first_tier_warns_and_a_refusal_is_the_desks_sentence(qtbot, desk):  # noqa: F811
    pid = desk.pid("btc-scalp-short")
    assert _desk_answer(qtbot, desk, Deposit(Decimal("50000"), account="binance-usdm:USDT")).accepted
    qtbot.waitUntil(lambda: desk.free("binance-usdm:USDT") == 62_500.0, timeout=5000)
    dialog = _dialog(qtbot, IncreasePositionDialog, desk, position_id=pid)
    _type(qtbot, dialog.quantity, "6")  # 6.2 BTC ≈ 372,000 USDT: Binance BTCUSDT tier 2 (0.5 %, amount 300)
    _type(qtbot, dialog.margin, "20000")
    _settled(qtbot, dialog)
    assert dialog.problem() == ""
    assert dialog.cliff_warning().startswith("this size moves the position into tier 2: maintenance 0.4 % → 0.5 %")
    assert dialog.cliff_label.isVisibleTo(dialog)
    _type(qtbot, dialog.margin, "100")
    _settled(qtbot, dialog)
    assert not dialog.confirm_button.isEnabled()
    assert dialog.problem() == ("margin: 100 is below the initial margin 18000 USDT that 20× leverage needs for the "
                                "added 6")
    result = _desk_answer(qtbot, desk, IncreasePosition(pid, quantity=Decimal("6"), margin=Decimal("100")))
    assert not result.accepted and result.reason == dialog.problem()
    _type(qtbot, dialog.margin, "")
    _type(qtbot, dialog.price, "100000")
    _settled(qtbot, dialog)
    result = _desk_answer(qtbot, desk, IncreasePosition(pid, quantity=Decimal("6"), price=Decimal("100000")))
    assert not result.accepted and result.reason == dialog.problem()
    assert "a fill price must be within 50 %" in result.reason
