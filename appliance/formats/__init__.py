"""Request, response and trust-anchor files to and from the model, with safe XML settings.

    parse_request(bytes) -> model.Request        write_request(model.Request) -> bytes
    parse_response(bytes) -> model.Response      write_response(model.Response) -> bytes

Every malformed input raises one appliance.errors.FormatError whose message starts with "KSR-XML:".
"""

from appliance.formats.elements import KSKM_SKR, KSKM_SKR_INDENTED, LEGACY_SKR, SORTED_KSR, VERISIGN_KSR, Layout
from appliance.formats.request import parse_request, write_request
from appliance.formats.response import parse_response, write_response
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE

__all__ = [
    "DEFAULT_MAX_SIZE",
    "KSKM_SKR",
    "KSKM_SKR_INDENTED",
    "LEGACY_SKR",
    "SORTED_KSR",
    "VERISIGN_KSR",
    "Layout",
    "parse_request",
    "parse_response",
    "write_request",
    "write_response",
]
