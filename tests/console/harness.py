"""Runs the real console application on a pipe input, answering through the autopilot.

Every key the script answers goes through prompt_toolkit's input parser and key bindings exactly
as typed keys do; the screen goes to a vt100 output writing into memory at 80x25 (TypedRun, as
`ceremony demo --unattended` runs it), so the whole rendering path runs too and the tests can
look for text on the "terminal".

Sticks are folders (FolderMedia, the device source `ceremony run --media` uses). `Sticks`
inserts and pulls them and waits until the media source has seen it, so a script's questions
come in one order only.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from appliance.ceremonylog import flowing
from appliance.clock import CeremonyClock
from appliance.console.autopilot import Autopilot, TypedRun, in_order
from appliance.console.flow import Ceremony, Settings
from appliance.console.log_pdf import pdf_name
from appliance.console.sticks import StickWatch
from appliance.media import FolderMedia


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
    typed = TypedRun(in_order(script), autopilot)
    with FolderMedia(sticks.folder, on_event=watch, fault_hook=fault_hook) as media:
        sticks.media = media
        try:
            code, ceremony = typed.run(Settings(config, policy, schema), media, watch, CeremonyClock(set_system=False))
        except BaseException:
            print("Questions asked:", *(typed.pilot.asked if typed.pilot else []), sep="\n  ")
            raise
    return Run(code, ceremony, typed.pilot.asked, typed.screen)


def files_on(stick: Path) -> list[str]:
    return sorted(p.name for p in stick.iterdir())


def log_and_pdf(run: Run) -> list[str]:
    """The log's name and its PDF's, as written side by side."""
    return [run.ceremony.log.filename, pdf_name(run.ceremony.log.filename)]


def written_log(stick: Path, run: Run) -> str:
    """The log on the stick, checked to be the ceremony's own log up to the moment it was written."""
    written = (stick / run.ceremony.log.filename).read_text("utf-8")
    body = written[: written.rindex("=" * 80 + "\nEnd of log")]
    assert run.log.startswith(body), "the log on the stick is not the ceremony's log"
    return written


def flat(text: str) -> str:
    """Text with all line breaks and runs of spaces as one space, the log's continued rows joined
    back (`ceremonylog.flowing`): wrapped messages stay findable."""
    return flowing(text)


def drawn_rows(app) -> list[str] | None:
    """The 80x25 screen as last drawn (rows of cell text, as the terminal shows them), or None once
    the console has ended."""
    if app.renderer._last_screen is None:
        return None
    buffer = app.renderer._last_screen.data_buffer
    return ["".join(buffer[y][x].char for x in range(80)).rstrip() for y in range(25)]


def snapshotting(screens: dict[str, list[str]]):
    """An Autopilot class that also keeps, for each question key, the 80x25 screen as drawn when the
    question was first put (rows of cell text, as the terminal shows them)."""

    class Snapshots(Autopilot):
        def __call__(self, key, prompt, app):
            def drawn(_app):
                if key not in screens and (rows := drawn_rows(app)):
                    screens[key] = rows

            app.after_render.add_handler(drawn)
            super().__call__(key, prompt, app)

    return Snapshots
