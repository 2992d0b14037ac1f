"""Nothing signed is lost unknowingly (issue 15, point 3): a response whose write was given up is
kept in memory and written at the next step; every write attempt is in the log; a request signed
a second time in the same ceremony is said to be so, needs 'again', and is logged."""

import errno
import re

import pytest

from appliance.closing_record import CONTINUED
from tests.console.harness import files_on, flat, log_and_pdf, run_script, written_log
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN
from tests.console.test_ceremony import verify

pytestmark = pytest.mark.softhsm


def _write_given_up_at_signing(sticks):
    """The script up to a signed response whose write was given up (the request's stick pulled at
    the question where to write, then 'cancel' and 'drop'), and an answer that inserts stick OUT."""

    def pull_then_write():
        sticks.pull("KSR-STICK")
        return ""

    def insert_another():
        sticks.insert("OUT")

    script = (SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
              + [("sign.where", pull_then_write), ("sign.stick.insert", "cancel"), ("sign.stick.drop", "drop"),
                 ("sign.done", "")])
    return script, insert_another


def test_a_response_whose_write_was_given_up_is_kept_and_written_at_the_next_step(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    given_up, insert_another = _write_given_up_at_signing(sticks)
    run = run_script(sticks, given_up + [("next.kept.insert", insert_another), ("next.kept.choose", "1")] + SHUT_DOWN,
                     config=demo.config)
    out = demo.media / "OUT"
    assert files_on(out) == sorted([demo.response, *log_and_pdf(run)])
    verify(out, demo, request_bytes)
    text = flat(written_log(out, run)).replace(f" {CONTINUED.strip()} ", " ")  # the record's failure rows joined
    assert "is kept in memory and offered again before the next request" in text
    assert f"SIGNED BUT ON NO STICK: {demo.response}" in text
    assert f"{demo.response} (signed at" in text and "verified on stick OUT (folder)" in text
    assert run.ceremony.requests_signed == 1
    assert [entry.stick for entry in run.ceremony.signed] == ["stick OUT (folder)"]  # the closing record
    assert "lost now" not in flat(run.screen_text())
    # Everything signed and the final log are verified on a stick: a success, the late write said.
    assert run.code == 0
    assert f"{demo.response}: signed but written to no stick; verified later on stick OUT (folder)" in text


def test_a_response_kept_until_the_shutdown_and_written_there_is_a_success(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()
    given_up, insert_another = _write_given_up_at_signing(sticks)
    run = run_script(sticks, given_up
                     + [("next.kept.insert", "cancel"), ("next.kept.drop", "drop"),
                        ("next", "shutdown"), ("shutdown.kept.insert", insert_another), ("shutdown.kept.choose", "1"),
                        ("shutdown.log.choose", "1"), ("shutdown.done", "end")], config=demo.config)
    out = demo.media / "OUT"
    verify(out, demo, request_bytes)
    assert run.code == 0
    record = flat(written_log(out, run)).replace(f" {CONTINUED.strip()} ", " ")
    assert f"{demo.response}: signed but written to no stick; verified later on stick OUT (folder)" in record
    assert "lost now" not in flat(run.screen_text())


def test_every_write_attempt_is_logged(demo, sticks):
    failed = []

    def input_output_error_once(step, stick, name):
        if step == "write" and not failed:
            failed.append(name)
            raise OSError(errno.EIO, "Input/output error")

    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.stick.retry", ""), ("sign.done", "")] + SHUT_DOWN,
                     config=demo.config, fault_hook=input_output_error_once)
    assert failed == [demo.response]
    text = flat(written_log(demo.stick, run))
    attempt = f"Writing {demo.response}, {', '.join(log_and_pdf(run))} to stick KSR-STICK (folder) ..."
    assert text.count(f"{attempt} failed after") == 1 and "Input/output error" in text
    assert text.count(f"{attempt} done in") == 1
    # The failure's report spans lines: logged as rows of their own, never as a literal "\n".
    raw = written_log(demo.stick, run)
    assert "\\n" not in raw and re.search(r"^    (NOT written|Written but NOT verified)", raw, re.M)
    assert f"verified on stick KSR-STICK (folder)" in text


def test_a_second_signing_of_the_same_request_is_said_and_needs_again(demo, sticks):
    request_bytes = (demo.stick / demo.request).read_bytes()

    def insert_second():
        sticks.insert("SECOND")

    # The stick now holds this request's response too: the previous response is chosen by its place.
    previous = str(sorted([demo.previous, demo.response]).index(demo.previous) + 1)
    same_request = [("next", "another"), ("request.choose", "1"), ("request.previous", previous)] + ACCEPT_AND_CONFIRM
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.done", "")]
                     + same_request + [("verbal.again", "no")]
                     + same_request + [("verbal.again", "again"), ("sign.where", "other"),
                                       ("sign.stick.insert", insert_second), ("sign.stick.choose", "1"), ("sign.done", ""),
                                       ("next", "shutdown"), ("shutdown.log.choose", "1"), ("shutdown.done", "end")],
                     config=demo.config)
    verify(demo.stick, demo, request_bytes)
    verify(demo.media / "SECOND", demo, request_bytes)
    text = flat(run.log)
    assert text.count("THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY") == 2
    assert "verified on stick KSR-STICK (folder)" in text
    assert "declined" in text and text.count("SECOND SIGNING of") == 1
    assert "(signing number 2 of this request in this ceremony)" in text
    assert run.ceremony.requests_signed == 2


def test_the_same_request_in_other_bytes_is_a_second_signing_too(demo, sticks):
    """What the KSK signs is the zone and, bundle by bundle, the validity and the DNSKEY RRset: a
    request sent again with the same bundles but other bytes (here one more line break; a tool that
    writes the request anew changes its timestamp, its layout or its name) is the same request,
    said to be signed before, with both hashes, and signed only after 'again'."""
    data = (demo.stick / demo.request).read_bytes()
    (demo.stick / "ksr-again.xml").write_bytes(data + b"\n")  # listed first, before ksr-demo-...
    previous = str(sorted([demo.previous, demo.response]).index(demo.previous) + 1)
    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.choose", "2"), ("request.previous", "1")]
                     + ACCEPT_AND_CONFIRM + [("sign.where", ""), ("sign.done", "")]
                     + [("next", "another"), ("request.choose", "1"), ("request.previous", previous)]
                     + ACCEPT_AND_CONFIRM + [("verbal.again", "no")] + SHUT_DOWN, config=demo.config)
    assert run.code == 0 and run.ceremony.requests_signed == 1
    text = flat(run.log)
    assert "THIS REQUEST WAS SIGNED BEFORE IN THIS CEREMONY (1 time(s))" in text
    assert f"as {demo.response} from {demo.request}, request SHA-256 " in text  # the other bytes, named
    assert "Second signing of ksr-again.xml" in text and "declined" in text
