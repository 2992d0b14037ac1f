"""Acceptance: whole ceremonies through the real console application (pipe input, vt100 output at
80x25), a SoftHSM token with a fresh KSK, and folder sticks. Each ends with the right message, a
complete log on a stick, and no response where none was made."""

import shutil

import pytest

from appliance.digest import Fingerprint
from appliance.formats import parse_request, parse_response
from appliance.formats.trust_anchor import parse_trust_anchors
from appliance.policy import validate_response
from tests.console.conftest import real
from tests.console.harness import files_on, flat, log_and_pdf, now_typed, run_script, snapshotting, written_log
from tests.console.scripts import (
    ACCEPT_AND_CONFIRM,
    IMPORT_WITH_PREVIOUS,
    LOG_IN,
    SET_CLOCK,
    SHUT_DOWN,
)

pytestmark = pytest.mark.softhsm

WRITE_AND_GO_ON = [("sign.where", ""), ("sign.done", "")]


def verify(stick, demo, request_bytes):
    response = parse_response((stick / demo.response).read_bytes())
    anchors = parse_trust_anchors(demo.trust_anchor.read_bytes())
    verdict = validate_response(response, anchors, parse_request(request_bytes))
    assert verdict.valid, verdict.violations
    assert len(response.bundles) == 9


def test_happy_path(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + WRITE_AND_GO_ON
                     + SHUT_DOWN, config=demo.config)
    assert run.code == 0
    log_name = run.ceremony.log.filename
    assert files_on(demo.stick) == sorted([demo.request, demo.previous, demo.response, *log_and_pdf(run)])
    verify(demo.stick, demo, request_bytes)
    log = written_log(demo.stick, run)
    assert max(len(line) for line in log.splitlines()) <= 80  # prints as it reads
    text = flat(log)
    # Every step, the HSM identity and its KSK, the table and the verdicts, both hashes, the outputs.
    for step in ("Step 1 of 6: Set the clock", "Step 2 of 6: Activate the HSM", "Step 3 of 6: Import and check",
                 "Step 4 of 6: Verbal check", "Step 5 of 6: Sign and write", "Step 6 of 6: Another request",
                 "Shut down"):
        assert step in text
    assert "Old time:" in text and "New time:" in text
    assert "Token label: ceremony-demo" in text and "Serial:" in text
    assert "KSK-demo RSASHA256 2048" in text
    assert " #  Inception            Expiration           ZSK Tags" in log
    assert "REQUEST ACCEPTED: all 23 checks passed" in text
    request_hash = Fingerprint.of(request_bytes)
    response_hash = Fingerprint.of((demo.stick / demo.response).read_bytes())
    assert request_hash.hex in text and response_hash.hex in text
    assert f"1. {request_hash.words[0].upper()}" in text and f"32. {response_hash.words[31].upper()}" in text
    assert f"{demo.response} on stick KSR-STICK (folder)" in text
    assert "(typed, not shown)" in text and "123456" not in log
    assert "The stick KSR-STICK may be removed now." in text
    assert run.ceremony.requests_signed == 1
    screen = run.screen_text()
    assert "Set the clock" in screen
    assert "UTC | HSM: not connected | Sticks: KSR-STICK" in screen  # the first full drawing
    assert "logged in, ceremony-demo" in screen


def test_no_at_the_verbal_check_signs_nothing(demo, sticks):
    script = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", ""), ("verbal.confirm", "no"),
                                                          ("verbal.aborted", "")] + SHUT_DOWN
    run = run_script(sticks, script, config=demo.config)
    assert run.code == 1  # aborted: not a success
    assert files_on(demo.stick) == sorted([demo.request, demo.previous, *log_and_pdf(run)])
    text = flat(written_log(demo.stick, run))
    assert "Answer was 'no', not 'yes': ABORTED. Nothing is signed." in text
    # The abort stayed on screen until acknowledged: its own question came before step 6's.
    keys = [key for key, _ in run.asked]
    assert keys.index("verbal.aborted") == keys.index("verbal.confirm") + 1
    assert "NOT DONE" not in text and "verbal check not confirmed, aborted" in text  # in the closing record
    assert "Step 5 of 6" not in text
    assert run.ceremony.requests_signed == 0


