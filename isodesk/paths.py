"""Where isodesk finds its shipped resources and keeps its user files.

Resources live in the repository's top-level ``resources/``; a built wheel carries them as
``isodesk/_resources`` (see ``pyproject.toml``). Every lookup goes through :func:`resource_path`
so both layouts work.
"""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "isodesk"


def resource_root() -> Path:
    """The folder holding the shipped resources: the wheel's copy, else the checkout's ``resources/``."""
    packaged = resources.files("isodesk") / "_resources"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parent.parent / "resources"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError("isodesk resources not found: neither isodesk/_resources nor ./resources exists")


def resource_path(*parts: str) -> Path:
    """The path of one shipped resource, e.g. ``resource_path("tiers", "bybit-linear.json")``."""
    return resource_root().joinpath(*parts)


def user_data_dir() -> Path:
    """The per-user data folder (databases), created when missing."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def user_config_dir() -> Path:
    """The per-user configuration folder (UI state ini), created when missing."""
    path = Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path() -> Path:
    """The database used when no ``--db`` is given."""
    return user_data_dir() / "isodesk.db"


def live_install_hint(missing: str) -> str:
    """What to install for live venues when ``missing`` (a package list) is absent: the ``live``
    extra for an installed isodesk; for the application bundle, which cannot install packages into
    itself, the pipx installation that has them."""
    if getattr(sys, "frozen", False):
        return (f"this isodesk bundle was built without live venues ({missing}): install isodesk with "
                "pipx install 'isodesk[live]' for them")
    return f"pip install 'isodesk[live]' ({missing})"
