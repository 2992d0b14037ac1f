"""Text from a stick is shown, never obeyed: file names and stick names carrying line breaks,
terminal controls, bidi controls and invisible characters, through the real console (folder
sticks, pipe input, vt100 output at 80x25) and the ceremony log.

Cases ../shared/cases/hostile-stick/01 (a name that draws a forged hash block on the verbal
check's first page), 07 (request fields with line breaks in the FAIL lines) and 15 (ESC
sequences in a name written raw into the log)."""

import re
import shutil
from pathlib import Path

import pytest

from appliance.ceremonylog import CONTINUED
from appliance.console.app import FIXED_ROWS, SCREEN_WIDTH
from appliance.console.autopilot import Autopilot
from appliance.console.step_sign import response_name
from appliance.console.step_verbal import hash_screen
from appliance.digest import Fingerprint
from appliance.text import shown
from image.paper_checks import pdf_pages
from tests.console.harness import drawn_rows, flat, run_script, snapshotting, written_log
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN
from tests.console.test_ceremonylog import FORGED, FORGED_ROW
from tests.console.test_look_back import F3
from tests.test_text import CLASSES

pytestmark = pytest.mark.softhsm

HOSTILE_STICK = Path(__file__).resolve().parents[1] / "fixtures" / "hostile-stick"
# Every class of tests/test_text.py that a file name can hold (no NUL, no lone surrogate, no "/").
HOSTILE = "".join(c for name, chars in CLASSES.items() if name != "lone surrogates" for c in chars if c != "\x00")
HOSTILE = "\n" + HOSTILE.replace("\n", "")  # starts with LF: its escape must follow the marker everywhere
MARKER = "MARK"
# prompt_toolkit's own escape sequences in what the terminal was sent, and its forms of a control
# character that reached its layout (^[, <9b>): the second must never appear.
TERMINAL_SEQUENCES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-B]|\x1b[=>]|\x1b\][^\x07]*\x07")
GROUP = re.compile(r"\b\d{1,2}:[0-9A-F]{4}\b")
PGDN = "\x1b[6~"


def forged_name(separator: str) -> tuple[str, Fingerprint]:
    """Case 01's name: a caption, then the hash block of another file, pushing the rest down."""
    other = Fingerprint.of(b"the request the ZSK operator really sent")
    groups = [other.hex[i:i + 4].upper() for i in range(0, 64, 4)]
    rows = ["  " + "  ".join(f"{n + 1:>2}:{groups[n]}" for n in range(r, r + 8)) for r in (0, 8)]
    sep = separator
    name = "ksr-root-2027-q1-0.xml (the request)" + sep + sep + rows[0] + sep + rows[1] + sep + sep * 15 + "ksr.xml"
    assert len(name.encode()) <= 255
    return name, other


@pytest.mark.parametrize("separator", ["\n", "\u2028", "\r\n", "\x85", "\x0b"],
                         ids=["LF", "U+2028", "CRLF", "U+0085", "VT"])
def test_the_verbal_check_shows_only_the_real_hash_on_its_first_page(demo, sticks, separator):
    name, other = forged_name(separator)
    data = (demo.stick / demo.request).read_bytes()
    (demo.stick / demo.request).rename(demo.stick / name)
    screens = {}
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.accepted", ""),
                                                                          ("verbal.confirm", "no"),
                                                                          ("verbal.aborted", "")] + SHUT_DOWN,
                     config=demo.config, autopilot=snapshotting(screens))
    page = screens["verbal.confirm"]
    real = Fingerprint.of(data)
    expected = hash_screen(real, "the request", name)
    assert page[1:1 + len(expected)] == expected  # the whole block, at its fixed rows
    real_groups = [real.hex[i:i + 4].upper() for i in range(0, 64, 4)]
    assert GROUP.findall(page[3] + page[4]) == [f"{n + 1}:{g}" for n, g in enumerate(real_groups)]
    assert page[15].startswith("File: ksr-root-2027-q1-0.xml (the request)\\")
    forged = {f"{n // 4 + 1}:{other.hex[n:n + 4].upper()}" for n in range(0, 64, 4)} - set(GROUP.findall(page[3] + page[4]))
    for number, row in enumerate(page):
        if number != 15:  # the escaped name's own row: one row, led by "File: "
            assert not forged & set(GROUP.findall(row)), (number, row)
    # The stick's list: the name on one row (escaped, cut), nothing from it on a row of its own.
    listing = screens["request.choose"]
    named = [row for row in listing if "ksr-root-2027-q1-0.xml" in row]
    assert len(named) == 1 and named[0].startswith("    1. ksr-root-2027-q1-0.xml (the request)\\")
    assert all(row in named for row in listing if GROUP.search(row))
    assert "Verbal check not confirmed for ksr-root-2027-q1-0.xml (the request)\\" in flat(run.log)


