"""The tier-cliff warning in the open-position form: shown, in the warning colour, when the size
moves the position past the venue's first maintenance tier; a warning, never a refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import QLocale

from isodesk.desk import Deposit
from isodesk.desk.rules import tier_cliff_warning
from isodesk.desk.setup import shipped_catalog
from isodesk.formats import fmt_price
from isodesk.margin import Position
from isodesk.ui.dialogs import OpenPositionDialog
from isodesk.ui.worker import DeskConfig, DeskController
from tests.desk.fakes import ScriptedFeed

EN = QLocale("en_US")
BTC = shipped_catalog().table("binance-usdm", "linear", "BTCUSDT")  # 0.4 % to 300,000; 0.5 % − 300 to 800,000; …


def _hand_liq(q: float, e: float, w: float, rate: float, amount: float) -> float:
    """A long's liquidation price on one tier, solved by hand: w + q(P − E) = rate·q·P − amount."""
    return (q * e - w - amount) / (q * (1 - rate))


def test_the_rule_names_the_tier_rates_and_both_liquidation_prices():
    new = Position("binance-usdm", "long", 60_000, 10, 60_000, BTC, leverage=10)  # 600,000: tier 2
    before, after = _hand_liq(10, 60_000, 60_000, 0.004, 0), _hand_liq(10, 60_000, 60_000, 0.005, 300)
    assert tier_cliff_warning(new) == (f"this size moves the position into tier 2: maintenance 0.4 % → 0.5 %, "
                                       f"liquidation price {fmt_price(before)} → {fmt_price(after)}")
    assert tier_cliff_warning(Position("binance-usdm", "long", 60_000, 1, 6_000, BTC, leverage=10)) == ""
    # adding to a position: from tier 1 (4 BTC, 240,000) to tier 3 (20 BTC, 1,200,000)
    held = Position("binance-usdm", "long", 60_000, 4, 24_000, BTC, leverage=10)
    grown = Position("binance-usdm", "long", 60_000, 20, 120_000, BTC, leverage=10)
    text = tier_cliff_warning(grown, held)
    assert text.startswith("this size moves the position into tier 3: maintenance 0.4 % → 0.65 %")
    assert f"→ {fmt_price(_hand_liq(20, 60_000, 120_000, 0.0065, 1_500))}" in text
    assert tier_cliff_warning(held, held) == ""


@pytest.fixture
def controller(qtbot, tmp_path):
    feed = ScriptedFeed()
    ctl = DeskController(DeskConfig(db=str(tmp_path / "book.db"), demo=True, step_ms=20,
                                    feed_factory=lambda store: feed))
    with qtbot.waitSignal(ctl.snapshot, timeout=5000):
        ctl.start()
    yield ctl
    assert ctl.shutdown()


def _type(qtbot, edit, text):
    edit.clear()
    qtbot.keyClicks(edit, text)


def test_the_open_form_shows_the_cliff_as_a_warning_not_a_refusal(qtbot, controller):
    with qtbot.waitSignal(controller.result, timeout=5000, check_params_cb=lambda r: r.accepted):
        controller.send(Deposit(Decimal(100_000), account="binance-usdm:USDT"))
    qtbot.waitUntil(lambda: any(a.name == "binance-usdm:USDT" and a.free_balance >= 100_000
                                for a in controller.latest.accounts), timeout=5000)
    dialog = OpenPositionDialog(controller, controller.latest, None, locale=EN)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.symbol.setCompleter(None)  # its popup warns on the offscreen platform
    qtbot.keyClicks(dialog.symbol, "BTCUSDT")
    _type(qtbot, dialog.entry, "60000")
    _type(qtbot, dialog.leverage, "10")
    _type(qtbot, dialog.quantity, "1")
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)
    assert dialog.cliff_warning() == "" and not dialog.cliff_label.isVisibleTo(dialog)
    _type(qtbot, dialog.quantity, "10")
    qtbot.waitUntil(lambda: not dialog._timer.isActive(), timeout=3000)
    before, after = _hand_liq(10, 60_000, 60_000, 0.004, 0), _hand_liq(10, 60_000, 60_000, 0.005, 300)
    assert dialog.cliff_warning() == (f"this size moves the position into tier 2: maintenance 0.4 % → 0.5 %, "
                                      f"liquidation price {fmt_price(before)} → {fmt_price(after)}")
    assert dialog.cliff_label.isVisibleTo(dialog)
    assert dialog.cliff_label.styleSheet().endswith(f"{dialog.theme.warning.name()};")
    assert dialog.margin.value() == Decimal(60_000)
    assert dialog.problem() == "" and dialog.confirm_button.isEnabled()  # a warning, not a refusal


def test_the_card_line_shows_the_first_step_of_a_ladder(tmp_path):
    """The card's note (isodesk.ui.delegates.ladder_note) reads the snapshot's ladder columns: the
    share and mark of the first partial liquidation; nothing for a position that goes at once."""
    from isodesk.desk import Desk, OpenPosition
    from isodesk.store import Store
    from isodesk.ui.delegates import ladder_note
    from tests.desk.fakes import ManualClock

    store = Store.open(tmp_path / "cards.db")
    feed, clock = ScriptedFeed(), ManualClock()
    desk = Desk(store, feed, catalog=shipped_catalog(), clock=clock)
    try:
        feed.push("BTCUSDT", 50_000.0, clock.now)
        desk.step()
        assert desk.apply(Deposit(Decimal(1_000_000), account="bybit:USDT")).accepted
        for label, qty in (("big", "50"), ("small", "1")):
            assert desk.apply(OpenPosition(label=label, venue="bybit", symbol="BTCUSDT", side="long",
                                           quantity=Decimal(qty), entry_price=Decimal(50_000), leverage=Decimal(10),
                                           margin=Decimal(qty) * 5_000)).accepted
        snap = desk.snapshot
        big, small = snap.book.labels.index("big"), snap.book.labels.index("small")
        liq = float(snap.cols["liquidation_price"][big])
        share = (1 - 2_000_000 / (50 * liq)) * 100  # Bybit cuts the 50 BTC to tier 1's top, 2,000,000
        assert ladder_note(snap, big) == f"liq in steps: {share:.0f} % at {fmt_price(liq)}"
        assert ladder_note(snap, small) == ""
    finally:
        desk.close()
        store.close()
