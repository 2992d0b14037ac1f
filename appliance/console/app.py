"""The terminal side of the console: a title, a screen body, one prompt line and the status line.

Laid out for the smallest terminal the appliance meets, a Linux text console or a serial line of
80x25: no mouse, plain keys (Enter, Backspace, PgUp/PgDn), and nothing conveyed by colour alone
(the title is bright white on blue and the status line reverse video, both above 5:1 on the Linux
console's palette, but every word on them is also plain text). On the laptop's own screen the
console first asks the kernel for a larger font (vt_font.py), and it clears the screen when it ends.

Looking back: from step 3 on, F3 shows the whole log so far and, once a request has been checked,
F2 its hash and verdicts again, in the same scrollable body; Esc, Enter or the same key returns to the question
that was waiting, with nothing typed into it.

The ceremony itself runs as a coroutine beside the prompt_toolkit application and talks to it
only through `show`, `add`, `ask`, `ask_or_wait` and `work`; everything shown and every answer
goes to the ceremony log from here, so nothing can reach the screen unrecorded.

Each line a step gives is one row (or several, wrapped): the title, every body line, the prompt
and the status line pass through `appliance.text.shown`, so no character from a stick or a token
(a line feed or U+2028 in a file name, ESC, a bidi control) can start a row of its own, move the
cursor or reorder the screen. The steps still show outside text through `shown()` themselves, to
cut long values; this is the layer that makes a forgotten call harmless.

Nothing typed is kept for later: no history (Up cannot bring back a PIN) and no kill ring (the
clipboard is a dummy: Ctrl-U/Ctrl-K/Ctrl-W delete, Ctrl-Y has nothing to paste).
"""

from __future__ import annotations

import asyncio
import functools
import textwrap
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.clipboard import DummyClipboard
from prompt_toolkit.filters import Condition
from prompt_toolkit.history import DummyHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import HSplit, Layout, VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import Processor, Transformation
from prompt_toolkit.styles import Style

from appliance.ceremonylog import CeremonyLog
from appliance.console import vt_font
from appliance.media.source import MediaWriteError
from appliance.text import shown

# The look-back keys: F2 the request's hash and verdicts, F3 the log so far.
LOOK_BACK_KEYS = {"f2": "the request's hash and verdicts", "f3": "the log so far"}
LOOK_BACK_HINTS = {"f2": "F2: request again", "f3": "F3: log so far"}
LookBack = Callable[[], tuple[str, Callable[[], list[str]]] | None]  # (title, its lines when looked at), or None: nothing to show yet

# Rows that are not the body: title, scroll hint, prompt, status.
FIXED_ROWS = 4
SCREEN_WIDTH = 79  # the last column of a Linux console wraps the cursor; stay clear of it

# Not "reverse bold": the Linux console draws that as dark grey on light grey (about 3:1). Bold
# white on blue is bright white there (#FFFFFF on #0000AA, about 13:1).
STYLE = Style.from_dict({"title": "bg:ansiblue fg:ansiwhite bold", "status": "reverse", "prompt": "bold"})