def test_no_character_from_a_stick_reaches_the_screen_or_the_log_unescaped(demo, sticks):
    """Every code point class in the request's name and the stick's name, a whole ceremony signed
    and written: every screen, the status line and every log line are plain visible text, and
    the only line breaks are the console's own."""
    request_name = f"ksr-{MARKER}{HOSTILE}.xml"
    (demo.stick / demo.request).rename(demo.stick / request_name)
    stick_name = f"KSR{HOSTILE[:12]}"
    stick = demo.media / stick_name
    demo.stick.rename(stick)
    screens = {}
    script = (SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
              + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN)
    run = run_script(sticks, script, config=demo.config, autopilot=snapshotting(screens))
    assert run.code == 0
    assert response_name(request_name) in [p.name for p in stick.iterdir()]  # signed and written
    log = written_log(stick, run)
    texts = {"log": log.split("\n")} | {f"screen at {key}": rows for key, rows in screens.items()}
    for where, rows in texts.items():
        for row in rows:
            assert shown(row, limit=None) == row, (where, row)  # nothing left to escape
            # The name's first character, LF, is always written as its escape right after the marker
            # (or as "_" in the response's name, which the appliance makes plain: step_sign.response_name).
            assert all(after in ("\\n", "__") for after in re.findall(f"{MARKER}(..)", row)), (where, row)
    assert f"{MARKER}\\n\\x01\\x07" in log
    status = screens["request.choose"][24]
    assert "Sticks: KSR\\n" in status  # the stick's name on the status line, escaped
    terminal = TERMINAL_SEQUENCES.sub("", run.terminal)
    for char in HOSTILE:
        if char not in "\r\n\b":  # prompt_toolkit moves the cursor with these itself
            assert char not in terminal, hex(ord(char))
    assert "^[" not in terminal and "<9b>" not in terminal  # no control reached the layout


def test_escape_sequences_in_a_name_never_reach_the_log(demo, sticks):
    """Case 15: ESC [ 8 m (concealed text) in the request's name."""
    name = "ksr-\x1b[8m.xml"
    (demo.stick / demo.request).rename(demo.stick / name)
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    log = written_log(demo.stick, run)
    assert "\x1b" not in log
    assert "Request ksr-\\x1b[8m.xml from stick KSR-STICK (folder)" in flat(log)
    assert "skr-_[8m.xml on stick KSR-STICK (folder)" in flat(log)  # the response's name is made plain


def test_a_bundle_id_with_line_breaks_stays_inside_its_fail_line(demo, sticks):
    """Case 07 on the console: a refused request whose bundle id carries LF, fake PASS lines and a
    fake "REQUEST ACCEPTED" summary."""
    for file in demo.stick.glob("ksr-*.xml"):
        file.unlink()
    shutil.copy(HOSTILE_STICK / "ksr-lf-bundle.xml", demo.stick / "ksr-lf-bundle.xml")
    screens = {}
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [("request.refused", "")] + SHUT_DOWN,
                     config=demo.config, autopilot=snapshotting(screens))
    # Long rows wrap at spaces (the console's own line breaks), so the injected words may stand on a
    # continuation row, but always behind the escapes of the line feeds that were to start them.
    fake = ("REQUEST ACCEPTED", "PASS  KSR-BUNDLE-POP", "PASS  KSR-BUNDLE-COUNT")
    for where, rows in {"log": run.ceremony.log.render().split("\n"), "screen": screens["request.refused"]}.items():
        assert not [row for row in rows if row.strip().startswith(fake)], where
        assert not [row for row in rows if "ACCEPTED" in row and "\\n" not in row], where
    assert "FAIL KSR-BUNDLE-POP: bundle 9 (49a7ace4\\nPASS KSR-BUNDLE-POP\\nPASS" in flat(run.log)
    assert "REQUEST REFUSED: " in run.log and "KSR-BUNDLE-POP" in run.log.split("REQUEST REFUSED: ")[1].split("\n")[0], run.log


