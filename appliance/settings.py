"""Reading the operator's TOML files (policies, HSM profiles, signing configurations) the same way.

Every fault names the file and the setting, and is a UsageError (exit code 2): a configuration
that cannot be read exactly as written must stop the ceremony before anything is checked or signed.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path

from appliance.errors import UsageError
from appliance.formats.timefmt import parse_duration

# The signing configuration the image carries (`ceremony sign`, `keys`, `run`): here rather than in
# appliance.signing.config so that the console can name it without loading the signing code.
DEFAULT_CONFIG = Path("/etc/ceremony/ceremony.toml")


def parse_toml(text: str, what: str) -> dict:
    """`what` names the document in messages, e.g. "policy root.toml"."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{what}: not valid TOML: {exc}") from None


def read_toml(path: Path, what: str) -> dict:
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
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