def test_a_bare_enter_at_the_verbal_check_asks_again(demo, sticks):
    # An Enter pressed once too often (after "Press Enter for the verbal check") must not abort the request.
    script = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", "")] + [("verbal.confirm", ""), ("verbal.confirm", "yes")]
    run = run_script(sticks, script + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    assert run.code == 0 and run.ceremony.requests_signed == 1
    assert "ABORTED" not in flat(run.log)


def test_refused_request_ends_with_the_reasons(demo, sticks):
    shutil.rmtree(demo.stick)
    old = sticks.make("OLD", real("ksr-root-2017-q2-0.xml", "skr-root-2017-q1-0.xml"))
    log_stick = sticks.make("LOG", {})
    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.stick.choose", "2")] + IMPORT_WITH_PREVIOUS
                     + [("request.refused", ""), ("next", "shutdown"), ("shutdown.log.choose", "1"),
                        ("shutdown.done", "end")], config=demo.config)
    assert run.code == 1
    # Nothing is written to the refused request's stick; the log goes to the stick chosen for it.
    assert files_on(old) == sorted(["ksr-root-2017-q2-0.xml", "skr-root-2017-q1-0.xml"])
    assert files_on(log_stick) == log_and_pdf(run)
    text = flat(written_log(log_stick, run))
    assert "FAIL KSR-POLICY-SIG-HORIZON: bundle 1" in text
    # The HSM lacks KSK-2010, which signed the previous response: checked before anything is signed.
    assert "FAIL KSR-CHAIN-KEYS: validating last SKR with HSM" in text
    assert "PASS KSR-XML" in text and "KSR-BUNDLE-POP" in text  # passes are shown too
    assert "REFUSED: ksr-root-2017-q2-0.xml will not be signed." in text
    assert not [k for k, _ in run.asked if k.startswith(("verbal", "sign"))]
    assert "REFUSED" in run.screen_text()


def test_wrong_pin_then_giving_up(demo, sticks):
    # A bare Enter at the retry question decides nothing; 'no', then 'end' once the reason is read, ends.
    run = run_script(sticks, SET_CLOCK + [("hsm.pin", "000000"), ("hsm.retry", ""), ("hsm.retry", "no"),
                                          ("hsm.end", ""), ("hsm.end", "end"), ("shutdown.log.choose", "1"),
                                          ("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 3  # an HSM failure, not a success
    text = flat(written_log(demo.stick, run))
    assert "WRONG PIN: wrong PIN for token 'ceremony-demo'" in text
    assert "The HSM is not activated: nothing can be signed." in text
    assert "That was neither 'yes' nor 'no'" in text
    assert "That is not one of 'end'" in text  # the bare Enter at 'end' did not end it either
    assert "000000" not in text
    assert files_on(demo.stick) == sorted([demo.request, demo.previous, *log_and_pdf(run)])


def test_three_wrong_pins_exit_3_and_the_reason_stays(demo, sticks):
    wrong = [("hsm.pin", "000000"), ("hsm.retry", "yes"), ("hsm.pin", "111111"), ("hsm.retry", "yes"),
             ("hsm.pin", "222222")]
    run = run_script(sticks, SET_CLOCK + wrong + [("hsm.end", "end"), ("shutdown.log.choose", "1"),
                                                  ("shutdown.done", "end")], config=demo.config)
    assert run.code == 3
    assert "0 more attempt(s) allowed" in flat(written_log(demo.stick, run))


def test_wrong_pin_then_the_right_one(demo, sticks):
    run = run_script(sticks, SET_CLOCK + [("hsm.pin", "000000"), ("hsm.retry", "yes")] + LOG_IN
                     + [("request.choose", "cancel")] + SHUT_DOWN, config=demo.config)
    text = flat(run.log)
    assert "WRONG PIN" in text and "2 more attempt(s) allowed" in text
    assert "HSM activated." in text
    assert "No request imported." in text


def test_stick_removed_before_the_write(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()

    def pull_then_write():
        sticks.pull("KSR-STICK")
        return ""  # Enter: write to the request's stick, which is gone

    def insert_another():
        sticks.insert("OUT")  # and nothing typed: the new stick answers the question

    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", pull_then_write), ("sign.stick.insert", insert_another),
                        ("sign.stick.choose", "1"), ("sign.done", "")]
                     + SHUT_DOWN, config=demo.config)
    assert run.code == 0
    out = demo.media / "OUT"
    assert files_on(out) == sorted([demo.response, *log_and_pdf(run)])
    verify(out, demo, request_bytes)
    text = flat(written_log(out, run))
    assert "stick KSR-STICK (folder) removed" in text
    assert "Insert the stick for the response and the log." in text
    assert f"{demo.response} on stick OUT (folder)" in text


def test_stick_removed_during_the_write(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    pulled = []

    def pull_mid_write(step, stick, name):
        # After the response is on the stick, before the log is: the operator pulls it.
        if step == "write" and name.endswith(".log") and not pulled:
            pulled.append(stick.name)
            sticks.pull(stick.name)

    def insert_another():
        sticks.insert("SECOND")

    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.stick.insert", insert_another), ("sign.stick.choose", "1"),
                        ("sign.done", "")] + SHUT_DOWN,
                     config=demo.config, fault_hook=pull_mid_write)
    assert pulled == ["KSR-STICK"] and not demo.stick.exists()
    second = demo.media / "SECOND"
    assert files_on(second) == sorted([demo.response, *log_and_pdf(run)])
    verify(second, demo, request_bytes)
    text = flat(written_log(second, run))
    # The operator was told what was and was not written on the pulled stick.
    assert "Writing to stick KSR-STICK (folder) failed" in text
    assert f"NOT written: {run.ceremony.log.filename}" in text
    assert "Everything will be written again, to the stick you give next." in text
    assert run.ceremony.requests_signed == 1


def test_stick_without_a_request(demo, sticks):
    shutil.rmtree(demo.stick)
    empty = sticks.make("EMPTY", {"notes.xml": b"<notes>not a request</notes>", **real("skr-root-2017-q1-0.xml")})
    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.none", "cancel")] + SHUT_DOWN, config=demo.config)
    assert files_on(empty) == sorted(["notes.xml", "skr-root-2017-q1-0.xml", *log_and_pdf(run)])
    text = flat(written_log(empty, run))
    assert "No request (KSR) on this stick." in text
    assert "Not used: notes.xml, because neither a request" in text
    assert "No request imported." in text


def test_a_stick_with_the_request_after_one_without(demo, sticks):
    files = {name: (demo.stick / name).read_bytes() for name in (demo.request, demo.previous)}
    shutil.rmtree(demo.stick)
    sticks.make("EMPTY")

    def pull_empty():
        sticks.pull("EMPTY")

    def insert_request_stick():
        sticks.insert("KSR2", files)

    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.none", pull_empty),
                                                   ("request.stick.insert", insert_request_stick)]
                     + IMPORT_WITH_PREVIOUS + [("request.accepted", ""), ("verbal.confirm", "no"),
                                               ("verbal.aborted", "")] + SHUT_DOWN,
                     config=demo.config)
    text = flat(written_log(demo.media / "KSR2", run))
    assert "stick EMPTY (folder) removed" in text and "stick KSR2 (folder) added" in text
    assert "REQUEST ACCEPTED" in text


