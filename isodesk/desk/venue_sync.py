"""Import and reconciliation of a venue account's isolated positions.

:func:`import_from_venue` reads the account through :mod:`isodesk.venues` (keys from the keyring,
never stored), then :func:`sync_positions` writes it in ONE transaction: a new position is
inserted and funded from ``external`` (ledger kind ``import``); a position imported before (same
venue position id, still open) is updated in place, its margin moved by a ``venue_sync`` ledger
entry, and what changed is recorded in ``venue_reports`` with the venue's liquidation price and
margin. A malformed answer is refused before anything is written. Positions whose symbol has no
tier table shipped (or that the engine refuses) are skipped and listed, not guessed.

Reconciliation puts isodesk's liquidation price beside the venue's (:mod:`isodesk.venues.reconcile`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from isodesk.desk.book import engine_position
from isodesk.desk.operations import account_name
from isodesk.margin import Position, PositionBatch, problems
from isodesk.margin.catalog import TierCatalog, UnknownSymbol
from isodesk.margin.engine import price_levels
from isodesk.store import Store
from isodesk.store.ledger import EXTERNAL, position_ref
from isodesk.store.records import PositionRecord
from isodesk.venues.client import VenueClient, make_client
from isodesk.venues.keys import load_credentials
from isodesk.venues.positions import VenuePosition, fetch_isolated_positions
from isodesk.venues.reconcile import DEFAULT_TOLERANCE_PCT, TOLERANCE_KEY, Reconciliation, reconcile
from isodesk.venues.registry import venue_spec

SYNC_KIND = "venue_sync"
TRACKED = ("side", "quantity", "entry_price", "leverage", "isolated_margin")


@dataclass(frozen=True, slots=True)
class SyncedPosition:
    """One imported position: created or updated, what changed (``field → [before, after]``), reconciliation."""

    position_id: int
    label: str
    venue_position_id: str
    created: bool
    changes: dict[str, Any]
    reconciliation: Reconciliation


@dataclass(slots=True)
class SyncReport:
    """What an import did: positions synced, skipped (``(symbol, reason)``), and book positions of the
    venue that the venue no longer shows (left untouched; close them in the app)."""

    venue: str
    synced: list[SyncedPosition] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def created(self) -> list[SyncedPosition]:
        return [s for s in self.synced if s.created]

    @property
    def updated(self) -> list[SyncedPosition]:
        return [s for s in self.synced if not s.created and s.changes]

    @property
    def flagged(self) -> list[SyncedPosition]:
        return [s for s in self.synced if s.reconciliation.flagged]


def tolerance_of(store: Store) -> float:
    """The reconciliation tolerance in % (setting ``venues.reconcile_tolerance_pct``, default 0.5)."""
    value = store.get_setting(TOLERANCE_KEY, DEFAULT_TOLERANCE_PCT)
    try:
        out = float(value)
    except (TypeError, ValueError):
        return DEFAULT_TOLERANCE_PCT
    return out if math.isfinite(out) and out >= 0 else DEFAULT_TOLERANCE_PCT


def liquidation_price(record: PositionRecord, catalog: TierCatalog, margin: Decimal | None = None) -> float | None:
    """isodesk's liquidation price of a stored position (quote per coin), None when there is none."""
    position = engine_position(record, catalog, record.isolated_margin if margin is None else margin)
    value = float(price_levels(PositionBatch.from_positions([position], validate=False)).liquidation_price[0])
    return value if math.isfinite(value) else None


def _engine_problems(vp: VenuePosition, catalog: TierCatalog) -> str | None:
    """Why isodesk cannot model ``vp`` (no tiers, refused by the engine), or None."""
    try:
        tiers = catalog.table(vp.venue, vp.contract, vp.symbol)
    except UnknownSymbol as exc:
        return str(exc).removeprefix("symbol: ")
    position = Position(venue=vp.venue, side=vp.side, contract=vp.contract, entry_price=float(vp.entry_price),
                        quantity=float(vp.quantity),
                        contract_size=float(vp.contract_size) if vp.contract_size is not None else 1.0,
                        isolated_margin=float(vp.isolated_margin), leverage=float(vp.leverage), tiers=tiers,
                        symbol=vp.symbol, label=vp.venue_position_id)
    found = problems(position)
    return "; ".join(f"{f}: {m}" for f, m in found) if found else None


def _label(store: Store, vp: VenuePosition) -> str:
    base = f"{vp.venue}:{vp.symbol}:{vp.side}"
    label, n = base, 1
    while store.position_by_label(label) is not None:
        n += 1
        label = f"{base}#{n}"
    return label


def sync_positions(store: Store, venue: str, positions: list[VenuePosition], catalog: TierCatalog, *, ts: float,
                   tolerance_pct: float | None = None) -> SyncReport:
    """Write the venue's positions into the book in one transaction (see the module docstring)."""
    tolerance = tolerance_of(store) if tolerance_pct is None else tolerance_pct
    report = SyncReport(venue)
    usable = []
    for vp in positions:
        if vp.venue != venue:
            raise ValueError(f"position {vp.venue_position_id} is on {vp.venue}, not {venue}")
        reason = _engine_problems(vp, catalog)
        if reason:
            report.skipped.append((vp.symbol, reason))
        else:
            usable.append(vp)
    with store.transaction():
        for vp in usable:
            report.synced.append(_sync_one(store, vp, catalog, ts=ts, tolerance=tolerance))
        seen = {vp.venue_position_id for vp in positions}
        report.missing = [r.label for r in store.positions(("open",))
                          if r.venue == venue and r.venue_position_id and r.venue_position_id not in seen]
    return report


