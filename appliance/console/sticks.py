"""Sticks as the operators meet them: waiting for one, choosing one, writing to one.

A stick can be pulled at any moment. Every media call here is made through `ui.work` (off the
event loop), and a MediaError never escapes: the operator is told what was and was not
written and is asked for another stick.

A write goes only to the stick the operators named: when that stick is gone, or they want
another, the sticks present are listed and they choose by number, even when there is only one
(a configuration stick left in must never receive the log unasked). Giving up a write is
confirmed by typing 'drop', after the screen has named every file that would be lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from appliance.console import log_pdf
from appliance.errors import MediaError
from appliance.media import (
    ADDED,
    REMOVED,
    STOPPED,
    UNUSABLE,
    MediaWriteError,
    Stick,
    StickEvent,
    WriteReport,
)
from appliance.text import shown

CANCEL = "cancel"
OTHER = "other"  # choose another stick among those present


class StickWatch:
    """Carries the media watcher thread's events into the console's event loop."""

    def __init__(self):
        self._loop: asyncio.AbstractEventLoop | None = None
        self._changed: asyncio.Event | None = None
        self._unusable = 0  # sticks seen but refused: they change nothing in sticks(), yet must be told
        self._tell: Callable[[list[str]], None] | None = None
        self._stopped: str | None = None  # the watcher's last words, not yet shown

    def attach(self, tell: Callable[[list[str]], None] | None = None) -> None:
        """Called once the event loop runs; sticks present before that are in sticks() anyway.
        `tell(lines)` puts lines on the current screen (the watcher stopping is told at once)."""
        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        self._tell = tell

    def __call__(self, event: StickEvent) -> None:
        # The watcher thread: only hand over, never touch the console from here.
        if event.kind == UNUSABLE:
            self._unusable += 1
        if event.kind == STOPPED:
            self._stopped = event.message
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            pass  # the console has ended and its loop is closed: there is no one left to wake

    def _wake(self) -> None:
        self._changed.set()
        stopped, self._stopped = self._stopped, None
        if stopped is not None and self._tell is not None:
            self._tell(stopped_lines(stopped))
        # Redraw the status line at once, not at the next clock tick.
        from prompt_toolkit.application import get_app_or_none

        app = get_app_or_none()
        if app is not None:
            app.invalidate()

    async def change(self, media, seen: list[Stick]) -> None:
        """Returns once the sticks present differ from `seen`, or an unusable stick was inserted.

        Compares states rather than counting wake-ups, so an event that came earlier (and was
        already acted on) never ends a later wait by itself.
        """
        unusable = self._unusable
        while True:
            self._changed.clear()
            if media.sticks() != seen or self._unusable != unusable:
                return
            await self._changed.wait()


def stopped_lines(failure: str) -> list[str]:
    """What the screen says once the watcher has stopped: no stick will be seen any more."""
    return [f"STICK DETECTION HAS STOPPED: {failure}.",
            "Sticks inserted or pulled from now on are not seen. End the ceremony (the log is written",
            "to a stick already present) and restart the appliance."]


def report_events(ceremony) -> None:
    """Logs every stick that came or went, and shows the ones that cannot be used and why
    (the watcher stopping is told by StickWatch as it happens)."""
    for event in ceremony.media.events():
        if event.kind == UNUSABLE:
            ceremony.ui.add([f"{event.stick.describe()} cannot be used: {shown(event.message, limit=None)}"])
        elif event.kind in (ADDED, REMOVED):
            ceremony.log.note(f"{event.stick.describe()} {event.kind}")


async def choose_stick(ceremony, key: str, purpose: str, *, exclude: Stick | None = None,
                       always_ask: bool = False) -> Stick | None:
    """A stick for `purpose`: waits for one, or asks which when several are in (or, `always_ask`,
    even when only one is: a write's target is always the operators' choice).

    Returns None when the operator types 'cancel'.
    """
    ui = ceremony.ui
    asked_to_insert = False
    while True:
        report_events(ceremony)
        present = ceremony.media.sticks()
        candidates = [s for s in present if s != exclude]
        if len(candidates) == 1 and not always_ask:
            ui.add([f"Using {candidates[0].describe()}."])
            return candidates[0]
        if not candidates:
            if not asked_to_insert:
                ui.add([f"Insert the stick {purpose}."]
                       + (stopped_lines(ceremony.media.failure) if ceremony.media.failure else []))
                asked_to_insert = True
            how, answer = await ui.ask_or_wait(f"{key}.insert", f"Waiting for a stick (or type '{CANCEL}'):",
                                               ceremony.watch.change(ceremony.media, present))
            if how == "typed" and answer.lower() == CANCEL:
                return None
            continue
        ui.add([f"Sticks present, choose the one {purpose}:"]
               + [f"  {n}. {s.describe()}" for n, s in enumerate(candidates, 1)])
        answer = await ui.ask(f"{key}.choose", f"Stick number (or '{CANCEL}'):")
        if answer.lower() == CANCEL:
            return None
        chosen = by_number(answer, candidates)
        if chosen is not None and chosen in ceremony.media.sticks():
            ui.add([f"Using {chosen.describe()}."])
            return chosen
        ui.add([f"'{shown(answer)}' is not one of the numbers shown (or that stick was removed)."])


def by_number(answer: str, items: list):
    """The item an operator chose by typing its number as listed (from 1), or None."""
    if answer.isdigit() and 1 <= int(answer) <= len(items):
        return items[int(answer) - 1]
    return None


async def write_until_done(ceremony, key: str, first: Stick | None,
                           contents: Callable[[], dict[str, bytes]], purpose: str,
                           exclude: Stick | None = None, protect: str | None = None) -> WriteReport | None:
    """Writes the files `contents()` gives to a stick, verified; on a pull or a failure, to another.

    `contents` is asked again for each attempt, so a log among the files also tells of the
    failed attempts before it. A file named `protect` already on the stick (another response)
    is replaced only when the operators type 'replace'. Returns the report of the complete
    write, or None when the operator typed 'cancel' (the screen and the log then say what is
    NOT on any stick).
    """
    ui = ceremony.ui
    stick = first
    while True:
        if stick is not None and stick not in ceremony.media.sticks():
            ui.add([f"The stick {stick.name}, named for this write, is no longer present.",
                    "Nothing is written to another stick unless you choose it."])
            stick = None
        if stick is None:
            stick = await choose_stick(ceremony, key, purpose, exclude=exclude, always_ask=True)
            if stick is None:
                if await _drop_confirmed(ceremony, key, contents):
                    return _cancelled(ceremony, contents)
                continue
        if protect is not None:
            decision = await _may_replace(ceremony, key, stick, protect)
            if decision == CANCEL:
                if await _drop_confirmed(ceremony, key, contents):
                    return _cancelled(ceremony, contents)
                decision = "again"
            if decision != "write":
                stick = None if decision == "other" else stick
                continue
        files = contents()  # on the event loop: the log's bytes as they are now
        try:
            report, paper = await ui.work(
                f"Writing {', '.join(map(shown, log_pdf.names_with_pdf(ceremony, files)))} to {stick.describe()} ...",
                _write_with_pdf, ceremony, stick, files)
        except MediaError as exc:
            told = exc.report.describe() if isinstance(exc, MediaWriteError) else f"Writing failed: {shown(str(exc))}"
            ui.add(told.split("\n") + ["Everything will be written again, to the stick you give next."])
            decision = await _after_failure(ceremony, key, stick)
            if decision == CANCEL:
                if await _drop_confirmed(ceremony, key, contents):
                    return _cancelled(ceremony, contents)
                decision = "other"
            if decision == "other":
                # Every stick present is a choice now, the request's too when it was passed over
                # at first: the operators asked for 'other' than the one that failed.
                stick, exclude = None, None
            continue
        ui.add(report.describe().split("\n"))
        if paper is not None:  # the log as written: what 'print N' prints from now on
            ceremony.log_written = paper
        for written in report.verified:
            line = f"{shown(written.name)} on {stick.describe()}"
            if line not in ceremony.outputs:  # the log is rewritten in place; list it once
                ceremony.outputs.append(line)
        try:
            await ui.work(f"Releasing {stick.describe()} ...", ceremony.media.release, stick)
        except MediaError as exc:
            ui.add([f"Releasing the stick failed ({shown(str(exc))}); the files were verified before that."])
        ui.add([f"The stick {shown(stick.name)} may be removed now."])
        return report


def _write_with_pdf(ceremony, stick: Stick, files: dict[str, bytes]) -> tuple[WriteReport, log_pdf.PaperLog | None]:
    """In the worker: the log's PDF laid out (once: printing reuses it), then everything written.
    Overwrite: a second attempt on the same stick, or the growing log, replaces the old copy."""
    files, paper = log_pdf.with_pdf(ceremony, files)
    return ceremony.media.write_files(stick, files, overwrite=True), paper


async def _after_failure(ceremony, key: str, stick: Stick) -> str:
    """After a stick failed: 'other' (it is gone, another came, or the operators typed 'other' to
    choose one already in), 'again' (a bare Enter: retry it) or 'cancel'. Never retries in a loop
    on its own: a stick may be failing for good; nor on a word it does not know."""
    ui = ceremony.ui
    if stick not in ceremony.media.sticks():
        return "other"
    ui.add([f"Type '{OTHER}' to choose a stick that is already in."])
    while True:
        word = await _word_or_stick_change(
            ceremony, f"{key}.retry", f"Insert another stick, or Enter to try this one again (or '{CANCEL}'):")
        if word in (OTHER, CANCEL):
            return word
        if not word:
            return "again"
        ui.add([f"That is not Enter, '{OTHER}' or '{CANCEL}'."])


async def _word_or_stick_change(ceremony, key: str, question: str) -> str:
    """The operators' answer in lower case, or OTHER when a stick comes or goes while it is asked."""
    how, answer = await ceremony.ui.ask_or_wait(key, question,
                                                ceremony.watch.change(ceremony.media, ceremony.media.sticks()))
    return OTHER if how == "event" else answer.lower()


