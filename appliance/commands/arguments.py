"""Argument types and terminal prompts shared by the one-shot commands.

Each type is given to argparse (`type=`), so a bad value is refused with one line and exit code 2
before the command does anything: no HSM session is opened, no key made, no file written.
The prompts turn a closed standard input into a UsageError instead of an EOFError traceback.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from appliance import dnssec
from appliance.errors import UsageError

MAX_TTL = 2**31 - 1  # RFC 2181 section 8: a TTL is an unsigned 31-bit number of seconds


def domain_name(text: str) -> str:
    """A DNS owner name in presentation form ("." or "example.", "example" taken as absolute)."""
    if not text or not text.isprintable() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"not a domain name: {text!r}")
    try:
        dnssec.name_to_wire(text)
    except ValueError as exc:  # UnicodeEncodeError included: names are ASCII here
        raise argparse.ArgumentTypeError(f"not a domain name: {text!r} ({str(exc).split(':')[0]})") from None
    return text


def ttl_seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of seconds: {text!r}") from None
    if not 0 <= value <= MAX_TTL:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..{MAX_TTL} (RFC 2181 section 8)")
    return value


def key_label(text: str) -> str:
    """A CKA_LABEL to create or look up: not empty, printable, not only spaces."""
    if not text.strip() or not text.isprintable():
        raise argparse.ArgumentTypeError(f"a key label must be printable and not empty, got {text!r}")
    return text


def typed_pin(prompt: str) -> str:
    """The PIN typed unseen at the terminal, or the first line of standard input when that is not a
    terminal (a script's pipe: nothing to hide it from, and getpass would only warn); UsageError
    when standard input is closed."""
    if sys.stdin.isatty():
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