def _sync_one(store: Store, vp: VenuePosition, catalog: TierCatalog, *, ts: float, tolerance: float) -> SyncedPosition:
    existing = store.position_by_venue_id(vp.venue, vp.venue_position_id)
    memo = f"{vp.venue} position {vp.venue_position_id}"
    if existing is None:
        currency = catalog.settlement(vp.venue, vp.contract, vp.symbol)
        name = account_name(vp.venue, currency)
        account = store.account(name) or store.create_account(name, vp.venue, currency, ts=ts)
        label = _label(store, vp)
        pid = store.insert_position(label=label, account_id=account.id, venue=vp.venue, symbol=vp.symbol,
                                    contract=vp.contract, side=vp.side, quantity=vp.quantity,
                                    contract_size=vp.contract_size, entry_price=vp.entry_price,
                                    leverage=vp.leverage, ts=ts, venue_position_id=vp.venue_position_id)
        store.transfer(vp.isolated_margin, EXTERNAL, position_ref(pid), kind="import", ts=ts, account_id=account.id,
                       memo=f"imported from {memo}")
        changes: dict[str, Any] = {"created": True}
        created = True
    else:
        pid, label, created = existing.id, existing.label, False
        before = {"side": existing.side, "quantity": existing.quantity, "entry_price": existing.entry_price,
                  "leverage": existing.leverage, "isolated_margin": existing.isolated_margin}
        after = {"side": vp.side, "quantity": vp.quantity, "entry_price": vp.entry_price, "leverage": vp.leverage,
                 "isolated_margin": vp.isolated_margin}
        changes = {k: [str(before[k]), str(after[k])] for k in TRACKED if before[k] != after[k]}
        terms = {k: after[k] for k in ("side", "quantity", "entry_price", "leverage") if k in changes}
        if terms:
            store.update_position_terms(pid, side=terms.get("side"), quantity=terms.get("quantity"),  # type: ignore[arg-type]
                                        entry_price=terms.get("entry_price"),  # type: ignore[arg-type]
                                        leverage=terms.get("leverage"))  # type: ignore[arg-type]
        delta = vp.isolated_margin - existing.isolated_margin
        if delta:
            source, dest = (EXTERNAL, position_ref(pid)) if delta > 0 else (position_ref(pid), EXTERNAL)
            store.transfer(abs(delta), source, dest, kind=SYNC_KIND, ts=ts, account_id=existing.account_id,
                           memo=f"margin re-synced from {memo}")
    store.add_venue_report(ts=ts, position_id=pid, venue=vp.venue, venue_liquidation_price=vp.liquidation_price,
                           venue_margin=vp.isolated_margin, changes=changes, auto_add_margin=vp.auto_add_margin,
                           adl_rank=vp.adl_rank)
    record = store.position(pid)
    assert record is not None
    ours = liquidation_price(record, catalog)
    return SyncedPosition(pid, label, vp.venue_position_id, created, changes,
                          reconcile(ours, vp.liquidation_price, tolerance))


def import_from_venue(store: Store, venue: str, catalog: TierCatalog, *, ts: float, base_url: str | None = None,
                      credentials: Mapping[str, str] | None = None, client: VenueClient | None = None,
                      tolerance_pct: float | None = None) -> SyncReport:
    """Read the venue account's isolated positions (keys from the keyring unless given) and sync them.

    Raises :class:`~isodesk.venues.errors.VenueError` (scrubbed of keys) when the venue cannot be
    read, :class:`~isodesk.venues.errors.MalformedResponse` when its answer is malformed; the book
    is untouched then. The network is read before the database transaction opens.
    """
    spec = venue_spec(venue)
    own = client is None
    if client is None:
        creds = load_credentials(spec) if credentials is None else credentials
        client = make_client(spec, credentials=creds, base_url=base_url)
    try:
        read = fetch_isolated_positions(client)
    finally:
        if own:
            client.close()
    report = sync_positions(store, spec.venue, read.positions, catalog, ts=ts, tolerance_pct=tolerance_pct)
    report.skipped = list(read.skipped) + report.skipped
    return report


def reconcile_snapshot(store: Store, position_ids: np.ndarray, liquidation_prices: np.ndarray,
                       tolerance_pct: float | None = None) -> dict[int, Reconciliation]:
    """position id → reconciliation of isodesk's current liquidation price with the venue's last report."""
    tolerance = tolerance_of(store) if tolerance_pct is None else tolerance_pct
    reports = store.latest_venue_reports()
    out = {}
    for row, pid in enumerate(position_ids):
        report = reports.get(int(pid))
        if report is not None:
            out[int(pid)] = reconcile(float(liquidation_prices[row]), report.venue_liquidation_price, tolerance)
    return out
