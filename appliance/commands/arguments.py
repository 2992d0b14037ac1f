"""What several subcommands share: the --now time, --format, and reading a file named on the command line.

Kept apart from any one command so that a command imports only what it runs (`sign` need not
load `verify-skr`'s trust-anchor code to parse --now).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from appliance.errors import UsageError
from appliance.formats.text_dialects import DIALECTS
from appliance.formats.timefmt import parse_datetime
from appliance.text import shown

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|\+00:00)?")


def parse_now(text: str | None) -> datetime | None:
    """--now: '2017-03-15', '2017-03-15T12:00', '2017-03-15 12:00:00Z' or with +00:00; always UTC."""
    if text is None:
        return None
    value = text.strip().replace(" ", "T")
    if _DATE_ONLY.fullmatch(value):
        value += "T00:00:00"
    elif _NO_SECONDS.fullmatch(value):
        value = value[:16] + ":00" + value[16:]
    try:
        return parse_datetime(value)
    except ValueError as exc:
        raise UsageError(f"--now: {exc}") from None


def read_input(path: Path, what: str) -> bytes:
    """The bytes of a file named on the command line; UsageError (exit 2) naming `what` if unreadable."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown(str(path))}: {exc.strerror or exc}") from None


def add_format_option(parser) -> None:
    """--format knot|bind|icann: read the files as that format instead of detecting it from the content."""
    parser.add_argument("--format", choices=DIALECTS, help="read the files as this format (default: detected "
                        "from the content: ICANN XML, Knot DNS or BIND 9 text)")
