"""The closing record (issue 12, point 11 and 12): what a witness copies down at the end, checked
against the files on the stick byte for byte; and the response's bundle table after signing."""

import hashlib
import re
from datetime import UTC, datetime

import pytest

from appliance.ceremonylog import CONTINUED as LOG_CONTINUED
from appliance.ceremonylog import CeremonyLog
from appliance.closing_record import CONTINUED, OUTSIDE_WIDTH, ClosingRecord, SignedRequest, closing_record_lines
from appliance.console.app import SCREEN_WIDTH
from appliance.digest import Fingerprint, _word_lists
from appliance.formats import parse_response
from appliance.report import bundle_table
from tests.console.harness import flat, run_script
from tests.console.scripts import ACCEPT_AND_CONFIRM, IMPORT_WITH_PREVIOUS, LOG_IN, SET_CLOCK, SHUT_DOWN


def read_aloud_block(lines: list[str], title: str) -> tuple[str, list[str]]:
    """(hex, words) of the `Fingerprint.aloud` block under the line that contains `title`."""
    start = next(n for n, line in enumerate(lines) if title in line)
    block = lines[start + 1: start + 12]
    hex_digits = "".join(re.findall(r"\d+:([0-9A-F]{4})", "\n".join(block[:2])))
    words = re.findall(r"\d+\. (\S+)", "\n".join(block[3:11]))
    return hex_digits.lower(), [word.lower() for word in words]


def longest_words() -> bytes:
    even, odd = _word_lists()
    return bytes([max(range(256), key=lambda b: len(even[b])), max(range(256), key=lambda b: len(odd[b]))] * 16)


def test_the_record_lists_every_request_and_fits_the_screen():
    signed = SignedRequest("ksr-root-2017-q2-0.xml", hashlib.sha256(b"request").digest(), "skr-root-2017-q2-0.xml",
                           longest_words(), 9, ("current: tag 20326, HSM label 'KSK-2017'",), "stick OUT (folder)")
    record = ClosingRecord((signed,), ("Token label: ceremony",), ("New time: 2027-01-15 14:05:00 UTC",),
                           datetime(2027, 1, 15, 14, 0, tzinfo=UTC), datetime(2027, 1, 15, 15, 2, 3, tzinfo=UTC),
                           "ceremony-20270115T140000Z.log", ("ksr-x.xml: refused by 2 failed check(s)",))
    lines = closing_record_lines(record, longest_words())
    assert max(len(line) for line in lines) <= SCREEN_WIDTH
    text = "\n".join(lines)
    assert "(1 h 2 min 3 s)" in text and "9 bundles" in text and "KSK-2017" in text and "Token label" in text
    assert read_aloud_block(lines, "Request ksr-root-2017-q2-0.xml") == (
        hashlib.sha256(b"request").hexdigest(), [w.lower() for w in Fingerprint.of(b"request").words])
    assert read_aloud_block(lines, "SHA-256 of the final log")[0] == longest_words().hex()
    assert "refused by 2 failed check(s)" in text
    # The log's own copy cannot hold its hash, and says where it is.
    assert "shown on the screen once it is written" in "\n".join(closing_record_lines(record))


@pytest.mark.softhsm
def test_the_record_matches_the_files_on_the_stick_byte_for_byte(demo, sticks):
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    assert run.code == 0
    screen = run.ceremony.ui.lines  # the last screen, left until 'end' was typed
    assert screen[0] == "CLOSING RECORD"
    on_stick = {name: (demo.stick / name).read_bytes()
                for name in (demo.request, demo.response, run.ceremony.log.filename)}
    for title, name in ((f"Request {demo.request}", demo.request), (f"Response {demo.response}", demo.response),
                        ("SHA-256 of the final log as written", run.ceremony.log.filename)):
        fingerprint = Fingerprint.of(on_stick[name])
        assert read_aloud_block(screen, title) == (fingerprint.hex, [w.lower() for w in fingerprint.words]), title
    text = flat("\n".join(screen))
    assert "Requests signed: 1" in text and "9 bundles" in text and "current: tag" in text
    assert "Token label: ceremony-demo" in text and "New time:" in text
    # The log's last page is the record, less its own hash.
    log = on_stick[run.ceremony.log.filename].decode()
    last_page = log[log.rindex("NOTE   Closing record"):]
    assert Fingerprint.of(on_stick[demo.response]).hex.upper()[:4] in last_page
    assert "its SHA-256 is shown on the screen once it is written" in flat(last_page)
    assert "SHA-256 of the final log as written" not in log


@pytest.mark.softhsm
def test_the_responses_bundle_table_after_signing_on_screen_and_in_the_log(demo, sticks):
    run = run_script(sticks, SET_CLOCK + LOG_IN + IMPORT_WITH_PREVIOUS + ACCEPT_AND_CONFIRM
                     + [("sign.where", ""), ("sign.done", "")] + SHUT_DOWN, config=demo.config)
    response = parse_response((demo.stick / demo.response).read_bytes())
    table = bundle_table(response.bundles)
    assert len(table) == 10 and all("/S" in row for row in table[1:])
    log = run.ceremony.log.render()
    after = log[log.index("The response's bundles:"):]
    assert all(row in after for row in table)
    assert "KSK Tag: /S signs the bundle" in after
    assert table[1] in run.screen_text()


