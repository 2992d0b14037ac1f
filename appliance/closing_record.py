"""The closing record: what a witness writes down at the end of a ceremony, to check later.

Pure: plain data in, 79-column lines out, for the console's last screen, the log's last page and
the printer; every name and text in it is shown escaped (`text.shown`), so that a request's file
name cannot start rows of its own there. Per request signed: the request's and the response's file names, SHA-256 in hex and
PGP words (`Fingerprint.aloud`, the layout used everywhere), the number of bundles and the KSKs
that signed them; the HSM's identity; the clock as set and the span of the ceremony; and, once the
final log is on a stick, the log's own SHA-256 (the log cannot hold its own hash, so its copy of
the record ends without it).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import datetime

from appliance.digest import Fingerprint
from appliance.text import shown

TITLE = "CLOSING RECORD"
WIDTH = 79  # columns: the screen and the printed page hold 80


@dataclass(frozen=True)
class SignedRequest:
    """One request signed and its response written and verified on a stick."""

    request_name: str  # file name on the stick, as the operators chose it
    request_sha256: bytes  # 32 bytes: SHA-256 of the request's bytes as read
    response_name: str  # file name written
    response_sha256: bytes  # 32 bytes: SHA-256 of the response's bytes as written and read back
    bundles: int  # bundles in the response
    ksks: tuple[str, ...]  # each KSK that signed, e.g. "current: tag 20326, HSM label 'KSK-2017'"
    stick: str  # where the response was written, e.g. "stick KSR-STICK (folder)"


@dataclass(frozen=True)
class ClosingRecord:
    """Everything the record shows but the log's own hash."""

    signed: tuple[SignedRequest, ...]
    hsm: tuple[str, ...]  # the HSM's identity as `HsmIdentity.lines()` gives it; () if never opened
    clock_set: tuple[str, ...]  # how the clock was set (`ClockChange.describe()`); () if it was not
    started: datetime  # UTC, the ceremony clock at the start (after setting: as the log says)
    ended: datetime  # UTC, the ceremony clock when the record was made
    log_name: str  # the final log's file name
    failures: tuple[str, ...] = ()  # what went wrong, in order (refusals, aborts, faults)


def closing_record_lines(record: ClosingRecord, log_sha256: bytes | None = None) -> list[str]:
    """The record as lines of at most 79 columns, but for lines holding names (files, sticks, the
    token's), which are never broken into rows of their own here.

    `log_sha256` (32 bytes) is the SHA-256 of the final log file exactly as written to the stick;
    None for the copy inside the log itself, which then says that the hash follows on the screen.
    """
    span = record.ended - record.started
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    lines = [TITLE, "",
             f"Ceremony from {record.started:%Y-%m-%d %H:%M:%S} to {record.ended:%Y-%m-%d %H:%M:%S} UTC "
             f"({minutes // 60} h {minutes % 60} min {seconds} s)"]
    lines += ["Clock as set:"] + [row for line in record.clock_set or ("not set",)
                                  for row in _rows(f"  {shown(line, limit=None)}")]
    lines += ["HSM:"] + [f"  {shown(line, limit=None)}" for line in record.hsm or ("never opened",)]
    lines += ["", f"Requests signed: {len(record.signed)}"]
    for number, signed in enumerate(record.signed, 1):
        lines += ["", f"{number}. {shown(signed.response_name)}: {signed.bundles} bundles, "
                      f"written on {shown(signed.stick)}",
                  "   signed by " + "; ".join(shown(ksk, limit=None) for ksk in signed.ksks), ""]
        lines += [f"   Request {shown(signed.request_name)}", *Fingerprint(signed.request_sha256).aloud()]
        lines += ["", f"   Response {shown(signed.response_name)}", *Fingerprint(signed.response_sha256).aloud()]
    if record.failures:
        lines += ["", "Not signed, or not complete:"]
        lines += [f"  {shown(failure, limit=None)}" for failure in record.failures]
    lines += ["", f"Final log {shown(record.log_name)}"]
    if log_sha256 is None:
        lines += _rows("  its SHA-256 is shown on the screen once it is written (a file cannot hold its own hash)")
    else:
        lines += Fingerprint(log_sha256).render("  SHA-256 of the final log as written:").splitlines()
    return lines


def _rows(line: str) -> list[str]:
    """One of the record's own texts broken between words to WIDTH columns, continuing under its
    indentation (the printer would break a word behind its '+'). Never for a name from a stick or
    the HSM: broken at its spaces, a hostile name could lay out rows that look like the record's
    own; the screen and the printer continue those visibly instead."""
    indent = " " * (len(line) - len(line.lstrip()))
    return textwrap.wrap(line, WIDTH, subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
