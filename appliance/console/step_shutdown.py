"""The end: log out of the HSM, write the complete log, and say what the ceremony produced."""

from __future__ import annotations

from appliance.console import printing, sticks
from appliance.console.flow import Ceremony, Step


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.SHUTDOWN.heading, ["Ending the ceremony."])
    if ceremony.hsm is not None:
        await ui.work("Logging out of the HSM ...", ceremony.hsm.close)
        ceremony.hsm = None
        ceremony.hsm_state = "logged out"
    ui.add(["", "The complete log goes to a stick now."])
    report = await sticks.write_log(ceremony, "shutdown.log", None)
    lines = ["", f"Requests signed: {ceremony.requests_signed}."]
    lines += ["Written and verified during the ceremony:"] + [f"  {o}" for o in ceremony.outputs or ["nothing"]]
    if report is None:
        lines += ["", "WARNING: the final log is NOT on any stick."]
    if report is not None and await printing.printers_present(ceremony):
        lines += ["", "A printer is present: 'print N' prints N copies of the final log."]
    ui.add(lines)
    while await printing.offer(ceremony, await ui.ask("shutdown.done", "Press Enter to end:")):
        pass
    return Step.SHUTDOWN

