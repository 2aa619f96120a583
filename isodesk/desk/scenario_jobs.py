"""Scenario work the GUI asks of the desk: evaluate, sweep a grid, and keep named scenarios.

A scenario over the whole book is the desk's job (the GUI never computes the book's margin):
the editor sends these requests through the worker thread and renders the answer, which comes
back as ``Result.payload``. Evaluating never changes the real book. Saved scenarios live in the
store's ``scenarios`` table as JSON (:func:`scenario_to_dict` / :func:`scenario_from_dict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from isodesk.desk.commands import CommandRejected, new_request_id
from isodesk.margin.scenario import Move, Scenario, ScenarioBook, ScenarioError, Shock, evaluate, uniform_grid

if TYPE_CHECKING:
    from isodesk.desk.desk import Desk

GRID_DEFAULT = tuple(float(x) for x in np.linspace(-50.0, 50.0, 101))


@dataclass(frozen=True, slots=True)
class GetScenarioBook:
    """Ask for the open book as scenarios see it, with the current marks and when they were taken
    (payload: :class:`MarkedBook`)."""

    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class MarkedBook:
    """The answer to :class:`GetScenarioBook`: the book, and ``taken_at``, the desk's time (Unix
    seconds; a replay's own time when the feed drives the clock) at which its marks were read."""

    book: ScenarioBook
    taken_at: float

    def marks(self) -> tuple[tuple[str, float], ...]:
        """The marks as ``(market, price)`` pairs, quote per coin: what :class:`RunScenario` pins."""
        return tuple((m, float(p)) for m, p in zip(self.book.markets, self.book.marks, strict=True))


@dataclass(frozen=True, slots=True)
class RunScenario:
    """Evaluate a scenario on the current book (payload: ``Outcome``); ``grid``: also sweep uniform
    shocks in percent (payload: ``(Outcome, GridOutcome)``).

    ``marks``: ``(market, price)`` pairs (quote per coin) to evaluate at instead of the latest
    stored prices: the marks the what-if page took, so its figures do not drift with the feed.
    A market they do not name (a position opened since) takes its latest stored price. The
    positions and margins are always the book's current ones.

    ``auto_add`` / ``top_up`` (a policy as :func:`isodesk.margin.topup.parse_policy` reads it): the
    outcome also says which positions the venues' auto-add or the policy would save on the same
    steps and what they cost (``Outcome.rescue``, :func:`isodesk.margin.topup.with_top_ups`).

    The book carries the desk's current realized volatility per position and its latest funding
    quotes (:func:`desk_scenario_book`), so the outcome has the odds of liquidation and the funding
    figures after the scenario (``Outcome.isolated.liq_prob_24h``, ``liq_drift_pct_day``, …).
    """

    scenario: Scenario
    grid: tuple[float, ...] | None = None
    marks: tuple[tuple[str, float], ...] | None = None
    request_id: str = field(default_factory=new_request_id)
    auto_add: bool = False
    top_up: str | None = None


@dataclass(frozen=True, slots=True)
class SaveScenario:
    """Store a scenario under ``name`` (replacing one of the same name)."""

    name: str
    scenario: Scenario
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class LoadScenario:
    """Read a saved scenario (payload: :class:`Scenario`)."""

    name: str
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class ListScenarios:
    """The names of the saved scenarios (payload: tuple of str)."""

    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class RenameScenario:
    """Rename a saved scenario."""

    old: str
    new: str
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class DeleteScenario:
    """Delete a saved scenario."""

    name: str
    request_id: str = field(default_factory=new_request_id)


@dataclass(frozen=True, slots=True)
class ReplayPath:
    """Replay a recorded price path (the files ``isodesk replay`` reads) against a copy of the book
    with the fast replay (payload: :class:`~isodesk.desk.replay.outcome.PathOutcome`: who is
    liquidated when, first crossings, worst distances). The prices are the file's own, played by the
    desk's rules (guard, staleness after ``stale_after_s`` path seconds, levels, liquidations);
    ``symbol``/``venue`` as ``isodesk replay --symbol/--venue`` for kline files. ``auto_add`` /
    ``top_up`` (a policy's text): also play it with the top-ups on the step desk and say what they
    save and cost (``PathOutcome.top_ups``)."""

    paths: tuple[str, ...]
    stale_after_s: float = 3600.0
    symbol: str | None = None
    venue: str | None = None
    request_id: str = field(default_factory=new_request_id)
    auto_add: bool = False
    top_up: str | None = None


SCENARIO_COMMANDS = (GetScenarioBook, RunScenario, SaveScenario, LoadScenario, ListScenarios, RenameScenario,
                     DeleteScenario, ReplayPath)


def _shock_dict(shocks: Mapping[str, Shock | float]) -> dict[str, dict[str, Any]]:
    out = {}
    for market, shock in shocks.items():
        s = shock if isinstance(shock, Shock) else Shock.pct(float(shock))
        out[market] = {"kind": s.kind, "value": s.value}
    return out


