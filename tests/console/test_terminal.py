"""`ceremony run --media` on a real pseudo-terminal (80x25, TERM=linux), typed at like a keyboard.

The console redraws the whole screen for each question, so every prompt reaches the terminal as
one run of text; the test waits for each before typing, as an operator reads before answering.
"""

import os
import sys
from pathlib import Path

import pexpect
import pytest

from appliance.commands.demo import PIN
from appliance.formats import parse_request, parse_response
from appliance.formats.trust_anchor import parse_trust_anchors
from appliance.policy import validate_response
from tests.console.harness import now_typed

pytestmark = pytest.mark.softhsm

CEREMONY = str(Path(sys.executable).with_name("ceremony"))


def test_whole_ceremony_on_a_pseudo_terminal(demo):
    env = {**os.environ, "TERM": "linux"}
    child = pexpect.spawn(CEREMONY, ["run", "--media", str(demo.media), "--config", str(demo.config),
                                     "--no-set-clock"], env=env, dimensions=(25, 80), timeout=30,
                          encoding="utf-8")
    try:
        child.expect("Set the clock")  # what the image's boot test looks for on the serial console
        for prompt, answer in [
            ("UTC date and time:", now_typed()),
            ("Set the clock to this time\\?", "yes"),
            ("Clock set. Press Enter to continue to the HSM:", ""),
            ("PIN \\(typing is not shown\\):", PIN),
            ("Press Enter to continue to the request:", ""),
            ("Number of the request to import", "1"),
            ("Number of the previous response, or 'none':", "1"),
            ("Press Enter for the verbal check of its hash:", ""),
            ("Do they match\\? Type 'yes' to sign", "yes"),
            ("Enter: write to KSR-STICK; or type 'other':", ""),
            ("Press Enter to continue:", ""),
            ("'another' or 'shutdown':", "shutdown"),
            ("Stick number \\(or 'cancel'\\):", "1"),
            ("Type 'end' once the record is written down:", "end"),
        ]:
            child.expect(prompt)
            child.send(answer + "\r")
        child.expect("written: " + demo.response)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    response = parse_response((demo.stick / demo.response).read_bytes())
    verdict = validate_response(response, parse_trust_anchors(demo.trust_anchor.read_bytes()),
                                parse_request((demo.stick / demo.request).read_bytes()))
    assert verdict.valid, verdict.violations
    logs = sorted(demo.stick.glob("ceremony-*.log"))
    assert len(logs) == 1 and "REQUEST ACCEPTED" in logs[0].read_text()
    assert PIN not in logs[0].read_text()
