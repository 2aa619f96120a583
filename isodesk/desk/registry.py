"""Every command the desk takes, in one table: its type, how the desk runs it, and its JSON form.

The desk dispatches by this table (never by a message's text); the command queue of another
process sends a command as ``(kind, body)`` JSON and the desk rebuilds it with :func:`decode`.

Modes:

- ``write``: changes the book; runs in one transaction together with the record of its answer
  under its request id, so a retried request id is answered again, never executed twice; may be
  queued by another process.
- ``control``: changes only the running desk (pause, speed); never queued, never recorded.
- ``read``: answers from the book without changing it (journal pages, scenarios).
- ``job``: starts background work whose final answer follows (an import from a venue).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from isodesk.desk import commands as c
from isodesk.desk.allocation import AllocateCollateral, PlanAllocation
from isodesk.desk.increase import IncreasePosition
from isodesk.desk.rules_refresh import RefreshVenueRules
from isodesk.desk.scenario_jobs import SCENARIO_COMMANDS, ReplayPath
from isodesk.desk.settings import SetSettings
from isodesk.desk.venue_jobs import ImportFromVenue

Mode = Literal["write", "control", "read", "job"]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """How the desk runs one command type; ``queueable``: another process may send it."""

    type: type
    mode: Mode
    queueable: bool = False

    @property
    def kind(self) -> str:
        """The command's name in the queue and in replies (its class name)."""
        return self.type.__name__


_SPECS: tuple[CommandSpec, ...] = (
    *(CommandSpec(t, "write", queueable=True) for t in (
        c.Deposit, c.Withdraw, c.OpenPosition, c.ClosePosition, c.AddCollateral, c.RemoveCollateral,
        c.UndoAdjustment, c.SetThresholds, c.AcknowledgeAlert, c.AcknowledgeAlerts, c.ImportPositions,
        c.StoreTierTables)),
    CommandSpec(SetSettings, "write", queueable=True),  # isodesk config set, the settings dialog
    CommandSpec(AllocateCollateral, "write", queueable=True),  # isodesk allocate --apply, the allocate dialog
    CommandSpec(IncreasePosition, "write", queueable=True),  # the add-to-position form
    CommandSpec(c.SetPaused, "control"),
    CommandSpec(c.SetSpeed, "control"),
    CommandSpec(c.ReadJournal, "read"),
    CommandSpec(PlanAllocation, "read"),  # the allocate dialog's survive goal
    *(CommandSpec(t, "read") for t in SCENARIO_COMMANDS if t is not ReplayPath),
    CommandSpec(ReplayPath, "job"),  # replayed off the desk's thread on a copy (desk.path_jobs)
    CommandSpec(ImportFromVenue, "job", queueable=True),
    CommandSpec(RefreshVenueRules, "job"),  # the CLI fetches itself and sends StoreTierTables
)
REGISTRY: Mapping[type, CommandSpec] = {spec.type: spec for spec in _SPECS}
BY_KIND: Mapping[str, CommandSpec] = {spec.kind: spec for spec in _SPECS}


def spec_of(command: object) -> CommandSpec | None:
    """The spec of a command object, or None for something that is not a command."""
    return REGISTRY.get(type(command))


class BadCommand(ValueError):
    """A queued command's JSON does not make a command; the message says which field."""


def encode(command: object) -> tuple[str, dict[str, Any]]:
    """``(kind, body)`` of a queueable command: JSON-ready, Decimals as exact strings."""
    spec = spec_of(command)
    if spec is None or not spec.queueable:
        raise BadCommand(f"{type(command).__name__} cannot be sent to another process's desk")
    body: dict[str, Any] = {}
    for f in dataclasses.fields(command):  # type: ignore[arg-type]
        value = getattr(command, f.name)
        body[f.name] = _jsonable(value)
    return spec.kind, body


def _jsonable(value: Any) -> Any:
    """Decimals as exact text, also inside tuples (an allocation's top-ups); tuples as lists."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def decode(kind: str, body: Mapping[str, Any]) -> Any:
    """The command ``encode`` gave ``(kind, body)`` for; :class:`BadCommand` naming what is wrong."""
    spec = BY_KIND.get(kind)
    if spec is None or not spec.queueable:
        raise BadCommand(f"kind: {kind!r} is not a command another process may send")
    hints = typing.get_type_hints(spec.type)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(spec.type):
        if f.name not in body:
            continue
        value = body[f.name]
        if value is not None and _wants_decimal(hints[f.name]):
            if not isinstance(value, str):
                raise BadCommand(f"{f.name}: {value!r} must be a decimal written as text")
            try:
                value = Decimal(value)
            except InvalidOperation:
                raise BadCommand(f"{f.name}: {value!r} is not a decimal number") from None
        values[f.name] = value
    unknown = set(body) - {f.name for f in dataclasses.fields(spec.type)}
    if unknown:
        raise BadCommand(f"{kind}: unknown fields {', '.join(sorted(unknown))}")
    try:
        return spec.type(**values)
    except TypeError as exc:
        raise BadCommand(f"{kind}: {exc}") from None


def _wants_decimal(hint: Any) -> bool:
    return hint is Decimal or Decimal in typing.get_args(hint)


def result_to_json(result: c.Result) -> dict[str, Any]:
    """A result as JSON (no payload: payloads stay in the process that made them)."""
    return {"request_id": result.request_id, "accepted": result.accepted, "reason": result.reason,
            "ledger_entry_id": result.ledger_entry_id, "position_id": result.position_id, "kind": result.kind,
            "reply": str(result.reply)}


def result_from_json(doc: Mapping[str, Any], *, reply: c.Reply | None = None) -> c.Result:
    """The result :func:`result_to_json` wrote, with ``reply`` overriding the stored one (``repeated``)."""
    return c.Result(str(doc["request_id"]), bool(doc["accepted"]), str(doc.get("reason", "")),
                    ledger_entry_id=doc.get("ledger_entry_id"), position_id=doc.get("position_id"),
                    kind=str(doc.get("kind", "")), reply=reply or c.Reply(doc.get("reply") or "rejected"))
