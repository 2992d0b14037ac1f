"""The CLI's text output is plain visible text whatever a request holds; JSON stays JSON.

Case ../shared/cases/hostile-stick/07: request ids and bundle ids (fields no signature covers)
carrying CR (overwriting the title), LF (fake PASS lines and a fake "REQUEST ACCEPTED"), C1 CSI,
RLO, ZWSP and NEL."""

import json
from pathlib import Path

import pytest

from appliance.cli import main
from appliance.text import shown

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "hostile-stick"
NOW = "2026-11-30T12:00:00Z"  # when the requests were made: the horizon check judges them as then


def verify(capsys, name, *extra):
    code = main(["verify-ksr", str(FIXTURES / name), "--now", NOW, *extra])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", ["ksr-cr-id.xml", "ksr-lf-bundle.xml", "ksr-c1-bidi.xml"])
def test_every_row_of_the_text_output_is_visible_text(capsys, name):
    code, out, err = verify(capsys, name)
    for row in out.split("\n"):
        assert shown(row, limit=None) == row, row
    assert not [row for row in out.split("\n") if row.startswith(("REQUEST ACCEPTED", "PASS  KSR-BUNDLE-POP  "))
                and name == "ksr-lf-bundle.xml"]


def test_a_carriage_return_in_the_id_cannot_overwrite_the_title(capsys):
    code, out, err = verify(capsys, "ksr-cr-id.xml")
    title = out.split("\n")[0]
    assert title.startswith(f"Request {FIXTURES / 'ksr-cr-id.xml'}: id ")
    assert "\\rRequest ksr-root-2027-q1-0.xml: id 0b1d5a6c-aaaa" in title
    assert "\r" not in out


def test_line_feeds_in_a_bundle_id_stay_in_the_fail_line(capsys):
    code, out, err = verify(capsys, "ksr-lf-bundle.xml")
    assert code == 1
    fail = [row for row in out.split("\n") if row.startswith("FAIL  KSR-BUNDLE-POP")]
    assert len(fail) == 1 and "(49a7ace4\\nPASS  KSR-BUNDLE-POP\\nPASS  KSR-BUNDLE-COUNT\\n\\nREQUEST ACCEPTED" in fail[0]
    assert [row for row in out.split("\n") if "ACCEPTED" in row] == fail
    assert "REQUEST REFUSED: 1 violation in KSR-BUNDLE-POP" in out


def test_c1_and_bidi_controls_are_escaped_in_text_and_kept_in_json(capsys):
    code, out, err = verify(capsys, "ksr-c1-bidi.xml")
    assert "id \\x9b8m\\u202eksr-ok\\u200b\\x85" in out
    assert not set(out) & {"\x9b", "\u202e", "\u200b", "\x85"}
    code, out, err = verify(capsys, "ksr-c1-bidi.xml", "--json")
    report = json.loads(out)  # one JSON object, its strings escaped by JSON itself
    assert report["sha256"] and out.isascii()


def test_json_keeps_the_bundle_id_as_it_is(capsys):
    code, out, err = verify(capsys, "ksr-lf-bundle.xml", "--json")
    report = json.loads(out)
    assert report["bundles"][8]["id"].startswith("49a7ace4\nPASS  KSR-BUNDLE-POP\n")
