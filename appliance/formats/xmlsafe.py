"""The one place that turns untrusted bytes into an XML tree, with the safe settings.

Requests arrive on a USB stick from outside the ceremony room, so the parser is locked down:
a size cap checked before parsing, no DTD at all (any DOCTYPE is refused, which also rules out
entity expansion), no network access, comments and processing instructions dropped.
Every failure, here or in the readers built on top, is one FormatError whose message starts with
the check ID and names the line and the element.
"""

from __future__ import annotations

import re

from lxml import etree

from appliance.errors import FormatError

DEFAULT_MAX_SIZE = 1024 * 1024
KSR_XML = "KSR-XML"


def fail(element: etree._Element | None, message: str, check: str = KSR_XML) -> FormatError:
    """The error for `element` (its line and name); callers `raise fail(...)`."""
    if element is None:
        return FormatError(f"{check}: {message}", check=check)
    return FormatError(f"{check}: line {element.sourceline}, <{element.tag}>: {message}", check=check)


def _parser() -> etree.XMLParser:
    # A fresh parser per document: lxml parsers keep state and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        load_dtd=False,
        dtd_validation=False,
        no_network=True,
        remove_comments=True,
        remove_pis=True,
        huge_tree=False,
        recover=False,
        collect_ids=False,
        attribute_defaults=False,
    )


def parse_xml(data: bytes, max_size: int = DEFAULT_MAX_SIZE, check: str = KSR_XML) -> etree._Element:
    """The root element of `data`, or FormatError (too big, DOCTYPE, not well-formed)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"parse_xml takes bytes, not {type(data).__name__}")
    if len(data) > max_size:
        raise fail(None, f"file is {len(data)} bytes, more than the limit of {max_size} bytes", check)
    # Refuse a DOCTYPE before libxml2 reads it; the docinfo test below catches other encodings.
    position = bytes(data).find(b"<!DOCTYPE")
    if position >= 0:
        line = data.count(b"\n", 0, position) + 1
        raise fail(None, f"line {line}, <!DOCTYPE>: document type declarations are refused", check)
    try:
        root = etree.fromstring(bytes(data), _parser())
    except etree.XMLSyntaxError as exc:
        reason = re.sub(r", line \d+, column \d+$", "", exc.msg)  # lxml appends what we put first
        raise fail(None, f"line {exc.lineno}: not well-formed XML: {reason}", check) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise fail(None, "line 1, <!DOCTYPE>: document type declarations are refused", check)
    return root
