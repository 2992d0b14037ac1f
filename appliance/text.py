"""Text from outside, made safe to show: the one renderer of anything a stick, a file, a token or a
configuration supplied (file names, volume labels, ids, XML text, token labels, exception messages).

A terminal obeys some characters instead of drawing them, and a person cannot see others. Shown
raw, a file name can start a new row (LF, CR, U+0085, U+2028, U+2029 and the other line breaks
`str.splitlines` honours), move the cursor or hide text (ESC, C1 CSI), reorder what follows (bidi
controls U+202A-U+202E, U+2066-U+2069) or look like another name (zero-width characters). So
every character that is not plainly visible is written as a visible escape, in Python's notation:

    \\n \\r \\t       the three common C0 controls
    \\xNN           any other C0/C1 control, and each byte that is not UTF-8 (from bytes input,
                   or a str decoded with os.fsdecode's surrogateescape)
    \\uNNNN         line and paragraph separators, bidi and other format controls, zero-width and
    \\UNNNNNNNN     other default-ignorable characters, unassigned and private-use code points

"Not plainly visible" is `str.isprintable()` false (Unicode categories Cc, Cf, Cs, Co, Cn, Zl, Zp,
and Zs except the space), Unicode's Default_Ignorable_Code_Point, or not one column wide (wcwidth,
what the console's layout measures with). One of no column (a combining mark, a Hangul jamo
filler) the Linux console draws in a cell of its own, as it does not combine: a row of them runs
over the rows below, carrying the rest of a name there. One of two (CJK, fullwidth, emoji; the
console's font has none of them) makes a row of 80 characters wider than the screen, which cuts
it (hiding our words after a name), or than the log's 80 columns, which a terminal showing the
file breaks (the name's text then starts a row). So what shown() returns is as many columns wide
as it has characters, and every layout that counts characters is right. The backslash itself is kept
as it is, so that showing shown text again changes nothing (the console's screen and log layers
pass every row through here once more, whatever the caller did).
"""

from __future__ import annotations

import functools

# Default_Ignorable_Code_Point (Unicode DerivedCoreProperties) members that str.isprintable()
# accepts (categories Mn and Lo): invisible, so shown escaped. The rest of the property is Cf or
# Cn, which isprintable() already refuses. Also the one printable character drawn as a blank that
# is neither a space (Zs, refused) nor default-ignorable: with it a name would carry indentation
# of its own onto a wrapped row.
_INVISIBLE_PRINTABLE = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),  # HANGUL CHOSEONG/JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ/AA
    (0x180B, 0x180D),  # MONGOLIAN FREE VARIATION SELECTORS
    (0x180F, 0x180F),
    (0x2800, 0x2800),  # BRAILLE PATTERN BLANK (So): not default-ignorable, but drawn as a space
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTORS
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xE0100, 0xE01EF),  # VARIATION SELECTORS SUPPLEMENT
)

_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Long enough for any file name a stick can hold (255 bytes) once escaped on a 79-column screen
# in two rows; callers that need one row pass their own limit.
DEFAULT_LIMIT = 160
ELLIPSIS = "..."


@functools.lru_cache(maxsize=4096)  # a name's few distinct characters, asked again and again
def _visible(char: str) -> bool:
    # wcwidth comes with prompt_toolkit (the screen measures with it); loaded only for text that
    # is not plain ASCII, so that the command line does not pay for it on every start.
    from wcwidth import wcwidth

    code = ord(char)
    if not char.isprintable():
        return False
    return wcwidth(char) == 1 and not any(low <= code <= high for low, high in _INVISIBLE_PRINTABLE)


def _escape(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, carried by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def shown(value: str | bytes, limit: int | None = DEFAULT_LIMIT) -> str:
    """`value` as one row of plain visible text: every control, line or paragraph separator, bidi
    control, zero-width or other invisible or non-printable code point as a visible escape (see
    the module docstring); bytes are decoded as UTF-8, each byte that is not UTF-8 shown as \\xNN.

    `limit` caps the result's length in characters (None: no cap): a longer value is cut, never
    inside an escape, and ends with "...". Raises nothing for any str or bytes.
    """
    if isinstance(value, bytes | bytearray):
        value = bytes(value).decode("utf-8", "surrogateescape")
    elif not isinstance(value, str):
        value = str(value)
    room = None if limit is None else max(limit, len(ELLIPSIS)) - len(ELLIPSIS)
    if value.isascii() and value.isprintable():
        # Nothing to escape (the usual row, a few thousand of them per command): the same result
        # as the walk below, without testing one character at a time.
        return value if room is None or len(value) <= room + len(ELLIPSIS) else value[:room] + ELLIPSIS
    pieces: list[str] = []
    length = 0
    for index, char in enumerate(value):
        piece = char if _visible(char) else _escape(char)
        if room is not None and length + len(piece) > room:
            # Cut only if what is left does not fit in the room the ellipsis would take.
            rest = "".join(c if _visible(c) else _escape(c) for c in value[index:])
            if length + len(rest) <= room + len(ELLIPSIS):
                pieces.append(rest)
                return "".join(pieces)
            return "".join(pieces) + ELLIPSIS
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def shown_block(text: str) -> list[str]:
    """A multi-line text of our own making (a traceback, a configuration file for the log) as rows:
    split at LF only, each row then shown() without a length cap."""
    return [shown(row, limit=None) for row in text.split("\n")]