async def _may_replace(ceremony, key: str, stick: Stick, name: str) -> str:
    """'write' when `name` is not on the stick or the operators said 'replace'; else 'other' (a stick
    came or went), 'again' (ask once more) or 'cancel'."""
    ui = ceremony.ui
    try:
        present = await ui.work(f"Looking for {shown(name)} on {stick.describe()} ...",
                                ceremony.media.find_file, stick, name)
    except MediaError as exc:
        ui.add([shown(str(exc), limit=None)])
        return await _after_failure(ceremony, key, stick)
    if present is None:
        return "write"
    ui.add([f"{shown(present)} is already on {stick.describe()}. It is not replaced unless you say so."])
    word = await _word_or_stick_change(
        ceremony, f"{key}.exists", f"Type 'replace' to replace it, '{OTHER}' or insert another stick (or '{CANCEL}'):")
    if word in ("replace", OTHER, CANCEL):
        return "write" if word == "replace" else word
    return "again"


async def _drop_confirmed(ceremony, key: str, contents) -> bool:
    """True when the operators, told which files would be on no stick, type 'drop'."""
    names = log_pdf.names_with_pdf(ceremony, contents())
    ceremony.ui.add(["If you give up this write, these files are on NO stick, and are lost when the "
                     "ceremony ends:"] + [f"  {name}" for name in names])
    answer = await ceremony.ui.ask_word(f"{key}.drop", "Type 'drop' to give them up, or 'back' to choose a stick:",
                                        ("drop", "back"))
    return answer == "drop"


def _cancelled(ceremony, contents) -> None:
    names = ", ".join(map(shown, log_pdf.names_with_pdf(ceremony, contents())))
    ceremony.ui.add([f"Cancelled: NOT written to any stick: {names}"])
    ceremony.log.error(f"Write cancelled by the operator; not written: {names}")


async def write_log(ceremony, key: str, first: Stick | None) -> WriteReport | None:
    """The whole log so far, to a stick (the same file name each time: the newest copy wins)."""
    ceremony.log.note(f"Writing this log as {ceremony.log.filename}")
    return await write_until_done(ceremony, key, first, lambda: log_pdf.log_files(ceremony), "for the ceremony log")
