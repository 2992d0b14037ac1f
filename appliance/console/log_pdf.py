"""The log's paper form: the PDF written beside the log on every stick, and what 'print N' prints.

Both are the same bytes, laid out once per written log from the log's bytes exactly as they go to
the stick, so the SHA-256 in every footer is the hash of that file. Laying out a long log takes a
while, so it is done in the worker that writes the stick (`with_pdf`, run through `ui.work`), never
on the event loop. Once the ceremony has closed, the closing record (with that same hash) comes
first, on a page of its own (`appliance.closing_record`, `appliance.printing.document`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from appliance.closing_record import closing_record_lines
from appliance.digest import Fingerprint
from appliance.printing.document import LogDocument, build_log_pdf


@dataclass(frozen=True)
class PaperLog:
    """A log file as written to a stick, the closing record that heads its paper form, and that form."""

    log: bytes  # the log file's bytes
    closing_record: tuple[str, ...] = ()  # the record's lines, the log's SHA-256 included; () before the close
    document: LogDocument | None = None  # the A4 PDF once laid out (`laid_out`); None if it could not be made

    def laid_out(self) -> PaperLog:
        """This log with its PDF (reportlab, A4): seconds for a long log, so never on the event loop."""
        return replace(self, document=build_log_pdf(self.log, closing_record=list(self.closing_record) or None))


def pdf_name(log_name: str) -> str:
    """ceremony-20261130T143706Z.log -> ceremony-20261130T143706Z.pdf"""
    return log_name.removesuffix(".log") + ".pdf"


def paper_log(ceremony, log: bytes) -> PaperLog:
    """`log` (the log's bytes as written) with the closing record once the ceremony has one."""
    if ceremony.closing is None:
        return PaperLog(log)
    return PaperLog(log, tuple(closing_record_lines(ceremony.closing, Fingerprint.of(log).sha256)))


def log_files(ceremony) -> dict[str, bytes]:
    """The log as it is now, for a stick; its PDF is laid out beside it by the write (`with_pdf`)."""
    return {ceremony.log.filename: ceremony.log.encode()}


def names_with_pdf(ceremony, files: dict[str, bytes]) -> list[str]:
    """The names `with_pdf` writes: the files', and the PDF's when the log is among them."""
    log_name = ceremony.log.filename
    return [*files, *([pdf_name(log_name)] if log_name in files else [])]


def with_pdf(ceremony, files: dict[str, bytes]) -> tuple[dict[str, bytes], PaperLog | None]:
    """In the write's worker: `files` with the log's PDF beside the log, and the log's paper form
    (None when the log is not among the files). The PDF is left out, and that logged, if it cannot
    be made: the log itself must never be lost to a printing problem."""
    log = files.get(ceremony.log.filename)
    if log is None:
        return files, None
    paper = paper_log(ceremony, log)
    try:
        paper = paper.laid_out()
    except Exception as exc:  # noqa: BLE001 - reportlab failing must not cost the log
        ceremony.log.error(f"The log's PDF could not be made: {type(exc).__name__}")
        return files, paper
    return {**files, pdf_name(ceremony.log.filename): paper.document.pdf}, paper
