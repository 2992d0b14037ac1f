"""The log's paper form: the PDF written beside the log on every stick, and what 'print N' prints.

Both are laid out from the log's bytes exactly as they go to the stick, so the SHA-256 in every
footer is the hash of that file. Once the ceremony has closed, the closing record (with that same
hash) comes first, on pages of its own (`appliance.closing_record`, `appliance.printing.document`).
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.closing_record import closing_record_lines
from appliance.digest import Fingerprint
from appliance.printing.document import LogDocument, build_log_pdf


@dataclass(frozen=True)
class PaperLog:
    """A log file as written to a stick, and the closing record that heads its paper form."""

    log: bytes  # the log file's bytes
    closing_record: tuple[str, ...] = ()  # the record's lines, the log's SHA-256 included; () before the close

    def document(self, paper: str = "a4") -> LogDocument:
        """The PDF (reportlab; raises ValueError for an unknown paper size)."""
        return build_log_pdf(self.log, paper=paper, closing_record=list(self.closing_record) or None)


def pdf_name(log_name: str) -> str:
    """ceremony-20261130T143706Z.log -> ceremony-20261130T143706Z.pdf"""
    return log_name.removesuffix(".log") + ".pdf"


def paper_log(ceremony, log: bytes) -> PaperLog:
    """`log` (the log's bytes as written) with the closing record once the ceremony has one."""
    if ceremony.closing is None:
        return PaperLog(log)
    return PaperLog(log, tuple(closing_record_lines(ceremony.closing, Fingerprint.of(log).sha256)))


def log_files(ceremony) -> dict[str, bytes]:
    """The log and its PDF, for a stick. The PDF is left out (and that logged) if it cannot be
    made: the log itself must never be lost to a printing problem."""
    log = ceremony.log.encode()
    files = {ceremony.log.filename: log}
    try:
        files[pdf_name(ceremony.log.filename)] = paper_log(ceremony, log).document().pdf
    except Exception as exc:  # noqa: BLE001 - reportlab failing must not cost the log
        ceremony.log.error(f"The log's PDF could not be made: {type(exc).__name__}")
    return files


def log_written(ceremony, files: dict[str, bytes]) -> None:
    """Called after a verified write of `files`: when the log was among them, that copy is the one
    'print N' prints from now on."""
    log = files.get(ceremony.log.filename)
    if log is not None:
        ceremony.log_written = paper_log(ceremony, log)
