"""If the stick watcher stops, the console says so at once, on the screen and the status line
(case ../shared/cases/hostile-stick/19): operators never wait for a stick that cannot be seen."""

import threading
import time

import pytest

from appliance.media import FolderMedia
from tests.console.harness import flat, run_script, snapshotting
from tests.console.scripts import LOG_IN, SET_CLOCK

pytestmark = pytest.mark.softhsm


def test_the_watcher_stopping_is_on_the_screen_and_the_status_line(demo, sticks, monkeypatch):
    die = threading.Event()

    def watch_then_fail(self):
        while not die.is_set():
            if not self._stopping.wait(self.interval):
                self._rescan()
        raise OSError(105, "No buffer space available")

    monkeypatch.setattr(FolderMedia, "_watch", watch_then_fail)

    def stop_the_watcher():
        die.set()
        deadline = time.monotonic() + 5
        while sticks.media.failure is None:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return ""

    screens = {}
    run = run_script(sticks, SET_CLOCK + [LOG_IN[0], ("hsm.seen", stop_the_watcher), ("request.choose", "cancel"),
                                          ("next", "shutdown"), ("shutdown.done", "")],
                     config=demo.config, autopilot=snapshotting(screens))
    text = flat(run.log)
    told = "STICK DETECTION HAS STOPPED: stick detection has stopped (OSError: [Errno 105] No buffer space available)."
    assert f"TEXT {told}" in text  # added to the HSM screen shown at that moment (and so logged)
    assert "Sticks inserted or pulled from now on are not seen." in text
    assert screens["request.choose"][24].startswith(" 20") and "UTC | STICK DETECTION STOPPED | HSM:" in \
        screens["request.choose"][24]