def _shocks_from(raw: Any, where: str) -> dict[str, Shock]:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: not an object")
    try:
        return {str(m): Shock(str(v["kind"]), float(v["value"])) for m, v in raw.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """A scenario as plain JSON data (what the store keeps)."""
    doc: dict[str, Any] = {
        "version": 1,
        "shocks": _shock_dict(scenario.shocks),
        "market_shock": list(scenario.market_shock) if scenario.market_shock else None,
        "betas": {k: float(v) for k, v in scenario.betas.items()},
        "margin_edits": {str(k): float(v) for k, v in scenario.margin_edits.items()},
        "leverage_edits": {str(k): float(v) for k, v in scenario.leverage_edits.items()},
        "path": None,
    }
    if scenario.path is not None:
        doc["path"] = [{"shocks": _shock_dict(m.shocks),
                        "market_shock": list(m.market_shock) if m.market_shock else None}
                       for m in scenario.moves()]
    return doc


def scenario_from_dict(doc: Mapping[str, Any]) -> Scenario:
    """The scenario a stored document describes; :class:`ScenarioError` naming what is wrong."""
    if not isinstance(doc, Mapping) or doc.get("version") != 1:
        raise ScenarioError("scenario: not a version-1 scenario document")

    def market_shock(raw: Any, where: str) -> tuple[str, float] | None:
        if raw is None:
            return None
        if not (isinstance(raw, list) and len(raw) == 2):
            raise ScenarioError(f"{where}: expected [market, percent]")
        return str(raw[0]), float(raw[1])

    path = doc.get("path")
    return Scenario(
        shocks=_shocks_from(doc.get("shocks", {}), "shocks"),
        market_shock=market_shock(doc.get("market_shock"), "market_shock"),
        betas={str(k): float(v) for k, v in (doc.get("betas") or {}).items()},
        margin_edits={int(k): float(v) for k, v in (doc.get("margin_edits") or {}).items()},
        leverage_edits={int(k): float(v) for k, v in (doc.get("leverage_edits") or {}).items()},
        path=None if path is None else tuple(
            Move(_shocks_from(step.get("shocks", {}), f"path[{i}].shocks"),
                 market_shock(step.get("market_shock"), f"path[{i}].market_shock"))
            for i, step in enumerate(path)),
    )


def usable_grid(shocks: tuple[float, ...], betas: Mapping[str, float]) -> np.ndarray:
    """The uniform shocks (percent) that move no market to or below −100 % at the given betas: a
    beta of 2.5 leaves out the shocks below −40 % rather than refusing the whole sweep."""
    grid = np.asarray(shocks, dtype=np.float64)
    values = [float(b) for b in betas.values()] + [1.0]
    keep = np.ones(len(grid), dtype=bool)
    for beta in values:
        keep &= grid * beta > -100.0
    return grid[keep]


def desk_scenario_book(desk: Desk) -> ScenarioBook:
    """The desk's open book as scenarios take it (:func:`isodesk.desk.whatif.scenario_book`), with the
    desk's own realized volatility per position (per √second, what its odds columns use) and its
    funding quotes (the feed's of the last step, else the book's stored ones). Reads only."""
    from isodesk.desk.whatif import scenario_book  # here: whatif → session → desk would be a cycle

    odds, funding = desk.odds, desk.funding
    return scenario_book(desk.store, desk.catalog, volatility=odds.volatility, quotes=funding.quotes or None)


def handle(desk: Desk, command: Any, *, ts: float) -> tuple[str, Any]:
    """Run one scenario request on the desk's book; returns (message, payload). Never writes the book."""
    try:
        if isinstance(command, GetScenarioBook):
            return "scenario book", MarkedBook(desk_scenario_book(desk), float(ts))
        if isinstance(command, RunScenario):
            book: ScenarioBook = desk_scenario_book(desk)
            if command.marks is not None:
                book = book.with_marks(dict(command.marks))
            outcome = evaluate(book, command.scenario)
            if command.auto_add or command.top_up:
                outcome = _with_top_ups(outcome, command.auto_add, command.top_up)
            if command.grid is None:
                return "evaluated", outcome
            shocks = usable_grid(command.grid, command.scenario.betas)
            grid = uniform_grid(book, shocks, betas=command.scenario.betas, edits=command.scenario)
            return "evaluated with grid", (outcome, grid)
        if isinstance(command, SaveScenario):
            name = command.name.strip()
            if not name:
                raise CommandRejected("name: give the scenario a name")
            desk.store.save_scenario(name, scenario_to_dict(command.scenario), ts=ts)
            return f"saved {name!r}", None
        if isinstance(command, LoadScenario):
            doc = desk.store.load_scenario(command.name)
            if doc is None:
                raise CommandRejected(f"name: no saved scenario named {command.name!r}")
            return f"loaded {command.name!r}", scenario_from_dict(doc)
        if isinstance(command, ListScenarios):
            return "scenarios", tuple(desk.store.scenario_names())
        if isinstance(command, RenameScenario):
            if not command.new.strip():
                raise CommandRejected("name: the new name is empty")
            desk.store.rename_scenario(command.old, command.new.strip())
            return f"renamed {command.old!r} to {command.new.strip()!r}", None
        if isinstance(command, DeleteScenario):
            if not desk.store.delete_scenario(command.name):
                raise CommandRejected(f"name: no saved scenario named {command.name!r}")
            return f"deleted {command.name!r}", None
    except ScenarioError as exc:
        raise CommandRejected(str(exc)) from None
    raise CommandRejected(f"unknown scenario request {type(command).__name__}")


def _with_top_ups(outcome: Any, auto_add: bool, top_up: str | None) -> Any:
    """``outcome`` with what the auto-add and the policy ``top_up`` would save; a policy that
    cannot be read is refused naming the part (:class:`CommandRejected`)."""
    from isodesk.margin.topup import PolicyError, parse_policy, with_top_ups

    try:
        policy = parse_policy(top_up) if top_up else None
    except PolicyError as exc:
        raise CommandRejected(str(exc)) from None
    return with_top_ups(outcome, auto_add=auto_add, policy=policy)
