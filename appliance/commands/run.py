"""`ceremony run`: the ceremony console, on USB sticks through udev or on a folder of "sticks"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from appliance.clock import CeremonyClock
from appliance.console import run_console
from appliance.console.flow import Settings
from appliance.console.sticks import StickWatch
from appliance.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser("run", help="run a signing ceremony on the full-screen console")
    parser.add_argument("--media", type=Path, metavar="DIR",
                        help="folder mode: each subfolder of DIR is a stick (no udev, no root)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="ceremony configuration (HSM profile, KSKs); default: the image's, or "
                             "ceremony.toml from a stick")
    parser.add_argument("--policy", metavar="FILE|NAME",
                        help="request policy file or shipped era name; default: the configuration's, "
                             "else root")
    parser.add_argument("--schema", metavar="NAME", help="signing schema; default: the configuration's")
    parser.add_argument("--no-set-clock", action="store_true",
                        help="never set the system clock, even as root (the typed time is used as an "
                             "offset; logged)")
    parser.add_argument("--poweroff", action="store_true",
                        help="power the machine off after a clean end (the appliance's own use)")
    parser.set_defaults(handler=run)


def media_source(folder: Path | None, watch: StickWatch):
    """Folder mode for development, udev and real mounting on the appliance."""
    if folder is not None:
        from appliance.media import FolderMedia

        return FolderMedia(folder, on_event=watch)
    if os.geteuid() != 0:
        raise UsageError("USB sticks need root (mounting); for development use --media DIR")
    from appliance.media import UdevMedia

    return UdevMedia(on_event=watch)


def run(args) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("ceremony run needs a terminal (for scripts: ceremony demo --unattended)")
    settings = Settings(config=args.config, policy=args.policy, schema=args.schema)
    watch = StickWatch()
    clock = CeremonyClock(set_system=not args.no_set_clock)
    with media_source(args.media, watch) as media:
        code, ceremony = run_console(settings, media, watch, clock)
    for line in ceremony.outputs:
        print(f"written: {line}")
    if code == 0 and args.poweroff:
        subprocess.run(["systemctl", "poweroff"], check=False)
    return code
