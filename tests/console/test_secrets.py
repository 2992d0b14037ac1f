"""Secrets stay secret at the console (case ../shared/cases/hostile-stick/12): the PIN cannot be
yanked back after Ctrl-U, a PIN typed by habit at the question after a wrong PIN is neither drawn
nor logged, and an empty PIN never reaches the token. Keys go through the real input parser."""

import asyncio

import pytest

from appliance.commands.demo import PIN
from appliance.console.autopilot import Autopilot
from tests.console.harness import flat, run_script
from tests.console.scripts import LOG_IN, SET_CLOCK, SHUT_DOWN

pytestmark = pytest.mark.softhsm

CTRL_U, CTRL_Y, CTRL_K, CTRL_A, CTRL_W = "\x15", "\x19", "\x0b", "\x01", "\x17"


def test_a_pin_deleted_with_ctrl_u_cannot_be_yanked_at_a_later_question(demo, sticks):
    # The PIN typed, cleared (Ctrl-U, and Ctrl-A Ctrl-K, and Ctrl-W), typed again; Ctrl-Y later.
    pin_typing = f"{PIN}{CTRL_U}{PIN}{CTRL_A}{CTRL_K}{PIN} x{CTRL_W}{CTRL_W}{PIN}"
    run = run_script(sticks, SET_CLOCK + [("hsm.pin", pin_typing), ("hsm.seen", CTRL_Y + CTRL_Y),
                                          ("request.choose", f"cancel{CTRL_Y}")] + SHUT_DOWN, config=demo.config)
    assert "HSM activated." in run.log  # the PIN as finally typed logged in
    assert "Press Enter to continue to the request: -> ''" in flat(run.log)
    assert "-> 'cancel'" in flat(run.log)
    assert PIN not in run.log and PIN not in run.screen_text()


def test_a_pin_typed_at_the_question_after_a_wrong_pin_is_not_shown_or_logged(demo, sticks):
    prompt_rows = []

    class TypingSlowly(Autopilot):
        """At 'Try again?', types the answer, lets the screen be drawn, keeps the prompt row, then
        presses Enter (the plain autopilot sends answer and Enter at once)."""

        def __call__(self, key, prompt, app):
            if key != "hsm.retry":
                return super().__call__(key, prompt, app)
            self.asked.append((key, prompt))
            answer = self._answers(key, prompt)
            stage = []

            def drawn(_app):
                row = "".join(app.renderer._last_screen.data_buffer[23][x].char for x in range(80)).rstrip()
                if not stage:
                    stage.append("typed")
                    self._input.send_text(answer)
                elif stage == ["typed"] and app.current_buffer.text == answer:
                    stage.append("seen")
                    prompt_rows.append((answer, row))
                    self._input.send_text("\r")
                    asyncio.get_running_loop().call_soon(app.after_render.remove_handler, drawn)

            app.after_render.add_handler(drawn)

    run = run_script(sticks, SET_CLOCK + [("hsm.pin", "000000"), ("hsm.retry", PIN), ("hsm.retry", "maybe"),
                                          ("hsm.retry", "ye")] + [("hsm.retry", "yes")] + LOG_IN
                     + [("request.choose", "cancel")] + SHUT_DOWN, config=demo.config, autopilot=TypingSlowly)
    shown_while_typing = dict(prompt_rows)
    assert PIN not in shown_while_typing[PIN] and "maybe" not in shown_while_typing["maybe"]
    assert shown_while_typing["ye"].endswith("Type 'yes' or 'no': ye")  # what may become an answer is drawn
    log = run.log
    assert PIN not in log and "maybe" not in log
    assert PIN not in run.screen_text() and "maybe" not in run.screen_text()
    assert flat(log).count("That was neither 'yes' nor 'no' (it is not shown or logged).") == 3
    assert "Try the PIN again? Type 'yes' or 'no': -> (typed, not shown)" in flat(log)
    assert "Try the PIN again? Type 'yes' or 'no': -> 'yes'" in flat(log)
    assert "HSM activated." in log  # the ceremony went on: a stray answer does not end it


def test_an_empty_pin_is_never_sent_to_the_token(demo, sticks):
    run = run_script(sticks, SET_CLOCK + [("hsm.pin", ""), ("hsm.pin", ""), ("hsm.pin", PIN), ("hsm.seen", ""),
                                          ("request.choose", "cancel")] + SHUT_DOWN, config=demo.config)
    text = flat(run.log)
    assert text.count("Nothing was typed; an empty PIN is never sent to the token.") == 2
    assert "WRONG PIN" not in text  # no empty PIN reached C_Login
    assert "HSM activated." in text


def test_the_hsm_layer_refuses_an_empty_pin_before_the_token_sees_it(demo, monkeypatch):
    """`ceremony sign` and `ceremony keys` prompt with getpass: an empty answer stops there too."""
    from pkcs11 import Token

    from appliance.errors import UsageError
    from appliance.hsm import Hsm
    from appliance.signing.config import load_signing_config

    logins = []
    real_open = Token.open
    monkeypatch.setattr(Token, "open", lambda self, **kw: logins.append(kw) or real_open(self, **kw))
    monkeypatch.setenv("SOFTHSM2_CONF", str(demo.directory / "softhsm2.conf"))
    hsm = Hsm(load_signing_config(demo.config).hsm, pin_prompt=lambda prompt: "")
    with pytest.raises(UsageError, match="an empty PIN is never sent to token 'ceremony-demo': nothing was tried"):
        hsm.open()
    hsm.close()
    assert not [kw for kw in logins if "user_pin" in kw]
