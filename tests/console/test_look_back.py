"""Looking back (F2, F3) and the small things of issue 12 point 8, through the real console: keys
typed into the pipe input as a keyboard sends them (F2 and F3 as a Linux console sends them)."""

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from appliance.console.flow import Ceremony
from appliance.digest import Fingerprint
from appliance.media import Stick
from tests.console.harness import flat, run_script, snapshotting
from tests.console.scripts import IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN

F2, F3 = "\x1b[[B", "\x1b[[C"  # the Linux console's F2 and F3
CTRL_Z = "\x1a"


@pytest.mark.softhsm
def test_f2_and_f3_show_the_request_and_the_log_then_return_to_the_same_question(demo, sticks):
    request = Fingerprint.of((demo.stick / demo.request).read_bytes())
    # At the verbal check: F2, typing that must go nowhere, Enter back; F3, Esc-less Enter back; then 'yes'.
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [
        ("request.accepted", ""), ("verbal.confirm", (F2, "no", "\r", F3, "\r", "yes")),
        ("sign.where", ""), ("sign.done", (F2, "\r")), ("next", (F3, "\r", "shutdown")),
        ("shutdown.log.choose", "1"), ("shutdown.done", "end")], config=demo.config)
    assert run.code == 0 and run.ceremony.requests_signed == 1  # 'no' typed while looking went nowhere
    text = flat(run.log)
    assert text.count("NOTE Looked back at the request (F2)") == 2
    assert text.count("NOTE Looked back at the log so far (F3)") == 2
    assert "Do they match? Type 'yes' to sign (anything else aborts): -> 'yes'" in text
    screen = run.screen_text()
    assert "LOOKING BACK: the request" in screen and "LOOKING BACK: the log so far" in screen
    assert f"1:{request.hex[:4].upper()}" in screen
    assert "Esc or Enter: back to the question" in screen
    assert "F2: request again  F3: log so far" in screen


@pytest.mark.softhsm
def test_no_look_back_before_step_3_and_the_log_from_step_3_on(demo, sticks):
    run = run_script(sticks, SET_CLOCK + [("hsm.pin", F2 + F3 + "123456"), ("hsm.seen", (F2, F3, ""))]
                     + [("request.choose", (F2, F3, "\r", "cancel"))] + SHUT_DOWN, config=demo.config)
    text = flat(run.log)
    assert "HSM activated." in text
    # Only once, at step 3: no request checked yet, so F2 shows nothing; F3 the log.
    assert text.count("Looked back") == 1 and "NOTE Looked back at the log so far (F3)" in text


@pytest.mark.softhsm
def test_the_hint_names_only_the_look_back_keys_that_work(demo, sticks):
    # Before a request is checked, F2 shows nothing: the line above the prompt must not offer it.
    screens: dict[str, list[str]] = {}
    run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", ""), ("verbal.confirm", "no"),
               ("verbal.aborted", ""), ("next", "shutdown"), ("shutdown.log.choose", "1"), ("shutdown.done", "end")],
               config=demo.config, autopilot=snapshotting(screens))
    before = "\n".join(screens["request.choose"])
    assert "F3: log so far" in before and "F2" not in before
    assert "F2: request again  F3: log so far" in "\n".join(screens["verbal.confirm"])


@pytest.mark.softhsm
def test_ctrl_z_is_never_typed_into_an_answer(demo, sticks):
    run = run_script(sticks, [("clock.time", lambda: CTRL_Z + datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")),
                              ("clock.confirm", "y" + CTRL_Z + "es"), ("clock.done", "")] + LOG_IN
                     + [("request.choose", "cancel")] + SHUT_DOWN, config=demo.config)
    assert "\\x1a" not in run.log and "-> 'yes'" in run.log


@pytest.mark.softhsm
def test_the_hsm_opening_time_leaves_out_the_typing(demo, sticks):
    def slow_pin():
        # The operator takes a while to type it: longer than opening SoftHSM takes even on a loaded
        # machine (about 1 s at a load of 7), so that a duration counting the typing cannot pass.
        time.sleep(3.0)
        return "123456"

    run = run_script(sticks, SET_CLOCK + [("hsm.pin", slow_pin), ("hsm.seen", ""), ("request.choose", "cancel")]
                     + SHUT_DOWN, config=demo.config)
    line = next(line for line in flat(run.log).split("NOTE ") if line.startswith("Opening"))
    opening, typing = (float(part.split(" s")[0]) for part in line.split("done in ")[1].split("not counting "))
    assert typing >= 3.0 and opening < typing


class _Sticks:
    failure = None  # the stick watcher is running

    def __init__(self, names):
        self._sticks = [Stick(n, n, None, "folder", Path(n)) for n in names]

    def sticks(self):
        return self._sticks


class _Clock:
    @staticmethod
    def now():
        return datetime(2027, 1, 15, 14, 5, tzinfo=UTC)


def test_the_status_line_cuts_with_an_ellipsis():
    ceremony = Ceremony(None, None, _Clock(), _Sticks(["A-VERY-LONG-STICK-NAME-ONE", "ANOTHER-LONG-ONE-TWO"]),
                        None, None)
    status = ceremony.status()
    assert len(status) == 78 and status.endswith("...")
    short = Ceremony(None, None, _Clock(), _Sticks(["KSR"]), None, None).status()
    assert short.endswith("Sticks: KSR")
