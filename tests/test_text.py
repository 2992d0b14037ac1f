"""appliance.text.shown: every kind of invisible or obeyed character comes out as a visible escape."""

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from appliance.text import ELLIPSIS, shown, shown_block

# One representative of every class the issue names, and then some.
CLASSES = {
    "C0 controls": "\x00\x01\x07\x08\x1b\x1f",
    "line breaks str.splitlines honours": "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
    "DEL and C1 controls": "\x7f\x80\x9b\x9f",
    "bidi controls": "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
    "zero-width and other default-ignorables": "\u200b\u200c\u200d\u2060\ufeff\u00ad\u034f\u115f\u3164\ufe0f"
                                               "\U000e0001\U000e0100",
    "spaces other than the space": "\u00a0\u2000\u3000",
    "printable but drawn as a blank": "\u2800",
    "private use, unassigned, noncharacters": "\ue000\U000f0000\u0378\uffff",
    "lone surrogates": "\ud800\udfff",
}


def visible(text: str) -> bool:
    return all(char.isprintable() for char in text) and len(text.splitlines()) <= 1


def test_every_class_is_escaped_one_character_at_a_time():
    for name, chars in CLASSES.items():
        for char in chars:
            out = shown(f"a{char}b")
            assert visible(out), (name, hex(ord(char)), out)
            assert out.startswith("a\\") and out.endswith("b") and len(out) > 3, (name, hex(ord(char)), out)


def test_the_escapes_read_as_python_writes_them():
    assert shown("ksr\n.xml") == "ksr\\n.xml"
    assert shown("a\rb\tc") == "a\\rb\\tc"
    assert shown("ksr-\x1b[8m.xml") == "ksr-\\x1b[8m.xml"
    assert shown("\x9b8m\u202eksr\u200b\x85") == "\\x9b8m\\u202eksr\\u200b\\x85"
    assert shown("x\U000e0001") == "x\\U000e0001"


def test_printable_text_is_kept_as_it_is():
    for text in ("ksr-root-2017-q2-0.xml", "Ünïcode ÿ € ΚΣΡ Ж", "C:\\path\\n", "a b  c"):
        assert shown(text) == text


def test_bytes_are_utf8_and_every_other_byte_shows_as_hex():
    assert shown("né".encode()) == "né"
    assert shown(b"ksr-\xff\xfe.xml") == "ksr-\\xff\\xfe.xml"
    assert shown(b"a\nb") == "a\\nb"
    assert shown(b"\xe2\x80\xa8") == "\\u2028"  # U+2028 as UTF-8
    assert shown("ksr-\udcff.xml") == "ksr-\\xff.xml"  # os.fsdecode's form of the same byte


def test_long_values_are_cut_with_an_ellipsis_never_inside_an_escape():
    assert shown("x" * 500, limit=20) == "x" * 17 + ELLIPSIS
    assert shown("x" * 20, limit=20) == "x" * 20  # fits: not cut
    cut = shown("ab" + "\u2028" * 10, limit=12)
    assert cut == "ab\\u2028" + ELLIPSIS  # the next escape would not fit whole
    assert 150 < len(shown("\n" * 1000)) <= 160  # the default limit
    assert shown("y" * 1000, limit=None) == "y" * 1000


def test_blocks_split_only_at_line_feeds():
    assert shown_block("line one\nline\rtwo\u2028three\n") == ["line one", "line\\rtwo\\u2028three", ""]


@given(st.one_of(st.text(), st.binary()), st.one_of(st.none(), st.integers(min_value=0, max_value=300)))
def test_any_value_comes_out_as_one_row_of_visible_text(value, limit):
    out = shown(value, limit=limit)
    assert visible(out)
    if limit is not None:
        assert len(out) <= max(limit, len(ELLIPSIS))
    assert shown(out, limit=None) == out  # showing again changes nothing: the render layers re-apply it


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))))
def test_visible_text_is_never_changed(text):
    from wcwidth import wcwidth

    # Kept unless a character is default-ignorable, drawn as a blank or not one column wide.
    if not any(unicodedata.category(c) == "Mn" or c in "\u115f\u1160\u2800\u3164\uffa0" or wcwidth(c) != 1
               for c in text):
        assert shown(text, limit=None) == text


class _NotAscii(str):
    """Takes shown() through its character-by-character walk even for ASCII text."""

    def isascii(self) -> bool:
        return False


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)), st.one_of(st.none(), st.integers(min_value=0, max_value=60)))
def test_ascii_text_comes_out_as_the_character_walk_makes_it(text, limit):
    assert shown(text, limit=limit) == shown(_NotAscii(text), limit=limit)


def test_every_character_kept_takes_one_column_on_the_screen():
    """A combining mark (Mn, Mc, Me) or a Hangul jamo filler is drawn 0 columns wide by the console's
    layout (prompt_toolkit, wcwidth), but one cell by the Linux console, which does not combine: a
    row of them runs into the rows below, carrying the name's other text there. A wide character
    (CJK, fullwidth, emoji) takes two: a row of 80 characters is wider than the screen (the
    console cuts it, hiding our words after a name) or than the log's 80 columns (a terminal
    showing the file breaks it, and the name's text starts a row). So shown() escapes every
    character that is not one column wide, and the count of characters is the count of columns."""
    from prompt_toolkit.utils import get_cwidth

    for sample in ("\u0301", "\u20dd", "\u0e31", "\u0903", "\u1160", "\U0001d167",
                   "\u65e5", "\uff21", "\uac00", "\U0001f600"):
        assert shown(f"a{sample}b").startswith("a\\") and shown(f"a{sample}b").endswith("b"), hex(ord(sample))
    kept = (chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    assert [hex(ord(c)) for c in kept if shown(c, limit=None) == c and get_cwidth(c) != 1] == []
