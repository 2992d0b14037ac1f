"""The parts of `appliance.printing.cups` that need no scheduler: drivers, queue names, and a
scheduler that is not there (a printing failure, never a traceback)."""

from __future__ import annotations

import shutil

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
    assert "the CUPS scheduler is not running" in capsys.readouterr().err


def test_a_job_still_not_ended_at_the_time_limit_is_cancelled(monkeypatch):
    ran = []
    monkeypatch.setattr(cups, "job_state", lambda job: ("processing", "Printer not connected; will retry"))
    monkeypatch.setattr(cups, "_run", lambda args, timeout=cups.COMMAND_TIMEOUT: ran.append(args))
    outcome = cups.wait_for_job("lpt-1", 1, "lpt", timeout=0)
    assert ran == [["cancel", "-a", "-x", "lpt"]]  # nothing left retrying, nothing left in the spool
    assert not outcome.done
    assert outcome.describe() == ("Print job lpt-1 (1 copies): TIMED-OUT: still processing after 0 s, "
                                  "cancelled: Printer not connected; will retry")
