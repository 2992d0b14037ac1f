"""Runs the real console application on a pipe input, answering through the autopilot.

Every key the script answers goes through prompt_toolkit's input parser and key bindings exactly
as typed keys do; the screen goes to a vt100 output writing into memory at 80x25, so the whole
rendering path runs too and the tests can look for text on the "terminal".

Sticks are folders (FolderMedia, the device source `ceremony run --media` uses). `Sticks`
inserts and pulls them and waits until the media source has seen it, so a script's questions
come in one order only.
"""

from __future__ import annotations

import io
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from appliance.clock import CeremonyClock
from appliance.console import run_console
from appliance.console.autopilot import Autopilot, in_order
from appliance.console.flow import Ceremony, Settings
from appliance.console.sticks import StickWatch
from appliance.media import FolderMedia


class Terminal(io.StringIO):
    """What the console wrote, escape sequences and all."""

    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class Sticks:
    """The folder of stick folders, and the media source watching it once the run starts."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.media: FolderMedia | None = None

    def make(self, name: str, files: dict[str, bytes] | None = None) -> Path:
        """A stick with these files, appearing at once (built hidden, then renamed)."""
        hidden = self.folder / f".{name}"
        hidden.mkdir()
        for file, data in (files or {}).items():
            (hidden / file).write_bytes(data)
        stick = self.folder / name
        hidden.rename(stick)
        return stick

    def insert(self, name: str, files: dict[str, bytes] | None = None) -> Path:
        stick = self.make(name, files)
        self._wait(lambda: any(s.name == name for s in self.media.sticks()))
        return stick

    def pull(self, name: str) -> None:
        shutil.rmtree(self.folder / name)
        self._wait(lambda: all(s.name != name for s in self.media.sticks()))

    @staticmethod
    def _wait(condition) -> None:
        deadline = time.monotonic() + 5
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the media source did not see the change within 5 s")
            time.sleep(0.01)


@dataclass
class Run:
    code: int
    ceremony: Ceremony
    asked: list[tuple[str, str]]
    terminal: str

    @property
    def log(self) -> str:
        return self.ceremony.log.render()

    def screen_text(self) -> str:
        """Everything drawn on the terminal, escape sequences removed (good enough to find words)."""
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\x1b[=>]", "", self.terminal)


def now_typed() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def run_script(sticks: Sticks, script, *, config: Path, policy: str | None = None, schema: str | None = None,
               fault_hook=None, autopilot=Autopilot) -> Run:
    watch = StickWatch()
    terminal = Terminal()
    output = Vt100_Output(terminal, lambda: Size(rows=25, columns=80), term="linux", enable_cpr=False)
    with create_pipe_input() as pipe, FolderMedia(sticks.folder, on_event=watch, fault_hook=fault_hook) as media:
        sticks.media = media
        pilot = autopilot(pipe, in_order(script))
        try:
            code, ceremony = run_console(Settings(config, policy, schema), media, watch,
                                         CeremonyClock(set_system=False), input=pipe, output=output, on_ask=pilot)
        except BaseException:
            print("Questions asked:", *pilot.asked, sep="\n  ")
            raise
    return Run(code, ceremony, pilot.asked, terminal.getvalue())


def files_on(stick: Path) -> list[str]:
    return sorted(p.name for p in stick.iterdir())


def written_log(stick: Path, run: Run) -> str:
    """The log on the stick, checked to be the ceremony's own log up to the moment it was written."""
    written = (stick / run.ceremony.log.filename).read_text("utf-8")
    body = written[: written.rindex("=" * 80 + "\nEnd of log")]
    assert run.log.startswith(body), "the log on the stick is not the ceremony's log"
    return written


def flat(text: str) -> str:
    """Text with all line breaks and runs of spaces as one space: wrapped messages stay findable."""
    return " ".join(text.split())
