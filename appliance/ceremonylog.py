"""The ceremony transcript: every screen, answer, hash and outcome, timestamped, in plain text.

Held in memory (the appliance has no disk) and written to every output stick. Lines are wrapped
to 80 columns so the printed log reads like the screen did: a line that fits (a table row, a
hash) is kept as it is, a longer one breaks at spaces (nothing is cut) and goes on at its own
indentation plus 2 (a headline at column 4).

Every row has one of three starts, so a reader can tell whose a row is: a headline starts with
its timestamp, a body row (a screen's row, a note's text) with 4 spaces, and a row that continues
the row above with CONTINUED ("  + "), which no other row starts with. Text from outside (a file
name with spaces, a stick's label, an error) wrapped at its own spaces therefore never starts a
row that reads as ours, such as the hash rows of the verbal check (`    1:4ACE   2:C1F5 ...`).
`unwrapped` joins the continued rows back, for searching the log. A text from outside logged whole
(a configuration file from a stick) holds any line, one of ours among them: each of its rows goes
behind QUOTED (`quoted`), so it too leads no row with its own text.

The log is plain printable text, whatever it records: each headline and each row given is one
row, passed through `appliance.text.shown` (a control character, line separator or bidi control
in a file name is written as a visible escape, never obeyed by the terminal that shows the log);
only a whole text given as one string (a traceback, a configuration file) is split, at LF.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.text import shown, shown_block

WIDTH = 80
INDENT = "    "  # leads each body row: the rows of an entry under its headline
CONTINUED = "  + "  # leads each row continuing the one above; neither a timestamp nor INDENT
QUOTED = "| "  # leads each body row of a text from outside logged whole (`quoted`)
# A continued row keeps at least this many columns for text, however deep its line was indented.
_CONTINUED_ROOM = WIDTH // 2


def utc_stamp(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, the form every timestamp in the log takes."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Entry:
    moment: datetime
    kind: str  # STEP, SCREEN, TEXT, ANSWER, NOTE, ERROR: a fixed vocabulary, so the log can be grepped
    headline: str
    body: tuple[str, ...] = ()


class CeremonyLog:
    """An append-only transcript. `now` is the ceremony clock, so entries follow the set time."""

    def __init__(self, now: Callable[[], datetime], title: str = "DNSSEC KSK signing ceremony"):
        self._now = now
        self.started = now()
        self.title = title
        self._entries: list[Entry] = []

    @property
    def filename(self) -> str:
        """Named by the ceremony's start time, so the logs of several ceremonies never collide."""
        return f"ceremony-{self.started.strftime('%Y%m%dT%H%M%SZ')}.log"

    def _add(self, kind: str, headline: str, body: str | Iterable[str] = ()) -> None:
        rows = shown_block(body) if isinstance(body, str) else [shown(row, limit=None) for row in body]
        self._entries.append(Entry(self._now(), kind, shown(headline, limit=None), tuple(rows)))

    def step(self, title: str) -> None:
        self._add("STEP", title)

    def screen(self, title: str, text: str | Iterable[str]) -> None:
        self._add("SCREEN", title, text)

    def clock_stepped(self, step: timedelta) -> None:
        """The clock was set: the start time (and so the file name) moves with it.

        Entries already made keep the stamps they were given, as recorded; a note says so.
        """
        self.started += step
        self.note(f"Clock stepped by {step.total_seconds():+.0f} s: entries above carry the laptop's "
                  f"time before it was set; this ceremony started at {utc_stamp(self.started)}")

    def text(self, lines: Iterable[str]) -> None:
        """Lines added to the screen already shown (progress, a message)."""
        lines = list(lines)
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            self._add("TEXT", lines[0].strip(), lines[1:])

    def answer(self, prompt: str, answer: str, *, hidden: bool = False) -> None:
        # A secret (or what may be one) is recorded as having been typed, never what it was.
        self._add("ANSWER", f"{prompt} -> " + ("(typed, not shown)" if hidden else f"'{shown(answer)}'"))

    def note(self, text: str, body: str | Iterable[str] = ()) -> None:
        """`body`: rows, or one text (a traceback, a file) split at its line feeds."""
        self._add("NOTE", text, body)

    def error(self, text: str, body: str | Iterable[str] = ()) -> None:
        self._add("ERROR", text, body)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def render(self, width: int = WIDTH) -> str:
        """The log as text, rows of at most `width` columns (the file and the paper: WIDTH; the
        console's look-back: its screen's width, so that no row of it is broken again there)."""
        out = [
            self.title,
            f"Log started {utc_stamp(self.started)}",
            "=" * width,
        ]
        for entry in self._entries:
            if entry.kind == "STEP":
                out.append("")
            out.extend(_wrap(f"{utc_stamp(entry.moment)} {entry.kind:<6} {entry.headline}", INDENT, width))
            for line in entry.body:
                out.extend(_wrap_kept(INDENT + line, width))
        out.append("=" * width)
        out.append(f"End of log, {len(self._entries)} entries, rendered {utc_stamp(self._now())}")
        return "\n".join(out) + "\n"

    def encode(self) -> bytes:
        return self.render().encode("utf-8")


def quoted(text: str) -> list[str]:
    """A text from outside (a file from a stick), split at LF, as body rows each led by QUOTED."""
    return [QUOTED + row for row in text.split("\n")]


def unwrapped(text: str) -> str:
    """A rendered log with each continued row (CONTINUED, then its indentation) joined to the row
    above by one space: every line as given, for finding a text wherever a wrap broke it. A wrap
    broke at spaces (one space stands for them) or, in a word longer than a row, anywhere."""
    return re.sub("\n" + re.escape(CONTINUED) + " *", " ", text)


def flowing(text: str) -> str:
    """A rendered log as one line: continued rows joined back (`unwrapped`), then every run of
    spaces and line breaks made one space, so a text is found however the log's rows broke it."""
    return " ".join(unwrapped(text).split())


def _wrap(text: str, indent: str, width: int, first_indent: str = "") -> list[str]:
    """`first_indent` + `text` (no leading spaces) on rows of at most `width` columns, broken at
    spaces (a word longer than a row anywhere), each further row led by `indent` (at least as
    wide as CONTINUED) with CONTINUED in place of its first columns. An indentation deeper than
    `width` - _CONTINUED_ROOM is made that deep: a deeper one would leave no room for the text.
    textwrap drops the spaces at each break, so a continued row's text starts right after `indent`."""
    deepest = max(width - _CONTINUED_ROOM, len(CONTINUED))
    rows = textwrap.wrap(
        text, width, initial_indent=first_indent[:deepest], subsequent_indent=indent[:deepest],
        break_long_words=True, break_on_hyphens=False,
    ) or [first_indent.rstrip()]
    return rows[:1] + [CONTINUED + row[len(CONTINUED):] for row in rows[1:]]


def _wrap_kept(line: str, width: int) -> list[str]:
    """Screen text keeps its layout: a line that fits is untouched (tables, hashes); a longer one
    breaks at spaces and continues two columns further in than it started."""
    line = line.rstrip()
    if len(line) <= width:
        return [line]
    text = line.lstrip()
    indent = line[: len(line) - len(text)]
    return _wrap(text, indent + "  ", width, first_indent=indent)
