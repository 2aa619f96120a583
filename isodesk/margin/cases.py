"""Reference cases (``margin-cases.json`` format) in and figures out, for ``isodesk calc --cases``.

A case's ``inputs`` describe one position with its own tiers (``mmr``/``maintenance_amount``,
``tiers`` rows, or Hyperliquid's ``max_leverage``). Results use the reference file's key names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from isodesk.margin.engine import Risk, compute_one
from isodesk.margin.position import Position, PositionError, check
from isodesk.margin.tiers import TierError, TierTable
from isodesk.margin.venues import VENUES, RemovableRule

FIGURES_ALWAYS = ("liquidation_price", "bankruptcy_price")
FIGURES_AT_MARK = ("notional", "unrealized_pnl", "margin_balance", "maintenance_margin", "margin_ratio")


class CaseError(ValueError):
    """A case the engine cannot compute; the message names the field."""


def _number(inputs: Mapping[str, Any], key: str, *, required: bool = True) -> float:
    value = inputs.get(key)
    if value is None:
        if required:
            raise CaseError(f"inputs.{key}: missing")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CaseError(f"inputs.{key}: {value!r} is not a finite number")
    return float(value)


def _tiers(venue: str, inputs: Mapping[str, Any]) -> TierTable:
    given = [k for k in ("mmr", "tiers", "max_leverage") if k in inputs]
    if len(given) != 1:
        raise CaseError(f"inputs: exactly one of mmr / tiers / max_leverage is needed, got {given or 'none'}")
    try:
        if given == ["mmr"]:
            return TierTable.single(_number(inputs, "mmr"), _number(inputs, "maintenance_amount", required=False)
                                    if "maintenance_amount" in inputs else 0.0)
        if given == ["tiers"]:
            return TierTable.from_rows(inputs["tiers"], name="inputs.tiers")
        if venue != "hyperliquid":
            raise CaseError("inputs.max_leverage: only hyperliquid cases give max_leverage")
        return TierTable.single(1.0 / (2.0 * _number(inputs, "max_leverage")))
    except TierError as exc:
        raise CaseError(str(exc)) from None


def position_from_case(case: Mapping[str, Any]) -> Position:
    """The :class:`Position` a case describes; :class:`CaseError` naming the field otherwise."""
    venue = case.get("venue")
    if venue not in VENUES or venue == "custom":
        raise CaseError(f"venue: unknown venue {venue!r}")
    inputs = case.get("inputs")
    if not isinstance(inputs, Mapping):
        raise CaseError("inputs: missing or not an object")
    contract = case.get("contract", "linear")
    if contract == "inverse":
        quantity, contract_size = _number(inputs, "contracts"), _number(inputs, "contract_size")
    else:
        quantity, contract_size = _number(inputs, "quantity"), 1.0
    variant = inputs.get("formula_variant")
    if variant is not None and not isinstance(variant, str):
        raise CaseError(f"inputs.formula_variant: {variant!r} is not a name")
    try:
        counts_fee = VENUES[venue].formula(variant).counts_fee
    except ValueError as exc:
        raise CaseError(f"inputs.formula_variant: {exc}") from None
    if counts_fee and "taker_fee_rate" not in inputs:
        name = f"{venue} {variant}" if variant else venue
        raise CaseError(f"inputs.taker_fee_rate: missing ({name} counts the close fee)")
    position = Position(
        venue=venue, side=str(case.get("side")), contract=str(contract),
        entry_price=_number(inputs, "entry_price"), quantity=quantity, contract_size=contract_size,
        isolated_margin=_number(inputs, "isolated_margin"),
        leverage=_number(inputs, "leverage", required=False),
        taker_fee_rate=_number(inputs, "taker_fee_rate", required=False) if "taker_fee_rate" in inputs else 0.0,
        formula_variant=variant, tiers=_tiers(venue, inputs), label=str(case.get("id", "")),
    )
    try:
        return check(position)
    except PositionError as exc:
        raise CaseError("; ".join(f"inputs.{f}: {m}" for f, m in exc.problems)) from None


def case_figures(position: Position, risk: Risk, *, has_mark: bool) -> dict[str, float | None]:
    """The figures a case's inputs allow, under the reference file's key names."""
    out: dict[str, float | None] = {k: getattr(risk, k) for k in FIGURES_ALWAYS}
    if has_mark:
        out.update({k: getattr(risk, k) for k in FIGURES_AT_MARK})
        if not math.isnan(position.leverage) and VENUES[position.venue].removable != RemovableRule.NONE:
            out["max_removable"] = risk.max_removable
    return out


def evaluate_case(case: Any) -> dict[str, Any]:
    """One result object: ``{"id", figures…}`` or ``{"id", "error"}``."""
    cid = case.get("id") if isinstance(case, Mapping) else None
    try:
        if not isinstance(case, Mapping):
            raise CaseError("case: not an object")
        position = position_from_case(case)
        inputs = case["inputs"]
        mark = _number(inputs, "mark_price") if "mark_price" in inputs else None
        risk = compute_one(position, mark)
        return {"id": cid, **case_figures(position, risk, has_mark=mark is not None)}
    except CaseError as exc:
        return {"id": cid, "error": str(exc)}
