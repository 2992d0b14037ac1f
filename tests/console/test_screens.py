"""Screens fit a bare 80x25 console: no line wider than 79 columns, hashes laid out to read aloud."""

import pytest

from appliance.console.app import SCREEN_WIDTH, _fit
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint, _word_lists


def longest_word_digest() -> Fingerprint:
    even, odd = _word_lists()
    e = max(range(256), key=lambda b: len(even[b]))
    o = max(range(256), key=lambda b: len(odd[b]))
    return Fingerprint(bytes([e, o] * 16))


def test_hash_screen_fits_even_with_the_longest_words():
    lines = hash_screen(longest_word_digest(), "the request", "ksr-root-2017-q2-0.xml" + "x" * 240)
    assert max(len(line) for line in lines) <= SCREEN_WIDTH
    assert len(lines) <= 21  # the body rows of an 80x25 screen


def test_hash_screen_numbers_every_group_and_word():
    fingerprint = Fingerprint.of(b"The quick brown fox jumps over the lazy dog")
    text = "\n".join(hash_screen(fingerprint, "the request", "x"))
    assert " 1:D7A8" in text and "16:E592" in text
    assert " 1. STOPWATCH" in text and " 2. PARAMOUNT" in text and "32. " + fingerprint.words[31].upper() in text
    assert "".join(fingerprint.hex_groups()).upper() == "".join(
        part.split(":")[1] for line in text.splitlines() for part in line.split() if ":" in part and len(part) > 4)


def test_long_lines_are_broken_under_their_indentation():
    lines = _fit(["    " + "word " * 40, "", "short"])
    assert all(len(line) <= SCREEN_WIDTH for line in lines)
    assert lines[1].startswith("      word")  # continuation two columns further in
    assert lines[-2:] == ["", "short"]


def test_long_screens_scroll_with_page_keys():
    import asyncio
    import io
    from datetime import UTC, datetime

    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output.vt100 import Vt100_Output

    from appliance.ceremonylog import CeremonyLog
    from appliance.console.app import ConsoleUI

    seen = []
    with create_pipe_input() as pipe:
        def keys(key, prompt, app):
            def after(_app):
                if not seen:
                    seen.append(ui._scroll_hint())
                    pipe.send_text("\x1b[6~\x1b[6~")  # PgDn twice
                    asyncio.get_running_loop().call_later(0.2, lambda: (seen.append(ui._scroll_hint()),
                                                                        pipe.send_text("\x1b[5~done\r")))
            app.after_render.add_handler(after)

        output = Vt100_Output(io.StringIO(), lambda: Size(rows=25, columns=80), term="linux", enable_cpr=False)
        ui = ConsoleUI(CeremonyLog(lambda: datetime.now(UTC)), lambda: "status", input=pipe, output=output,
                       on_ask=keys)

        async def screen():
            ui.show("Long", [f"line {n}" for n in range(1, 61)])
            return await ui.ask("q", "Answer:")

        assert ui.run(screen) == "done"
    assert seen[0] == "-- lines 1-21 of 60; PgUp/PgDn to scroll --"
    assert seen[1] == "-- lines 40-60 of 60; PgUp/PgDn to scroll --"  # two pages down, stopped at the end


@pytest.mark.softhsm
def test_every_question_of_a_ceremony_is_drawn_whole_on_80x25(demo, sticks):
    """The real screens as the terminal holds them: title on top, question and status at the bottom."""
    import re

    from tests.console.harness import run_script, snapshotting
    from tests.console.scripts import (
        ACCEPT_AND_CONFIRM,
        IMPORT_WITH_PREVIOUS,
        LOG_IN,
        SET_CLOCK,
        SHUT_DOWN,
    )

    screens = {}
    script = SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM + [("sign.where", ""), ("sign.done", "")] \
        + SHUT_DOWN
    run_script(sticks, script, config=demo.config, autopilot=snapshotting(screens))
    assert set(screens) == {key for key, _ in script}
    status = re.compile(r"^ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \| HSM: [a-z ,-]+ \| Sticks: KSR-STICK$")
    for key, rows in screens.items():
        assert rows[0].startswith((" Step ", " Shut down")), (key, rows[0])
        assert status.match(rows[24]), (key, rows[24])
        assert rows[23].strip(), (key, "no question on the prompt row")
    assert screens["verbal.confirm"][23].startswith("Do they match? Type 'yes' to sign")
    assert "32. " in "\n".join(screens["verbal.confirm"])  # all 32 words on the screen at once
    assert "32. " in "\n".join(screens["sign.done"])
    assert "REQUEST ACCEPTED" in screens["request.accepted"][1]  # the verdict before any scrolling