# Every character str.splitlines() breaks at: a request name (any bytes on ext4; U+0085, U+2028
# and U+2029 on FAT too) must not start a row of its own in the record a witness copies.
LINE_BREAKS = ("\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[f"U+{ord(c):04X}" for c in LINE_BREAKS])
def test_a_request_name_cannot_draw_rows_of_its_own_in_the_record(brk):
    def record_of(request_name: str) -> list[str]:
        signed = SignedRequest(request_name, hashlib.sha256(b"request").digest(), "skr.xml",
                               hashlib.sha256(b"response").digest(), 9, ("current: tag 20326",), "stick OUT")
        return closing_record_lines(ClosingRecord((signed,), (), (), datetime(2027, 1, 15, tzinfo=UTC),
                                                  datetime(2027, 1, 15, 1, tzinfo=UTC), "ceremony.log"))

    forged_block = Fingerprint.of(b"genuine request").render("   Request ksr.xml")
    lines = record_of("ksr.xml" + brk + forged_block.replace("\n", brk))
    assert len(lines) == len(record_of("ksr.xml"))
    assert read_aloud_block(lines, "Request ksr.xml") == (
        hashlib.sha256(b"request").hexdigest(), [w.lower() for w in Fingerprint.of(b"request").words])
    assert not any(brk in line for line in lines)


def test_long_outside_text_is_cut_to_its_row_never_wrapped():
    """Names, stick, HSM and KSK labels and failures of any length: the same rows as short ones,
    each within OUTSIDE_WIDTH, so that the screen (79 columns), the log (4 of its 80 taken by the indent)
    and the paper (80) never wrap one onto a row of its own."""
    def record_of(text: str) -> list[str]:
        signed = SignedRequest("ksr" + text, hashlib.sha256(b"request").digest(), "skr" + text,
                               hashlib.sha256(b"response").digest(), 9, ("current" + text, "next" + text),
                               "stick" + text)
        return closing_record_lines(ClosingRecord((signed,), ("Token label:" + text,), (), datetime(2027, 1, 15, tzinfo=UTC),
                                                  datetime(2027, 1, 15, 1, tzinfo=UTC), "ceremony.log",
                                                  ("ksr" + text + ": refused",)), hashlib.sha256(b"log").digest())

    long = record_of(".xml " + "   1:CD4B   2:E316" * 12)
    own = [line for line in long if not line.startswith(CONTINUED)]  # a failure goes on behind CONTINUED
    assert len(own) == len(record_of(".xml"))
    assert all(len(line) <= OUTSIDE_WIDTH for line in long if "CD4B" in line or line.startswith(CONTINUED))
    outside = [line for line in own if "CD4B" in line]
    assert len(outside) == 8
    failure = long[long.index("Not signed, or not complete:") + 1:long.index("Final log ceremony.log") - 1]
    assert failure[0].startswith("  ksr.xml ") and all(row.startswith(CONTINUED) for row in failure[1:])
    assert " ".join(" ".join(row.removeprefix(CONTINUED).split()) for row in failure) == "ksr.xml " + " ".join(
        ("   1:CD4B   2:E316" * 12).split()) + ": refused"  # nothing cut


def test_the_records_own_long_lines_are_broken_between_words_within_79_columns():
    """The clock's method without a system clock to set, and the log copy's note, are broken between
    words under their own indentation, so the printed record (where a row over 80 columns continues
    behind a '+', mid-word: 'the cer' / '+ emony') reads as the screen does."""
    method = ("Method:   clock setting disabled for this run: system clock unchanged; the ceremony uses "
              "the typed time as an offset")
    record = ClosingRecord((), ("Token label: ceremony",), ("Step:     -14 s", method),
                           datetime(2027, 1, 15, 14, 0, tzinfo=UTC), datetime(2027, 1, 15, 15, 2, 3, tzinfo=UTC),
                           "ceremony-20270115T140000Z.log", ("ksr-x.xml: refused",))
    for log_sha256 in (None, longest_words()):
        lines = closing_record_lines(record, log_sha256)
        assert max(len(line) for line in lines) <= 79
        assert flat(method) in flat("\n".join(lines))
    rows = closing_record_lines(record)
    at = next(i for i, row in enumerate(rows) if "Method:" in row)
    assert rows[at].startswith("  Method:") and rows[at + 1].startswith("    ") and rows[at + 1].split()[0].isalpha()
    assert "(a file cannot hold its own hash)" in flat("\n".join(rows))


def test_the_logs_copy_of_the_record_is_not_broken_again_behind_the_logs_plus():
    """The log indents the record's rows by 4 of its 80 columns: the record's own texts (the span,
    the clock's method, the note where the log's hash is) fit 76, so the log's copy keeps the
    screen's rows, never a lone word such as 'its' or 's)' behind the log's '  + '. Before, they were
    broken to 79 and the log broke them again: '... (0 h 2 min 14' / '  +   s)'. The longest PGP words
    fit too (`Fingerprint.aloud`)."""
    method = ("Method:   clock setting disabled for this run: system clock unchanged; the ceremony uses "
              "the typed time as an offset")
    signed = SignedRequest("ksr-root-2017-q2-0.xml", longest_words(), "skr-root-2017-q2-0.xml", longest_words(), 9, ("current: tag 20326, HSM label 'KSK-2017'",),
                           "stick OUT (folder)")
    record = ClosingRecord((signed,), ("Token label: ceremony",), ("Step:     -14 s", method),
                           datetime(2027, 1, 15, 4, 9, 52, tzinfo=UTC), datetime(2027, 1, 15, 14, 12, 7, tzinfo=UTC),
                           "ceremony-20270115T140000Z.log")
    log = CeremonyLog(lambda: datetime(2027, 1, 15, 14, 12, 7, tzinfo=UTC))
    log.text(closing_record_lines(record))
    rendered = log.render().splitlines()
    assert not [row for row in rendered if row.startswith(LOG_CONTINUED)]
    assert "    Ceremony 2027-01-15 04:09:52 to 2027-01-15 14:12:07 UTC (10 h 2 min 15 s)" in rendered
    assert "(a file cannot hold its own hash)" in flat("\n".join(rendered))
