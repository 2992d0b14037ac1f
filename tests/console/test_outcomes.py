"""Issue 12 through the real console (folder sticks, the demo's token): the exit code tells the
truth, endings stay on screen until acknowledged, writes go only where the operators said, a log is
never dropped unasked, and mistakes are found before the first question."""

import re
import shutil
from pathlib import Path

import pytest

from appliance.console import preflight
from appliance.errors import UsageError
from tests.console.harness import files_on, flat, run_script, written_log
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN

pytestmark = pytest.mark.softhsm

SIGN_AND_WRITE = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM


def test_a_pulled_stick_never_sends_the_response_to_another_unasked(demo, sticks):
    other = sticks.make("STICK1")

    def pull_then_enter():
        sticks.pull("KSR-STICK")
        return ""  # Enter: "write to KSR-STICK", which is gone; STICK1 is still in

    run = run_script(sticks, SET_CLOCK + LOG_IN + [("request.stick.choose", "1")] + IMPORT_WITH_PREVIOUS
                     + ACCEPT_AND_CONFIRM + [("sign.where", pull_then_enter), ("sign.stick.choose", "1"),
                                             ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    # The change of target was a question, answered before anything reached STICK1.
    asked = dict(run.asked)
    assert "sign.stick.choose" in asked
    text = flat(written_log(other, run))
    assert "The stick KSR-STICK, named for this write, is no longer present." in text
    assert text.index("ANSWER Stick number (or 'cancel'): -> '1'") < text.index(f"Writing {demo.response}")
    assert demo.response in files_on(other) and run.code == 0


def test_the_final_log_never_goes_unasked_to_the_only_stick_left(demo, sticks):
    def swap_for_a_configuration_stick():
        sticks.pull("KSR-STICK")
        sticks.insert("CONFIG", {"ceremony.toml": demo.config.read_bytes()})
        return "shutdown"

    run = run_script(sticks, SIGN_AND_WRITE + [("sign.where", ""), ("sign.done", ""),
                                               ("next", swap_for_a_configuration_stick),
                                               ("shutdown.log.choose", "1"), ("shutdown.done", "end")],
                     config=demo.config)
    prompt = dict(run.asked)["shutdown.log.choose"]
    assert prompt.startswith("Stick number")
    assert "1. stick CONFIG (folder)" in run.screen_text()
    assert run.code == 0


def test_cancelling_the_final_log_needs_a_confirmation_naming_it_and_exits_4(demo, sticks):
    run = run_script(sticks, SIGN_AND_WRITE + [("sign.where", ""), ("sign.done", ""), ("next", "shutdown"),
                                               ("shutdown.log.choose", "cancel"), ("shutdown.log.drop", "back"),
                                               ("shutdown.log.choose", "cancel"), ("shutdown.log.drop", ""),
                                               ("shutdown.log.drop", "drop"), ("shutdown.done", "end")],
                     config=demo.config)
    log_name = run.ceremony.log.filename
    text = flat(run.log)
    assert f"If you give up this write, these files are on NO stick, and are lost when the ceremony ends: " \
           f"{log_name}" in text
    assert run.code == 4  # everything signed, but the final log is on no stick
    assert "WARNING: the final log is NOT on any stick." in flat("\n".join(run.ceremony.ui.lines))
    # The copy on the stick is the one written after signing, not the final one.
    assert "Closing record" not in (demo.stick / log_name).read_text()


def test_a_response_not_written_is_exit_4(demo, sticks):
    run = run_script(sticks, SIGN_AND_WRITE + [("sign.where", "other"), ("sign.stick.insert", "cancel"),
                                               ("sign.stick.drop", "drop"), ("sign.done", ""),
                                               # the kept response is offered again, and given up again
                                               ("next.kept.choose", "cancel"), ("next.kept.drop", "drop"),
                                               ("next", "shutdown"),
                                               ("shutdown.kept.choose", "cancel"), ("shutdown.kept.drop", "drop"),
                                               *SHUT_DOWN[1:]],
                     config=demo.config)
    assert run.code == 4
    assert f"{demo.response}: signed but written to no stick" in flat(run.log)


def test_everything_signed_and_written_is_exit_0_and_the_end_needs_a_typed_word(demo, sticks):
    run = run_script(sticks, SIGN_AND_WRITE + [("sign.where", ""), ("sign.done", ""), ("next", "shutdown"),
                                               ("shutdown.log.choose", "1"), ("shutdown.done", ""),
                                               ("shutdown.done", "end")], config=demo.config)
    assert run.code == 0 and run.ceremony.ended


def test_a_signing_failure_stays_on_screen_and_sets_the_exit_code(demo, sticks, monkeypatch):
    from appliance.console import checking
    from appliance.errors import HsmError

    def failing(*args):
        raise HsmError("the token was removed while signing")

    monkeypatch.setattr(checking, "sign", failing)
    run = run_script(sticks, SIGN_AND_WRITE + [("sign.failed", "")] + SHUT_DOWN, config=demo.config)
    assert run.code == 3
    assert "SIGNING FAILED: the token was removed while signing" in flat(run.log)


@pytest.mark.parametrize("setting, message", [
    ({"policy": "nosuch"}, "no shipped policy is named nosuch"),
    ({"schema": "nosuch"}, "unknown schema 'nosuch'"),
])
def test_a_wrong_policy_or_schema_is_refused_before_the_first_question(demo, sticks, setting, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        run_script(sticks, [], config=demo.config, **setting)


def test_a_missing_configuration_or_module_is_refused_before_the_first_question(demo, sticks, tmp_path):
    with pytest.raises(UsageError, match="cannot read signing configuration /nonexist.toml"):
        run_script(sticks, [], config=Path("/nonexist.toml"))
    broken = tmp_path / "no-module.toml"
    broken.write_text(demo.config.read_text().replace('module = "', 'module = "/nonexist/'), "utf-8")
    with pytest.raises(UsageError, match="PKCS#11 module /nonexist/.* does not exist"):
        run_script(sticks, [], config=broken)


def test_a_configuration_on_a_stick_is_checked_like_one_named(demo, sticks, monkeypatch):
    # The stick's configuration with a schema that does not exist is refused when read, never after the PIN.
    monkeypatch.setattr(preflight, "IMAGE_CONFIG", demo.directory / "no-such-image-config.toml")
    shutil.rmtree(demo.stick)
    sticks.make("CONFIG", {"ceremony.toml": demo.config.read_bytes()})
    run = run_script(sticks, SET_CLOCK + [("hsm.config.other", "cancel"), ("hsm.end", "end"),
                                          ("shutdown.log.choose", "1"), ("shutdown.done", "end")],
                     config=None, schema="nosuch")
    assert "The configuration cannot be used: unknown schema 'nosuch'" in flat(run.log)
    assert run.code == 2
    assert "hsm.pin" not in dict(run.asked)


def stayed_on_screen(run, reason: str, prompt: str) -> bool:
    """True when the text `reason` was shown and no new screen replaced it before the operators
    answered `prompt`: the reason was on the screen while they were asked."""
    entries = run.ceremony.log.entries
    answered = next(n for n, e in enumerate(entries) if e.kind == "ANSWER" and e.headline.startswith(prompt))
    shown = max(n for n, e in enumerate(entries[:answered])
                if reason in e.headline or any(reason in line for line in e.body))
    return not any(e.kind == "SCREEN" for e in entries[shown + 1: answered])


def test_every_ending_and_abort_stays_on_screen_until_acknowledged(demo, sticks):
    from appliance.commands.run import summary

    run = run_script(sticks, SET_CLOCK + [("hsm.pin", "000000"), ("hsm.retry", "no"), ("hsm.end", "end"),
                                          ("shutdown.log.choose", "cancel"), ("shutdown.log.drop", "drop"),
                                          ("shutdown.done", "end")], config=demo.config)
    assert stayed_on_screen(run, "Clock set.", "Clock set. Press Enter")
    assert stayed_on_screen(run, "WRONG PIN", "Type 'end' to end the ceremony")
    assert stayed_on_screen(run, "CLOSING RECORD", "Type 'end' once the record is written down")
    assert run.code == 3  # the first failure decides: the HSM, then the log on no stick
    left_on_the_terminal = summary(run.ceremony, run.code)
    assert f"NOT DONE: the final log {run.ceremony.log.filename} is on no stick" in left_on_the_terminal
    assert left_on_the_terminal[-1] == "exit code 3"


def test_an_abort_at_the_verbal_check_stays_on_screen(demo, sticks):
    run = run_script(sticks, SIGN_AND_WRITE[:-1] + [("verbal.confirm", "no"), ("verbal.aborted", "")] + SHUT_DOWN,
                     config=demo.config)
    assert stayed_on_screen(run, "ABORTED. Nothing is signed.", "ABORTED. Press Enter")
