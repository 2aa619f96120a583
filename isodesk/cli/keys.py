"""``isodesk keys set|delete VENUE``: a venue's read-only API keys in the operating system's keyring.

Every way this can fail is one line on stderr, never a traceback: a keyring that cannot be read,
written or deleted from (no backend, locked, a backend's own exception) exits 2; end of input at a
prompt exits 2 and Ctrl-C exits 130 (the shell's code for an interrupt), both with "no key entered;
nothing saved" — keys are saved only once every prompt has been answered.

At a terminal the prompts are read with :func:`getpass.getpass` (nothing echoed). When standard
input is not a terminal (``pass show binance | isodesk keys set binance-usdm``) each value is one
line of it, each prompt a line of its own on stderr; getpass would otherwise print two warnings
that it cannot hide the input and read the same pipe anyway.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from isodesk.cli.errors import UserError

NOTHING_SAVED = "no key entered; nothing saved"


def add_parser(sub: Any) -> None:
    """Register ``keys``."""
    p = sub.add_parser("keys", help="keep a venue's read-only API keys in the system keyring",
                       description="Store (prompting, nothing echoed), or delete, the API keys `isodesk import "
                                   "--venue` reads; they live in the operating system's keyring only. At a terminal "
                                   "the keys are typed at hidden prompts; otherwise each is one line of standard "
                                   "input.")
    p.add_argument("action", choices=("set", "delete"), help="set or delete")
    p.add_argument("venue", metavar="VENUE", help="binance-usdm, bybit, okx or hyperliquid")
    p.add_argument("--allow-insecure-keyring", action="store_true",
                   help="store the keys even where the keyring in use keeps them unencrypted (keyrings.alt "
                        "PlaintextKeyring); refused without it")
    p.set_defaults(handler=run_keys)


def ask(prompt: str) -> str:
    """One value: hidden at a terminal, else a line of standard input (the prompt on a line of its own
    on stderr); :class:`EOFError` at end of input or when standard input is closed."""
    stdin = sys.stdin
    try:
        if stdin is not None and not stdin.closed and stdin.isatty():
            return getpass.getpass(prompt)
        print(prompt.rstrip(), file=sys.stderr, flush=True)
        line = stdin.readline() if stdin is not None else ""
    except EOFError:
        print(file=sys.stderr, flush=True)  # getpass leaves the cursor after its prompt
        raise
    except (OSError, ValueError):  # a closed or unreadable stdin is no input
        line = ""
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def run_keys(args: argparse.Namespace) -> int:
    """Set (prompting) or delete a venue's keys in the keyring."""
    from isodesk.venues.errors import VenueError
    from isodesk.venues.keys import PROMPTS, delete_credentials, keyring_status, save_credentials
    from isodesk.venues.registry import venue_spec

    try:
        spec = venue_spec(args.venue)
        if args.action == "delete":
            found = delete_credentials(spec)
            print(f"{spec.venue}: keys {'deleted' if found else 'were not set'}")
            return 0
        status = keyring_status()  # say it before asking for the keys, not after
        if not status.usable or (status.needs_consent and not args.allow_insecure_keyring):
            raise UserError(f"{spec.venue}: nothing saved: {status.message()}" + (
                ". To store them there anyway add --allow-insecure-keyring" if status.usable else ""))
        try:
            values = {name: ask(f"{spec.venue} {PROMPTS.get(name, name)}: ").strip() for name in spec.credentials}
        except EOFError:
            raise UserError(NOTHING_SAVED) from None
        except KeyboardInterrupt:
            print(f"\nisodesk {args.command}: {NOTHING_SAVED}", file=sys.stderr)
            return 130
        save_credentials(spec, values, allow_insecure=args.allow_insecure_keyring)
    except VenueError as exc:
        raise UserError(str(exc)) from None
    print(f"{spec.venue}: keys saved in the system keyring (service 'isodesk'); use read-only keys")
    return 0
