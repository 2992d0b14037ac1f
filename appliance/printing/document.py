"""The operators' paper copy of a ceremony log, as a PDF: 80 monospace columns, a footer on every page.

Built with reportlab's canvas (no hand-written PDF or PostScript), in Courier, one of the 14
standard PDF fonts every printer and renderer has, so nothing is embedded and the text extracts as
it was written. The log is hostile input when it comes from a stick: every character outside
printable ASCII is shown as a Python-style escape (`\\x1b`, `\\u00e9`), tabs are expanded, and a row
longer than 80 columns is continued on the next row behind a `+` in the left margin, so nothing is
cut and nothing can draw outside its row.

Each page's footer carries what a witness needs to tell a missing or substituted page: the
ceremony's start time, "page N of M", and the SHA-256 of the log file written to the stick
(shortened hex and its first PGP words; `appliance.digest`). A closing record, when given, comes
first, on pages of its own, numbered with the rest: on one page when it can be, its rows then set
closer (`RECORD_LEADINGS`, never closer than the font's size) if the log's spacing would spill it
onto a second; a record too long even then continues on pages of its own at the log's spacing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4, LETTER

from appliance.digest import Fingerprint

COLUMNS = 80
PAPER_SIZES = {"a4": A4, "letter": LETTER}  # points (1/72 inch), portrait
FONT = "Courier"
FONT_SIZE = 10  # points: 80 columns of Courier (0.6 em a character) take 480 pt, 169 mm
LEADING = 12  # points from one row's baseline to the next
# The closing record's leading: the loosest of these that holds it on one page (a one-request
# record is about 63 rows; A4 holds 61 at 12 points, 73 at 10, US Letter 57 and 68). Not below
# FONT_SIZE: rows would touch.
RECORD_LEADINGS = (LEADING, 11, 10)
FOOTER_SIZE = 8
FOOTER_COLUMNS = 100  # Courier at 8 points: the body's width
MARGIN_TOP = 40
MARGIN_BOTTOM = 36  # below the footer's last row
FOOTER_ROWS = 2
FOOTER_GAP = 12  # between the last body row and the footer's rule
FOOTER_WORDS = 4  # PGP words of the digest in every footer: enough to tell one log from another
FOOTER_HEX_DIGITS = 16
CONTINUED = "+"  # in the left margin: this row continues the one above it

# The start time as the log's second line states it (`appliance.ceremonylog.CeremonyLog.render`).
_STARTED_LINE = re.compile(rb"^Log started (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$", re.MULTILINE)


@dataclass(frozen=True)
class Row:
    text: str  # printable ASCII, at most COLUMNS characters
    continued: bool = False  # the tail of a line too long for one row


@dataclass(frozen=True)
class Page:
    rows: list[Row]  # body rows, top to bottom
    leading: int  # points from one row's baseline to the next


@dataclass(frozen=True)
class LogDocument:
    """A laid-out paper copy: its PDF bytes and how many pages it has."""

    pdf: bytes
    pages: int
    paper: str
    log_sha256: str


def started_from_log(log: bytes) -> str | None:
    """The start time the log states in its header (`Log started ...Z`), or None when it has none."""
    match = _STARTED_LINE.search(log[:4096])
    return match.group(1).decode("ascii") if match else None


def escape(text: str) -> str:
    """Printable ASCII is kept; anything else (controls, non-ASCII) becomes a visible escape."""
    return "".join(c if " " <= c <= "~" else _escape_one(c) for c in text)


def _escape_one(c: str) -> str:
    code = ord(c)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def rows_of(text: str) -> list[Row]:
    """The text as rows of at most 80 columns: escaped, tabs expanded, long lines continued."""
    return list(_rows(text))


def _lines(text: str) -> Iterator[str]:
    """text.split("\n"), one line at a time: 8 MiB of line feeds are 8 million lines."""
    start = 0
    while (end := text.find("\n", start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def _rows(text: str) -> Iterator[Row]:
    pending = None
    for line in _lines(text):
        shown = escape(line.expandtabs(8).rstrip("\r").rstrip())
        for start in range(0, max(len(shown), 1), COLUMNS):
            if pending is not None:
                yield pending
            pending = Row(shown[start : start + COLUMNS], continued=start > 0)
    if pending != Row(""):  # the file's final newline ends the last line; it is not a row of its own
        yield pending


def page_count(log: bytes, paper: str = "a4", closing_record: list[str] | None = None) -> int:
    """The pages `build_log_pdf(log, paper=paper, closing_record=closing_record)` makes, the log's
    counted without keeping a row: a file from a stick may make a hundred thousand pages. Raises
    KeyError for an unknown paper size."""
    rows = sum(1 for _ in _rows(log.decode("utf-8", errors="backslashreplace")))
    pages = _pages_for(rows, rows_per_page(paper))
    if closing_record:
        record = len(rows_of("\n".join(closing_record)))
        pages += _pages_for(record, rows_per_page(paper, record_leading(record, paper)))
    return pages


def _pages_for(rows: int, per_page: int) -> int:
    return max(-(-rows // per_page), 1)


def rows_per_page(paper: str, leading: int = LEADING) -> int:
    """Body rows that fit between the top margin and the footer on this paper, `leading` points apart."""
    _, height = PAPER_SIZES[paper]
    footer = MARGIN_BOTTOM + FOOTER_ROWS * (FOOTER_SIZE + 2) + FOOTER_GAP
    return int((height - MARGIN_TOP - footer) // leading)


def record_leading(rows: int, paper: str) -> int:
    """The closing record's leading for `rows` rows: the loosest of RECORD_LEADINGS that holds them
    on one page, else LEADING (the record continues on pages of its own, as the log does)."""
    return next((leading for leading in RECORD_LEADINGS if rows <= rows_per_page(paper, leading)), LEADING)


def footer_lines(started: str, page: int, pages: int, fingerprint: Fingerprint) -> tuple[str, str]:
    """The two footer rows of one page (plain ASCII, at most FOOTER_COLUMNS each)."""
    hex_short = fingerprint.hex[:FOOTER_HEX_DIGITS]
    words = " ".join(fingerprint.words[:FOOTER_WORDS])
    first = f"Ceremony started {started}".ljust(FOOTER_COLUMNS - 20) + f"page {page} of {pages}".rjust(20)
    second = f"Log SHA-256 {hex_short[:8]} {hex_short[8:]}...  PGP words 1-{FOOTER_WORDS}: {words}"
    return first, second


def layout(log: bytes, paper: str = "a4", closing_record: list[str] | None = None) -> list[Page]:
    """The document's pages: the closing record's first (if given; `record_leading`), then the
    log's, each section starting on a page of its own. Raises KeyError for an unknown paper size."""
    sections = [(rows_of(log.decode("utf-8", errors="backslashreplace")), LEADING)]
    if closing_record:
        record = rows_of("\n".join(closing_record))
        sections.insert(0, (record, record_leading(len(record), paper)))
    pages = []
    for rows, leading in sections:
        per_page = rows_per_page(paper, leading)
        pages += [Page(rows[i : i + per_page], leading) for i in range(0, max(len(rows), 1), per_page)]
    return pages


