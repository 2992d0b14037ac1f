"""The transcript: every kind of entry, secrets never recorded, 80 columns, named by its start."""

from datetime import UTC, datetime, timedelta

from appliance.ceremonylog import WIDTH, CeremonyLog


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
    flat = " ".join(text.split())
    assert long_words in flat
    assert "x" * 70 in text  # an unbreakable run is broken, not dropped
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
    assert "Clock stepped by +31536000 s" in " ".join(text.split())
