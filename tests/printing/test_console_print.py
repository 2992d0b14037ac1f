"""'print N' in the console: the log as written to the stick, on paper; a missing or failing printer
told and logged, never ending the ceremony or losing the log; the PDF beside the log on the stick.

The printer tests run a private cupsd (marker `root`; CI runs as root); the others need none.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from appliance.digest import Fingerprint
from appliance.printing.document import started_from_log
from tests.console.conftest import demo, sticks  # noqa: F401  (fixtures)
from tests.console.harness import log_and_pdf, run_script
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK
from image.paper_checks import check_pages, pdf_pages, postscript_pages
from tests.printing.test_cups_print import scheduler  # noqa: F401  (fixture)

pytestmark = pytest.mark.softhsm
SIGN_ONE = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + [("sign.where", ""), ("sign.done", "")]


def unwrapped(log: str) -> str:
    """The log's words with its 80-column wrapping undone."""
    return " ".join(log.split())


def test_the_pdf_lies_beside_the_log_and_hashes_it(demo, sticks, tmp_path, monkeypatch):
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cupsd.sock"))
    run = run_script(sticks, SIGN_ONE + [("next", "print 2"), ("next", "shutdown"),
                                         ("shutdown.done", "print"), ("shutdown.done", "")], config=demo.config)
    assert run.code == 0
    log_name, pdf_name = log_and_pdf(run)
    log = (demo.stick / log_name).read_bytes()
    pdf = demo.stick / pdf_name
    assert pdf.read_bytes().startswith(b"%PDF-")
    if subprocess.run(["which", "pdftotext"], capture_output=True).returncode == 0:
        check_pages(pdf_pages(pdf), log, "a4", started_from_log(log))
    else:
        assert Fingerprint.of(log).hex[:8].encode() in pdf.read_bytes()
    # No printer: said on the screen and in the log, twice, and the ceremony went on to its end.
    assert unwrapped(run.log).count("ERROR Printing is not possible: ") == 2
    assert "Log-out" in run.log or "Logging out of the HSM" in run.log


@pytest.mark.root
def test_print_copies_at_the_prompts(demo, sticks, scheduler, tmp_path):
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    run = run_script(sticks, SIGN_ONE + [("next", "print 2"), ("next", "shutdown"),
                                         ("shutdown.done", "print"), ("shutdown.done", "")], config=demo.config)
    assert run.code == 0
    said = unwrapped(run.log)
    assert "A printer is present: 'print N' prints N copies" in said
    assert said.count("Printer laser: Generic PostScript Printer (file://") == 2
    assert "Print job laser-1 (2 copies): done" in said
    assert "Print job laser-2 (1 copies): done" in said
    # The last job printed the final log as written to the stick, every page with its footer.
    log_name, _ = log_and_pdf(run)
    final = (demo.stick / log_name).read_bytes()
    check_pages(postscript_pages(scheduler.output / "laser.ps", tmp_path), final, "a4",
                started_from_log(final))
    assert scheduler.spooled() == []


@pytest.mark.root
def test_a_failing_printer_never_ends_the_ceremony(demo, sticks, scheduler):
    scheduler.add_file_printer("broken", Path("/nonexistent-directory/printer.ps"))
    run = run_script(sticks, SIGN_ONE + [("next", "print"), ("next", "shutdown"), ("shutdown.done", "")],
                     config=demo.config)
    assert run.code == 0
    assert "ERROR Print job failed: Print job broken-1 (1 copies): STOPPED: " in unwrapped(run.log)
    log_name, pdf_name = log_and_pdf(run)
    assert (demo.stick / log_name).exists() and (demo.stick / pdf_name).exists()
