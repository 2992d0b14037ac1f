"""How `ConsoleUI.work` logs a failure: a write report (our own rows, each name in it escaped)
goes on as rows of its own; any other failure's text, which may carry bytes from a stick (an XML
value, a TOML string, a name), is one headline, its line breaks shown as \\n, never rows."""
import asyncio
import io
from datetime import UTC, datetime
from pathlib import Path

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from appliance.ceremonylog import CeremonyLog, flowing
from appliance.console.app import ConsoleUI
from appliance.errors import RefusedError
from appliance.media.source import MediaWriteError, Stick, WriteReport
from tests.console.test_ceremonylog import FORGED, FORGED_ROW


def logged_failure(exc: Exception) -> list[str]:
    """The log's rows after `work` ran a function that raised `exc`."""
    def fail():
        raise exc

    with create_pipe_input() as pipe:
        output = Vt100_Output(io.StringIO(), lambda: Size(rows=25, columns=80), term="linux", enable_cpr=False)
        log = CeremonyLog(lambda: datetime(2027, 1, 15, 14, 6, tzinfo=UTC))
        ui = ConsoleUI(log, lambda: "status", input=pipe, output=output)

        async def run():
            try:
                await ui.work("Checking the request ...", fail)
            except type(exc):
                return 0
            return 1

        assert ui.run(run) == 0
    return log.render().split("\n")


def test_a_failure_text_with_line_breaks_from_outside_starts_no_row():
    rows = logged_failure(RefusedError("KSR-EXAMPLE: unexpected value 'x\n" + FORGED_ROW + "\n'"))
    failed = [row for row in rows if "Checking the request ... failed after" in row]
    assert len(failed) == 1
    assert "value 'x\\n " + " ".join(FORGED_ROW.split()) + "\\n'" in flowing("\n".join(rows))
    for row in rows:
        if FORGED.search(row):
            assert not row.startswith("    "), row  # only in the headline or its continuation


def test_a_write_report_goes_on_as_rows_of_its_own():
    stick = Stick("sdb1", "KSR", 1 << 30, "vfat", Path("/media/sdb1"), "/dev/sdb1")
    report = WriteReport(stick, (), not_written=("skr-root-2027-q1-0.xml",), reason="No space left on device")
    rows = logged_failure(MediaWriteError(report))
    assert "    NOT written:" in rows and "      skr-root-2027-q1-0.xml" in rows
