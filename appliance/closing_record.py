"""The closing record: what a witness writes down at the end of a ceremony, to check later.

Pure: plain data in, lines of at most 79 columns out (at most 76 where they hold outside text), for
the console's last screen, the log's last page and the printer; every name and text in it is shown
escaped (`text.shown`) and cut to its row, so that a request's file name cannot start rows of its
own there: no line break, and no wrap (see OUTSIDE_WIDTH). Per request signed: the request's and the response's file names, SHA-256 in hex and
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
# No row of the record holding text from outside is ever wrapped: the log indents each row by 4 of
# its 80 columns. Wrapped at its own spaces (or continued on paper), a name would stand on a row of
# its own, where it can look like a row of ours: the hash rows under it. So text from outside is
# cut to fit its row ("..."; the whole of it is in the log above), or, for a failure, continued on
# rows that each start with CONTINUED. The record's own texts are broken to the same width, so
# that the log's copy is never broken again behind the log's '+'.
OUTSIDE_WIDTH = 76
CONTINUED = "    + "  # leads each further row of a long failure: ours, never text from outside


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
    """The record as lines of at most OUTSIDE_WIDTH columns (whole on the screen, on paper and in the
    log, which indents them by 4); text from outside (a file or stick name, the HSM's and KSKs'
    labels, a failure) cut to its row or continued behind CONTINUED, never broken at its own spaces
    into rows of its own.

    `log_sha256` (32 bytes) is the SHA-256 of the final log file exactly as written to the stick;
    None for the copy inside the log itself, which then says that the hash follows on the screen.
    """
    span = record.ended - record.started
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    lines = [TITLE, "",
             f"Ceremony {record.started:%Y-%m-%d %H:%M:%S} to {record.ended:%Y-%m-%d %H:%M:%S} UTC "
             f"({minutes // 60} h {minutes % 60} min {seconds} s)"]
    lines += ["Clock as set:"] + [row for line in record.clock_set or ("not set",)
                                  for row in _rows(f"  {shown(line, limit=None)}")]
    lines += ["HSM:"] + [_row("  ", line) for line in record.hsm or ("never opened",)]
    lines += ["", f"Requests signed: {len(record.signed)}"]
    for number, signed in enumerate(record.signed, 1):
        lines += ["", _row(f"{number}. ", signed.response_name, f": {signed.bundles} bundles,"),
                  _row("   written on ", signed.stick)]
        lines += [_row("   signed by " if n == 0 else "   and by ", ksk) for n, ksk in enumerate(signed.ksks)]
        lines += ["", _row("   Request ", signed.request_name), *Fingerprint(signed.request_sha256).aloud()]
        lines += ["", _row("   Response ", signed.response_name), *Fingerprint(signed.response_sha256).aloud()]
    if record.failures:
        lines += ["", "Not signed, or not complete:"]
        lines += [row for failure in record.failures for row in _continued("  ", failure)]
    lines += ["", _row("Final log ", record.log_name)]
    if log_sha256 is None:
        lines += _rows("  its SHA-256 is shown on the screen once it is written (a file cannot hold its own hash)")
    else:
        lines += Fingerprint(log_sha256).render("  SHA-256 of the final log as written:").splitlines()
    return lines


def _continued(before: str, outside: str) -> list[str]:
    """`outside` (shown escaped) whole, on rows of OUTSIDE_WIDTH: the first behind `before`, each further
    one behind CONTINUED, so that none can start with text from outside."""
    rows = textwrap.wrap(shown(outside, limit=None), OUTSIDE_WIDTH - len(CONTINUED), break_on_hyphens=False) or [""]
    return [before + rows[0]] + [CONTINUED + row for row in rows[1:]]


def _row(before: str, outside: str, after: str = "") -> str:
    """`before` and `after` (our own words) around `outside`, shown escaped and cut so that the
    row fits OUTSIDE_WIDTH."""
    return before + shown(outside, limit=max(OUTSIDE_WIDTH - len(before) - len(after), 8)) + after


def _rows(line: str) -> list[str]:
    """One of the record's own texts broken between words to OUTSIDE_WIDTH columns, continuing under
    its indentation, so that the log's copy (indented by 4) is not broken again behind a '+'. Never for a name from a stick or
    the HSM: broken at its spaces, a hostile name could lay out rows that look like the record's
    own; those are cut to their row (`_row`) or continued behind CONTINUED (`_continued`)."""
    indent = " " * (len(line) - len(line.lstrip()))
    return textwrap.wrap(line, OUTSIDE_WIDTH, subsequent_indent=indent + "  ", break_on_hyphens=False) or [""]
