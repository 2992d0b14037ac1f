"""The one place that turns untrusted bytes into an XML tree, with the safe settings.

Requests arrive on a USB stick from outside the ceremony room, so the parser is locked down:
a size cap checked before parsing, no DTD at all (any DOCTYPE is refused, which also rules out
entity expansion), no network access, comments and processing instructions dropped.

The DOCTYPE is found by libxml2 itself, after it has decoded the text (UTF-16 or UTF-32 with or
without a byte order mark, a declared encoding): a first pass stops at the DOCTYPE or at the root
element, before libxml2 would load any external subset. A resolver that refuses every URL stands
behind it, so no DTD, external entity or XInclude is ever read from outside the bytes given
(libxml2 2.14 opens an external subset despite load_dtd=False when collect_ids is off).
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


class _Outside(Exception):
    """libxml2 asked for something outside the bytes given (a DTD, an entity, an XInclude)."""


class _RefuseEverything(etree.Resolver):
    def resolve(self, system_url, public_id, context):
        raise _Outside(f"a reference outside the file ({system_url or public_id!r}) is refused")


class _Doctype(Exception):
    pass


class _RootReached(Exception):
    pass


class _DoctypeWatch:
    """Parser target for the first pass: stops at the DOCTYPE, or at the root element (none can follow)."""

    def doctype(self, *declaration):
        raise _Doctype

    def start(self, *element):
        raise _RootReached

    def end(self, tag):
        pass

    def data(self, text):
        pass

    def close(self):
        return None


def _parser(target=None) -> etree.XMLParser:
    # A fresh parser per document: lxml parsers keep state and are not thread-safe.
    parser = etree.XMLParser(
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
        target=target,
    )
    parser.resolvers.add(_RefuseEverything())
    return parser


def _syntax_error(exc: etree.XMLSyntaxError, check: str) -> FormatError:
    reason = re.sub(r", line \d+, column \d+$", "", exc.msg)  # lxml appends what we put first
    return fail(None, f"line {exc.lineno}: not well-formed XML: {reason}", check)


def _refuse_doctype(data: bytes, check: str) -> None:
    """FormatError if libxml2, having decoded `data` its own way, meets a DOCTYPE before the root."""
    # A cheap byte search first, for the line number in the common (UTF-8) case.
    position = data.find(b"<!DOCTYPE")
    if position >= 0:
        line = data.count(b"\n", 0, position) + 1
        raise fail(None, f"line {line}, <!DOCTYPE>: document type declarations are refused", check)
    try:
        etree.fromstring(data, _parser(_DoctypeWatch()))
    except _Doctype:
        raise fail(None, "<!DOCTYPE>: document type declarations are refused", check) from None
    except _RootReached:
        return
    except _Outside as exc:
        raise fail(None, str(exc), check) from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, check) from None


def parse_xml(data: bytes, max_size: int = DEFAULT_MAX_SIZE, check: str = KSR_XML) -> etree._Element:
    """The root element of `data`, or FormatError (too big, DOCTYPE, not well-formed)."""
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"parse_xml takes bytes, not {type(data).__name__}")
    if len(data) > max_size:
        raise fail(None, f"file is {len(data)} bytes, more than the limit of {max_size} bytes", check)
    data = bytes(data)
    _refuse_doctype(data, check)
    try:
        root = etree.fromstring(data, _parser())
    except _Outside as exc:
        raise fail(None, str(exc), check) from None
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(exc, check) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise fail(None, "<!DOCTYPE>: document type declarations are refused", check)
    return root
