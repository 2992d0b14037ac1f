"""What a new operator met running `make demo` and the console in folder mode (notes/r13op.md): a
stick that fails while another is already in ('other'), a word typed at the question after a
failure, the demo's report when the response went to another stick, and what the screen says
when printing is not possible or a job fails."""

import errno

import pytest

from appliance.commands.demo import INTRO, check_outputs
from appliance.console import printing
from tests.console.harness import files_on, flat, log_and_pdf, run_script
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN
from tests.console.test_ceremony import verify
from tests.printing.test_console_print import FakeCups

pytestmark = pytest.mark.softhsm
UP_TO_SIGNED = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM  # then: where to write


def _every_write_to(name):
    def fails(step, stick, _file):
        if step == "write" and stick.name == name:
            raise OSError(errno.EIO, "Input/output error")
    return fails


def test_after_a_failed_write_other_chooses_a_stick_already_in(demo, sticks):
    """The stick that failed stays in, a good one is in already: 'other' lists the sticks to choose
    from. Before, any word there retried the failing stick, and only 'cancel' then 'back' led to
    the good one."""
    request_bytes = (demo.stick / demo.request).read_bytes()

    def insert_out_then_write():
        sticks.insert("OUT")
        return ""

    # Sticks listed by name: KSR-STICK (the one failing), OUT.
    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", insert_out_then_write), ("sign.stick.retry", "other"), ("sign.stick.choose", "2"),
                        ("sign.done", ""), ("next", "shutdown"), ("shutdown.log.choose", "2"),
                        ("shutdown.done", "end")],
                     config=demo.config, fault_hook=_every_write_to("KSR-STICK"))
    out = demo.media / "OUT"
    assert files_on(out) == sorted([demo.response, *log_and_pdf(run)])
    verify(out, demo, request_bytes)
    assert "Type 'other' to choose a stick that is already in." in flat(run.screen_text())
    assert run.code == 0


def test_a_word_at_the_question_after_a_failure_is_not_taken_for_enter(demo, sticks):
    """Only a bare Enter retries the stick that failed: a slip ('yes', 'otehr') is said and asked
    again, never a silent new attempt on a failing stick."""
    failed = []

    def input_output_error_once(step, stick, name):
        if step == "write" and not failed:
            failed.append(name)
            raise OSError(errno.EIO, "Input/output error")

    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", ""), ("sign.stick.retry", "otehr"), ("sign.stick.retry", ""),
                        ("sign.done", "")] + SHUT_DOWN,
                     config=demo.config, fault_hook=input_output_error_once)
    assert "That is not Enter, 'other' or 'cancel'." in flat(run.screen_text())
    attempt = f"Writing {demo.response}, {', '.join(log_and_pdf(run))} to stick KSR-STICK (folder) ..."
    assert flat(run.log).count(f"{attempt} failed after") == 1
    assert run.code == 0


def test_other_at_the_replace_question_chooses_another_stick(demo, sticks):
    """A response of the same name already on the stick: 'other' leads to the sticks present (before,
    it asked the same question again until a stick was inserted)."""
    request_bytes = (demo.stick / demo.request).read_bytes()
    older = b"<KSR>an older copy</KSR>\n"
    (demo.stick / demo.response).write_bytes(older)

    def insert_out_then_write():
        sticks.insert("OUT")
        return ""

    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", insert_out_then_write), ("sign.stick.exists", "other"),
                        ("sign.stick.choose", "2"), ("sign.done", ""), ("next", "shutdown"),
                        ("shutdown.log.choose", "2"), ("shutdown.done", "end")], config=demo.config)
    verify(demo.media / "OUT", demo, request_bytes)
    assert (demo.stick / demo.response).read_bytes() == older
    assert run.code == 0


def test_the_demo_finds_and_checks_a_response_written_to_another_stick(demo, sticks, capfd):
    """`ceremony demo` after the operators typed 'other': the response is found where it was written
    and checked, not reported as 'none was written' with exit status 1 after a console that ended 0."""
    def insert_out():
        sticks.insert("OUT")
        return "other"

    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", insert_out), ("sign.stick.choose", "1"), ("sign.done", ""),
                        ("next", "shutdown"), ("shutdown.log.choose", "2"), ("shutdown.done", "end")],
                     config=demo.config)
    assert run.code == 0
    capfd.readouterr()
    assert check_outputs(demo, run.code, run.ceremony) == 0
    out = capfd.readouterr().out
    assert f"Response: {demo.media / 'OUT' / demo.response}" in out
    assert f"Log:      {demo.media / 'OUT' / run.ceremony.log.filename}" in out
    assert "RESPONSE ACCEPTED" in out


def test_the_demo_says_where_a_response_is_not(demo, capsys):
    """The response's stick was removed after the write: said as such, exit status 4 (media)."""
    class Ended:
        requests_signed = 1
        outputs = [f"{demo.response} on stick GONE (folder)"]

        class log:
            filename = "ceremony-20270101T000000Z.log"

    assert check_outputs(demo, 0, Ended) == 4
    out = capsys.readouterr().out
    assert f"Response: on no stick in {demo.media} (none written, or its stick was removed)" in out


def test_the_demos_introduction_fits_the_80_column_terminal():
    assert all(len(line) <= 80 for line in INTRO.splitlines())


def test_without_a_printer_the_screen_says_what_now_and_the_range_of_n(demo, sticks, tmp_path, monkeypatch):
    """No scheduler: the screen says nothing was printed, that the ceremony goes on with the log
    untouched and where a copy can be printed later; 'print 21' is told the range of N."""
    monkeypatch.setenv("CUPS_SERVER", str(tmp_path / "no-cupsd.sock"))
    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", ""), ("sign.done", ""), ("next", "print 21"), ("next", "print")]
                     + SHUT_DOWN, config=demo.config)
    assert run.code == 0 and run.ceremony.ended
    screen = flat(run.screen_text())
    assert ("That is not one of 'another', 'shutdown', 'print N' (N copies, 1 to 20; what was typed is not "
            "shown or logged).") in screen
    assert flat(printing.NOT_PRINTED) in screen


def test_a_failed_print_job_says_what_to_do(demo, sticks, monkeypatch):
    FakeCups(monkeypatch, done=False)
    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", ""), ("sign.done", ""), ("next", "print 2")] + SHUT_DOWN,
                     config=demo.config)
    assert run.code == 0
    assert flat(printing.PRINT_AGAIN) in flat(run.screen_text())


def test_other_after_a_failed_write_lists_the_requests_stick_passed_over_at_first(demo, sticks):
    """'other' at the first question passes over the request's stick; once the stick chosen
    instead failed, 'other' lists every stick present, the request's among them. Before, the
    request's stick stayed left out and only the failing stick was offered (notes/s4rop.md)."""
    request_bytes = (demo.stick / demo.request).read_bytes()

    def insert_out_then_other():
        sticks.insert("OUT")
        return "other"

    # Listed first: OUT alone (the request's stick passed over); after the failure: KSR-STICK, OUT.
    run = run_script(sticks, UP_TO_SIGNED
                     + [("sign.where", insert_out_then_other), ("sign.stick.choose", "1"),
                        ("sign.stick.retry", "other"), ("sign.stick.choose", "1"),
                        ("sign.done", ""), ("next", "shutdown"), ("shutdown.log.choose", "1"),
                        ("shutdown.done", "end")],
                     config=demo.config, fault_hook=_every_write_to("OUT"))
    assert demo.response in files_on(demo.stick)
    verify(demo.stick, demo, request_bytes)
    assert "  1. stick KSR-STICK (folder)" in run.screen_text()
    assert run.code == 0
