"""The HSM's link drops after the PIN, or in the middle of signing the bundles (issue 15, the HSM's
half): the console never hangs, says what went away and that nothing was written, logs it, and the
operators reconnect and finish; the request signed again is said to be a second signing.

The HSM is SoftHSM reached through p11-kit's client module and RPC protocol, as the DVD reaches
the host's token; the link is tests/hsm_relay.py, which ends the link or goes silent on cue.
"""

import sys
import threading
import time
from pathlib import Path

import pytest

from appliance.console.autopilot import Autopilot, AutopilotError
from tests.console.harness import files_on, flat, log_and_pdf, run_script, written_log
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN
from tests.console.test_ceremony import verify

pytestmark = pytest.mark.softhsm

CLIENT_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so"
RELAY = Path(__file__).resolve().parents[1] / "hsm_relay.py"
ANSWER_WITHIN = 5  # seconds: the limit of the configuration below
HANG = 60  # seconds without a question: the console hangs (the relay's stall lasts longer)


@pytest.fixture
def linked(demo, tmp_path):
    """The demo's configuration with its token reached through the relay, answers within 5 s."""
    if not Path(CLIENT_MODULE).exists():
        pytest.skip("p11-kit's client module is missing (Debian package p11-kit-modules)")
    relay = tmp_path / "relay"
    relay.mkdir()
    text = demo.config.read_text()
    text = text.replace('module = "/usr/lib/softhsm/libsofthsm2.so"', f'module = "{CLIENT_MODULE}"')
    text = text.replace("[hsm.environment]\n", f'[hsm.options]\nanswer_within = {ANSWER_WITHIN}\n[hsm.environment]\n'
                                               f'P11_KIT_SERVER_ADDRESS = "|{sys.executable} {RELAY} {relay}"\n')
    assert CLIENT_MODULE in text and "P11_KIT_SERVER_ADDRESS" in text
    config = tmp_path / "linked.toml"
    config.write_text(text)
    return config, relay


def cue(relay: Path, action: str, signatures: int, then: str):
    def act():
        (relay / "cue").write_text(f"{action} {signatures}")
        return then
    return act


class Watchdog(Autopilot):
    """Ends the run with a failure when no question comes for HANG seconds: a console that
    waits on an HSM for ever fails the test instead of holding it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.last = time.monotonic()
        self.app = None
        self.hung = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def __call__(self, key, prompt, app):
        self.last, self.app = time.monotonic(), app
        super().__call__(key, prompt, app)

    def _watch(self):
        while self.app is None or self.app.is_running:
            time.sleep(1)
            if self.app is not None and time.monotonic() - self.last > HANG:
                self.hung.set()
                loop, app = self.app.loop, self.app
                if loop is not None:
                    loop.call_soon_threadsafe(
                        lambda: app.exit(exception=AutopilotError(f"no question for {HANG} s: the console hangs")))
                return


SIGN_AGAIN = [("next", "another")] + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + [
    ("verbal.again", "again"), ("sign.where", ""), ("sign.done", "")]


def sessions(relay: Path) -> int:
    return (relay / "relay.log").read_text().count("session ")


def test_the_link_dropping_after_the_pin_is_said_and_the_ceremony_finishes_after_reconnect(demo, sticks, linked):
    config, relay = linked
    request = (demo.stick / demo.request).read_bytes()
    before = files_on(demo.stick)
    seen_at_reconnect = []

    def nothing_written_then(answer):
        def check():
            seen_at_reconnect.append(files_on(demo.stick))
            return answer
        return check

    script = (SET_CLOCK + LOG_IN
              + [("request.choose", cue(relay, "drop", 0, "1")), ("request.previous", "1"),
                 ("request.hsm_lost", ""), ("next.hsm", nothing_written_then("reconnect")), ("hsm.pin", LOG_IN[0][1]),
                 ("hsm.reconnected", ""), ("next", "another")] + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
              + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN)
    run = run_script(sticks, script, config=config, autopilot=Watchdog)
    screen = flat(run.screen_text())
    assert "HSM-LINK-LOST: THE HSM WENT AWAY WHILE CHECKING" in screen
    assert "The request was neither refused nor signed: nothing was written." in screen
    assert "Reconnected: the same token as before" in screen
    assert seen_at_reconnect == [before]  # nothing written while the HSM was away
    verify(demo.stick, demo, request)  # finished after the reconnect: a response that verifies
    log = flat(written_log(demo.stick, run))
    assert f"HSM-LINK-LOST: the HSM went away while checking {demo.request}" in log
    assert "Reconnecting the HSM: a new session, the PIN typed again" in log
    assert "SECOND SIGNING" not in log  # the first attempt never reached the signing
    assert run.code == 3 and sessions(relay) >= 2  # the loss decides the exit code: an HSM failure


@pytest.mark.parametrize("action, check", [("drop", "HSM-LINK-LOST"), ("stall", "HSM-NO-ANSWER")])
def test_the_link_failing_mid_signing_writes_nothing_and_the_signing_again_is_a_second_signing(
        demo, sticks, linked, action, check):
    config, relay = linked
    request = (demo.stick / demo.request).read_bytes()
    before = files_on(demo.stick)
    seen_at_reconnect = []

    def look_then_reconnect():
        seen_at_reconnect.append(files_on(demo.stick))
        return "reconnect"

    script = (SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS
              + [("request.accepted", ""), ("verbal.confirm", cue(relay, action, 4, "yes")),
                 ("sign.failed", ""), ("next.hsm", look_then_reconnect), ("hsm.pin", LOG_IN[0][1]),
                 ("hsm.reconnected", "")]
              + SIGN_AGAIN + SHUT_DOWN)
    started = time.monotonic()
    run = run_script(sticks, script, config=config, autopilot=Watchdog)
    assert time.monotonic() - started < HANG * 2
    screen = flat(run.screen_text())
    assert f"{check}: THE HSM WENT AWAY WHILE SIGNING {demo.request.upper()}" in screen
    assert "The HSM returned 4 of the 9 signatures." in screen
    assert "NO response was made: nothing was written, nothing half-written, to any stick." in screen
    if action == "stall":
        assert f"gave no answer within {ANSWER_WITHIN} s while signing" in screen
        assert "It was asked for signature 5: whether it made that one is unknown." in screen
    assert seen_at_reconnect == [before]  # no response, no partial file, no log yet
    assert "THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY (1 time(s))" in screen
    assert f"PART-WAY at" in screen and f"stopped by {check} after 4 of 9 signatures" in screen
    verify(demo.stick, demo, request)
    assert files_on(demo.stick) == sorted(before + [demo.response, *log_and_pdf(run)])
    log = flat(written_log(demo.stick, run))
    assert f"Signing of {demo.request}" in log and f"broken off: at" in log
    assert "SECOND SIGNING of" in log and "1 broken off part-way with no response" in log
    assert "(signing number 2 of this request in this ceremony, after 1 broken off part-way)" in log
    assert run.code == 3 and sessions(relay) >= 2
