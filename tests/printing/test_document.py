"""The paper copy of a ceremony log as a PDF: layout, footers, hostile content, `ceremony print --pdf`."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.closing_record import TITLE, ClosingRecord, SignedRequest, closing_record_lines
from appliance.commands import print as print_command
from appliance.digest import Fingerprint
from appliance.errors import UsageError
from appliance.printing.document import (
    COLUMNS,
    LEADING,
    Row,
    build_log_pdf,
    escape,
    layout,
    page_count,
    rows_of,
    rows_per_page,
    started_from_log,
)
from image.paper_checks import check_pages, pdf_pages, rendered_page_count

LOG = Path(__file__).parent / "fixtures" / "ceremony-20261130T143706Z.log"
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("gs"),
                                   reason="needs poppler-utils and ghostscript (make setup installs them as root)")


@needs_poppler
@pytest.mark.parametrize("paper, size", [("a4", "595.276 x 841.89"), ("letter", "612 x 792")])
def test_a_real_log_on_both_papers(tmp_path, paper, size):
    log = LOG.read_bytes()
    document = build_log_pdf(log, paper=paper)
    pdf = tmp_path / "log.pdf"
    pdf.write_bytes(document.pdf)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"Page size:\s+{re.escape(size)} pts", info)
    assert document.pages == -(-len(log.decode().splitlines()) // rows_per_page(paper))
    assert rendered_page_count(pdf, tmp_path) == document.pages
    check_pages(pdf_pages(pdf), log, paper, "2026-11-30T14:37:06Z")


def test_the_footer_says_start_page_hash_and_words():
    log = LOG.read_bytes()
    fingerprint = Fingerprint.of(log)
    document = build_log_pdf(log)
    assert document.log_sha256 == fingerprint.hex
    text = document.pdf.decode("latin-1")
    for page in range(1, document.pages + 1):
        assert f"page {page} of {document.pages}" in text
    assert text.count("Ceremony started 2026-11-30T14:37:06Z") == document.pages
    words = " ".join(fingerprint.words[:4])
    assert text.count(f"Log SHA-256 {fingerprint.hex[:8]} {fingerprint.hex[8:16]}...") == document.pages
    assert text.count(words) == document.pages


def test_start_time_from_the_log_or_given_or_unknown():
    assert started_from_log(LOG.read_bytes()) == "2026-11-30T14:37:06Z"
    assert started_from_log(b"no header\n") is None
    assert "Ceremony started unknown" in build_log_pdf(b"x\n").pdf.decode("latin-1")
    assert "Ceremony started 2027-01-01T00:00:00Z" in build_log_pdf(
        b"x\n", started="2027-01-01T00:00:00Z").pdf.decode("latin-1")


@needs_poppler
def test_closing_record_on_its_own_first_pages(tmp_path):
    log = LOG.read_bytes()
    record = ["CLOSING RECORD", "", "  Requests signed: 1"]
    document = build_log_pdf(log, closing_record=record)
    assert document.pages == build_log_pdf(log).pages + 1
    pdf = tmp_path / "log.pdf"
    pdf.write_bytes(document.pdf)
    pages = pdf_pages(pdf)
    assert pages[0][:3] == record and pages[1][0] == "DNSSEC KSK signing ceremony"
    check_pages(pages, log, "a4", "2026-11-30T14:37:06Z", closing_record=record)


def closing_record(requests: int, failures: tuple[str, ...] = ()) -> list[str]:
    """A record as the console makes it at the end of a ceremony on the demo's SoftHSM: the
    clock as set (a wrapped method line), seven rows of HSM identity, `requests` signed."""
    signed = tuple(SignedRequest(f"ksr-root-2027-q{n}-0.xml", hashlib.sha256(b"request %d" % n).digest(),
                                 f"skr-root-2027-q{n}-0.xml", hashlib.sha256(b"response %d" % n).digest(), 9,
                                 ("current: tag 47630, HSM label 'KSK-demo'",), "stick KSR-STICK (folder)")
                   for n in range(1, requests + 1))
    hsm = ("PKCS#11 module: /usr/lib/softhsm/libsofthsm2.so", "Library:        Implementation of PKCS11 "
           "(SoftHSM, version 2.6)", "Slot:           1528254125 (SoftHSM slot ID 0x5b174ead)",
           "Token label:    ceremony-demo", "Manufacturer:   SoftHSM project", "Model:          SoftHSM v2",
           "Serial:         874a96dd5b174ead")
    clock = ("Old time: 2026-11-30 14:37:06 UTC", "New time: 2026-11-30 14:37:06 UTC", "Step:     -0 s",
             "Method:   clock setting disabled for this run: system clock unchanged; the ceremony uses the "
             "typed time as an offset")
    record = ClosingRecord(signed, hsm, clock, datetime(2026, 11, 30, 14, 37, 6, tzinfo=UTC),
                           datetime(2026, 11, 30, 15, 2, 3, tzinfo=UTC), LOG.name, failures)
    return closing_record_lines(record, hashlib.sha256(LOG.read_bytes()).digest())


@needs_poppler
@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_one_request_record_stands_alone_on_the_first_page(tmp_path, paper):
    """Issue 13: the closing record on its own first page. A one-request record is longer than a
    page of the log's spacing holds, on both papers; it is set closer to fit, and the log starts
    on page 2 at its own spacing."""
    log = LOG.read_bytes()
    for n, record in enumerate((closing_record(1), closing_record(1, ("ksr-x.xml: refused by 2 failed check(s)",) * 3))):
        assert len(rows_of("\n".join(record))) > rows_per_page(paper)  # would spill at the log's spacing
        document = build_log_pdf(log, paper=paper, closing_record=record)
        assert document.pages == build_log_pdf(log, paper=paper).pages + 1
        assert page_count(log, paper, record) == document.pages
        pdf = tmp_path / f"log-{n}.pdf"
        pdf.write_bytes(document.pdf)
        (tmp_path / str(n)).mkdir()
        assert rendered_page_count(pdf, tmp_path / str(n)) == document.pages
        pages = pdf_pages(pdf)
        assert pages[0][0] == TITLE and pages[0][-3] == record[-1].rstrip()  # the record's last row, then the footer
        assert pages[1][0] == "DNSSEC KSK signing ceremony"
        check_pages(pages, log, paper, "2026-11-30T14:37:06Z", closing_record=record)
        assert [page.leading for page in layout(log, paper, record)][1:] == [LEADING] * (document.pages - 1)


@needs_poppler
def test_a_record_too_long_for_one_page_continues_whole(tmp_path):
    """Three requests and long failures: no spacing fits one page; the record goes on over pages of
    its own at the log's spacing, every row kept, none wider than 80 columns."""
    log = LOG.read_bytes()
    record = closing_record(3, tuple(f"ksr-{n}.xml: refused: " + "a reason in many words " * 12 for n in range(6)))
    rows = rows_of("\n".join(record))
    for paper in ("a4", "letter"):
        document = build_log_pdf(log, paper=paper, closing_record=record)
        record_pages = -(-len(rows) // rows_per_page(paper))
        assert record_pages > 1 and document.pages == build_log_pdf(log, paper=paper).pages + record_pages
        assert page_count(log, paper, record) == document.pages
        pdf = tmp_path / f"{paper}.pdf"
        pdf.write_bytes(document.pdf)
        pages = pdf_pages(pdf)
        check_pages(pages, log, paper, "2026-11-30T14:37:06Z", closing_record=record)
        assert pages[record_pages][0] == "DNSSEC KSK signing ceremony"
        printed = [row for page in pages[:record_pages] for row in page[:-2] if row]
        assert printed == [r.text.rstrip() for r in rows if r.text.strip()]
        assert max(len(row) for row in printed) <= COLUMNS


def test_page_count_agrees_with_the_document():
    log = LOG.read_bytes()
    for paper in ("a4", "letter"):
        for record in (None, ["CLOSING RECORD", "", "short"], closing_record(1), closing_record(2), closing_record(5)):
            assert page_count(log, paper, record) == build_log_pdf(log, paper=paper, closing_record=record).pages


def test_hostile_text_is_escaped_and_long_lines_continue():
    assert escape("ok \x1b[2J\x00\u00e9\u202e\U0001f600") == "ok \\x1b[2J\\x00\\xe9\\u202e\\U0001f600"
    rows = rows_of("a" * 170 + "\n\tb\r\n")
    assert rows == [Row("a" * 80), Row("a" * 80, True), Row("a" * 10, True), Row("        b")]
    assert all(len(r.text) <= COLUMNS for r in rows_of(("\x07" * 100) + "\n"))
    pdf = build_log_pdf(b"evil \x1b]0;title\x07 \xff\xfe (not) utf-8\n").pdf.decode("latin-1")
    assert "evil \\\\x1b]0;title\\\\x07 \\\\xff\\\\xfe \\(not\\) utf-8" in pdf  # PDF string escapes


@needs_poppler
def test_a_long_line_prints_whole_with_a_continuation_mark(tmp_path):
    line = " ".join(f"word{n:03d}" for n in range(30))  # 239 columns
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(build_log_pdf((line + "\n").encode()).pdf)
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True).stdout
    assert "".join(text.split()).count("word029") == 1
    assert text.count("+") == 2  # two continuation rows, each marked in the margin


