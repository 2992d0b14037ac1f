"""The end: log out of the HSM, write the complete log, and show the closing record until the
operators type 'end' (a witness copies the hashes from it)."""

from __future__ import annotations

from appliance.closing_record import OUTSIDE_WIDTH, ClosingRecord, closing_record_lines
from appliance.console import printing, safekeeping, sticks
from appliance.console.flow import Ceremony, Step
from appliance.errors import EXIT_MEDIA
from appliance.text import shown


def record(ceremony: Ceremony) -> ClosingRecord:
    hsm = ceremony.hsm_identity
    return ClosingRecord(
        signed=tuple(ceremony.signed),
        hsm=tuple(hsm.lines()) if hsm is not None else (),
        clock_set=ceremony.clock_set,
        started=ceremony.log.started,
        ended=ceremony.clock.now(),
        log_name=ceremony.log.filename,
        failures=tuple(what for _, what in ceremony.failures),
    )


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.SHUTDOWN.heading, ["Ending the ceremony."])
    if ceremony.hsm is not None:
        await ui.work("Logging out of the HSM ...", ceremony.hsm.close)
        ceremony.hsm = None
        ceremony.hsm_state = "logged out"
    await safekeeping.write_kept(ceremony, "shutdown.kept")
    closing = ceremony.closing = record(ceremony)  # heads the final log's PDF and printout
    # The log's last page: the record less the log's own hash, which only the screen can show.
    ceremony.log.note("Closing record", closing_record_lines(closing))
    ui.add(["", "The complete log goes to a stick now."])
    report = await sticks.write_log(ceremony, "shutdown.log", None)
    log_sha256 = None
    if report is None:
        ceremony.fail(EXIT_MEDIA, f"the final log {ceremony.log.filename} is on no stick")
    else:
        written = next(f for f in report.verified if f.name == ceremony.log.filename)
        log_sha256 = bytes.fromhex(written.sha256)
    lines = closing_record_lines(record(ceremony) if report is None else closing, log_sha256)
    lost = safekeeping.kept(ceremony)
    if lost:
        lines += ["", "WARNING: signed but on NO stick, lost now:"]
        lines += [f"  {shown(s.response_name, limit=OUTSIDE_WIDTH - 2)}" for s in lost]  # one row each, as in the record
    if report is None:
        lines += ["", "WARNING: the final log is NOT on any stick."]
        if ceremony.log_written is not None:
            lines += ["'print N' prints the log as last written to a stick, without this record."]
    else:
        lines += ["", f"Written on {report.stick.describe()}."]
        lines += await printing.offer_line(ceremony, "this record and the final log")
    ui.show(Step.SHUTDOWN.heading, lines)
    await printing.ask_word(ceremony, "shutdown.done", "Type 'end' once the record is written down:", ("end",))
    ceremony.ended = True
    return Step.SHUTDOWN
