"""'print N' in the console: the log as written to the stick on paper, the closing record on its own
first page(s) once the ceremony has closed; a missing or failing printer told and logged, never
ending the ceremony or losing the log; printer-supplied text shown escaped; the PDF beside the log.

The printer tests run a private cupsd (marker `root`; CI runs as root); the others need none.
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from appliance.closing_record import TITLE, closing_record_lines
from appliance.console import log_pdf
from appliance.digest import Fingerprint
from appliance.printing import cups
from appliance.printing.document import started_from_log
from image.paper_checks import check_pages, pdf_pages, postscript_pages
from tests.console.conftest import demo, sticks  # noqa: F401  (fixtures)
from tests.console.harness import flat, log_and_pdf, run_script
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK
from tests.printing.test_cups_print import scheduler  # noqa: F401  (fixture)

pytestmark = pytest.mark.softhsm
SIGN_ONE = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + [("sign.where", ""), ("sign.done", "")]
CLOSE = [("next", "shutdown"), ("shutdown.log.choose", "1")]


def final_record(run, log: bytes) -> list[str]:
    """The closing record as it heads the final log's paper form: with that log's SHA-256."""
    return closing_record_lines(run.ceremony.closing, Fingerprint.of(log).sha256)


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils' pdftotext (make setup)")
def test_without_a_printer_the_ceremony_ends_and_the_pdf_lies_beside_the_log(demo, sticks, tmp_path, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cupsd.sock"))
    run = run_script(sticks, SIGN_ONE + [("next", "print 2")] + CLOSE
                     + [("shutdown.done", "print"), ("shutdown.done", "end")], config=demo.config)
    assert run.code == 0 and run.ceremony.ended
    # No printer: said on the screen and in the log, both times, and the ceremony went on to its end.
    assert flat(run.log).count("ERROR PRINTING IS NOT POSSIBLE: ") == 2
    log_name, pdf_name = log_and_pdf(run)
    log = (demo.stick / log_name).read_bytes()
    pages = pdf_pages(demo.stick / pdf_name)
    # The final log's PDF: the closing record (with the log's own hash) alone on the first page, then the log.
    assert pages[0][0] == TITLE and pages[1][0] == run.ceremony.log.title
    check_pages(pages, log, "a4", started_from_log(log), closing_record=final_record(run, log))


class FakeCups:
    """CUPS as a hostile printer would answer: escape sequences and line breaks in every text."""

    def __init__(self, monkeypatch, *, done: bool):
        self.done = done
        self.printed: list[int] = []  # copies, job by job
        self.pdfs: list[bytes] = []  # what each job was given
        monkeypatch.setattr(cups, "list_printers", self.list_printers)
        monkeypatch.setattr(cups, "add_plugged_printers", lambda: ["evil\x1b[2J\nFAKE: added"])
        monkeypatch.setattr(cups, "submit", self.submit)
        monkeypatch.setattr(cups, "wait_for_job", self.wait_for_job)

    def list_printers(self):
        return [cups.Printer("laser\x1b]0;x\x07", "Evil\x1b[31m Laser\nPrinter ready", "usb://Evil/Laser", "idle", True)]

    def submit(self, printer, pdf, copies, title, paper):
        self.pdfs.append(pdf.read_bytes())
        assert self.pdfs[-1].startswith(b"%PDF-")
        self.printed.append(copies)
        return "laser-7"

    def wait_for_job(self, job, copies, printer, timeout):
        return cups.JobOutcome(job, copies, "completed" if self.done else "aborted",
                               "" if self.done else "paper jam\x1b[2J\u202eevil")


@pytest.mark.parametrize("done", [True, False])
def test_make_model_and_outcome_shown_and_logged_escaped(demo, sticks, monkeypatch, done):
    fake = FakeCups(monkeypatch, done=done)
    run = run_script(sticks, SIGN_ONE + [("next", "print 3")] + CLOSE + [("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0 and run.ceremony.ended  # a failed job changes nothing else
    assert fake.printed == [3]
    said = flat(run.log)
    assert "A printer is present: 'print N' prints N copies of the log as written." in said
    assert "Printer laser\\x1b]0;x\\x07: Evil\\x1b[31m Laser\\nPrinter ready (usb://Evil/Laser), idle" in said
    if done:
        assert "Print job laser-7 (3 copies): done" in said
    else:
        assert "ERROR Print job laser-7 (3 copies): ABORTED: paper jam\\x1b[2J\\u202eevil" in said
    assert "Printer plugged in: evil\\x1b[2J\\nFAKE: added" in said
    for raw in ("\x1b", "\u202e", "\x07"):
        assert raw not in run.log
    assert "\x1b]0;x" not in run.terminal and "\u202e" not in run.terminal


@pytest.mark.root
def test_print_copies_at_both_prompts_closing_record_first(demo, sticks, scheduler, tmp_path):
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    run = run_script(sticks, SIGN_ONE + [("next", "print 2")] + CLOSE
                     + [("shutdown.done", "print"), ("shutdown.done", "end")], config=demo.config)
    assert run.code == 0
    said = flat(run.log)
    assert "A printer is present: 'print N' prints N copies of the log as written." in said
    assert "A printer is present: 'print N' prints N copies of this record and the final log." in said
    assert said.count("Printer laser: Generic PostScript Printer (file://") == 2
    assert "Print job laser-1 (2 copies): done" in said
    assert "Print job laser-2 (1 copy): done" in said
    # The last job printed the closing record, then the final log as written to the stick, every
    # page with its footer.
    log_name, _ = log_and_pdf(run)
    final = (demo.stick / log_name).read_bytes()
    pages = postscript_pages(scheduler.output / "laser.ps", tmp_path)
    assert pages[0][0] == TITLE
    check_pages(pages, final, "a4", started_from_log(final), closing_record=final_record(run, final))
    assert scheduler.spooled() == []


@pytest.mark.root
def test_a_failing_printer_never_ends_the_ceremony(demo, sticks, scheduler):
    scheduler.add_file_printer("broken", Path("/nonexistent-directory/printer.ps"))
    run = run_script(sticks, SIGN_ONE + [("next", "print")] + CLOSE + [("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0 and run.ceremony.ended
    assert "ERROR Print job broken-1 (1 copy): STOPPED: " in flat(run.log)
    log_name, pdf_name = log_and_pdf(run)
    assert (demo.stick / log_name).exists() and (demo.stick / pdf_name).exists()


def test_the_printer_question_is_guarded_like_the_print_words(demo, sticks, monkeypatch):
    """With several printers the console asks which: a PIN typed there by habit is neither drawn
    nor logged, as at the questions 'print N' is typed at."""
    fake = FakeCups(monkeypatch, done=True)
    two = fake.list_printers() + [cups.Printer("inkjet", "Ink Jet", "usb://Ink/Jet", "idle", True)]
    monkeypatch.setattr(cups, "list_printers", lambda: two)
    run = run_script(sticks, SIGN_ONE + [("next", "print"), ("print.choose", "123456"), ("next", "print"),
                                         ("print.choose", "2")] + CLOSE + [("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0 and fake.printed == [1]
    assert "123456" not in run.log and "123456" not in run.screen_text()
    assert "Nothing printed." in run.log


def test_no_room_for_the_print_file_is_a_printing_failure(demo, sticks, monkeypatch):
    """The PDF goes to CUPS through a temporary file (in RAM on the DVD): a full or missing
    temporary folder is a printing failure said and logged, and the ceremony goes on."""
    import tempfile

    fake = FakeCups(monkeypatch, done=True)
    monkeypatch.setattr(tempfile, "tempdir", str(demo.media / "no-such-folder"))
    run = run_script(sticks, SIGN_ONE + [("next", "print")] + CLOSE + [("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0 and run.ceremony.ended and fake.printed == []
    assert "ERROR PRINTING FAILED on laser\\x1b]0;x\\x07: cannot hand the log to CUPS: " in flat(run.log)


def test_the_pdf_is_laid_out_once_per_written_log_and_off_the_event_loop(demo, sticks, monkeypatch):
    """A long log takes a while to lay out: each log written to a stick is laid out once, in the
    write's worker (the console's event loop runs in this test's thread), and 'print N' prints
    those very bytes, the PDF beside the log, without laying it out again."""
    fake = FakeCups(monkeypatch, done=True)
    built: list[tuple[threading.Thread, bytes, bytes]] = []  # (thread, log, PDF), call by call
    real = log_pdf.build_log_pdf

    def recording(log, **options):
        document = real(log, **options)
        built.append((threading.current_thread(), log, document.pdf))
        return document

    monkeypatch.setattr(log_pdf, "build_log_pdf", recording)
    run = run_script(sticks, SIGN_ONE + [("next", "print 2"), ("next", "print")] + CLOSE
                     + [("shutdown.done", "print"), ("shutdown.done", "end")], config=demo.config)
    assert run.code == 0 and fake.printed == [2, 1, 1]
    log_name, pdf_name = log_and_pdf(run)
    writes = flat(run.log).count(f"{log_name}, {pdf_name} to stick")  # with the response, then alone
    assert writes == 2 and len(built) == writes  # once per written log, printing included
    assert all(thread is not threading.current_thread() for thread, _, _ in built)
    logs = [log for _, log, _ in built]
    assert logs[-1] == (demo.stick / log_name).read_bytes() and len(set(logs)) == len(logs)
    # The first two jobs printed the PDF written with the response, the last the final one on the stick.
    assert fake.pdfs == [built[0][2], built[0][2], (demo.stick / pdf_name).read_bytes()] and built[-1][2] == fake.pdfs[-1]


def test_a_pdf_that_cannot_be_made_costs_neither_the_log_nor_the_ceremony(demo, sticks, monkeypatch):
    fake = FakeCups(monkeypatch, done=True)

    def failing(log, **options):
        raise MemoryError

    monkeypatch.setattr(log_pdf, "build_log_pdf", failing)
    run = run_script(sticks, SIGN_ONE + [("next", "print")] + CLOSE + [("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0 and run.ceremony.ended and fake.printed == []
    log_name, pdf_name = log_and_pdf(run)
    assert (demo.stick / log_name).exists() and not (demo.stick / pdf_name).exists()
    said = flat(run.log)
    assert "ERROR The log's PDF could not be made: MemoryError" in said
    assert "ERROR PRINTING IS NOT POSSIBLE: the log's PDF could not be made." in said