def test_same_log_same_bytes_and_empty_log_one_page():
    log = LOG.read_bytes()
    assert build_log_pdf(log).pdf == build_log_pdf(log).pdf
    assert build_log_pdf(b"").pages == 1
    with pytest.raises(ValueError, match="paper must be one of"):
        build_log_pdf(log, paper="a3")


def test_print_pdf_writes_the_document(tmp_path, capsys):
    out = tmp_path / "log.pdf"
    assert main(["print", str(LOG), "--pdf", str(out), "--paper", "letter"]) == 0
    assert out.read_bytes() == build_log_pdf(LOG.read_bytes(), paper="letter").pdf
    assert "pages (letter), log SHA-256 " + Fingerprint.of(LOG.read_bytes()).hex in capsys.readouterr().out
    assert main(["print", str(LOG), "--pdf", str(out)]) == 2
    assert "exists; not overwritten" in capsys.readouterr().err
    assert main(["print", str(LOG), "--pdf", str(tmp_path / "b.pdf"), "--copies", "2"]) == 2
    assert not (tmp_path / "b.pdf").exists()


def test_print_refuses_hostile_log_files(tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "fifo.log"
    os.mkfifo(fifo)
    link = tmp_path / "link.log"
    link.symlink_to(LOG)
    big = tmp_path / "big.log"
    big.write_bytes(b"x" * 101)
    monkeypatch.setattr(print_command, "MAX_LOG_SIZE", 100)
    # /proc/self/mem is a regular file whose first page no process maps: reading it fails with EIO,
    # as a failing or pulled stick does.
    for path, message in [(fifo, "a FIFO, not a regular file"), (link, "a symbolic link (never followed)"),
                          (big, "larger than the 100 bytes allowed"), (tmp_path / "none", "No such file"),
                          (tmp_path, "a directory, not a regular file"),
                          (Path("/proc/self/mem"), "Input/output error")]:
        assert main(["print", str(path), "--pdf", str(tmp_path / "out.pdf")]) == 2
        assert f"LOG-FILE: " in (err := capsys.readouterr().err) and message in err, err
    assert not (tmp_path / "out.pdf").exists()
    escaped = tmp_path / "bad\x1bname.log"
    assert main(["print", str(escaped), "--pdf", str(tmp_path / "out.pdf")]) == 2
    assert "bad\\x1bname.log" in capsys.readouterr().err


@needs_poppler
def test_the_paper_check_finds_a_missing_or_substituted_page(tmp_path):
    from image.paper_checks import PaperMismatch

    log = LOG.read_bytes()
    other = log.replace(b"KSK-demo", b"KSK-evil")
    pdf = tmp_path / "other.pdf"
    pdf.write_bytes(build_log_pdf(other).pdf)
    pages = pdf_pages(pdf)
    with pytest.raises(PaperMismatch, match="line"):  # the text differs (and so does the footer's hash)
        check_pages(pages, log, "a4", "2026-11-30T14:37:06Z")
    with pytest.raises(PaperMismatch, match="footer"):  # same text, another start time in the footers
        check_pages(pdf_pages(_pdf(tmp_path, log, started="2026-11-30T14:37:07Z")), log, "a4",
                    "2026-11-30T14:37:06Z")
    good = pdf_pages(_pdf(tmp_path, log))
    with pytest.raises(PaperMismatch, match="pages printed"):
        check_pages(good[:1] + good[2:], log, "a4", "2026-11-30T14:37:06Z")


def _pdf(tmp_path, log, **options):
    path = tmp_path / f"doc-{len(list(tmp_path.iterdir()))}.pdf"
    path.write_bytes(build_log_pdf(log, **options).pdf)
    return path


def test_the_console_starts_without_loading_the_pdf_writer():
    import subprocess
    import sys

    code = "import sys, appliance.console, appliance.commands.run; print('reportlab.pdfgen' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_print_refuses_a_log_of_more_pages_than_asked_for(tmp_path, capsys, monkeypatch):
    """A "log" from a stick may be 8 MiB of bytes that are not text, each printed as a 4-column
    escape: thousands of pages. `ceremony print` says how many and prints nothing beyond
    --max-pages (default 200; a real ceremony's log is a few dozen), before asking CUPS anything,
    and writes no PDF of it either (counted without laying the rows out: 8 MiB of line feeds are
    131148 pages)."""
    asked = []

    def choose_printer(name):
        asked.append(name)
        raise UsageError("no printer here")

    monkeypatch.setattr(print_command, "choose_printer", choose_printer)
    hostile = tmp_path / "ceremony-hostile.log"
    hostile.write_bytes(bytes(range(128, 256)) * 3000)  # 384000 bytes, none of them text: 315 pages
    assert main(["print", str(hostile)]) == 2
    err = capsys.readouterr().err
    assert "LOG-PAGES: " in err and "more than --max-pages 200; nothing printed" in err, err
    assert asked == []
    assert "makes 315 pages a copy" in err
    assert main(["print", str(hostile), "--pdf", str(tmp_path / "hostile.pdf")]) == 2
    assert "nothing printed or written" in capsys.readouterr().err and not (tmp_path / "hostile.pdf").exists()
    assert page_count(hostile.read_bytes()) == build_log_pdf(hostile.read_bytes()).pages == 315
    assert page_count(b"") == 1 and page_count(LOG.read_bytes(), "letter") == build_log_pdf(LOG.read_bytes(), paper="letter").pages
    assert main(["print", str(hostile), "--max-pages", "315", "--printer", "x"]) == 2 and asked == ["x"]
