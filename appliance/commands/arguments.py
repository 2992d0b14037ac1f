"""What several subcommands share: the time options, --format, reading a file named on the command
line, argument types, and the terminal prompts.

Kept apart from any one command so that a command imports only what it runs (`sign` need not
load `verify-skr`'s trust-anchor code to parse --now). Each type is given to argparse (`type=`), so
a bad value is refused with one line and exit code 2 before the command does anything: no HSM
session is opened, no key made, no file written. The prompts turn a closed standard input into a
UsageError instead of an EOFError traceback.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from pathlib import Path

from appliance import dnssec
from appliance.errors import UsageError
from appliance.formats.detect import DIALECTS
from appliance.formats.timefmt import parse_datetime
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE
from appliance.settings import read_file
from appliance.text import shown

_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_NO_SECONDS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(Z|\+00:00)?")


def parse_now(text: str | None, option: str = "--now") -> datetime | None:
    """A time option ('2017-03-15', '2017-03-15T12:00', '2017-03-15 12:00:00Z' or with +00:00; always
    UTC); a UsageError names `option`."""
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
        raise UsageError(f"{option}: {exc}") from None


def read_input(path: Path, what: str) -> bytes:
    """The bytes of a request, response or trust anchor file named on the command line, read
    through appliance.safefile up to the XML limit (no link, FIFO or device); UsageError (exit 2)
    naming `what` if it cannot be read."""
    return read_file(path, what, DEFAULT_MAX_SIZE)


MAX_TTL = 2**31 - 1  # RFC 2181 section 8: a TTL is an unsigned 31-bit number of seconds


def domain_name(text: str) -> str:
    """A DNS owner name in presentation form ("." or "example.", "example" taken as absolute)."""
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"not a domain name: '{shown(text)}'")
    try:
        dnssec.name_to_wire(text)
    except ValueError as exc:  # UnicodeEncodeError included: names are ASCII here
        raise argparse.ArgumentTypeError(f"not a domain name: '{shown(text)}' ({shown(str(exc).split(':')[0])})") from None
    return text


def ttl_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: '{shown(text)}'") from None
    if not 0 <= value <= MAX_TTL:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..{MAX_TTL} (RFC 2181 section 8)")
    return value


def key_label(text: str) -> str:
    """A CKA_LABEL to create or look up: not empty, printable, not only spaces."""
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"a key label must be printable and not empty, got '{shown(text)}'")
    return text


def typed_pin(prompt: str) -> str:
    """The PIN typed unseen at the terminal, or the first line of standard input when that is not a
    terminal (a script's pipe: nothing to hide it from, and getpass would only warn); UsageError
    when standard input is closed."""
    if sys.stdin.isatty():
        import getpass  # only at a terminal; it loads termios

        try:
            return getpass.getpass(prompt)
        except EOFError:
            pass
    else:
        print(prompt, end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        print(file=sys.stderr)
        if line:
            return line.rstrip("\r\n")
    raise UsageError("no PIN: standard input is closed (type it at a terminal, or name a pin_file or "
                     "pin_env in a test profile)")


def typed_answer(prompt: str) -> str:
    """One line typed at the terminal; "" when standard input is closed (which never means yes)."""
    try:
        return input(prompt)
    except EOFError:
        return ""


def add_format_option(parser) -> None:
    """--format knot|bind|icann: read the files as that format instead of detecting it from the content."""
    parser.add_argument("--format", choices=DIALECTS, help="read the files as this format (default: detected "
                        "from the content: ICANN XML, Knot DNS or BIND 9 text)")
