"""The parts of `appliance.printing.cups` that need no scheduler: drivers, queue names, and a
scheduler that is not there (a printing failure, never a traceback)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from appliance.cli import main
from appliance.printing import cups


@pytest.mark.parametrize("device_id, driver", [
    ("MFG:HP;MDL:LaserJet M404;CMD:PJL,PCLXL,PCL,POSTSCRIPT,URF;", "drv:///sample.drv/generic.ppd"),
    ("MANUFACTURER:Brother;COMMAND SET:PJL,PCL,PCLXL;MODEL:HL-L2350DW;", "lsb/usr/cupsfilters/pxlmono.ppd"),
    ("MFG:Kyocera;CMD:PCL5E,PJL;", "drv:///sample.drv/generpcl.ppd"),
    ("MFG:Canon;CMD:LIPSLX,CPCA;", None),
    ("", None),
])
def test_generic_driver_by_command_set(device_id, driver):
    assert cups.generic_driver(device_id) == driver


def test_queue_names_are_plain_and_unique():
    assert cups.queue_name("HP LaserJet M404 (USB)", set()) == "HP_LaserJet_M404_USB"
    assert cups.queue_name("HP LaserJet", {"HP_LaserJet"}) == "HP_LaserJet_2"
    assert cups.queue_name("\x1b[2J/../", set()) == "2J"
    assert cups.queue_name("", set()) == "printer"


def test_job_outcomes_say_what_happened():
    assert cups.JobOutcome("laser-3", 2, "completed", "").describe() == "Print job laser-3 (2 copies): done"
    assert cups.JobOutcome("laser-5", 1, "completed", "").describe() == "Print job laser-5 (1 copy): done"
    failed = cups.JobOutcome("laser-4", 1, "aborted", "Filter failed \x1b[2J")
    assert not failed.done and failed.describe().endswith("ABORTED: Filter failed \\x1b[2J")


@pytest.mark.skipif(not shutil.which("lpstat"), reason="needs cups-client (make setup installs it as root)")
def test_no_scheduler_is_a_printing_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cupsd.sock"))
    with pytest.raises(cups.PrintingError, match="scheduler is not running"):
        cups.list_printers()
    log = tmp_path / "ceremony.log"
    log.write_text("a log\n")
    assert main(["print", str(log)]) == 4
    said = capsys.readouterr().err
    assert "the CUPS scheduler is not running" in said and "write the PDF with --pdf FILE" in said


def test_no_printer_found_points_to_the_pdf(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cups, "list_printers", lambda: [])
    log = tmp_path / "ceremony.log"
    log.write_text("a log\n")
    assert main(["print", str(log)]) == 2
    assert "no printer found: plug one in, or write the PDF with --pdf FILE" in capsys.readouterr().err


def test_a_job_still_not_ended_at_the_time_limit_is_cancelled(monkeypatch):
    ran = []
    monkeypatch.setattr(cups, "job_state", lambda job: ("processing", "Printer not connected; will retry"))
    monkeypatch.setattr(cups, "_run", lambda args, timeout=cups.COMMAND_TIMEOUT: ran.append(args))
    outcome = cups.wait_for_job("lpt-1", 1, "lpt", timeout=0)
    assert ran == [["cancel", "-a", "-x", "lpt"]]  # nothing left retrying, nothing left in the spool
    assert not outcome.done
    assert outcome.describe() == ("Print job lpt-1 (1 copy): TIMED-OUT: still processing after 0 s, "
                                  "cancelled: Printer not connected; will retry")


def test_a_job_id_is_shown_escaped_like_everything_cups_says():
    """The job id is the queue's name and a number; CUPS lets a queue's name hold any byte above
    0x7f (a bidi override, a C1 control in UTF-8), and `ceremony print` writes the outcome to a
    terminal."""
    for state in ("completed", "aborted"):
        said = cups.JobOutcome("laser\u202e\u009b2J-3", 1, state, "").describe()
        assert said.startswith("Print job laser\\u202e\\x9b2J-3 (1 copy): ")


LPINFO = """\
Device: uri = usb://HP/LaserJet%20M404?serial=PHB1234
        class = direct
        info = HP LaserJet M404
        make-and-model = HP LaserJet M404
        device-id = MFG:HP;CMD:PCLXL,POSTSCRIPT;MDL:LaserJet M404;
Device: uri = parallel:/dev/sdb
        class = direct
        info = HP LaserJet M404
        make-and-model = HP LaserJet M404
        device-id = MFG:HP;CMD:POSTSCRIPT;
Device: uri = usb://Evil/Printer extra words
        device-id = CMD:POSTSCRIPT;
Device: uri = parallel:/dev/lp0
        class = direct
        info = LPT #1
        make-and-model = Unknown
"""


def test_only_usb_and_parallel_port_device_uris_become_queues(monkeypatch):
    """A printer's device id, make and model reach lpinfo's listing, one field a line: a line
    break in them (the usb backend copies the IEEE 1284 id as the printer sends it) would read as
    a device of its own. Only a usb:// URI in one piece or a parallel port (/dev/lpN) is taken, so
    no forged line can have a queue made that writes to a stick's block device."""
    monkeypatch.setattr(cups, "_run", lambda args, timeout=cups.COMMAND_TIMEOUT: subprocess.CompletedProcess(
        args, 0, LPINFO, ""))
    assert [d["uri"] for d in cups.plugged_devices()] == ["usb://HP/LaserJet%20M404?serial=PHB1234",
                                                         "parallel:/dev/lp0"]


def test_a_cups_tool_that_cannot_run_is_a_printing_error(monkeypatch, tmp_path):
    """Any failure to start one of CUPS's tools (here a file that may not be executed) is a
    PrintingError, which the console says and logs and goes on from, never an OSError."""
    (tmp_path / "lpstat").write_text("#!/bin/sh\n")
    (tmp_path / "lpstat").chmod(0o644)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(cups.PrintingError, match="lpstat could not be run: Permission denied"):
        cups.list_printers()
