"""The `ceremony` command: parses arguments and hands each subcommand to its module.

Each module in `appliance.commands` exposes `register(subparsers)`, which adds its parser and sets
`handler` to a function taking the parsed arguments and returning the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from appliance.errors import CeremonyError
from appliance.text import shown

# Subcommand modules, in the order `ceremony --help` lists them.
COMMAND_MODULES = (
    "hash",
    "verify",
    "sign",
    "keys",
    "run",
    "demo",
    "print",
)
# Subcommands whose name differs from their module's.
COMMAND_ALIASES = {"verify": ("verify-ksr", "verify-skr")}


def _modules_for(argv: list[str]) -> tuple[str, ...]:
    """Only the module of the command asked for: importing every room costs a tenth of a second."""
    for name in COMMAND_MODULES:
        if argv and argv[0] in (name, *COMMAND_ALIASES.get(name, ())):
            return (name,)
    return COMMAND_MODULES


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ceremony",
        description="Offline DNSSEC KSK signing ceremony: check requests, sign them with an HSM.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _modules_for(argv or []) if argv is not None else COMMAND_MODULES:
        try:
            module = importlib.import_module(f"appliance.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"appliance.commands.{name}":
                raise
            continue  # command not built yet in this tree
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CeremonyError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), "exit_code": exc.exit_code}))
        print(f"ceremony: {shown(str(exc), limit=None)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("ceremony: interrupted, nothing written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
