"""The transcript: every kind of entry, secrets never recorded, 80 columns, named by its start."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from appliance.ceremonylog import CONTINUED, INDENT, WIDTH, CeremonyLog, flowing, unwrapped


class Ticking:
    def __init__(self):
        self.moment = datetime(2027, 1, 15, 14, 5, 0, tzinfo=UTC)

    def __call__(self):
        self.moment += timedelta(seconds=1)
        return self.moment


def test_named_by_start_time():
    log = CeremonyLog(Ticking())
    assert log.filename == "ceremony-20270115T140501Z.log"


def test_every_entry_is_timestamped_and_kept_in_order():
    log = CeremonyLog(Ticking())
    log.step("Step 1 of 6: Set the clock")
    log.screen("Step 1 of 6: Set the clock", ["Set the clock.", "", "  indented line"])
    log.answer("UTC date and time:", "2027-01-15 14:05")
    log.text(["", "Clock set.", "Old time: x"])
    log.note("a note", "with a body")
    log.error("went wrong")
    text = log.render()
    kinds = [e.kind for e in log.entries]
    assert kinds == ["STEP", "SCREEN", "ANSWER", "TEXT", "NOTE", "ERROR"]
    assert "2027-01-15T14:05:03Z SCREEN Step 1 of 6: Set the clock" in text
    assert "\n      indented line\n" in text  # screen layout kept, indented under the entry
    assert "ANSWER UTC date and time: -> '2027-01-15 14:05'" in text
    assert "TEXT   Clock set." in text
    assert text.index("Set the clock.") < text.index("Clock set.") < text.index("went wrong")
    assert text.endswith("entries, rendered 2027-01-15T14:05:08Z\n")


def test_hidden_answers_are_never_recorded():
    log = CeremonyLog(Ticking())
    log.answer("PIN:", "s3cret-PIN-1234", hidden=True)
    text = log.render()
    assert "s3cret" not in text
    assert "(typed, not shown)" in text
    assert "15" not in text.split("PIN:")[1].split("\n")[0]  # not even its length


def test_wrapped_to_80_columns_without_losing_words():
    log = CeremonyLog(Ticking())
    long_words = " ".join(f"word{n}" for n in range(60))
    log.note("headline " + long_words)
    log.screen("t", ["    " + long_words, "x" * 200, " 1  2017-04-01T00:00:00  2017-04-22T00:00:00  14796,61045  19036/S"])
    text = log.render()
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert long_words in flowing(text)
    assert "x" * 70 in text  # an unbreakable run is broken, not dropped
    assert "".join(unwrapped(text).split()).count("x" * 200) == 1
    # A table row that fits stays exactly as it was.
    assert "     1  2017-04-01T00:00:00  2017-04-22T00:00:00  14796,61045  19036/S\n" in text


def test_encode_is_utf8_of_render():
    log = CeremonyLog(Ticking())
    log.note("Ünïcode stays")
    assert log.encode().decode("utf-8").count("Ünïcode stays") == 1


def test_setting_the_clock_moves_the_start_and_the_name_not_the_old_stamps():
    clock = Ticking()
    log = CeremonyLog(clock)
    log.note("before the clock was set")
    log.clock_stepped(timedelta(days=365))
    assert log.filename == "ceremony-20280115T140501Z.log"
    text = log.render()
    assert "Log started 2028-01-15T14:05:01Z" in text
    assert "2027-01-15T14:05:02Z NOTE   before the clock was set" in text  # kept as recorded
    assert "Clock stepped by +31536000 s" in flowing(text)


# A name a stick can carry (plain visible characters and spaces, 255 bytes at most) built so that,
# wrapped at its spaces, its tail would stand at the start of a row as the verbal check's hash row
# of another file does (`    1:4ACE   2:C1F5 ...`, appliance/console/step_verbal.hash_screen).
FORGED_ROW = "   1:4ACE   2:C1F5   3:09B2   4:77E0   5:D311   6:AF04   7:5C62   8:E9D8"
FORGED = re.compile(r"\b[1-8]:(4ACE|C1F5|09B2|77E0|D311|AF04|5C62|E9D8)\b")
HOSTILE_NAMES = {
    "spaces": "ksr-root-2027-q1-0.xml" + " " * 60 + FORGED_ROW,
    "one row of spaces": "x" + " " * 150 + FORGED_ROW,
    "fake entry": "ksr.xml " + "_" * 70 + " 2027-01-15T14:06:00Z NOTE   Verbal check confirmed" + FORGED_ROW,
    "after a long word": "k" * 120 + FORGED_ROW,
    "deep": " " * 90 + FORGED_ROW,
}
HEADLINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (STEP  |SCREEN|TEXT  |ANSWER|NOTE  |ERROR ) ")
OURS = ("DNSSEC KSK signing ceremony", "Log started ", "=" * WIDTH, "End of log, ")


def hostile_log(name: str) -> CeremonyLog:
    """Every way a name from a stick reaches the log: in headlines, behind our words in a screen's
    row, and as a row of a body of its own."""
    log = CeremonyLog(Ticking())
    log.step("Step 3 of 6: Import the request")
    log.screen("Requests on stick KSR-STICK", ["Pick the request to sign:", "", f"    1. {name}  (4 KiB)"])
    log.answer(f"Which request ({name})?", name)
    log.text(["", f"Request {name} from stick KSR-STICK (folder)", f"  checked: {name}"])
    log.note(f"Verbal check not confirmed for {name}", [f"File: {name}"])
    log.error(f"Cannot write skr-{name}: {name}", f"Traceback (most recent call last):\n  File {name}")
    log.screen("SHA-256 of the request", [f"SHA-256 of {name} (the request)",
                                          "   1:CD4B   2:E316   3:3099   4:5E32   5:3334   6:6C18   7:342E   8:B453"])
    return log


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
def test_text_from_outside_never_starts_a_row_of_its_own(name):
    """A name with spaces, wrapped at them, goes on behind CONTINUED: each row is a headline (a
    timestamp and a kind), a body row of ours (INDENT, then our words), a continued row, or the
    log's own frame. No row that reads as a body row holds the forged groups; only a continued
    row, or the row holding our words before the name, does."""
    text = hostile_log(name).render()
    rows = text.split("\n")[:-1]
    assert all(len(row) <= WIDTH for row in rows)
    for row in rows:
        assert HEADLINE.match(row) or row.startswith((INDENT, CONTINUED)) or row.startswith(OURS) or not row, row
        if row.startswith(INDENT) and FORGED.search(row):
            # A body row holding the name holds our words before it, on the same row.
            assert re.match(r"    (1\. |  checked: |File: |  File |SHA-256 of )", row), row
        assert not re.match(r"\s*\d{1,2}:[0-9A-F]{4}\b", row) or "CD4B" in row, row
    # Nothing of the name is lost: the log, joined back, holds it (a break stands for its spaces;
    # a word longer than a row is broken inside, where joining puts a space).
    if max(len(word) for word in name.split()) < WIDTH // 2:
        assert f"Verbal check not confirmed for {' '.join(name.split())}" in flowing(text)
    assert f"Verbalchecknotconfirmedfor{''.join(name.split())}" in "".join(unwrapped(text).split())


def test_continued_rows_and_fitting_rows_keep_their_layout():
    """A row that fits is untouched; a longer one goes on at its indentation + 2 (a headline at
    column 4) behind CONTINUED in its first columns; the look-back renders to the screen's width."""
    log = CeremonyLog(Ticking())
    table = "  #  Inception            Expiration           ZSK tags     KSK/flags    Sig"
    assert len(INDENT + table) == WIDTH
    log.screen("t", [table, "        " + "indented words " * 8])
    log.note("headline " + "word " * 20)
    rows = log.render().split("\n")
    assert INDENT + table in rows
    body = next(n for n, row in enumerate(rows) if "indented words" in row)
    assert rows[body].startswith(" " * 12 + "indented words")
    assert rows[body + 1].startswith(CONTINUED + " " * 10) and rows[body + 1][14] != " "  # at column 12 + 2
    assert rows[body] + " " + rows[body + 1][14:] == " " * 12 + ("indented words " * 8).strip()
    headline = next(n for n, row in enumerate(rows) if "NOTE   headline" in row)
    assert rows[headline + 1].startswith(CONTINUED + "word") and rows[headline + 1].strip() != "+"
    # A line indented deeper than half a row (a file from a stick, logged whole) keeps room for its
    # text: no row over the width, none made of one character a row.
    log.note("a file", [" " * 120 + "deep " * 30])
    deep = log.render().split("\n")
    deep = deep[next(n for n, row in enumerate(deep) if "NOTE   a file" in row) + 1:-3]
    assert deep[0] == " " * (WIDTH // 2) + ("deep " * 8).strip() and len(deep) == 4
    assert all(row.startswith(CONTINUED) and len(row) <= WIDTH for row in deep[1:])
    narrow = log.render(width=79).split("\n")
    assert max(len(row) for row in narrow) <= 79
    assert CONTINUED + "    Sig" in narrow  # the 80-column row, at 79 continued at column 6 + 2


def test_unwrapped_joins_only_continued_rows():
    log = CeremonyLog(Ticking())
    log.note("first " + "x " * 50, ["    + the closing record's own continuation", "  +  a body row"])
    text = log.render()
    joined = unwrapped(text)
    assert joined.count("\n") == text.count("\n") - sum(row.startswith(CONTINUED) for row in text.split("\n"))
    assert "first " + "x " * 49 + "x\n" in joined
    assert "\n        + the closing record's own continuation\n" in joined
    assert "\n      +  a body row\n" in joined
