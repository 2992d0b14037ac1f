"""One print of a ceremony log: the PDF built from the log's bytes, handed to CUPS, its outcome.

`ceremony print` and the console both print through `print_log_document`, so what the acceptance
test prints through a private scheduler is what the operators get.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from appliance.printing import cups
from appliance.printing.document import LogDocument, build_log_pdf

JOB_TITLE = "ceremony log"  # never the log's content or a request's name: the scheduler logs titles


def print_log(log: bytes, printer: str, copies: int, *, started: str | None = None, paper: str = "a4",
              closing_record: list[str] | None = None,
              timeout: float = cups.JOB_TIMEOUT) -> tuple[LogDocument, cups.JobOutcome]:
    """Lays the log out (`document.build_log_pdf`) and prints it: `print_log_document`."""
    document = build_log_pdf(log, started=started, paper=paper, closing_record=closing_record)
    return print_log_document(document, printer, copies, timeout)


def print_log_document(document: LogDocument, printer: str, copies: int,
                       timeout: float = cups.JOB_TIMEOUT) -> tuple[LogDocument, cups.JobOutcome]:
    """Prints `copies` copies of a laid-out log on `printer` and waits for the outcome.

    The PDF goes through a private temporary directory (in RAM on the appliance) that is removed
    once `lp` has sent CUPS its copy. Raises PrintingError when CUPS refuses the job or cannot be
    reached, or the temporary file cannot be written; a job that fails once queued is an outcome, not an exception.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="ceremony-print-") as directory:
            path = Path(directory, "log.pdf")
            path.write_bytes(document.pdf)
            path.chmod(0o644)  # CUPS's filters run as lp
            Path(directory).chmod(0o755)
            job = cups.submit(printer, path, copies, JOB_TITLE, document.paper)
    except OSError as exc:  # the temporary folder full (it is RAM) or missing: a printing failure
        raise cups.PrintingError(f"cannot hand the log to CUPS: {exc.strerror or exc}") from None
    return document, cups.wait_for_job(job, copies, printer, timeout)