def test_the_clock_refuses_a_time_before_the_build_date(demo, sticks):
    run = run_script(sticks, [("clock.time", "2001-09-09 01:46"), ("clock.time", "not a time"),
                              ("clock.time", now_typed), ("clock.confirm", "no"),
                              ("clock.time", now_typed), ("clock.confirm", "yes"), ("clock.done", "")]
                     + LOG_IN + [("request.choose", "cancel")] + SHUT_DOWN, config=demo.config)
    text = flat(run.log)
    assert "is before this software was built" in text
    assert "not a time in the form" in text
    assert "Not set. Type the time again." in text
    assert text.count("TEXT Clock set.") == 1


def test_configuration_from_a_stick(demo, sticks, monkeypatch, tmp_path):
    import tempfile

    from appliance.console import preflight

    monkeypatch.setattr(preflight, "IMAGE_CONFIG", demo.directory / "no-such-image-config.toml")
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    sticks.make("CONFIG", {"ceremony.toml": demo.config.read_bytes()})
    run = run_script(sticks, SET_CLOCK + [("hsm.config.choose", "1"), ("hsm.config.confirm", "yes")] + LOG_IN
                     + [("request.stick.choose", "2"),
                                                                                 ("request.choose", "cancel")]
                     + [("next", "shutdown"), ("shutdown.log.choose", "1"), ("shutdown.done", "end")], config=None)
    text = flat(written_log(demo.media / "CONFIG", run))
    assert "Configuration ceremony.toml read from stick CONFIG (folder)" in text
    assert "HSM activated." in text and "KSKs in the configuration ceremony.toml" in text
    assert list(private_tmp.iterdir()) == []  # the copy read from the stick left nothing behind


