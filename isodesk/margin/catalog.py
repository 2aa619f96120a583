"""The venue tier tables of ``resources/tiers/`` by venue, contract kind and symbol.

Files are read lazily, once each. The folder is passed in (``isodesk.paths`` finds it), so this
module stays pure.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from isodesk.margin.tiers import TierTable, load_tier_file
from isodesk.margin.venues import venue_rule


class UnknownSymbol(ValueError):
    """A symbol the venue's tier file does not list."""


class TierCatalog:
    """Tier tables, settlement currencies, contract sizes and fees of the shipped venues."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._docs: dict[str, dict[str, Any] | None] = {}

    def _doc(self, venue: str, contract: str) -> dict[str, Any] | None:
        name = venue_rule(venue).tier_file(contract)
        if name not in self._docs:
            path = self.folder / name
            self._docs[name] = load_tier_file(path) if path.is_file() else None
        doc = self._docs[name]
        if doc is not None and doc.get("contract", contract) != contract:
            return None
        return doc

    def contracts(self, venue: str) -> list[str]:
        """The contract kinds of ``venue`` that have a tier file."""
        return [c for c in sorted(venue_rule(venue).contracts) if self._doc(venue, c) is not None]

    def symbols(self, venue: str, contract: str) -> list[str]:
        """The symbols listed for a venue and contract kind (empty if no file ships)."""
        doc = self._doc(venue, contract)
        return sorted(doc["symbols"]) if doc else []

    def contract_of(self, venue: str, symbol: str) -> str:
        """The contract kind under which ``venue`` lists ``symbol`` (linear first)."""
        for contract in ("linear", "inverse"):
            if contract in venue_rule(venue).contracts and symbol in self.symbols(venue, contract):
                return contract
        raise self._unknown(venue, "linear", symbol)

    def table(self, venue: str, contract: str, symbol: str) -> TierTable:
        """The tier table of one symbol; :class:`UnknownSymbol` with close matches otherwise."""
        doc = self._doc(venue, contract)
        if doc is None or symbol not in doc["symbols"]:
            raise self._unknown(venue, contract, symbol)
        table: TierTable = doc["symbols"][symbol]
        return table

    def settlement(self, venue: str, contract: str, symbol: str) -> str:
        """Settlement currency of the symbol (USDT, USDC, BTC…)."""
        doc = self._doc(venue, contract) or {}
        explicit = doc.get("settlement", {}).get(symbol)
        if explicit:
            return str(explicit)
        if doc.get("settlement_default"):
            return str(doc["settlement_default"])
        if contract == "inverse":
            return symbol.split("USD")[0] or symbol
        for quote in ("USDT", "USDC"):
            if symbol.upper().replace("-", "").replace("_", "").removesuffix("SWAP").endswith(quote):
                return quote
        return "USDC" if venue == "hyperliquid" else "USDT"

    def contract_size(self, venue: str, contract: str, symbol: str) -> float:
        """USD face value of one inverse contract (1.0 for linear contracts)."""
        if contract != "inverse":
            return 1.0
        doc = self._doc(venue, contract) or {}
        return float(doc.get("contract_size", {}).get(symbol, 1.0))

    def taker_fee(self, venue: str, contract: str) -> float:
        """Default taker fee rate (fraction) the venue counts in its requirement; 0 where none."""
        if not venue_rule(venue).fee_in_requirement:
            return 0.0
        doc = self._doc(venue, contract) or {}
        return float(doc.get("taker_fee_rate", 0.0005))

    def source(self, venue: str, contract: str) -> str:
        """Where the venue's tier numbers come from, as the file says."""
        doc = self._doc(venue, contract) or {}
        return f"{doc.get('source', 'no tier file')} (as of {doc.get('as_of', '?')})"

    def _unknown(self, venue: str, contract: str, symbol: str) -> UnknownSymbol:
        known = self.symbols(venue, contract)
        if not known:
            return UnknownSymbol(f"symbol: {venue} {contract} has no tier table shipped; "
                                 f"use --mmr or venue custom")
        near = difflib.get_close_matches(symbol.upper(), known, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        return UnknownSymbol(f"symbol: {symbol!r} is not a {venue} {contract} symbol{hint}")
