"""Step 4: the request's SHA-256, large and numbered, read aloud and compared; typed 'yes' goes on.

"Large" on an 80x25 text console means room: the hex in numbered groups of four digits, the
32 PGP words in numbered rows of four, in capitals and well spaced, so two people can read it
across a table, one saying the number, the other the group.

The hash and the words stand at fixed rows at the top of the first page, in our own words; the
file's name (chosen by whoever wrote the stick) comes after them, escaped and cut to one row, so
no name can push the real hash off the page or draw a block of its own above it.
"""

from __future__ import annotations

from appliance.console import safekeeping
from appliance.console.app import SCREEN_WIDTH
from appliance.console.flow import Ceremony, Step
from appliance.digest import Fingerprint
from appliance.errors import EXIT_REFUSED
from appliance.text import shown

FILE_PREFIX = "File: "


def hash_screen(fingerprint: Fingerprint, what: str, name: str) -> list[str]:
    """Rows 0-12: `what` (our own text, e.g. "the request"), then the hash as `Fingerprint.aloud`
    lays it out everywhere (16 hex groups, 32 words); row 14: the file's `name`, shown escaped on
    one row."""
    return [f"SHA-256 of {what}:", "", *fingerprint.aloud(), "",
            FILE_PREFIX + shown(name, limit=SCREEN_WIDTH - len(FILE_PREFIX))]


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    current = ceremony.current
    fingerprint = Fingerprint.of(current.data)
    ui.show(Step.VERBAL.heading, hash_screen(fingerprint, "the request", current.name) + [
        "",
        "Read it aloud; the ZSK operator compares it with the hash they sent.",
    ])
    answer = ""
    while not answer:  # an Enter pressed once too often is no answer: it must not abort the request
        answer = await ui.ask("verbal.confirm", "Do they match? Type 'yes' to sign (anything else aborts):")
    if answer.lower() != "yes":
        ui.add([f"Answer was '{shown(answer)}', not 'yes': ABORTED. Nothing is signed."])
        ceremony.log.error(f"Verbal check not confirmed for {shown(current.name)}: nothing signed")
        ceremony.fail(EXIT_REFUSED, f"{shown(current.name)}: verbal check not confirmed, aborted")
        await ui.ask("verbal.aborted", "ABORTED. Press Enter to continue:")
        return Step.NEXT
    ceremony.log.note(f"Verbal check confirmed for {shown(current.name)}, SHA-256 {fingerprint.hex}")
    if not await safekeeping.confirm_second_signing(ceremony):
        return Step.NEXT
    return Step.SIGN
