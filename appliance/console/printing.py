"""Paper copies from the console: 'print N' at the prompts after a response is written and at the
end, and the log's PDF next to the log on every stick it is written to.

What is printed is the log as last written to a stick, so the hash in every footer is the hash of
that file. A missing or failing printer is told on the screen and in the log and never ends,
blocks or loses anything: every CUPS call runs through `ui.work` with a time limit, and every
failure is an outcome to show.
"""

from __future__ import annotations

import os
import re

from appliance.console.sticks import by_number
from appliance.printing import cups
from appliance.printing.document import build_log_pdf
from appliance.printing.job import print_log

PRINT = re.compile(r"print(?:\s+(\d+))?", re.IGNORECASE)


def pdf_name(log_name: str) -> str:
    return log_name.removesuffix(".log") + ".pdf"


def log_files(ceremony) -> dict[str, bytes]:
    """The log and its PDF, for a stick. The PDF is left out (and that logged) if it cannot be
    made: the log itself must never be lost to a printing problem."""
    log = ceremony.log.encode()
    files = {ceremony.log.filename: log}
    try:
        files[pdf_name(ceremony.log.filename)] = build_log_pdf(
            log, started=_started(ceremony)).pdf
    except Exception as exc:  # reportlab failing must not cost the log
        ceremony.log.error(f"The log's PDF could not be made: {exc}")
    return files


def _started(ceremony) -> str:
    return f"{ceremony.log.started:%Y-%m-%dT%H:%M:%SZ}"


async def printers_present(ceremony) -> bool:
    """Whether a printer is there to offer 'print N' (any CUPS failure: no)."""
    try:
        return bool(await ceremony.ui.work("Looking for printers ...", _find_printers, ceremony))
    except cups.PrintingError:
        return False


def _find_printers(ceremony) -> list[cups.Printer]:
    if os.geteuid() == 0:  # only root may give a plugged-in printer a queue
        try:
            for line in cups.add_plugged_printers():
                ceremony.log.note(f"Printer plugged in: {line}")
        except cups.PrintingError as exc:  # the queues there are may still print
            ceremony.log.note(f"Looking for plugged-in printers failed: {exc}")
    return cups.list_printers()


async def offer(ceremony, answer: str) -> bool:
    """Handles 'print' or 'print N' (N copies, default 1); False for any other answer."""
    match = PRINT.fullmatch(answer.strip())
    if match is None:
        return False
    ui = ceremony.ui
    copies = int(match.group(1) or 1)
    if not 1 <= copies <= cups.MAX_COPIES:
        ui.add([f"Copies must be from 1 to {cups.MAX_COPIES}."])
        return True
    if ceremony.log_written is None:
        ui.add(["The log has not been written to a stick yet: it is printed once it has been."])
        return True
    try:
        printers = await ui.work("Looking for printers ...", _find_printers, ceremony)
    except cups.PrintingError as exc:
        ui.add([f"Printing is not possible: {exc}"])
        ceremony.log.error(f"Printing is not possible: {exc}")
        return True
    printer = await _choose(ceremony, printers)
    if printer is None:
        return True
    ui.add([f"Printer {printer.describe()}"])
    try:
        document, outcome = await ui.work(
            f"Printing {copies} copies of the log on {printer.name} ...", _print, ceremony, printer.name, copies)
    except cups.PrintingError as exc:
        ui.add([f"Printing failed: {exc}"])
        ceremony.log.error(f"Printing on {printer.name} failed: {exc}")
        return True
    ui.add([f"{document.pages} pages a copy; every footer: log SHA-256 {document.log_sha256[:16]}...",
            outcome.describe()])
    if not outcome.done:
        ceremony.log.error(f"Print job failed: {outcome.describe()}")
    return True


def _print(ceremony, printer: str, copies: int):
    return print_log(ceremony.log_written, printer, copies, started=_started(ceremony))


async def _choose(ceremony, printers: list[cups.Printer]) -> cups.Printer | None:
    ui = ceremony.ui
    if not printers:
        ui.add(["No printer found. Plug one in (USB) and type 'print' again."])
        return None
    if len(printers) == 1:
        return printers[0]
    ui.add(["Printers present:"] + [f"  {n}. {p.describe()}" for n, p in enumerate(printers, 1)])
    answer = await ui.ask("print.choose", "Printer number (or 'cancel'):")
    chosen = by_number(answer, printers)
    if chosen is None:
        ui.add(["Nothing printed."])
    return chosen
