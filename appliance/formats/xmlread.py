"""Strict, schema-ordered reading of an lxml tree, with errors that name the element and line.

Used by the KSR/SKR readers and the RFC 7958 trust-anchor reader. Each element is read exactly as
its schema says: child elements in order with their counts, known attributes only, no stray text.
Whitespace between elements, attribute order and quoting do not matter (the XML parser already
hides them); whitespace around values is ignored, as xsd's numeric, date and base64 types do.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from lxml import etree

from appliance.errors import FormatError
from appliance.formats import timefmt
from appliance.formats.xmlsafe import KSR_XML, fail

_INTEGER = re.compile(r"\+?([0-9]+)", re.ASCII)
_BASE64_SPACE = re.compile(r"[ \t\r\n]+")


class Element:
    """One element being read: its attributes, then its children in schema order."""

    def __init__(self, element: etree._Element, check: str = KSR_XML):
        self.element = element
        self.check = check
        self.tag = element.tag
        self._children = list(element)
        self._position = 0

    def error(self, message: str, element: etree._Element | None = None) -> FormatError:
        return fail(self.element if element is None else element, message, self.check)

    # -- attributes

    def attributes(self, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
        """The attribute values by name; unknown or missing attributes are errors."""
        values = dict(self.element.attrib)
        for name in values:
            if name not in required and name not in optional:
                raise self.error(f"unexpected attribute {name!r}")
        for name in required:
            if name not in values:
                raise self.error(f"attribute {name!r} is missing")
        return values

    def integer_attribute(self, values: dict[str, str], name: str, maximum: int | None = None) -> int:
        return self.convert(values[name], lambda text: parse_integer(text, maximum), f"attribute {name}")

    # -- children

    def _peek(self) -> etree._Element | None:
        return self._children[self._position] if self._position < len(self._children) else None

    def child(self, tag: str) -> Element:
        """The next child, which must be <tag>."""
        found = self._peek()
        if found is None:
            raise self.error(f"<{tag}> is missing")
        if found.tag != tag:
            raise self.error(f"expected <{tag}> inside <{self.tag}>, found <{found.tag}>", found)
        self._position += 1
        return Element(found, self.check)

    def children(self, tag: str, minimum: int = 1) -> list[Element]:
        """The run of consecutive <tag> children here (at least `minimum` of them)."""
        found = []
        while (following := self._peek()) is not None and following.tag == tag:
            found.append(Element(following, self.check))
            self._position += 1
        if len(found) < minimum:
            self.child(tag)  # raises the "missing" or "expected" error
        return found

    def next_tag(self) -> str | None:
        following = self._peek()
        return None if following is None else following.tag

    def end(self) -> None:
        """No children left, and no text anywhere between them."""
        following = self._peek()
        if following is not None:
            raise self.error(f"unexpected element <{following.tag}> inside <{self.tag}>", following)
        if (self.element.text or "").strip():
            raise self.error(f"unexpected text {_excerpt(self.element.text)} inside <{self.tag}>")
        for child in self._children:
            if (child.tail or "").strip():
                raise self.error(f"unexpected text {_excerpt(child.tail)} after <{child.tag}>", child)

    # -- leaf values

    def text(self) -> str:
        """The text of an element that may hold nothing but text."""
        if self.element.attrib:
            raise self.error(f"unexpected attribute {next(iter(self.element.attrib))!r}")
        if self._children:
            raise self.error(f"unexpected element <{self._children[0].tag}> inside <{self.tag}>", self._children[0])
        return self.element.text or ""

    def empty(self) -> None:
        """An element that must have neither children nor text (<RSA .../>)."""
        if self._children:
            raise self.error(f"unexpected element <{self._children[0].tag}> inside <{self.tag}>", self._children[0])
        if (self.element.text or "").strip():
            raise self.error(f"unexpected text {_excerpt(self.element.text)} inside <{self.tag}>")

    def convert(self, text: str, parse: Callable, where: str | None = None):
        """parse(text), its ValueError turned into this element's FormatError."""
        try:
            return parse(text)
        except ValueError as exc:
            prefix = f"{where}: " if where else ""
            raise self.error(f"{prefix}{exc}") from None

    def string(self) -> str:
        return self.text().strip()

    def integer(self, maximum: int | None = None) -> int:
        return self.convert(self.text(), lambda text: parse_integer(text, maximum))

    def fixed_integer(self, value: int) -> int:
        """An integer the schema fixes to one value (ksr.rnc: Protocol is exactly 3)."""
        number = self.integer()
        if number != value:
            raise self.error(f"{number} is not {value}, the only value the schema allows")
        return number

    def datetime(self) -> datetime:
        return self.convert(self.text(), timefmt.parse_datetime)

    def duration(self) -> timedelta:
        return self.convert(self.text(), timefmt.parse_duration)

    def base64(self) -> bytes:
        return self.convert(self.text(), parse_base64)


def parse_integer(text: str, maximum: int | None = None) -> int:
    """An xsd:nonNegativeInteger; legacy files zero-pad ("05017" is 5017)."""
    match = _INTEGER.fullmatch(text.strip())
    if not match:
        raise ValueError(f"{_excerpt(text)} is not a non-negative integer")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > 20:  # before int() turns a megabyte of digits into a bignum
        raise ValueError(f"{_excerpt(text)} is far too large")
    value = int(digits)
    if maximum is not None and value > maximum:
        raise ValueError(f"{value} is larger than {maximum}")
    return value


def parse_base64(text: str) -> bytes:
    """xsd:base64Binary, line breaks and spaces allowed anywhere; empty is refused."""
    compact = _BASE64_SPACE.sub("", text)
    if not compact:
        raise ValueError("is empty")
    try:
        return base64.b64decode(compact.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError(f"{_excerpt(text)} is not valid base64") from None


def _excerpt(text: str, limit: int = 40) -> str:
    """A value quoted for an error message, shortened so one bad key does not flood the screen."""
    stripped = text.strip()
    return repr(stripped if len(stripped) <= limit else stripped[:limit] + "...")
