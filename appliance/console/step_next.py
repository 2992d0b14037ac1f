"""Step 6: another request in the same ceremony, or the end of it."""

from __future__ import annotations

from appliance.console import hsm_lost, printing, safekeeping
from appliance.console.flow import Ceremony, Step


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ceremony.current = None
    await safekeeping.write_kept(ceremony, "next.kept")
    if ceremony.hsm_lost and not await hsm_lost.reconnect_or_shutdown(ceremony, "next.hsm"):
        return Step.SHUTDOWN
    lines = [f"Requests signed in this ceremony so far: {ceremony.requests_signed}."]
    if ceremony.outputs:
        lines += ["Written and verified:"] + [f"  {o}" for o in ceremony.outputs]
    ui.show(Step.NEXT.heading, lines + [
        "",
        "Type 'another' to import and sign another request,",
        "or 'shutdown' to end the ceremony (the final log is written first).",
        *await printing.offer_line(ceremony, "the log as written"),
    ])
    answer = await printing.ask_word(ceremony, "next", "'another' or 'shutdown':", ("another", "shutdown"))
    return Step.REQUEST if answer == "another" else Step.SHUTDOWN
