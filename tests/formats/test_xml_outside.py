"""Issue 10 point 3, case 02: XML never reaches outside the bytes given, in any encoding.

A UTF-16 request with <!DOCTYPE KSR SYSTEM "file:///..."> passed the byte search for "<!DOCTYPE"
and libxml2 then opened the path (a FIFO there froze the console for good). Each document below
names a FIFO and a regular file in a folder watched for open(2); parse_xml must refuse the DOCTYPE
(or parse a document without one) without opening either.
"""

from __future__ import annotations

import os
import threading

import pytest

from appliance.errors import FormatError
from appliance.formats.xmlsafe import parse_xml
from tests.outside import OpenWatch, no_reader

# Python codec, the name declared in the XML declaration (None: no declaration).
ENCODINGS = [
    ("utf-8", None),
    ("utf-8-sig", "UTF-8"),
    ("utf-16", "UTF-16"),  # with a byte order mark
    ("utf-16-le", "UTF-16"),  # without: libxml2 detects "<\0?\0"
    ("utf-16-be", "UTF-16"),
    ("utf-16-le", None),
    ("utf-32", "UTF-32"),
    ("utf-32-le", "UTF-32"),
    ("utf-32-be", "UTF-32"),
    ("cp037", "IBM037"),  # EBCDIC
    ("latin-1", "ISO-8859-1"),
    ("ascii", "US-ASCII"),
]

# Ways a DOCTYPE can name a file; {url} is replaced by a file:// URL or a plain path.
DOCTYPES = {
    "external subset": '<!DOCTYPE KSR SYSTEM "{url}">',
    "public id": '<!DOCTYPE KSR PUBLIC "-//x//y" "{url}">',
    "parameter entity": '<!DOCTYPE KSR [<!ENTITY % p SYSTEM "{url}"> %p;]>',
    "general entity": '<!DOCTYPE KSR [<!ENTITY e SYSTEM "{url}">]>',
}
BODY = {"general entity": "<KSR>&e;</KSR>"}


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    os.mkfifo(folder / "pipe")
    (folder / "secret").write_text("<!ENTITY x 'secret'>")
    return folder


def _document(codec: str, declared: str | None, doctype: str, url: str, body: str) -> bytes:
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    return (declaration + doctype.format(url=url) + "\n" + body).encode(codec)


def _parse_watched(data: bytes, outside) -> tuple[object, list]:
    """(the root or the exception, the files opened in `outside`); fails if the parse blocks."""
    result = []

    def parse():
        try:
            result.append(parse_xml(data))
        except Exception as exc:  # noqa: BLE001 - the test judges what came out
            result.append(exc)

    with OpenWatch(outside) as watch:
        worker = threading.Thread(target=parse, daemon=True)
        worker.start()
        worker.join(10)  # liveness only: a parse that opens the FIFO never returns by itself
        reader_free = no_reader(outside / "pipe")  # also frees a blocked parse
        worker.join(10)
        assert reader_free, "the parser opened the FIFO outside the document and blocked"
        return result[0], watch.opened()


@pytest.mark.parametrize("codec,declared", ENCODINGS, ids=[f"{c}-{d}" for c, d in ENCODINGS])
@pytest.mark.parametrize("kind", DOCTYPES)
@pytest.mark.parametrize("target", ["pipe", "secret"])
def test_a_doctype_naming_a_file_is_refused_without_opening_it(outside, codec, declared, kind, target):
    url = (outside / target).as_uri() if kind != "public id" else str(outside / target)
    data = _document(codec, declared, DOCTYPES[kind], url, BODY.get(kind, "<KSR/>"))
    outcome, opened = _parse_watched(data, outside)
    assert opened == []
    assert isinstance(outcome, FormatError), outcome
    assert outcome.check == "KSR-XML"
    if _readable(codec, declared):  # else libxml2 refuses the encoding itself, which is safe too
        assert "<!DOCTYPE>: document type declarations are refused" in str(outcome)


def _readable(codec: str, declared: str | None) -> bool:
    """Whether this libxml2 reads the encoding at all (EBCDIC needs iconv; UTF-16 without a byte
    order mark needs the declaration to be detected)."""
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    try:
        parse_xml((declaration + "<KSR/>").encode(codec))
    except FormatError:
        return False
    return True


@pytest.mark.parametrize("codec,declared", ENCODINGS, ids=[f"{c}-{d}" for c, d in ENCODINGS])
def test_xinclude_and_stylesheet_references_are_never_followed(outside, codec, declared):
    url = (outside / "pipe").as_uri()
    body = (f'<?xml-stylesheet type="text/xsl" href="{url}"?>'
            f'<KSR xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}"/>'
            f'<xi:include href="{(outside / "secret").as_uri()}" parse="text"/></KSR>')
    declaration = f'<?xml version="1.0" encoding="{declared}"?>\n' if declared else ""
    outcome, opened = _parse_watched((declaration + body).encode(codec), outside)
    assert opened == []
    if isinstance(outcome, FormatError):  # only when libxml2 cannot read the encoding at all
        assert not _readable(codec, declared), outcome
        return
    assert outcome.tag == "KSR" and len(outcome) == 2  # the includes stay inert elements


def test_the_size_cap_is_one_mebibyte_by_default():
    body = b"<KSR>" + b" " * (1024 * 1024 - len(b"<KSR></KSR>")) + b"</KSR>"
    assert parse_xml(body).tag == "KSR"
    with pytest.raises(FormatError, match="more than the limit of 1048576 bytes"):
        parse_xml(body + b" ")