def build_log_pdf(log: bytes, *, started: str | None = None, paper: str = "a4",
                  closing_record: list[str] | None = None, title: str = "Ceremony log") -> LogDocument:
    """The PDF of a whole ceremony log.

    `log` is the log file's bytes exactly as written to the stick (its SHA-256 goes in every
    footer); `started` the ceremony's start time as printed in the footer, by default the one the
    log states (`Log started ...`), else "unknown". `paper` is "a4" or "letter". `closing_record`,
    lines of the closing record, starts the document on a page of its own (more when it cannot
    fit one: `layout`). The same input always
    gives the same bytes (reportlab's invariant mode: no creation date or random document id).
    Raises ValueError for an unknown paper size.
    """
    from reportlab.pdfgen.canvas import Canvas  # a fifth of a second: loaded when a PDF is made, not with the console

    if paper not in PAPER_SIZES:
        raise ValueError(f"paper must be one of {', '.join(PAPER_SIZES)}, not {paper!r}")
    fingerprint = Fingerprint.of(log)
    started = started or started_from_log(log) or "unknown"
    pages = layout(log, paper, closing_record)

    out = io.BytesIO()
    width, height = PAPER_SIZES[paper]
    canvas = Canvas(out, pagesize=(width, height), invariant=1, pageCompression=0)
    canvas.setTitle(f"{title} {started}")
    canvas.setSubject(f"SHA-256 of the log: {fingerprint.hex}")
    left = (width - COLUMNS * FONT_SIZE * 0.6) / 2
    for number, page in enumerate(pages, 1):
        y = height - MARGIN_TOP - FONT_SIZE
        canvas.setFont(FONT, FONT_SIZE)
        for row in page.rows:
            if row.continued:
                canvas.drawRightString(left - FONT_SIZE * 0.6, y, CONTINUED)
            canvas.drawString(left, y, row.text)
            y -= page.leading
        _draw_footer(canvas, left, footer_lines(started, number, len(pages), fingerprint))
        canvas.showPage()
    canvas.save()
    return LogDocument(out.getvalue(), len(pages), paper, fingerprint.hex)


def _draw_footer(canvas, left: float, lines: tuple[str, str]) -> None:
    right = left + COLUMNS * FONT_SIZE * 0.6
    top = MARGIN_BOTTOM + FOOTER_ROWS * (FOOTER_SIZE + 2)
    canvas.setLineWidth(0.5)
    canvas.line(left, top + 4, right, top + 4)
    canvas.setFont(FONT, FOOTER_SIZE)
    y = top - FOOTER_SIZE
    for line in lines:
        canvas.drawString(left, y, line)
        y -= FOOTER_SIZE + 2

