"""isodesk: a desktop risk dashboard for isolated-margin crypto-derivatives positions."""

__version__ = "0.1.0"
