"""The end: log out of the HSM, write the complete log, and say what the ceremony produced."""

from __future__ import annotations

from appliance.console import safekeeping, sticks
from appliance.console.flow import Ceremony, Step
from appliance.text import shown


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.SHUTDOWN.heading, ["Ending the ceremony."])
    if ceremony.hsm is not None:
        await ui.work("Logging out of the HSM ...", ceremony.hsm.close)
        ceremony.hsm = None
        ceremony.hsm_state = "logged out"
    await safekeeping.write_kept(ceremony, "shutdown.kept")
    ui.add(["", "The complete log goes to a stick now."])
    report = await sticks.write_log(ceremony, "shutdown.log", None)
    lines = ["", f"Requests signed: {ceremony.requests_signed}."]
    lines += ["Written and verified during the ceremony:"] + [f"  {o}" for o in ceremony.outputs or ["nothing"]]
    lost = safekeeping.kept(ceremony)
    if lost:
        lines += ["", "WARNING: signed but on NO stick, lost now:"] + [f"  {shown(s.response_name)}" for s in lost]
    if report is None:
        lines += ["", "WARNING: the final log is NOT on any stick."]
    ui.add(lines)
    await ui.ask("shutdown.done", "Press Enter to end:")
    return Step.SHUTDOWN

