"""Step 4: the request's SHA-256, large and numbered, read aloud and compared; typed 'yes' goes on.

"Large" on an 80x25 text console means room: the hex in numbered groups of four digits, the
32 PGP words in numbered rows of four, in capitals and well spaced, so two people can read it
across a table, one saying the number, the other the group.

The hash and the words stand at fixed rows at the top of the first page, in our own words; the
file's name (chosen by whoever wrote the stick) comes after them, escaped and cut to one row, so
no name can push the real hash off the page or draw a block of its own above it.
"""

from __future__ import annotations

from appliance.console.app import SCREEN_WIDTH
from appliance.console.flow import Ceremony, Step
from appliance.digest import Fingerprint
from appliance.text import shown

FILE_PREFIX = "File: "


def hash_screen(fingerprint: Fingerprint, what: str, name: str) -> list[str]:
    """Rows 0-13: `what` (our own text, e.g. "the request"), the 16 hex groups and the 32 words;
    row 15: the file's `name`, shown escaped on one row."""
    lines = [f"SHA-256 of {what}:", ""]
    groups = [fingerprint.hex[i : i + 4].upper() for i in range(0, 64, 4)]
    for row in range(0, 16, 8):
        lines.append("  " + "  ".join(f"{n + 1:>2}:{groups[n]}" for n in range(row, row + 8)))
    lines.append("")
    words = [w.upper() for w in fingerprint.words]
    for row in range(0, 32, 4):
        lines.append("  " + "".join(f"{n + 1:>2}. {words[n]:<14}  " for n in range(row, row + 4)).rstrip())
    lines += ["", FILE_PREFIX + shown(name, limit=SCREEN_WIDTH - len(FILE_PREFIX))]
    return lines


async def run(ceremony: Ceremony) -> Step:
    ui = ceremony.ui
    current = ceremony.current
    fingerprint = Fingerprint.of(current.data)
    ui.show(Step.VERBAL.heading, hash_screen(fingerprint, "the request", current.name) + [
        "",
        "Read it aloud; the ZSK operator compares it with the hash they sent.",
    ])
    answer = await ui.ask("verbal.confirm", "Do they match? Type 'yes' to sign (anything else aborts):")
    if answer.lower() != "yes":
        ui.add([f"Answer was '{shown(answer)}', not 'yes': ABORTED. Nothing is signed."])
        ceremony.log.error(f"Verbal check not confirmed for {shown(current.name)}: nothing signed")
        return Step.NEXT
    ceremony.log.note(f"Verbal check confirmed for {shown(current.name)}, SHA-256 {fingerprint.hex}")
    return Step.SIGN
