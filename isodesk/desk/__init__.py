"""The headless risk desk: the book, the feed and the engine; the only writer of the database."""

from isodesk.desk.commands import (
    AcknowledgeAlert,
    AddCollateral,
    ClosePosition,
    Command,
    Deposit,
    OpenPosition,
    RemoveCollateral,
    Result,
    SetPaused,
    SetSpeed,
    SetThresholds,
    UndoAdjustment,
    Withdraw,
)
from isodesk.desk.desk import Desk
from isodesk.desk.events import EventKind, PositionEvent
from isodesk.desk.levels import Level, Thresholds
from isodesk.desk.snapshot import AccountTotals, BookInfo, Snapshot

__all__ = [
    "AccountTotals", "AcknowledgeAlert", "AddCollateral", "BookInfo", "ClosePosition", "Command", "Deposit", "Desk",
    "EventKind", "Level", "OpenPosition", "PositionEvent", "RemoveCollateral", "Result", "SetPaused", "SetSpeed",
    "SetThresholds", "Snapshot", "Thresholds", "UndoAdjustment", "Withdraw",
]
