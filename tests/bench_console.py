"""The console: from a stick appearing to the request's hash on the screen, and the whole demo.

Figures: how long operators wait between plugging the stick in and reading the hash aloud, with
every answer on the way typed at once (the real console on a pipe input, the screen drawn at
80x25, a folder stick, SoftHSM with a fresh KSK, the real request checks); and the wall time
of `ceremony demo --unattended`, token and requests included, as a new user sees it.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from appliance.commands.demo import prepare_demo
from appliance.console.autopilot import Autopilot
from tests.console import harness
from tests.console.scripts import LOG_IN, SET_CLOCK, SHUT_DOWN

RUNS = 5


class TimedAutopilot(Autopilot):
    """Notes when the screen carrying each marked question has been drawn."""

    def __init__(self, pipe_input, answers, marks):
        super().__init__(pipe_input, answers)
        self.marks = marks
        self.drawn: dict[str, float] = {}

    def __call__(self, key, prompt, app):
        if key in self.marks and key not in self.drawn:
            def drawn(_app):
                if key not in self.drawn:
                    self.drawn[key] = time.perf_counter()
                    # Removed later: removing it while the event runs its list would skip the next.
                    asyncio.get_running_loop().call_soon(app.after_render.remove_handler, drawn)

            app.after_render.add_handler(drawn)
        super().__call__(key, prompt, app)


def one_stick_to_hash(directory: Path) -> tuple[float, float]:
    """(seconds to the request list on screen, seconds to the hash on screen) after the stick appears."""
    demo = prepare_demo(directory)
    files = {p.name: p.read_bytes() for p in demo.stick.iterdir()}
    shutil.rmtree(demo.stick)
    sticks = harness.Sticks(demo.media)
    appeared = []

    def plug_in():
        appeared.append(time.perf_counter())
        sticks.make("KSR-STICK", files)

    script = SET_CLOCK + LOG_IN + [("request.stick.insert", plug_in), ("request.choose", "1"),
                                   ("request.previous", "1"), ("request.accepted", ""), ("verbal.confirm", "no"),
                                   ("verbal.aborted", "")] + SHUT_DOWN
    pilots = []

    def make_pilot(pipe, answers):
        pilots.append(TimedAutopilot(pipe, answers, {"request.choose", "verbal.confirm"}))
        return pilots[-1]

    harness.run_script(sticks, script, config=demo.config, autopilot=make_pilot)
    drawn = pilots[0].drawn
    return drawn["request.choose"] - appeared[0], drawn["verbal.confirm"] - appeared[0]


def demo_wall_time(directory: Path) -> float:
    command = [str(Path(sys.executable).with_name("ceremony")), "demo", "--unattended", "--dir", str(directory)]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"ceremony demo failed: {result.stdout}{result.stderr}")
    return elapsed


def _report(label: str, seconds: list[float]) -> None:
    print(f"  {label}: best {min(seconds) * 1000:.0f} ms, median {statistics.median(seconds) * 1000:.0f} ms "
          f"over {len(seconds)} runs", flush=True)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-console-") as scratch:
        listed, hashed = [], []
        for run in range(RUNS):
            to_list, to_hash = one_stick_to_hash(Path(scratch) / f"stick-{run}")
            listed.append(to_list)
            hashed.append(to_hash)
        _report("stick folder appears -> request list on screen", listed)
        _report("stick folder appears -> request hash on screen (answers typed at once)", hashed)
        _report("ceremony demo --unattended, whole process (token, KSK, requests, ceremony, verify-skr)",
                [demo_wall_time(Path(scratch) / f"demo-{run}") for run in range(3)])


if __name__ == "__main__":
    main()
