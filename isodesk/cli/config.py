"""``isodesk config get [KEY]`` and ``isodesk config set KEY VALUE``: the trader's risk settings.

The settings live in the book's ``settings`` table (:mod:`isodesk.desk.settings` holds the one
table of keys, units, defaults and ranges). ``get`` reads them; ``set`` sends a
:class:`~isodesk.desk.settings.SetSettings` command to the book's desk (:mod:`isodesk.cli.deliver`):
the running app's when it is open — it uses the new value at once — else a short-lived one. The
desk checks the value with the same rules the settings dialog uses; a refusal is one line naming
the key, the range and the unit, and nothing is written.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from isodesk.cli.common import add_db_options, store_from, table
from isodesk.cli.deliver import add_request_id_option, send
from isodesk.cli.errors import UserError
from isodesk.desk.commands import Reply
from isodesk.desk.settings import (
    BY_KEY,
    DEFAULTS,
    SPECS,
    SetSettings,
    SettingError,
    as_json,
    load_settings,
    number_text,
    parse_value,
    spec_of,
)


def add_parser(sub: Any) -> None:
    """Register ``config get`` and ``config set``."""
    keys = ", ".join(BY_KEY)
    p = sub.add_parser("config", help="read or change the risk settings (thresholds, staleness, sound…)",
                       description="The risk settings kept in the book (the app's Settings dialog shows the "
                                   f"same): {keys}. `config get` prints each with its value, unit and default; "
                                   "`config set KEY VALUE` changes one through the book's desk (the running "
                                   "app's, which uses it at once). VALUE `default` restores the default.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    g = actions.add_parser("get", help="print every setting (or one) with its value, unit and default")
    g.add_argument("key", metavar="KEY", nargs="?", help=f"one of: {keys}")
    g.add_argument("--json", action="store_true", help="print {key: value} as JSON")
    add_db_options(g)
    g.set_defaults(handler=run_get)
    s = actions.add_parser("set", help="change one setting (checked by the desk; the running app uses it at once)")
    s.add_argument("key", metavar="KEY", help=f"one of: {keys}")
    s.add_argument("value", metavar="VALUE", help="a number in the key's unit (10, 0.5, 30), on/off for a "
                                                   "switch, or `default`")
    add_db_options(s)
    add_request_id_option(s)
    s.set_defaults(handler=run_set)


def run_get(args: argparse.Namespace) -> int:
    """Print the settings: key, value, unit, default and meaning (or one key, or JSON)."""
    try:
        specs = [spec_of(args.key)] if args.key else list(SPECS)
    except SettingError as exc:
        raise UserError(f"KEY: {exc}") from None
    store = store_from(args)
    try:
        settings = load_settings(store)
    finally:
        store.close()
    if args.json:
        values = as_json(settings)
        print(json.dumps({s.key: values[s.key] for s in specs}, indent=2))
        return 0
    rows = [[s.key, _value(s.kind, settings.value(s.key)), s.unit or "on/off",
             _value(s.kind, DEFAULTS.value(s.key)), s.help] for s in specs]
    print(table(["KEY", "VALUE", "UNIT", "DEFAULT", "MEANING"], rows, right={1, 3}))
    return 0


def run_set(args: argparse.Namespace) -> int:
    """Send one setting to the book's desk; print what changed (or the refusal, exit 2)."""
    try:
        spec = spec_of(args.key)
        parse_value(spec.key, args.value)  # the same rule the desk applies: refuse before opening the book
    except SettingError as exc:
        raise UserError(str(exc)) from None
    result = send(args, SetSettings(((spec.key, args.value),)))
    if not result.accepted:
        raise UserError(result.reason)
    note = (f" (answered before under request {result.request_id}; nothing done again)"
            if result.reply is Reply.REPEATED else "")
    print(f"{result.reason}{note}")
    return 0


def _value(kind: str, value: float | bool) -> str:
    if kind == "switch":
        return "on" if value else "off"
    return number_text(float(value))
