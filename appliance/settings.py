"""Reading the files the operator names (TOML policies, HSM profiles, signing configurations, PIN
files, and the files given on the command line) the same way.

Every file is read through appliance.safefile (no symbolic link, no FIFO or device, at most a
cap). Every fault names the file (shown escaped) and the setting, and is a UsageError (exit code
2): a configuration that cannot be read exactly as written must stop the ceremony before anything
is checked or signed.
"""

from __future__ import annotations

import os
import stat
import tomllib
from datetime import timedelta
from pathlib import Path

from appliance import safefile
from appliance.errors import UsageError
from appliance.formats.timefmt import parse_duration
from appliance.text import shown

TEXT_MAX_SIZE = 1024 * 1024  # a configuration or policy file; real ones are a few kB

# The signing configuration the image carries (`ceremony sign`, `keys`, `run`): here rather than in
# appliance.signing.config so that the console can name it without loading the signing code.
DEFAULT_CONFIG = Path("/etc/ceremony/ceremony.toml")


def parse_toml(text: str, what: str) -> dict:
    """`what` names the document in messages, e.g. "policy root.toml"."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what}: not valid TOML: {exc}") from None


def read_file(path: Path, what: str, max_size: int) -> bytes:
    """The bytes of the regular file at `path`; `what` names it in messages ("request")."""
    try:
        return safefile.read_capped(path, max_size)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {shown(str(path))}: {exc.strerror or exc}") from None


def read_text(path: Path, what: str, max_size: int = TEXT_MAX_SIZE) -> str:
    """The UTF-8 text of the file at `path` (see read_file)."""
    try:
        return read_file(path, what, max_size).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {shown(str(path))}: not UTF-8 text") from None


def read_toml(path: Path, what: str) -> dict:
    return parse_toml(read_text(path, what), f"{what} {shown(str(path))}")


def duration(value, where: str) -> timedelta:
    """An ISO 8601 duration written as a TOML string, e.g. "P21D"."""
    if not isinstance(value, str):
        raise UsageError(f'{where}: an ISO 8601 duration in quotes, e.g. "P21D"')
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