def test_an_internal_error_still_saves_the_log(demo, sticks, monkeypatch):
    from appliance.console import step_verbal

    def broken(*args):
        raise ZeroDivisionError("a bug in the verbal check screen")

    monkeypatch.setattr(step_verbal, "hash_screen", broken)
    with pytest.raises(ZeroDivisionError):
        run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", ""), ("error.log.choose", "1"),
                                                                       ("error.end", "end")],
                   config=demo.config)
    logs = list(demo.stick.glob("ceremony-*.log"))
    assert len(logs) == 1
    text = flat(logs[0].read_text())
    assert "ERROR Internal error: the ceremony stops" in text
    assert "ZeroDivisionError: a bug in the verbal check screen" in text
    assert not list(demo.stick.glob(demo.response))


def test_a_stick_that_fails_while_being_read(demo, sticks, monkeypatch):
    from appliance.errors import MediaError
    from appliance.media import FolderMedia

    real_read = FolderMedia.read_file
    failures = []

    def failing_once(self, stick, name, *args):
        if not failures:
            failures.append(name)
            raise MediaError(f"cannot read {name} from {stick.describe()}: [Errno 5] Input/output error")
        return real_read(self, stick, name, *args)

    monkeypatch.setattr(FolderMedia, "read_file", failing_once)
    # The request that failed is listed as not used; the stick is read again on Enter.
    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.none", "")] + IMPORT_WITH_PREVIOUS
                     + [("request.accepted", ""), ("verbal.confirm", "no"), ("verbal.aborted", "")] + SHUT_DOWN,
                     config=demo.config)
    text = flat(written_log(demo.stick, run))
    assert f"Not used: {failures[0]}, because cannot read" in text and "Input/output error" in text
    assert "REQUEST ACCEPTED" in text  # read again on Enter, then checked as usual
    assert len(failures) == 1


def test_an_unusable_configuration_on_a_stick_is_refused_then_replaced(demo, sticks, monkeypatch):
    from appliance.console import preflight

    monkeypatch.setattr(preflight, "IMAGE_CONFIG", demo.directory / "no-such-image-config.toml")
    shutil.rmtree(demo.stick)
    sticks.make("BAD", {"ceremony.toml": b"[hsm]\nmodule = 3\nno_such_setting = true\n"})

    def swap():
        sticks.pull("BAD")

    def good():
        sticks.insert("GOOD", {"ceremony.toml": demo.config.read_bytes()})

    run = run_script(sticks, SET_CLOCK + [("hsm.config.other", swap), ("hsm.config.insert", good),
                              ("hsm.config.confirm", "yes")] + LOG_IN
                     + [("request.none", "cancel")] + SHUT_DOWN, config=None)
    text = flat(written_log(demo.media / "GOOD", run))
    assert "The configuration cannot be used:" in text
    assert "HSM activated." in text


def test_a_response_already_on_the_stick_is_replaced_only_when_told(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    (demo.stick / demo.response).write_bytes(b"an older response")

    def insert_another():
        sticks.insert("OUT")  # and nothing typed: the new stick answers the question

    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.stick.exists", "no"), ("sign.stick.exists", insert_another),
                        ("sign.stick.choose", "2"), ("sign.done", "")] + SHUT_DOWN[:1]
                     + [("shutdown.log.choose", "2"), ("shutdown.done", "end")], config=demo.config)
    assert (demo.stick / demo.response).read_bytes() == b"an older response"  # left alone
    verify(demo.media / "OUT", demo, request_bytes)
    text = flat(written_log(demo.media / "OUT", run))
    assert f"{demo.response} is already on stick KSR-STICK (folder). It is not replaced unless you say so." in text


def test_replace_typed_replaces_the_older_response(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    (demo.stick / demo.response).write_bytes(b"an older response")
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.stick.exists", "replace"), ("sign.done", "")] + SHUT_DOWN,
                     config=demo.config)
    verify(demo.stick, demo, request_bytes)
    assert "'replace'" in run.log


def test_the_write_outcome_is_on_the_first_page_after_signing(demo, sticks):
    """After the write, the operators see at once that the stick may be removed (the hash and the
    table follow below; a serial line shows only what is drawn)."""
    screens = {}
    run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", ""), ("verbal.confirm", "yes")]
               + WRITE_AND_GO_ON + SHUT_DOWN, config=demo.config, autopilot=snapshotting(screens))
    page = "\n".join(screens["sign.done"])
    assert "Written and verified on" in page and "may be removed now." in page
