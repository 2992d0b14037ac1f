"""What a witness checks on paper, done by machine: a printed or PDF copy of a ceremony log read
back as text (pdftotext), page by page, against the log itself. Used by `make qemu-test`'s print
stage on what the guest sent to its parallel port, and by tests/printing/ on the PDF and on what a
private CUPS scheduler printed. Needs ghostscript and poppler-utils on the host."""

from __future__ import annotations

import re
import subprocess
from html import unescape
from pathlib import Path

from appliance.digest import Fingerprint
from appliance.printing.document import (
    COLUMNS,
    FONT_SIZE,
    FOOTER_SIZE,
    LEADING,
    MARGIN_TOP,
    RECORD_LEADINGS,
    footer_lines,
    layout,
)

_PAGE = re.compile(r'<page width="([\d.]+)" height="[\d.]+">(.*?)</page>', re.S)
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>')


def pdf_pages(pdf: Path) -> list[list[str]]:
    """Each page's text: the body rows rebuilt column for column from where pdftotext found each
    word (Courier is monospace, so a word's column is its distance from the margin), then the
    footer's rows with single spaces between words. Blank rows inside the body are kept, counted
    at the page's own leading (`_leading`)."""
    html = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    pages = []
    for page_match in _PAGE.finditer(html):
        width = float(page_match.group(1))
        left = (width - COLUMNS * FONT_SIZE * 0.6) / 2
        words: list[tuple[float, int, str]] = []  # the body's: (top, column, word)
        footer: dict[int, list[str]] = {}
        for x_min, y_min, x_max, word in _WORD.findall(page_match.group(2)):
            word = unescape(word)
            x_min, y_min, x_max = float(x_min), float(y_min), float(x_max)
            if (x_max - x_min) / len(word) > FOOTER_SIZE * 0.6 + 0.6:  # the body's 10-point Courier
                column = round((x_min - left) / (FONT_SIZE * 0.6))
                if column >= 0:  # a continuation mark sits in the margin, at column -1
                    words.append((y_min, column, word))
            else:
                footer.setdefault(round(y_min), []).append(word)
        leading = _leading({top for top, _, _ in words})
        body: dict[int, dict[int, str]] = {}
        for top, column, word in words:
            body.setdefault(round((top - MARGIN_TOP) / leading), {})[column] = word
        rows = []
        for number in range(max(body, default=-1) + 1):
            line = ""
            for column, word in sorted(body.get(number, {}).items()):
                line = line.ljust(column) + word
            rows.append(line)
        pages.append(_trimmed(rows) + [" ".join(words) for _, words in sorted(footer.items())])
    return pages


def _leading(tops: set[float]) -> int:
    """A page's leading: the smallest gap between two of its body rows when that is one the
    document sets (a closing record on one page may be set closer: `RECORD_LEADINGS`), else the
    log's. Rows next to each other show it; a page with none (a row or two) is the log's."""
    ordered = sorted(tops)
    gaps = {round(b - a) for a, b in zip(ordered, ordered[1:])}
    return min(gaps & set(RECORD_LEADINGS), default=LEADING)


def postscript_pages(ps: Path, work: Path) -> list[list[str]]:
    """The same for a PostScript job (ghostscript's ps2pdf first)."""
    pdf = work / (ps.name + ".pdf")
    subprocess.run(["ps2pdf", str(ps), str(pdf)], check=True, capture_output=True)
    return pdf_pages(pdf)


def rendered_page_count(file: Path, work: Path) -> int:
    """Pages ghostscript renders from a PDF or PostScript file (PNG at 30 dpi, counted)."""
    out = work / "rendered"
    out.mkdir(exist_ok=True)
    subprocess.run(["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pnggray", "-r30",
                    f"-sOutputFile={out}/page-%03d.png", str(file)], check=True, capture_output=True)
    return len(list(out.glob("page-*.png")))


def _trimmed(lines: list[str]) -> list[str]:
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


class PaperMismatch(AssertionError):
    """The paper does not say what the log says."""


def check_pages(pages: list[list[str]], log: bytes, paper: str, started: str,
                closing_record: list[str] | None = None) -> None:
    """Every page's body equals its share of the log (closing record first), line for line, and
    its footer carries the start time, "page N of M" and the log's hash and first words."""
    expected = [[r.text for r in page.rows] for page in layout(log, paper, closing_record)]
    if len(pages) != len(expected):
        raise PaperMismatch(f"{len(pages)} pages printed, {len(expected)} expected")
    fingerprint = Fingerprint.of(log)
    for number, (page, rows) in enumerate(zip(pages, expected), 1):
        body, footer = _trimmed(list(page[:-2])), page[-2:]
        want_body = _trimmed([r.rstrip() for r in rows])
        if body != want_body:
            line = next((i for i, (a, b) in enumerate(zip(body, want_body)) if a != b), min(len(body), len(want_body)))
            raise PaperMismatch(f"page {number}, line {line + 1}: printed {body[line:line + 1]}, "
                                f"the log has {want_body[line:line + 1]}")
        want = footer_lines(started, number, len(pages), fingerprint)
        if [" ".join(f.split()) for f in footer] != [" ".join(w.split()) for w in want]:
            raise PaperMismatch(f"page {number}: footer {footer}, expected {list(want)}")
        if f"page {number} of {len(pages)}" not in footer[0] or fingerprint.hex[:8] not in footer[1] \
                or fingerprint.words[0] not in footer[1]:
            raise PaperMismatch(f"page {number}: the footer lacks its page number or the log's hash")
