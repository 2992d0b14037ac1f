"""Answers the console's questions by typing them, through the same input path as a keyboard.

`ceremony demo --unattended` and the acceptance tests run the real application on a
prompt_toolkit pipe input; the autopilot is told the key of each question as it is asked and
types the answer followed by Enter. An answer may be None (type nothing: the step is waiting
for a stick, which the caller provides), a callable that acts first (pulls a stick, say), or a
tuple of key runs typed one screen drawing apart (a look-back key, then what follows it).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable, Mapping

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from appliance.console import run_console

Answer = str | tuple[str, ...] | None | Callable[[], str | tuple[str, ...] | None]


class AutopilotError(RuntimeError):
    """A question the script did not expect: the run stops instead of guessing."""


class Autopilot:
    def __init__(self, pipe_input, answers: Callable[[str, str], Answer]):
        self._input = pipe_input
        self._answers = answers
        self.asked: list[tuple[str, str]] = []  # every (key, prompt), in order

    def __call__(self, key: str, prompt: str, app) -> None:
        self.asked.append((key, prompt))
        try:
            answer = self._answers(key, prompt)
            if callable(answer):
                answer = answer()
        except AutopilotError as exc:
            app.exit(exception=exc)
            return
        if answer is None:
            return

        runs = [answer] if isinstance(answer, str) else list(answer)
        runs[-1] += "\r"

        def type_answer(_app) -> None:
            # Only once the question is on the screen, as a person would: every screen is drawn.
            if not runs:
                return
            self._input.send_text(runs.pop(0))
            if not runs:
                # Not removed here: removing a handler while the event runs its list skips the next one.
                asyncio.get_running_loop().call_soon(app.after_render.remove_handler, type_answer)

        app.after_render.add_handler(type_answer)


def by_key(answers: Mapping[str, Answer]) -> Callable[[str, str], Answer]:
    """The same answer each time a question is asked (the demo's way)."""

    def answer(key: str, prompt: str) -> Answer:
        if key not in answers:
            raise AutopilotError(f"no answer for question {key!r} ({prompt.strip()})")
        return answers[key]

    return answer


def in_order(script: Iterable[tuple[str, Answer]]) -> Callable[[str, str], Answer]:
    """Exactly these questions in exactly this order (the tests' way)."""
    pending = list(script)

    def answer(key: str, prompt: str) -> Answer:
        if not pending:
            raise AutopilotError(f"unexpected question {key!r} ({prompt.strip()}): the script has ended")
        expected, value = pending.pop(0)
        if expected != key:
            raise AutopilotError(f"expected question {expected!r}, was asked {key!r} ({prompt.strip()})")
        return value

    return answer


class TypedRun:
    """The real console on a pipe input, its screen drawn at 80x25 into memory, an autopilot typing.

    After run(): `pilot.asked` lists every question, `screen` holds what the terminal was sent.
    """

    def __init__(self, answers: Callable[[str, str], Answer], autopilot=Autopilot):
        self._answers = answers
        self._autopilot = autopilot
        self.pilot: Autopilot | None = None
        self.screen = ""

    def run(self, settings, media, watch, clock):
        """(exit code, Ceremony), as console.run_console; `media` started and reporting to `watch`."""
        terminal = io.StringIO()
        output = Vt100_Output(terminal, lambda: Size(rows=25, columns=80), term="linux", enable_cpr=False)
        try:
            with create_pipe_input() as pipe:
                self.pilot = self._autopilot(pipe, self._answers)
                return run_console(settings, media, watch, clock, input=pipe, output=output, on_ask=self.pilot)
        finally:
            self.screen = terminal.getvalue()
