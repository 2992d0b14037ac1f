"""The ceremony transcript: every screen, answer, hash and outcome, timestamped, in plain text.

Held in memory (the appliance has no disk) and written to every output stick. Lines are wrapped
to 80 columns so the printed log reads like the screen did: a line that fits (a table row, a
hash) is kept as it is, a longer one breaks at spaces under its own indentation.

The log is plain printable text, whatever it records: each headline and each row given is one
row, passed through `appliance.text.shown` (a control character, line separator or bidi control
in a file name is written as a visible escape, never obeyed by the terminal that shows the log);
only a whole text given as one string (a traceback, a configuration file) is split, at LF.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from appliance.text import shown, shown_block

WIDTH = 80
INDENT = "    "


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

    def render(self) -> str:
        out = [
            self.title,
            f"Log started {utc_stamp(self.started)}",
            "=" * WIDTH,
        ]
        for entry in self._entries:
            if entry.kind == "STEP":
                out.append("")
            out.extend(_wrap(f"{utc_stamp(entry.moment)} {entry.kind:<6} {entry.headline}", INDENT))
            for line in entry.body:
                out.extend(_wrap_kept(INDENT + line))
        out.append("=" * WIDTH)
        out.append(f"End of log, {len(self._entries)} entries, rendered {utc_stamp(self._now())}")
        return "\n".join(out) + "\n"

    def encode(self) -> bytes:
        return self.render().encode("utf-8")


def _wrap(text: str, indent: str) -> list[str]:
    # textwrap keeps the text's own leading spaces on the first line.
    return textwrap.wrap(
        text, WIDTH, subsequent_indent=indent, break_long_words=True, break_on_hyphens=False
    ) or [""]


def _wrap_kept(line: str) -> list[str]:
    """Screen text keeps its layout: a line that fits is untouched (tables, hashes); a longer one
    breaks at spaces and continues two columns further in than it started."""
    line = line.rstrip()
    if len(line) <= WIDTH:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()))
    return _wrap(line, indent + "  ")
