"""Step 3: the request from a stick, the previous response beside it, and every check's verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from appliance.console import checking, hsm_lost, sticks
from appliance.console.flow import Ceremony, Imported, Step
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.errors import EXIT_REFUSED, CeremonyError, FormatError, MediaError
from appliance.formats import DEFAULT_MAX_SIZE
from appliance.formats.detect import text_kind
from appliance.formats.xmlsafe import parse_xml
from appliance.media import Stick, files
from appliance.text import shown

# A listed file name is cut to keep "    N. name  (N bytes)" on one 79-column row: a name's own
# text never starts a row of the list.
LISTED_NAME_LIMIT = 56


@dataclass
class Survey:
    """The *.xml and *.txt files on a stick, sorted by what their root element (or header) says they are."""

    requests: list[tuple[str, bytes]] = field(default_factory=list)
    responses: list[tuple[str, bytes]] = field(default_factory=list)
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (name, why)

    def lines(self, stick: Stick) -> list[str]:
        out = [f"On {stick.describe()}:"]
        out.append("  Requests (KSR):" if self.requests else "  No request (KSR) on this stick.")
        out += [f"    {n}. {shown(name, LISTED_NAME_LIMIT)}  ({len(data)} bytes)"
                for n, (name, data) in enumerate(self.requests, 1)]
        if self.responses:
            out.append("  Responses (SKR), one may be the previous response:")
            out += [f"    {n}. {shown(name, LISTED_NAME_LIMIT)}  ({len(data)} bytes)"
                    for n, (name, data) in enumerate(self.responses, 1)]
        for name, why in self.unusable:
            out.append(f"  Not used: {shown(name, LISTED_NAME_LIMIT)}, because {shown(why, limit=400)}")
        return out


def survey(media, stick: Stick) -> Survey:
    """Reads every *.xml and *.txt entry (each capped) and sorts it by what it is; runs in the worker.

    Requests and responses share the root <KSR>; the first child, <Request> or <Response>, tells
    them apart; a Knot DNS / BIND 9 *.txt file says which in its first header. Full parsing and
    every check come later, on the files the operator picks. One entry that cannot be used (not
    UTF-8, not a regular file, too large, not XML) is listed as not used and the rest of the stick
    stays usable; MediaError only when the stick itself is gone.
    """
    found = Survey()
    for name in media.list_files(stick, ".txt", regular_only=False):
        data = _read_entry(media, stick, name, found)
        kind = text_kind(data) if data is not None else None
        if kind is not None:  # other text files (a README) are not listed
            (found.requests if kind == "request" else found.responses).append((name, data))
    for name in media.list_files(stick, ".xml", regular_only=False):
        data = _read_entry(media, stick, name, found)
        if data is None:
            continue
        try:
            root = parse_xml(data)
        except FormatError as exc:
            found.unusable.append((name, str(exc)))
            continue
        body = root[0].tag if root.tag == "KSR" and len(root) else None
        if body == "Request":
            found.requests.append((name, data))
        elif body == "Response":
            found.responses.append((name, data))
        else:
            found.unusable.append((name, "neither a request (<KSR><Request>) nor a response (<KSR><Response>)"))
    return found


def _read_entry(media, stick: Stick, name: str, found: Survey) -> bytes | None:
    """The entry's bytes, or None after listing it as not used (a MediaError only if the stick is gone)."""
    if not files.is_utf8(name):
        found.unusable.append((name, "the name is not UTF-8 text"))
        return None
    try:
        return media.read_file(stick, name, DEFAULT_MAX_SIZE)
    except MediaError as exc:
        if not media.still_there(stick):
            raise
        found.unusable.append((name, str(exc)))
        return None


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    ceremony.current = None
    ui.show(Step.REQUEST.heading, ["Import the request.", ""])
    while True:
        stick = await sticks.choose_stick(ceremony, "request.stick", "with the request (KSR)")
        if stick is None:
            ui.add(["No request imported."])
            return Step.NEXT
        try:
            found = await ui.work(f"Reading the *.xml and *.txt files on {stick.describe()} ...", survey,
                                  ceremony.media, stick)
        except MediaError as exc:
            ui.add([shown(str(exc), limit=None), "Nothing was imported."])
            # Wait for the operators, never retry in a loop on our own: the stick may be failing.
            if await _cancelled_while_waiting(
                    ceremony, "request.retry", "Insert the stick again, or Enter to read it again (or 'cancel'):"):
                return Step.NEXT
            continue
        ui.show(Step.REQUEST.heading, found.lines(stick))
        if not found.requests:
            if await _cancelled_while_waiting(ceremony, "request.none", "Insert another stick (or type 'cancel'):"):
                return Step.NEXT
            continue
        chosen = await _choose_files(ceremony, found)
        if chosen is None:
            ui.add(["No request imported."])
            return Step.NEXT
        (name, data), previous = chosen
        ceremony.current = Imported(stick, name, data, *(previous or (None, None)))
        files = [("Request", name, data)] + ([("Previous response", *previous)] if previous else [])
        for what, file, content in files:
            ceremony.log.note(f"{what} {shown(file)} from {stick.describe()}: {len(content)} bytes, "
                              f"SHA-256 {Fingerprint.of(content).hex}")
        return await _check(ceremony)


