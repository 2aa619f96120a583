"""isodesk: a desktop risk dashboard for isolated-margin crypto-derivatives positions."""

__version__ = "0.2.0"