def spaced_forgery() -> tuple[str, set[str]]:
    """A request name of plain visible characters (spaces included: legal on every file system)
    built so that, wrapped at its spaces on the screen or in the log or continued at column 80 on
    paper, a row of its own reads like a row of the closing record's hash block: the groups of
    another file's hash, at their columns."""
    other = Fingerprint.of(b"the request the ZSK operator really sent")
    row = other.aloud()[0]  # "   1:CD4B   2:E316 ...": 72 columns
    name = "ksr-root-2027-q1-0".ljust(69, "_") + row + ".xml"  # on paper "   Request " + 69 columns end a row
    assert len(name.encode()) <= 255 and shown(name, limit=None) == name
    return name, set(GROUP.findall(row))


def test_the_closing_record_gives_no_row_to_a_name(demo, sticks, tmp_path):
    """The closing record (the last screen, the log's last entry, the first page of the log's PDF)
    is what witnesses copy. A name wrapped at its own spaces, or continued on paper, would stand on
    rows of its own in it, looking like the hash rows under it. Each record row holding a name
    holds its label too (`Request`, `Response`), on the screen, in the log and on paper."""
    name, forged = spaced_forgery()
    (demo.stick / demo.request).rename(demo.stick / name)
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    assert run.code == 0 and response_name(name) in [p.name for p in demo.stick.iterdir()]
    log = written_log(demo.stick, run)
    record = log[log.index("NOTE   Closing record"):].split("\n")
    pdf = demo.stick / (run.ceremony.log.filename.removesuffix(".log") + ".pdf")
    paper = [row for page in pdf_pages(pdf) for row in page]
    paper = paper[:paper.index(run.ceremony.log.title)]  # the record's pages, before the log's own
    screen = run.ceremony.ui.lines  # the last screen's rows, all pages of it: the record
    for where, rows in {"screen": screen, "log": record, "paper": paper}.items():
        assert any(GROUP.search(row) for row in rows), where  # the real hash rows are there
        for row in rows:
            if forged & set(GROUP.findall(row)):
                assert re.search(r"(Request|Response) [ks]kr-root-2027-q1-0", row), (where, row)


def test_the_look_back_shows_the_logs_own_rows_and_marks(demo, sticks):
    """F3 shows the log rendered to the screen's 79 columns, so that the console never breaks a row
    of it again (a break there would start a row with the tail of a name, without the log's mark):
    every row the look-back shows is a row of the log at that width, and the rows holding the
    fake hash row of a name with spaces are continued rows (`ceremonylog.CONTINUED`) or hold our
    words before the name."""
    name = "ksr-" + " " * 60 + FORGED_ROW + ".xml"
    (demo.stick / demo.request).rename(demo.stick / name)
    looked: list[str] = []

    class LookingBack(Autopilot):
        def __call__(self, key, prompt, app):
            def drawn(_app):
                rows = drawn_rows(app)
                if rows and "LOOKING BACK: the log so far" in rows[0]:
                    looked.extend(rows[1:1 + 25 - FIXED_ROWS])

            app.after_render.add_handler(drawn)
            super().__call__(key, prompt, app)

    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + [
        ("request.accepted", ""), ("verbal.confirm", (F3, *[PGDN] * 12, "\r", "no")), ("verbal.aborted", "")]
        + SHUT_DOWN, config=demo.config, autopilot=LookingBack)
    assert "NOTE Looked back at the log so far (F3)" in flat(run.log)
    rows = set(run.ceremony.log.render(SCREEN_WIDTH).split("\n"))
    assert "=" * SCREEN_WIDTH in looked
    assert not [row for row in looked if row and row not in rows and not row.startswith("End of log")]
    forging = [row for row in looked if FORGED.search(row)]
    assert forging  # the look-back reached the name's rows
    for row in forging:
        assert row.startswith(CONTINUED) or re.match(r"\d{4}-|    (1\. |SHA-256 of |File: )", row), row
