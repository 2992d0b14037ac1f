"""Request, response and trust-anchor files to and from the model, with safe XML settings.

    parse_request(bytes) -> model.Request        write_request(model.Request) -> bytes
    parse_response(bytes) -> model.Response      write_response(model.Response) -> bytes

    parse_trust_anchors(bytes) -> tuple[TrustAnchor, ...]   (DNSKEY/DS lines or RFC 7958 XML)
    write_trust_anchor_xml(anchors or keys, ...) -> bytes

Every malformed request or response raises one appliance.errors.FormatError whose message starts with "KSR-XML:".
Knot DNS and BIND 9 text files ("KeySigningRequest 1.0"): text_dialects (reading, "KSR-TEXT:" errors),
knot and bind (writing SKRs), detect (the format from the content: read_request, read_response).
"""

from appliance.formats.elements import KSKM_SKR, KSKM_SKR_INDENTED, LEGACY_SKR, SORTED_KSR, VERISIGN_KSR, Layout
from appliance.formats.request import parse_request, write_request
from appliance.formats.response import parse_response, write_response
from appliance.formats.trust_anchor import TrustAnchor, anchor_from_key, parse_trust_anchors, write_trust_anchor_xml
from appliance.formats.xmlsafe import DEFAULT_MAX_SIZE

__all__ = [
    "DEFAULT_MAX_SIZE",
    "KSKM_SKR",
    "KSKM_SKR_INDENTED",
    "LEGACY_SKR",
    "SORTED_KSR",
    "VERISIGN_KSR",
    "Layout",
    "TrustAnchor",
    "anchor_from_key",
    "parse_request",
    "parse_response",
    "parse_trust_anchors",
    "write_request",
    "write_response",
    "write_trust_anchor_xml",
]
