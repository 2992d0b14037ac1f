"""Text from outside (a stick, a file, a token, the configuration), made safe to show.

Minimal stand-in (issue 10 point 4 needs it now); the full rules are issue 10 point 2's, whose
version of this module replaces this one: every character that is not plainly visible
(`str.isprintable()` false: controls, line and paragraph separators, bidi and other format
controls, zero-width characters, unassigned code points) is written as a Python-style escape,
each byte that was not UTF-8 as \\xNN, and a long value is cut with an ellipsis.
"""

from __future__ import annotations

DEFAULT_LIMIT = 160
ELLIPSIS = "..."
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _piece(char: str) -> str:
    if char.isprintable():
        return char
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, carried by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(value: str | bytes, limit: int | None = DEFAULT_LIMIT) -> str:
    """`value` as one row of visible text, at most `limit` characters (None: no cap)."""
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "surrogateescape")
    text = "".join(_piece(char) for char in str(value))
    if limit is not None and len(text) > limit:
        cut = text[: max(limit - len(ELLIPSIS), 0)]
        # Never end inside an escape: drop a trailing partial "\x.." / "\u...." / "\U........".
        backslash = cut.rfind("\\")
        if backslash >= 0 and len(cut) - backslash < {"x": 4, "u": 6, "U": 10}.get(cut[backslash + 1:backslash + 2], 2):
            cut = cut[:backslash]
        return cut + ELLIPSIS
    return text
