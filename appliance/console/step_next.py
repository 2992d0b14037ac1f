"""Step 6: another request in the same ceremony, or the end of it."""

from __future__ import annotations

from appliance.console import printing
from appliance.console.flow import Ceremony, Step


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ceremony.current = None
    lines = [f"Requests signed in this ceremony so far: {ceremony.requests_signed}."]
    if ceremony.outputs:
        lines += ["Written and verified:"] + [f"  {o}" for o in ceremony.outputs]
    ui.show(Step.NEXT.heading, lines + [
        "",
        "Type 'another' to import and sign another request,",
        "or 'shutdown' to end the ceremony (the final log is written first).",
    ])
    if ceremony.log_written is not None and await printing.printers_present(ceremony):
        ui.add(["A printer is present: 'print N' prints N copies of the log as written."])
    while True:
        answer = (await ui.ask("next", "'another' or 'shutdown':")).lower()
        if await printing.offer(ceremony, answer):
            continue
        if answer == "another":
            return Step.REQUEST
        if answer == "shutdown":
            return Step.SHUTDOWN
        ui.add([f"'{answer}' is neither 'another' nor 'shutdown'."])
