"""What the room sees on the Linux console: a title with readable contrast, and a screen left
clean when the console ends (the console has no alternate screen there)."""
import io
import re
from datetime import UTC, datetime

from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from appliance.ceremonylog import CeremonyLog
from appliance.console.app import ConsoleUI


def _run_one_screen() -> str:
    """What the console writes to a Linux console of 80x25 for one screen answered at once."""
    written = io.StringIO()
    output = Vt100_Output(written, lambda: Size(rows=25, columns=80), term="linux", enable_cpr=False)
    with create_pipe_input() as pipe:
        ui = ConsoleUI(CeremonyLog(lambda: datetime.now(UTC)), lambda: "STATUS-LINE", input=pipe, output=output,
                       on_ask=lambda key, prompt, app: pipe.send_text("ok\r"))

        async def screen():
            ui.show("Step 4 of 7: the verbal check", ["body"])
            return await ui.ask("q", "Answer:")

        assert ui.run(screen) == "ok"
    return written.getvalue()


def test_the_title_is_bold_white_on_blue_not_reverse_bold():
    """Reverse bold is dark grey on light grey on the Linux console (about 3:1); bold white on
    blue is bright white on #0000AA there."""
    written = _run_one_screen()
    before_title = written[:written.index("Step 4 of 7")]
    attributes = re.findall(r"\x1b\[([0-9;]*)m", before_title)[-1].split(";")
    # bold, bright white (the Linux console takes 90-97 as bold colours too), blue background
    assert {"1", "97", "44"} <= set(attributes)
    assert "7" not in attributes  # not reverse video


def test_the_screen_is_cleared_when_the_console_ends():
    written = _run_one_screen()
    last_status = written.rindex("STATUS-LINE")
    cleared = written.rindex("\x1b[2J")
    assert cleared > last_status
    assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|[\r\n]", "", written[cleared:]).strip() == ""
