"""`ceremony run`: the ceremony console, on USB sticks through udev or on a folder of "sticks"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from appliance.clock import CeremonyClock
from appliance.console import preflight, run_console
from appliance.console.flow import Ceremony, Settings
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
                        help="power the machine off once the operators have ended the ceremony at its "
                             "closing record, whatever its outcome (the appliance's own use)")
    parser.set_defaults(handler=run)


def media_source(folder: Path | None, watch: StickWatch):
    """Folder mode for development, udev and real mounting on the appliance."""
    if folder is not None:
        from appliance.media import FolderMedia

        if not folder.is_dir():
            why = "is not a directory" if folder.exists() else "does not exist"
            raise UsageError(f"--media {folder}: {why} (a folder whose subfolders are sticks)")
        return FolderMedia(folder, on_event=watch)
    if os.geteuid() != 0:
        raise UsageError("USB sticks need root (mounting); for development use --media DIR")
    from appliance.media import UdevMedia

    return UdevMedia(on_event=watch)


def run(args) -> int:
    # Everything that needs no operator is checked first, so a mistake is found before the first question.
    settings = Settings(config=args.config, policy=args.policy, schema=args.schema)
    prepared = preflight.check(settings)
    if args.media is not None:
        media_source(args.media, StickWatch())  # only its folder is checked; it is not started
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("ceremony run needs a terminal (for scripts: ceremony demo --unattended)")
    watch = StickWatch()
    clock = CeremonyClock(set_system=not args.no_set_clock)
    with media_source(args.media, watch) as media:
        code, ceremony = run_console(settings, media, watch, clock, prepared=prepared)
    print("\n".join(summary(ceremony, code)))
    if ceremony.ended and args.poweroff:
        subprocess.run(["systemctl", "poweroff"], check=False)
    return code


def summary(ceremony: Ceremony, code: int) -> list[str]:
    """What is left on the terminal after the console: what was written, what was not, the exit code."""
    lines = [f"written: {line}" for line in ceremony.outputs]
    lines += [f"NOT DONE: {what}" if code else f"made good: {what}" for code, what in ceremony.failures]
    return lines + [f"exit code {code}"]
