"""Reading the operator's TOML files (policies, HSM profiles, signing configurations) the same way.

Every fault names the file and the setting, and is a UsageError (exit code 2): a configuration
that cannot be read exactly as written must stop the ceremony before anything is checked or signed.
"""

from __future__ import annotations

import os
import stat
import tomllib
from datetime import timedelta
from pathlib import Path

from appliance.errors import UsageError
from appliance.formats.timefmt import parse_duration
from appliance.text import shown

# The signing configuration the image carries (`ceremony sign`, `keys`, `run`): here rather than in
# appliance.signing.config so that the console can name it without loading the signing code.
DEFAULT_CONFIG = Path("/etc/ceremony/ceremony.toml")


def parse_toml(text: str, what: str) -> dict:
    """`what` names the document in messages, e.g. "policy root.toml"."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what}: not valid TOML: {exc}") from None


def read_named_file(path: Path, what: str = "") -> bytes:
    """The bytes of a file the operator named on this machine (an argument, a configuration), read
    whole; UsageError "cannot read WHAT PATH: why" when it cannot be opened or is not a regular
    file: a FIFO would block and a device never end, so neither is read at all."""
    named = f"{what} {shown(str(path))}" if what else shown(str(path))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(f"cannot read {named}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise UsageError(f"cannot read {named}: {'Is a directory' if stat.S_ISDIR(mode) else 'not a regular file'}")
    with os.fdopen(fd, "rb") as file:
        try:
            return file.read()
        except OSError as exc:
            raise UsageError(f"cannot read {named}: {exc.strerror or exc}") from None


def read_toml(path: Path, what: str) -> dict:
    try:
        text = read_named_file(path, what).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not UTF-8 text") from None
    return parse_toml(text, f"{what} {path}")


def duration(value, where: str) -> timedelta:
    """An ISO 8601 duration written as a TOML string, e.g. "P21D"."""
    if not isinstance(value, str):
        raise UsageError(f'{where}: an ISO 8601 duration in quotes, e.g. "P21D"')
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{where}: {exc}") from None
