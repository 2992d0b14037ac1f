"""Paper copies from the console: 'print' or 'print N' at the questions after a response is written
and at the end (the closing record's screen).

What is printed is the log as last written to a stick (`log_pdf.PaperLog`): the very PDF written
beside it, laid out once by that write's worker, so the hash in every footer is the hash of that
file and nothing is laid out on the event loop. A missing or failing printer is told on the screen
and in the log and never ends, blocks or loses anything: every CUPS call runs through `ui.work`
with a time limit (`appliance.printing.cups`), and every failure is an outcome to show. Whatever CUPS or a printer
says (queue names, make and model, state reasons) is shown escaped (`text.shown`).
"""

from __future__ import annotations

import os

from appliance.console.sticks import by_number
from appliance.printing import cups
from appliance.printing.job import print_log_document
from appliance.text import shown

# Typed at a guarded question (`ConsoleUI.ask_word`): every answer it may accept is listed.
PRINT_WORDS = ("print", *(f"print {n}" for n in range(1, cups.MAX_COPIES + 1)))
# What the operators may do once printing failed: nothing on the stick depends on it.
NOT_PRINTED = ("Nothing was printed. The ceremony goes on; the log on the stick is untouched, and the PDF "
               "beside it can be printed later on another computer.")
PRINT_AGAIN = ("Check the printer (power, cable, paper) and type 'print' again, or go on: the log on the "
               "stick is untouched, and the PDF beside it can be printed later on another computer.")


async def ask_word(ceremony, key: str, prompt: str, words: tuple[str, ...]) -> str:
    """`ui.ask_word` that also takes 'print' / 'print N' (N copies), prints, and asks again."""
    while True:
        answer = await ceremony.ui.ask_word(key, prompt, words + PRINT_WORDS, listed=(*words, "print N"),
                                            hint=f"N copies, 1 to {cups.MAX_COPIES}")
        if answer not in PRINT_WORDS:
            return answer
        await print_copies(ceremony, int(answer.partition(" ")[2] or 1))


async def offer_line(ceremony, what: str) -> list[str]:
    """The line telling that 'print N' prints `what`, when a printer is present; else none."""
    if ceremony.log_written is None:
        return []
    try:
        printers = await ceremony.ui.work("Looking for printers ...", _find_printers, ceremony)
    except cups.PrintingError as exc:
        ceremony.log.note(f"No printing: {shown(str(exc))}")
        return []
    if not printers:
        return []
    return [f"A printer is present: 'print N' prints N copies of {what}."]


def _find_printers(ceremony) -> list[cups.Printer]:
    if os.geteuid() == 0:  # only root may give a plugged-in printer a queue
        try:
            for line in cups.add_plugged_printers():
                ceremony.log.note(f"Printer plugged in: {shown(line)}")
        except cups.PrintingError as exc:  # the queues there are may still print
            ceremony.log.note(f"Looking for plugged-in printers failed: {shown(str(exc))}")
    return cups.list_printers()


async def print_copies(ceremony, copies: int) -> None:
    """Prints `copies` copies of the log as last written; every outcome shown and logged."""
    ui = ceremony.ui
    written = ceremony.log_written
    if written is None:
        ui.add(["The log has not been written to a stick yet: it can be printed once it has been."])
        return
    if written.document is None:  # logged when the write left it out
        _say(ceremony, "PRINTING IS NOT POSSIBLE: the log's PDF could not be made.", error=True)
        ui.add([NOT_PRINTED])
        return
    try:
        printers = await ui.work("Looking for printers ...", _find_printers, ceremony)
    except cups.PrintingError as exc:
        _say(ceremony, f"PRINTING IS NOT POSSIBLE: {shown(str(exc))}", error=True)
        ui.add([NOT_PRINTED])
        return
    printer = await _choose(ceremony, printers)
    if printer is None:
        return
    _say(ceremony, f"Printer {printer.describe()}")
    try:
        document, outcome = await ui.work(
            f"Printing {cups.copies_of(copies)} of the log on {shown(printer.name)} ...",
            print_log_document, written.document, printer.name, copies)
    except cups.PrintingError as exc:
        _say(ceremony, f"PRINTING FAILED on {shown(printer.name)}: {shown(str(exc))}", error=True)
        ui.add([PRINT_AGAIN])
        return
    ui.add([f"{document.pages} pages a copy"
            + (", the closing record first" if written.closing_record else "")
            + f"; every footer: log SHA-256 {document.log_sha256[:16]}..."])
    _say(ceremony, outcome.describe(), error=not outcome.done)
    if not outcome.done:
        ui.add([PRINT_AGAIN])


def _say(ceremony, line: str, *, error: bool = False) -> None:
    """On the screen and in the log (as text, or as an error)."""
    ceremony.ui.add([line], record=not error)
    if error:
        ceremony.log.error(line)


async def _choose(ceremony, printers: list[cups.Printer]) -> cups.Printer | None:
    ui = ceremony.ui
    if not printers:
        _say(ceremony, "No printer found. Plug one in (USB) and type 'print' again.")
        return None
    if len(printers) == 1:
        return printers[0]
    ui.add(["Printers present:"] + [f"  {n}. {p.describe()}" for n, p in enumerate(printers, 1)])
    # Guarded (`ui.ask(choices=)`): what is none of the numbers (a PIN typed by habit) is neither drawn nor logged.
    numbers = tuple(str(n) for n in range(1, len(printers) + 1))
    answer = await ui.ask("print.choose", "Printer number (or 'cancel'):", choices=(*numbers, "cancel"))
    chosen = by_number(answer, printers)
    if chosen is None:
        ui.add(["Nothing printed."])
    return chosen
