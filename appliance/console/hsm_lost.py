"""An HSM that went away during the ceremony: what the screen says, what the log keeps, the way back.

Every HSM call of the console has a bounded wait (appliance.hsm.bounded). When one gets no answer
(HSM-NO-ANSWER) or the session is gone (HSM-LINK-LOST: the device or its link went away), the
session is ended, the screen says which, what was being done and that nothing was written, and
the operators may reconnect the HSM and type 'reconnect' (the PIN is typed again, a new session)
or shut the ceremony down:

    if hsm_lost.is_lost(ceremony, exc):
        await hsm_lost.end_session(ceremony, exc, "while checking NAME", [what it means])
    ...
    await hsm_lost.reconnect_or_shutdown(ceremony, key) -> bool   # True: logged in again
"""

from __future__ import annotations

from appliance.errors import EXIT_HSM, HsmError
from appliance.text import shown

# appliance.hsm.errors is imported where it is used: the console's first screen loads no HSM code.

HSM_NO_ANSWER = "HSM-NO-ANSWER"
HSM_LINK_LOST = "HSM-LINK-LOST"
RECONNECT = "reconnect"


def failure_id(exc: HsmError) -> str:
    from appliance.hsm.errors import HsmNoAnswer

    return HSM_NO_ANSWER if isinstance(exc, HsmNoAnswer) else HSM_LINK_LOST


def is_lost(ceremony, exc: Exception) -> bool:
    """Whether `exc` ended the HSM session (no answer in time, device or link gone), as opposed to
    an answer the HSM gave (a key missing, a mechanism refused), after which the session is fine."""
    if not isinstance(exc, HsmError):
        return False
    from appliance.hsm.errors import HsmDeviceRemoved, HsmNoAnswer

    return isinstance(exc, (HsmNoAnswer, HsmDeviceRemoved)) or getattr(ceremony.hsm, "ended", None) is not None


async def end_session(ceremony, exc: HsmError, doing: str, meaning: list[str]) -> None:
    """Says and logs that the HSM went away while `doing`, with `meaning` (what was and was not
    done), ends what is left of the session (bounded) and leaves the HSM 'LOST' on the status line."""
    ui, log = ceremony.ui, ceremony.log
    check = failure_id(exc)
    said = shown(str(exc), limit=None)
    lines = [f"{check}: THE HSM WENT AWAY {doing.upper()}.", f"  {said}", *meaning,
             "Reconnect the HSM (its cable, its power, its link), then type 'reconnect' at the next question:",
             "the PIN is typed again and a new session is opened. Or shut the ceremony down."]
    ui.add([""] + lines)
    log.error(f"{check}: the HSM went away {doing}", lines[1:])
    ceremony.fail(EXIT_HSM, f"{check}: the HSM went away {doing}")
    hsm, ceremony.hsm = ceremony.hsm, None
    ceremony.hsm_state = "LOST, not connected"
    ceremony.hsm_lost = check
    if hsm is not None:
        await ui.work("Ending what is left of the HSM session ...", hsm.close)


async def reconnect_or_shutdown(ceremony, key: str) -> bool:
    """While the HSM is lost: 'reconnect' logs in again (True once it worked), 'shutdown' gives up."""
    from appliance.console import step_hsm

    ui = ceremony.ui
    while True:
        ui.add(["", f"The HSM is NOT connected ({ceremony.hsm_lost}). Nothing can be signed until it is.",
                "Reconnect it, then type 'reconnect'; or 'shutdown' to end the ceremony (the log is written first)."])
        answer = await ui.ask_word(key, f"'{RECONNECT}' or 'shutdown':", (RECONNECT, "shutdown"))
        if answer == "shutdown":
            ceremony.log.note("The HSM was not reconnected: the operators shut the ceremony down")
            return False
        before = ceremony.hsm_identity
        ceremony.log.note("Reconnecting the HSM: a new session, the PIN typed again")
        if await step_hsm.activate(ceremony):
            ceremony.hsm_lost = None
            _same_token(ceremony, before)
            await ui.ask("hsm.reconnected", "Press Enter to continue:")
            return True


def _same_token(ceremony, before) -> None:
    """Says whether the session opened after a reconnect is on the token used before."""
    after = ceremony.hsm_identity
    if before is None or after is None:
        return
    if (before.token_serial, before.token_label) == (after.token_serial, after.token_label):
        text = f"Reconnected: the same token as before ({shown(after.token_label)}, serial {shown(after.token_serial)})."
    else:
        text = (f"Reconnected to ANOTHER token: {shown(after.token_label)}, serial {shown(after.token_serial)} "
                f"(before: {shown(before.token_label)}, serial {shown(before.token_serial)}).")
    ceremony.ui.add([text])
    ceremony.log.note(text)
