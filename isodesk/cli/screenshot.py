"""``isodesk screenshot OUT.png``: render the main window headless, after the feed ran a while."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from isodesk.cli.common import add_db_options
from isodesk.cli.errors import UserError


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d{3,5})\s*[x×]\s*(\d{3,5})\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT, e.g. 1440x900")
    return int(match.group(1)), int(match.group(2))


def add_parser(sub: Any) -> None:
    """Register ``screenshot``."""
    p = sub.add_parser("screenshot", help="save a PNG of the main window (works without a display)",
                       description="Start the app offscreen on the database, let the feed run, save the window.")
    p.add_argument("out", metavar="OUT.png")
    add_db_options(p)
    p.add_argument("--size", type=_size, default=(1440, 900), metavar="WxH", help="window size (default 1440x900)")
    p.add_argument("--after", type=float, default=3.0, metavar="SECONDS", help="let the feed run this long (3)")
    p.add_argument("--theme", choices=("light", "dark"), default="light")
    p.add_argument("--feed", default="simulated", metavar="SPEC", help="as for the app (default simulated)")
    p.add_argument("--speed", type=float, default=1.0, help="simulation speed multiplier")
    p.add_argument("--view", choices=("cards", "table"), default="cards")
    p.add_argument("--workspace", choices=("live", "whatif"), default="live",
                   help="the page to picture: the live view (default) or the What-if workspace")
    p.add_argument("--shock", type=float, default=None, metavar="PCT",
                   help="with --workspace whatif: a market shock in percent to show (e.g. -20)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Render and save; exit status 0 when the PNG was written."""
    if not args.out.lower().endswith(".png"):
        raise UserError(f"{args.out}: the output must be a .png file")
    if args.after < 0:
        raise UserError("--after must be zero or more seconds")
    if args.shock is not None:
        if args.workspace != "whatif":
            raise UserError("--shock: only with --workspace whatif")
        if not -99.0 <= args.shock <= 400.0:
            raise UserError(f"--shock {args.shock:g}: the What-if page's market shock goes from -99 to 400 %")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from isodesk.desk.session import DeskConfig
    from isodesk.ui.screenshot import render

    config = DeskConfig(db=args.db, demo=args.demo, feed=args.feed, speed=args.speed)
    try:
        size = render(config, args.out, size=args.size, after_s=args.after, theme=args.theme, view=args.view,
                      workspace=args.workspace, shock_pct=args.shock)
    except RuntimeError as exc:
        raise UserError(str(exc)) from None
    print(f"wrote {args.out} ({size[0]}×{size[1]})")
    return 0
