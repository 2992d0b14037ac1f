"""Step 1: the operators read the UTC time from a wall clock and type it in; the clock follows."""

from __future__ import annotations

import time

from appliance.clock import BUILD_DATE, TYPED_FORMAT, ClockError, parse_typed_time
from appliance.console.flow import Ceremony, Step


def screen(ceremony: Ceremony) -> list[str]:
    return [
        "Set the clock.",
        "",
        f"This laptop's clock says:  {ceremony.clock.now():%Y-%m-%d %H:%M:%S} UTC",
        "It is not trusted: every date check of the request depends on the time.",
        "",
        "Read the time from the wall clock and type it in UTC as",
        f"    {TYPED_FORMAT}      for example 2027-01-15 14:05",
        "then press Enter. You will be asked to confirm it.",
        f"A time before {BUILD_DATE:%Y-%m-%d} (when this software was built) is refused.",
    ]


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ui.show(Step.CLOCK.heading, screen(ceremony))
    while True:
        typed_text = await ui.ask("clock.time", "UTC date and time:")
        typed_at = time.monotonic()
        try:
            typed = parse_typed_time(typed_text)
        except ClockError as exc:
            ui.add([f"Not accepted: {exc}.", "Type it again."])
            continue
        ui.add([f"You typed {typed:%A %Y-%m-%d %H:%M:%S} UTC."])
        answer = await ui.ask("clock.confirm", "Set the clock to this time? Type 'yes' (else retype):")
        if answer.lower() != "yes":
            ui.add(["Not set. Type the time again."])
            continue
        change = ceremony.clock.set(typed, typed_at)
        ceremony.clock_set = tuple(change.describe())
        ui.add(["Clock set."] + change.describe())
        ceremony.log.clock_stepped(change.new - change.old)
        await ui.ask("clock.done", "Clock set. Press Enter to continue to the HSM:")
        return Step.HSM
