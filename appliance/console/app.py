"""The terminal side of the console: a title, a screen body, one prompt line and the status line.

Laid out for the smallest terminal the appliance meets, a Linux text console or a serial line of
80x25: no mouse, plain keys (Enter, Backspace, PgUp/PgDn), and nothing conveyed by colour alone
(the status line is reverse video, but every word on it is also plain text).

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
import textwrap
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.clipboard import DummyClipboard
from prompt_toolkit.history import DummyHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import HSplit, Layout, VSplit, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import Processor, Transformation
from prompt_toolkit.styles import Style

from appliance.ceremonylog import CeremonyLog
from appliance.text import shown

# Rows that are not the body: title, scroll hint, prompt, status.
FIXED_ROWS = 4
SCREEN_WIDTH = 79  # the last column of a Linux console wraps the cursor; stay clear of it

STYLE = Style.from_dict({"title": "reverse bold", "status": "reverse", "prompt": "bold"})


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
        self._answer: asyncio.Future[str] | None = None
        # One worker: HSM sessions stay on the thread that opened them, and work never overlaps.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ceremony-work")
        # No history: the Up key must never bring back a PIN typed earlier.
        self._buffer = Buffer(multiline=False, accept_handler=self._accept, history=DummyHistory())
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
        if len(self.lines) <= rows:
            return ""
        last = min(len(self.lines), self._top + rows)
        return f"-- lines {self._top + 1}-{last} of {len(self.lines)}; PgUp/PgDn to scroll --"

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

        return keys

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

    async def work(self, message: str, function: Callable[..., Any], *args) -> Any:
        """Runs blocking work (HSM, media) off the event loop so the screen and clock stay live."""
        self.add([message], record=False)  # logged once, below, with how it ended
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._worker, function, *args)
        except Exception as exc:
            self.log.note(f"{message} failed after {time.monotonic() - started:.2f} s: {exc}")
            raise
        self.log.note(f"{message} done in {time.monotonic() - started:.2f} s")
        return result

    def run(self, ceremony: Callable[[], Awaitable[int]]) -> int:
        """Runs the application and the ceremony coroutine together; returns the ceremony's result."""

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

        return asyncio.run(main())


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
