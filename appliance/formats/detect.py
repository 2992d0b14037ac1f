"""Which format a request or response file is in, and reading it with the right parser.

Detection is by content, never by file name: XML is ICANN's KSR/SKR; text starting with a
"KeySigningRequest 1.0" / "SignedKeyResponse 1.0" header is Knot DNS's (Unix-seconds header
times) or BIND 9's (YYYYMMDDhhmmss). `--format knot|bind|icann` forces one: a file that is not
in the forced format is refused (check KSR-XML or KSR-TEXT), never read as another.
"""

from __future__ import annotations

from appliance.errors import FormatError
from appliance.formats.request import parse_request
from appliance.formats.response import parse_response
from appliance.formats.text_dialects import (
    DIALECTS,
    ICANN,
    KSR_TEXT,
    detect_format,
    parse_text_request,
    parse_text_response,
)
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE
from appliance.model import Request, Response


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
    return parse_text_request(data, max_size)


def read_response(data: bytes, forced: str | None = None, max_size: int = DEFAULT_MAX_SIZE) -> Response:
    """A Response from ICANN XML or a Knot/BIND SKR; one FormatError (KSR-XML or KSR-TEXT) otherwise."""
    if _forced(data, forced) == ICANN:
        return parse_response(data, max_size)
    return parse_text_response(data, max_size)