async def _choose_files(ceremony: Ceremony, found: Survey):
    """((request name, bytes), (previous name, bytes) or None), or None if cancelled."""
    ui = ceremony.ui
    while True:
        answer = await ui.ask("request.choose", "Number of the request to import (or 'cancel'):")
        if answer.lower() == sticks.CANCEL:
            return None
        request = sticks.by_number(answer, found.requests)
        if request is not None:
            break
        ui.add([f"'{shown(answer)}' is not one of the request numbers shown."])
    ui.add([f"Request: {shown(request[0])}"])
    while True:
        if found.responses:
            prompt = "Number of the previous response, or 'none':"
        else:
            prompt = "No response on this stick. Type 'none' to go on without one (or 'cancel'):"
        answer = await ui.ask("request.previous", prompt)
        if answer.lower() == sticks.CANCEL:
            return None
        previous = sticks.by_number(answer, found.responses)
        if previous is not None:
            ui.add([f"Previous response: {shown(previous[0])}"])
            return request, previous
        if answer.lower() == "none":
            ui.add(["Without the previous response, the chain checks (KSR-CHAIN-*, SKR-VERIFY) cannot be run."])
            sure = await ui.ask("request.no_previous", "Go on without a previous response? Type 'yes':")
            if sure.lower() == "yes":
                ceremony.log.note("Operator confirmed: no previous response")
                return request, None
            continue
        ui.add([f"'{shown(answer)}' is neither a response number shown nor 'none'."])


async def _check(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    current = ceremony.current
    try:
        outcome = await ui.work(f"Checking {shown(current.name)} against the policy ...",
                                checking.check, ceremony, current)
    except CeremonyError as exc:
        if hsm_lost.is_lost(ceremony, exc):
            await hsm_lost.end_session(ceremony, exc, f"while checking {shown(current.name)}",
                                       ["The request was neither refused nor signed: nothing was written.",
                                        "After 'reconnect', type 'another' and import it again."])
            await ui.ask("request.hsm_lost", "The HSM went away. Press Enter to continue:")
            return Step.NEXT
        # A file that is not a request at all, or a configuration that cannot be used.
        ui.show(Step.REQUEST.heading, [f"REFUSED: {shown(current.name)}", f"  {shown(str(exc), limit=None)}"])
        ceremony.log.error(f"Request {shown(current.name)} refused: {shown(str(exc), limit=None)}")
        ceremony.fail(exc.exit_code, f"{shown(current.name)}: refused: {shown(str(exc), limit=None)}")
        ceremony.look_back = _look_back(current, [f"REFUSED: {shown(str(exc), limit=None)}"])
        return await _refused(ceremony)
    current.plan = outcome.plan
    ui.show(Step.REQUEST.heading, outcome.lines)
    ceremony.look_back = _look_back(current, outcome.lines)
    if not outcome.verdict.valid:
        ceremony.log.error(f"Request {shown(current.name)} refused by {len(outcome.verdict.violations)} failed check(s)")
        ceremony.fail(EXIT_REFUSED, f"{shown(current.name)}: refused by {len(outcome.verdict.violations)} "
                                    "failed check(s)")
        ui.add(["", f"REFUSED: {shown(current.name)} will not be signed."])
        return await _refused(ceremony)
    await ui.ask("request.accepted", "Press Enter for the verbal check of its hash:")
    return Step.VERBAL


def _look_back(current: Imported, verdicts: list[str]) -> list[str]:
    """What F2 shows at any later prompt: the request's hash, then its verdicts as first shown."""
    return hash_screen(Fingerprint.of(current.data), f"the request ({len(current.data)} bytes)", current.name) + [
        ""] + verdicts


async def _refused(ceremony: Ceremony) -> Step:
    """Keep the reasons on screen until the operator has read them. Nothing is written to the
    request's stick: the log, refusal included, goes to the output sticks."""
    await ceremony.ui.ask("request.refused", "Refused. Press Enter to continue:")
    return Step.NEXT


async def _cancelled_while_waiting(ceremony: Ceremony, key: str, prompt: str) -> bool:
    """Wait for a stick to come or go, or for an answer; True when the operator typed 'cancel'."""
    how, answer = await ceremony.ui.ask_or_wait(
        key, prompt, ceremony.watch.change(ceremony.media, ceremony.media.sticks()))
    if how == "typed" and answer.lower() == sticks.CANCEL:
        ceremony.ui.add(["No request imported."])
        return True
    return False
