"""The ceremony console: a full-screen prompt_toolkit application, one module per step.

    flow.py          the steps, their order and allowed transitions, and what they share
    app.py           the terminal: title, body, prompt line, status line
    sticks.py        waiting for, choosing and writing to sticks, surviving a pulled stick
    preflight.py     what is checked before the first question: configuration, policy, schema, module
    checking.py      a request's bytes -> every check's verdict and the bundle table
    step_*.py        one module per step: clock, hsm, request, verbal, sign, next, shutdown
    autopilot.py     answers the questions through the real input path (demo --unattended, tests)
"""

from __future__ import annotations

import traceback

from appliance import __version__
from appliance.ceremonylog import CeremonyLog
from appliance.clock import BUILD_DATE, CeremonyClock
from appliance.console import (
    preflight,
    step_clock,
    step_hsm,
    step_next,
    step_request,
    step_shutdown,
    step_sign,
    step_verbal,
    sticks,
)
from appliance.console.app import SCREEN_WIDTH, ConsoleUI
from appliance.console.flow import Ceremony, Settings, Step, run_ceremony
from appliance.media import MediaSource

STEPS = {
    Step.CLOCK: step_clock.run,
    Step.HSM: step_hsm.run,
    Step.REQUEST: step_request.run,
    Step.VERBAL: step_verbal.run,
    Step.SIGN: step_sign.run,
    Step.NEXT: step_next.run,
    Step.SHUTDOWN: step_shutdown.run,
}


def run_console(
    settings: Settings,
    media: MediaSource,
    watch: sticks.StickWatch,
    clock: CeremonyClock,
    *,
    input=None,
    output=None,
    on_ask=None,
    prepared: preflight.Prepared | None = None,
) -> tuple[int, Ceremony]:
    """Runs a whole ceremony on the terminal (or the given input/output); returns (exit code, state).

    `media` must be started, and must deliver its events to `watch`. Raises UsageError, before
    anything is shown, when the configuration, policy, schema or HSM module cannot be used
    (`prepared`: that check, already made by the caller).
    """
    prepared = prepared or preflight.check(settings)
    log = CeremonyLog(clock.now)
    ceremony: Ceremony | None = None
    ui = ConsoleUI(log, lambda: ceremony.status(), input=input, output=output, on_ask=on_ask)
    ceremony = Ceremony(ui, log, clock, media, settings, watch, config=prepared.config, policy=prepared.policy)
    ui.look_back = {
        "f2": lambda: ("the request", lambda: ceremony.look_back) if ceremony.look_back else None,
        # The hint asks every second whether F3 works: the log is rendered only when looked at,
        # to the screen's width, so that no row of it is broken again, unmarked, on the screen.
        "f3": lambda: ("the log so far", lambda: log.render(SCREEN_WIDTH).splitlines())
        if ceremony.may_look_back else None,
    }
    clock_rule = "set to the typed time when root" if clock.set_system else "never set (--no-set-clock)"
    log.note(f"ceremony {__version__} (built {BUILD_DATE:%Y-%m-%d}), console started", [
        f"Media: {type(media).__name__}",
        "Configuration: " + (f"{prepared.config.source} (checked before the first question)" if prepared.config
                             else "ceremony.toml from a stick"),
        f"Request policy: {settings.policy or 'as the configuration says'}",
        f"Schema: {settings.schema or 'the configuration default'}",
        f"System clock: {clock_rule}",
    ])

    async def whole_ceremony() -> int:
        watch.attach(ui.add)
        if media.failure:  # stopped before the console was up
            ui.add(sticks.stopped_lines(media.failure))
        try:
            return await run_ceremony(ceremony, STEPS)
        except Exception:
            # A bug must not cost the record of the ceremony: show it, and save the log if we can.
            details = traceback.format_exc()
            log.error("Internal error: the ceremony stops", details)
            ui.show("INTERNAL ERROR", ["The ceremony stopped on an internal error:"]
                    + details.strip().split("\n")[-3:])  # LF only: a U+2028 in a message is shown, not a row
            await sticks.write_log(ceremony, "error.log", None)  # to the stick the operators choose
            await ui.ask_word("error.end", "Type 'end' to end the ceremony:", ("end",))  # read before it goes
            raise
        finally:
            if ceremony.hsm is not None:
                ceremony.hsm.close()

    return ui.run(whole_ceremony), ceremony
