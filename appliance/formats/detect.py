"""Which format a request or response file is in, and reading it with the right parser.

Detection is by content, never by file name: XML is ICANN's KSR/SKR; text starting with a
"KeySigningRequest 1.0" / "SignedKeyResponse 1.0" header is Knot DNS's (Unix-seconds header
times) or BIND 9's (YYYYMMDDhhmmss). `--format knot|bind|icann` forces one: a file that is not
in the forced format is refused (check KSR-XML or KSR-TEXT), never read as another.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from appliance.errors import FormatError
from appliance.formats.request import parse_request
from appliance.formats.response import parse_response
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE
from appliance.model import Request, Response

# The text dialects' reader (appliance.formats.text_dialects, and dnspython with it) is imported
# when a text file is read: detecting the format, and every ICANN XML command, need none of it.
KSR_TEXT = "KSR-TEXT"
KNOT = "knot"
BIND = "bind"
ICANN = "icann"
DIALECTS = (KNOT, BIND, ICANN)
REQUEST_WORD = "KeySigningRequest"
RESPONSE_WORD = "SignedKeyResponse"

HEADER = re.compile(r";;[ \t]*(KeySigningRequest|SignedKeyResponse)(?:[ \t]+(\S+))?(?:[ \t]+(\S+))?(.*)")


def header_time(token: str) -> tuple[datetime, str]:
    """(UTC time, dialect) of a header's <TIME>: 10 digits are Unix seconds (Knot), 14 digits
    YYYYMMDDhhmmss (BIND). Raises ValueError for anything else, or a 14-digit non-date."""
    if re.fullmatch(r"\d{10}", token):
        return datetime.fromtimestamp(int(token), UTC), KNOT
    if re.fullmatch(r"\d{14}", token):
        try:
            return datetime.strptime(token, "%Y%m%d%H%M%S").replace(tzinfo=UTC), BIND
        except ValueError:
            raise ValueError(f"time {token} is 14 digits but not a YYYYMMDDhhmmss calendar date") from None
    raise ValueError(f"time {token[:24]!r} is neither 10 digits of Unix seconds nor 14 of YYYYMMDDhhmmss")


def looks_like_text(data: bytes) -> bool:
    """True when the first non-blank line is a KSR/SKR 1.0 header (content detection, not the name)."""
    for raw in data[:4096].splitlines():
        line = raw.strip()
        if line:
            return bool(re.match(rb";;[ \t]*(KeySigningRequest|SignedKeyResponse)\b", line))
    return False


def text_kind(data: bytes) -> str | None:
    """"request" or "response" by the first header of a KSR/SKR 1.0 text file; None for other text."""
    if not looks_like_text(data):
        return None
    head = data.lstrip()[:80]
    return "request" if REQUEST_WORD.encode() in head else "response" if RESPONSE_WORD.encode() in head else None


def detect_format(data: bytes) -> str:
    """"knot", "bind" or "icann" from the content: XML is ICANN's; text by its first header's time."""
    if not looks_like_text(data):
        return ICANN
    for raw in data[:4096].splitlines():
        match = HEADER.fullmatch(raw.strip().decode("ascii", "replace"))
        if match and match.group(3) and match.group(3) != "generated":
            try:
                return header_time(match.group(3))[1]
            except ValueError:
                break
    return KNOT if re.search(rb"\n[^;\n]*\(\s*\n", data[:8192]) else BIND


def parse_check(dialect: str) -> str:
    """The check ID a parse failure of this format is reported under."""
    return "KSR-XML" if dialect == ICANN else KSR_TEXT


def _forced(data: bytes, forced: str | None) -> str:
    if forced is not None and forced not in DIALECTS:
        raise ValueError(f"unknown format {forced!r}; one of {', '.join(DIALECTS)}")
    found = detect_format(data)
    if forced is None or forced == found:
        return found
    if ICANN in (forced, found):
        # Not even the same family: parse as forced so that the refusal names what is wrong.
        return forced
    raise FormatError(f"{KSR_TEXT}: the header times are {found.upper()}'s encoding, not {forced.upper()}'s "
                      f"(--format {forced})", KSR_TEXT)


def read_request(data: bytes, forced: str | None = None, max_size: int = DEFAULT_MAX_SIZE) -> Request:
    """A Request from ICANN XML or a Knot/BIND KSR; one FormatError (KSR-XML or KSR-TEXT) otherwise."""
    if _forced(data, forced) == ICANN:
        return parse_request(data, max_size)
    from appliance.formats.text_dialects import parse_text_request

    return parse_text_request(data, max_size)


def read_response(data: bytes, forced: str | None = None, max_size: int = DEFAULT_MAX_SIZE) -> Response:
    """A Response from ICANN XML or a Knot/BIND SKR; one FormatError (KSR-XML or KSR-TEXT) otherwise."""
    if _forced(data, forced) == ICANN:
        return parse_response(data, max_size)
    from appliance.formats.text_dialects import parse_text_response

    return parse_text_response(data, max_size)
