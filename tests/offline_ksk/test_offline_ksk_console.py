"""A stick holding a Knot DNS request goes through the console's six steps like an ICANN one: the
file found by its content, every check, the no-proof-of-possession note on screen and in the log,
the hash of the file as read, and a response in Knot's dialect on the stick."""

from __future__ import annotations

import shutil

import pytest

from appliance.digest import Fingerprint
from tests.console.harness import Sticks, files_on, flat, log_and_pdf, run_script, written_log
from tests.console.scripts import SHUT_DOWN
from tests.offline_ksk.refdata import FIXTURE, ROOT_KSKS, read
from tests.softhsm import make_token

pytestmark = pytest.mark.softhsm


def test_a_knot_request_through_the_six_steps(tmp_path, monkeypatch):
    token = make_token(tmp_path / "hsm", with_test_ksks=False)
    pem, label, key_id, _ = ROOT_KSKS["knot"]
    token.import_pem(pem, label, key_id)
    monkeypatch.setenv("SOFTHSM2_CONF", str(token.conf))
    config = tmp_path / "config" / "knot-root.toml"
    config.parent.mkdir()
    shutil.copy(FIXTURE / "knot-root.toml", config)
    shutil.copy(FIXTURE / "test-pin.txt", config.parent)
    media = tmp_path / "media"
    media.mkdir()
    sticks = Sticks(media)
    request = read("knot/root.ksr.txt")
    stick = sticks.make("KSR-STICK", {"root.ksr.txt": request, "README.txt": b"not a request\n"})
    # A fixed ceremony time inside the request's window, whatever the real date (the clock is an offset here).
    set_clock = [("clock.time", "2026-11-30 12:00:00"), ("clock.confirm", "yes"), ("clock.done", "")]
    script = (set_clock + [("hsm.seen", ""), ("request.choose", "1"), ("request.previous", "none"),
                           ("request.no_previous", "yes"), ("request.accepted", ""), ("verbal.confirm", "yes"),
                           ("sign.where", ""), ("sign.done", "")] + SHUT_DOWN)
    run = run_script(sticks, script, config=config)
    assert run.code == 0, run.log
    assert files_on(stick) == sorted(["root.ksr.txt", "README.txt", "root.skr.txt", *log_and_pdf(run)])
    response = (stick / "root.skr.txt").read_bytes()
    assert response.split(b"\n")[:-2] == read("knot/root.skr.txt").split(b"\n")[:-2]
    text = flat(written_log(stick, run))
    for step in ("Step 1 of 6", "Step 2 of 6", "Step 3 of 6", "Step 4 of 6", "Step 5 of 6", "Step 6 of 6"):
        assert step in text
    assert "NOTE: no proof of possession in these formats" in text
    assert "REQUEST ACCEPTED" in text
    assert "checked at 2026-11-30 12:00" in text
    assert Fingerprint.of(request).hex in text and Fingerprint.of(response).hex in text
    assert "offline-ksk (knot)" in text