class ConsoleUI:
    def __init__(
        self,
        log: CeremonyLog,
        status: Callable[[], str],
        *,
        input=None,
        output=None,
        on_ask: Callable[[str, str, Application], None] | None = None,
    ):
        self.log = log
        self._status = status
        self.on_ask = on_ask  # the autopilot's hook: told the key of every question asked
        self.title = ""
        self.lines: list[str] = []
        self.prompt = ""
        self.hidden = False
        self.choices: tuple[str, ...] = ()  # a guarded question's answers: anything else is not echoed
        self._top = 0
        self.look_back: dict[str, LookBack] = {}  # by key name, see LOOK_BACK_KEYS
        self._looking: tuple[str, list[str], int, str] | None = None  # the screen under a look-back
        self._answer: asyncio.Future[str] | None = None
        # One worker: HSM sessions stay on the thread that opened them, and work never overlaps.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ceremony-work")
        self._own_terminal = output is None  # the process's terminal, perhaps the laptop's screen
        # No history: the Up key must never bring back a PIN typed earlier.
        self._buffer = Buffer(multiline=False, accept_handler=self._accept, history=DummyHistory(),
                              read_only=Condition(lambda: self._looking is not None))
        self.app = Application(
            layout=self._layout(),
            key_bindings=self._keys(),
            style=STYLE,
            full_screen=True,
            mouse_support=False,
            clipboard=DummyClipboard(),  # no kill ring: a PIN deleted with Ctrl-U cannot be yanked
            refresh_interval=1.0,  # the clock on the status line
            input=input,
            output=output,
        )

    # ---- layout -------------------------------------------------------------------------------

    def _body_rows(self) -> int:
        return max(1, self.app.output.get_size().rows - FIXED_ROWS)

    def _visible_body(self):
        rows = self._body_rows()
        self._top = max(0, min(self._top, len(self.lines) - rows))
        return "\n".join(self.lines[self._top : self._top + rows])

    def _scroll_hint(self):
        rows = self._body_rows()
        hint = ""
        if len(self.lines) > rows:
            last = min(len(self.lines), self._top + rows)
            hint = f"-- lines {self._top + 1}-{last} of {len(self.lines)}; PgUp/PgDn to scroll --"
        working = self._working_look_back_keys() if self._looking is None else []
        if working:
            hint += ("  " if hint else "") + "  ".join(LOOK_BACK_HINTS[name] for name in working)
        return hint

    def _may_look_back(self) -> bool:
        return bool(self._working_look_back_keys())

    def _working_look_back_keys(self) -> list[str]:
        """The look-back keys that would show something now: the hint offers only these (F2 has
        nothing to show before a request is checked)."""
        if self._answer is None or self._answer.done() or self.hidden:
            return []
        return [name for name in LOOK_BACK_KEYS if name in self.look_back and self.look_back[name]() is not None]

    def _layout(self) -> Layout:
        prompt_text = FormattedTextControl(lambda: [("class:prompt", self.prompt)])
        self._input_window = Window(
            BufferControl(
                self._buffer,
                input_processors=[_HiddenWhenSecret(self)],
            ),
            height=1,
        )
        return Layout(
            HSplit(
                [
                    Window(FormattedTextControl(lambda: " " + shown(self.title, limit=None)), height=1,
                           style="class:title"),
                    Window(FormattedTextControl(self._visible_body), wrap_lines=False),
                    Window(FormattedTextControl(self._scroll_hint), height=1),
                    VSplit([Window(prompt_text, height=1, dont_extend_width=True),
                            self._input_window]),
                    Window(FormattedTextControl(lambda: " " + shown(self._status(), limit=SCREEN_WIDTH)), height=1,
                           style="class:status"),
                ]
            ),
            focused_element=self._input_window,
        )

    def _keys(self) -> KeyBindings:
        keys = KeyBindings()

        @keys.add("pageup")
        def _up(event):
            self._top = max(0, self._top - (self._body_rows() - 1))

        @keys.add("pagedown")
        def _down(event):
            self._top += self._body_rows() - 1

        @keys.add("c-c")
        @keys.add("c-d")
        def _ignore(event):
            # An operator's stray Ctrl-C must not end a ceremony and lose its log.
            self.add(["(Ctrl-C and Ctrl-D do nothing here: answer the question to go on.)"])

        @keys.add("c-z")
        @keys.add("c-\\")
        def _no_control_characters(event):
            pass  # a job-control key does nothing here, and is never typed into an answer

        for name in LOOK_BACK_KEYS:
            keys.add(name)(functools.partial(self._toggle_look_back, name))

        looking = Condition(lambda: self._looking is not None)

        @keys.add("escape", filter=looking, eager=True)
        @keys.add("enter", filter=looking, eager=True)
        def _back(event):
            self._end_look_back()

        return keys

    def _toggle_look_back(self, name: str, event) -> None:
        if self._looking is not None:
            self._end_look_back()
            return
        shown = self.look_back[name]() if self._may_look_back() and name in self.look_back else None
        if shown is None:
            return
        title, lines = shown
        self._looking = (self.title, self.lines, self._top, self.prompt)
        self.title, self.lines, self._top = f"LOOKING BACK: {title}", _fit(lines()), 0
        self.prompt = "Esc or Enter: back to the question "
        self.log.note(f"Looked back at {title} ({name.upper()})")
        self._redraw_all()

    def _end_look_back(self) -> None:
        self.title, self.lines, self._top, self.prompt = self._looking
        self._looking = None
        self._redraw_all()

    def _accept(self, buffer: Buffer) -> bool:
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(buffer.text)
        return False  # the buffer empties itself for the next question

    # ---- what the ceremony calls ----------------------------------------------------------------

    def show(self, title: str, lines: list[str]) -> None:
        """A new screen: replaces the body, and is recorded in full."""
        self.title = title
        self.lines = _fit(lines)
        self._top = 0
        self.log.screen(title, lines)
        self._redraw_all()

    def _redraw_all(self) -> None:
        """Draws the whole terminal afresh rather than only what changed.

        On a text console the kernel may have printed over the screen (a stick plugged in), and on
        a serial line each row then arrives whole, so a question is one run of text to look for.
        """
        if self.app.is_running:
            self.app.renderer.clear()
        self.app.invalidate()

    def add(self, lines: list[str], *, record: bool = True) -> None:
        """More lines on the current screen (progress, a message), scrolled into view."""
        if self._looking is not None:  # the screen under the look-back grows; it is shown on return
            title, under, _, prompt = self._looking
            self._looking = (title, under + _fit(lines), max(0, len(under) + len(lines) - self._body_rows()), prompt)
        else:
            self.lines.extend(_fit(lines))
            self._top = max(0, len(self.lines) - self._body_rows())
        if record:
            self.log.text(lines)
        self.app.invalidate()

    async def ask(self, key: str, prompt: str, *, hidden: bool = False, choices: tuple[str, ...] = ()) -> str:
        """Waits for one line typed and Enter. `key` names the question for the autopilot.

        `hidden`: a secret, nothing of it drawn or logged. `choices` (lower case): a question asked
        where a secret may be typed by mistake (after a wrong PIN): what is typed is drawn only
        while it may still become one of them, and an answer that is none of them is neither drawn
        nor logged.
        """
        answer = asyncio.get_running_loop().create_future()
        self._answer = answer
        self.prompt = shown(prompt.rstrip(), limit=None) + " "
        self.hidden = hidden
        self.choices = choices
        self._buffer.reset()
        self._redraw_all()
        if self.on_ask is not None:
            self.on_ask(key, prompt, self.app)
        try:
            text = await answer
        finally:
            if self._looking is not None:
                self._end_look_back()
            if self._answer is answer:
                self.prompt = ""
                self.hidden = False
                self.choices = ()
                self._answer = None
                self._buffer.reset()
                self.app.invalidate()
        withheld = hidden or bool(choices) and text.strip().lower() not in choices
        self.log.answer(prompt.strip(), text, hidden=withheld)
        return text.strip() if not hidden else text

    async def ask_word(self, key: str, prompt: str, words: tuple[str, ...], *,
                       listed: tuple[str, ...] | None = None, hint: str = "") -> str:
        """Asks until one of `words` is typed (any case); returns it in lower case. For the questions
        whose answer ends something: a bare Enter, or a typing slip, never decides them. Guarded as
        `ask(choices=)` is: a PIN typed here by habit is neither drawn, logged nor repeated.
        `listed`: how the words are named after a slip (default: all of them); `hint`: what else
        that message says (e.g. the range of N in 'print N')."""
        while True:
            answer = (await self.ask(key, prompt, choices=words)).lower()
            if answer in words:
                return answer
            self.add(["That is not one of " + ", ".join(f"'{word}'" for word in listed or words)
                      + f" ({hint + '; ' if hint else ''}what was typed is not shown or logged)."])

    async def ask_or_wait(self, key: str, prompt: str, event: Awaitable[Any]):
        """A question that an event (a stick arriving) may answer first.

        Returns ("typed", text) or ("event", result). An event that has already happened answers
        at once, before the question is even put (so no typing goes astray).
        """
        happened = asyncio.ensure_future(event)
        await asyncio.sleep(0)
        if happened.done():
            return "event", happened.result()
        typed = asyncio.ensure_future(self.ask(key, prompt))
        done, _ = await asyncio.wait({typed, happened}, return_when=asyncio.FIRST_COMPLETED)
        if happened in done:
            typed.cancel()
            await asyncio.wait({typed})  # its clean-up has run before the next question
            return "event", happened.result()
        happened.cancel()
        return "typed", typed.result()

    async def work(self, message: str, function: Callable[..., Any], *args,
                   waited: Callable[[], float] | None = None) -> Any:
        """Runs blocking work (HSM, media) off the event loop so the screen and clock stay live.

        `waited` gives the seconds the work spent waiting for the operators (a PIN typed while the
        HSM is being opened): the log's duration leaves them out and says how long they were.
        """
        self.add([message], record=False)  # logged once, below, with how it ended
        started = time.monotonic()
        loop = asyncio.get_running_loop()

        def took() -> str:
            typing = waited() if waited is not None else 0.0
            spent = f"{time.monotonic() - started - typing:.2f} s"
            return spent + (f" (not counting {typing:.2f} s of the operators' typing)" if typing else "")

        try:
            result = await loop.run_in_executor(self._worker, function, *args)
        except Exception as exc:
            # A write report spans lines (ours, each name in them escaped): its first in the
            # headline, the rest as rows of its own. Any other text may carry a line break from
            # outside (an XML value, a TOML string): one headline, the break shown as \n.
            first, *rest = str(exc).split("\n") if isinstance(exc, MediaWriteError) else [str(exc)]
            self.log.note(f"{message} failed after {took()}: {first}", rest)
            raise
        self.log.note(f"{message} done in {took()}")
        return result

    def run(self, ceremony: Callable[[], Awaitable[int]]) -> int:
        """Runs the application and the ceremony coroutine together; returns the ceremony's result."""

        if self._own_terminal:
            font = vt_font.enlarge(self.app.output.fileno())
            if font:
                self.log.note(f"Console font: {font}")

        async def main() -> int:
            app_task = asyncio.ensure_future(self.app.run_async())
            while not self.app.is_running and not app_task.done():
                await asyncio.sleep(0.01)  # the application is up before the first screen
            ceremony_task = asyncio.ensure_future(ceremony())
            try:
                await asyncio.wait({app_task, ceremony_task}, return_when=asyncio.FIRST_COMPLETED)
                if not ceremony_task.done():
                    # The application ended first (its input closed, or the autopilot gave up).
                    ceremony_task.cancel()
                    await asyncio.wait({ceremony_task})
                    app_task.result()  # raises what ended it
                    raise RuntimeError("the console ended before the ceremony did")
                if self.app.is_running:
                    self.app.exit()
                await app_task
                return ceremony_task.result()
            finally:
                self._worker.shutdown(wait=False)
                self._clear_screen()

        return asyncio.run(main())


    def _clear_screen(self) -> None:
        """A Linux console has no alternate screen: without this, the last screen's status line
        stays in mid-screen under whatever comes next (the power-off messages)."""
        output = self.app.output
        output.reset_attributes()
        output.erase_screen()
        output.cursor_goto(0, 0)
        output.flush()


def _fit(lines: list[str]) -> list[str]:
    """Each line shown as one row of visible text, broken to the 80-column screen and continuing
    under its own indentation."""
    fitted = []
    for text in lines:
        line = shown(text, limit=None)
        indent = " " * (len(line) - len(line.lstrip()))
        fitted += textwrap.wrap(line, SCREEN_WIDTH, subsequent_indent=indent + "  ",
                                break_on_hyphens=False, drop_whitespace=True) or [""]
    return fitted


class _HiddenWhenSecret(Processor):
    """For a secret, shows nothing of what is typed, not even one '*' per character: a PIN's
    length is a secret too. For a guarded question, the same once what is typed can no longer
    become one of its answers."""

    def __init__(self, ui: ConsoleUI):
        self._ui = ui

    def apply_transformation(self, transformation_input):
        typed = transformation_input.document.text.lower()
        if self._ui.hidden or self._ui.choices and not any(c.startswith(typed) for c in self._ui.choices):
            return Transformation([], source_to_display=lambda i: 0, display_to_source=lambda i: 0)
        return Transformation(transformation_input.fragments)
