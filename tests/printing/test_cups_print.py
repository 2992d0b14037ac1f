"""Printing a real ceremony log through a private CUPS scheduler, with the console's own code.

Marker `root` (cupsd runs its filters as lp; CI runs as root). The printer is CUPS's Generic
PostScript driver on a file device, so the bytes a laser printer would receive land in a file:
the job must end `completed`, the PostScript must render (ghostscript) to as many pages as the
document has, its text must equal the log line for line, and every footer must carry the start
time, "page N of M" and the log's hash and words.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.printing import cups
from appliance.printing.document import started_from_log
from appliance.printing.job import print_log
from image.paper_checks import check_pages, postscript_pages, rendered_page_count
from tests.printing.private_cups import PrivateCups, missing_tools

pytestmark = pytest.mark.root
LOG = Path(__file__).parent / "fixtures" / "ceremony-20261130T143706Z.log"


@pytest.fixture
def scheduler(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root to run a private cupsd (runs in CI as root)")
    if missing_tools():
        pytest.skip(f"not installed: {', '.join(missing_tools())} (make setup installs them as root)")
    root = Path("/tmp") / f"ceremony-cups-{os.getpid()}-{tmp_path.name}"  # short: a socket path has 108 bytes
    private = PrivateCups(root).start()
    monkeypatch.setenv("CUPS_SERVER", str(private.socket))
    yield private
    private.stop()
    subprocess.run(["rm", "-rf", str(root)], check=False)


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_a_real_log_prints_completely_with_footers(scheduler, tmp_path, paper):
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    printers = cups.list_printers()
    assert [(p.name, p.make_and_model) for p in printers] == [("laser", "Generic PostScript Printer")]

    log = LOG.read_bytes()
    document, outcome = print_log(log, "laser", 1, paper=paper, timeout=120)
    assert outcome.done, outcome.describe() + scheduler.error_log()
    assert outcome.describe().endswith(": done")

    printed = scheduler.output / "laser.ps"
    assert rendered_page_count(printed, tmp_path) == document.pages > 1
    check_pages(postscript_pages(printed, tmp_path), log, paper, started_from_log(log))
    assert scheduler.spooled() == [], "the spool keeps nothing once the job has ended"


def test_the_closing_record_prints_first(scheduler, tmp_path):
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    log = LOG.read_bytes()
    record = ["CLOSING RECORD", "", "  Requests signed: 1", "  Response SHA-256: 0123abcd"]
    document, outcome = print_log(log, "laser", 1, closing_record=record, timeout=120)
    assert outcome.done, outcome.describe()
    pages = postscript_pages(scheduler.output / "laser.ps", tmp_path)
    assert pages[0][0] == "CLOSING RECORD"
    check_pages(pages, log, "a4", started_from_log(log), closing_record=record)


def test_a_failing_printer_is_an_outcome_with_cups_reason(scheduler):
    scheduler.add_file_printer("broken", Path("/nonexistent-directory/printer.ps"))
    document, outcome = print_log(LOG.read_bytes(), "broken", 2, timeout=120)
    assert not outcome.done
    assert outcome.state in ("stopped", "aborted"), outcome.describe()
    assert outcome.reason and f"{outcome.state.upper()}: " in outcome.describe()
    assert scheduler.spooled() == []


def test_ceremony_print_command(scheduler, capsys):
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    assert main(["print", str(LOG), "--copies", "2"]) == 0
    said = capsys.readouterr().out
    assert "Printer laser: Generic PostScript Printer" in said
    assert "(2 copies): done" in said
    assert "%RBINumCopies: 2" in (scheduler.output / "laser.ps").read_text(errors="replace")

    assert main(["print", str(LOG), "--printer", "absent"]) == 2
    assert "no printer named absent; printers: laser" in capsys.readouterr().err

    scheduler.add_file_printer("broken", Path("/nonexistent-directory/printer.ps"))
    assert main(["print", str(LOG)]) == 2  # two printers now: which one must be said
    assert "several printers: name one with --printer; broken: Generic PostScript Printer" in capsys.readouterr().err
    assert main(["print", str(LOG), "--printer", "broken"]) == 4
    assert "(1 copy): STOPPED: " in capsys.readouterr().out


def test_printer_options_that_do_not_parse_are_a_printing_error(scheduler, capsys):
    """lpoptions writes a value holding a space between single quotes but leaves a quote inside a
    value as it is: a printer's description or location (set by whoever added the queue) can leave
    its output with a quote never closed. That is a printing failure said in one line (exit 4),
    never a traceback, and a console asking for printers goes on."""
    scheduler.add_file_printer("laser", scheduler.output / "laser.ps")
    subprocess.run(["lpadmin", "-p", "laser", "-L", "Room 2's desk"], check=True, env=scheduler.env())
    with pytest.raises(cups.PrintingError, match="cannot read the printer laser: its options do not parse"):
        cups.list_printers()
    assert main(["print", str(LOG)]) == 4
    assert "cannot read the printer laser: its options do not parse" in capsys.readouterr().err
